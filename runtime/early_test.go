package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/den-project/den/config"
	"github.com/moby/sys/user"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
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
	for _, bad := range []string{
		"{torn", "null", "{}",
		`{"version":1,"image":"aaaa","user":"user","groupAdd":["2000"],"uid":0,"gid":0}`,
		`{"version":2,"image":"aaaa","user":"user","groupAdd":["2000"],"uid":1000,"gid":1000,"home":"/home/user"}`,
		`{"version":1,"image":"bbbb","user":"user","groupAdd":["2000"],"uid":1000,"gid":1000,"home":"/home/user"}`,
		`{"version":1,"image":"aaaa","user":"root","groupAdd":["2000"],"uid":0,"gid":0,"home":"/root"}`,
		`{"version":1,"image":"aaaa","user":"user","uid":1000,"gid":1000,"home":"/home/user"}`,
	} {
		if err := os.WriteFile(r.imageUserPath(c), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if eu := r.keptImageUser(c); eu != nil {
			t.Errorf("entry %s was used: %+v", bad, eu)
		}
	}
}

// A refusal of the hand-over is kept for the kernel that refused, and only for it.
func TestEarlyStartsStopWhereTheKernelRefusedTheHandOver(t *testing.T) {
	r := New(&config.Paths{DataDir: t.TempDir(), RuntimeDir: t.TempDir(), Rootless: true}, nil)
	c := &Container{ImageID: "aaaa", Config: ContainerConfig{User: "user"}}
	r.keepImageUser(c, &user.ExecUser{Uid: 1000, Gid: 1000, Home: "/home/user"})
	if _, ok := r.canStartEarly(c); !ok || r.earlyRefused() {
		t.Fatalf("early start refused before any refusal")
	}
	r.refuseEarly(errors.New("move_mount: operation not permitted"))
	if _, ok := r.canStartEarly(c); ok || !r.earlyRefused() {
		t.Errorf("early start allowed after a refusal")
	}
	b, err := os.ReadFile(filepath.Join(r.Paths.DataDir, earlyRefusedFile))
	if err != nil || !strings.Contains(string(b), "operation not permitted") {
		t.Errorf("refusal file %q, %v: want the reason", b, err)
	}
	if err := os.WriteFile(filepath.Join(r.Paths.DataDir, earlyRefusedFile), []byte("0.0.0-another\nwhy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.canStartEarly(c); !ok {
		t.Errorf("a refusal by another kernel stops early starts")
	}
}

// A kept image resolution is used while the image list is the same file, and no longer once
// containers/storage has written it again.
func TestImageRefIsKeptWhileTheImageListIsUnchanged(t *testing.T) {
	r := New(&config.Paths{DataDir: t.TempDir(), RuntimeDir: t.TempDir()}, nil)
	list := filepath.Join(t.TempDir(), "images.json")
	if err := os.WriteFile(list, []byte(`[{"id":"aaaa"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	stamp, ok := stampOf(list)
	if !ok {
		t.Fatal("no stamp of the image list")
	}
	cfg := &imgspecv1.Image{Config: imgspecv1.ImageConfig{Cmd: []string{"sh"}}}
	if e := r.keptImageRef("busybox"); e != nil {
		t.Fatalf("kept before any was: %+v", e)
	}
	r.keepImageRef("busybox", list, stamp, "overlay", "aaaa", []string{"docker.io/library/busybox:latest"}, cfg)
	e := r.keptImageRef("busybox")
	if e == nil || e.ID != "aaaa" || e.Driver != "overlay" || len(e.Names) != 1 || e.Config.Config.Cmd[0] != "sh" {
		t.Fatalf("kept %+v", e)
	}
	if e := r.keptImageRef("busybox:latest"); e != nil {
		t.Errorf("another reference used busybox's: %+v", e)
	}
	// Written again, as containers/storage does: a new file renamed over the old.
	tmp := list + ".tmp"
	if err := os.WriteFile(tmp, []byte(`[{"id":"bbbb"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, list); err != nil {
		t.Fatal(err)
	}
	if e := r.keptImageRef("busybox"); e != nil {
		t.Errorf("used after the image list changed: %+v", e)
	}
	if err := os.Remove(list); err != nil {
		t.Fatal(err)
	}
	if e := r.keptImageRef("busybox"); e != nil {
		t.Errorf("used without an image list: %+v", e)
	}
}
