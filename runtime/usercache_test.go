package runtime

import (
	"os"
	"reflect"
	"testing"

	"github.com/den-project/den/config"
	"github.com/moby/sys/user"
)

// A user resolution is kept by image, user and groups, and one that cannot be read counts as
// none.
func TestImageUserIsKeptByImageUserAndGroups(t *testing.T) {
	r := New(&config.Paths{DataDir: t.TempDir(), RuntimeDir: t.TempDir()}, nil)
	c := &Container{ImageID: "aaaa", Config: ContainerConfig{User: "user", GroupAdd: []string{"2000"}}}
	if eu := r.keptImageUser(c); eu != nil {
		t.Fatalf("kept before any was: %+v", eu)
	}
	want := &user.ExecUser{Uid: 1000, Gid: 1000, Sgids: []int{1000, 2000}, Home: "/home/user"}
	r.keepImageUser(c, want)
	if got := r.keptImageUser(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("kept %+v, want %+v", got, want)
	}
	for _, other := range []*Container{
		{ImageID: "bbbb", Config: c.Config},
		{ImageID: "aaaa", Config: ContainerConfig{User: "nobody", GroupAdd: c.Config.GroupAdd}},
		{ImageID: "aaaa", Config: ContainerConfig{User: "user"}},
		{ImageID: "aaaa", Config: ContainerConfig{User: "user", GroupAdd: []string{"20", "00"}}},
		{ImageID: "", Config: c.Config},
	} {
		if eu := r.keptImageUser(other); eu != nil {
			t.Errorf("image %q user %q groups %q: kept %+v, want none", other.ImageID, other.Config.User, other.Config.GroupAdd, eu)
		}
	}
	if err := os.WriteFile(r.imageUserPath(c), []byte("{torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	if eu := r.keptImageUser(c); eu != nil {
		t.Errorf("a damaged resolution was used: %+v", eu)
	}
}
