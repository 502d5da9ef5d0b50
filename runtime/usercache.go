package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"

	"github.com/den-project/den/store/record"
	"github.com/moby/sys/user"
)

// A container's user (--user and the image's USER, with --group-add) resolves to ids through
// the /etc/passwd and /etc/group of its root filesystem. In a container whose writable layer
// is new, those files are the image's, and an image's content never changes: what they gave
// once is kept, by image, user and groups, so that the next such container can be started
// before its root filesystem is mounted (beginEarly).

// imageUsersDir holds the kept resolutions, one small JSON file each.
const imageUsersDir = "image-users"

// imageUserKey names the resolution of user and groupAdd in the image imageID.
func imageUserKey(imageID, spec string, groupAdd []string) string {
	h := sha256.New()
	h.Write([]byte(imageID))
	for _, s := range append([]string{spec}, groupAdd...) {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (r *Runtime) imageUserPath(c *Container) string {
	return filepath.Join(r.Paths.DataDir, imageUsersDir, imageUserKey(c.ImageID, c.Config.User, c.Config.GroupAdd))
}

// imageUserVersion changes when what resolveUser gives does: entries of another version are
// not used.
const imageUserVersion = 1

// imageUser is a kept resolution, with what it was resolved for.
type imageUser struct {
	Version  int      `json:"version"`
	Image    string   `json:"image"`
	User     string   `json:"user"`
	GroupAdd []string `json:"groupAdd,omitempty"`
	Uid      int      `json:"uid"`
	Gid      int      `json:"gid"`
	Sgids    []int    `json:"sgids,omitempty"`
	Home     string   `json:"home"`
}

// keptImageUser is what c's user resolved to in a new container of c's image before, nil if
// it is not known: no entry, or one that is not whole or not for this image, user and groups.
func (r *Runtime) keptImageUser(c *Container) *user.ExecUser {
	if c.ImageID == "" {
		return nil
	}
	b, err := os.ReadFile(r.imageUserPath(c))
	if err != nil {
		return nil
	}
	var e imageUser
	if json.Unmarshal(b, &e) != nil || e.Version != imageUserVersion || e.Image != c.ImageID ||
		e.User != c.Config.User || !slices.Equal(e.GroupAdd, c.Config.GroupAdd) || e.Home == "" {
		return nil
	}
	return &user.ExecUser{Uid: e.Uid, Gid: e.Gid, Sgids: e.Sgids, Home: e.Home}
}

// keepImageUser keeps eu, resolved in a new container's root filesystem, for the next
// container of c's image. Best effort: a cache that cannot be written only means the next
// start waits for its root filesystem as before.
func (r *Runtime) keepImageUser(c *Container, eu *user.ExecUser) {
	if c.ImageID == "" || eu.Home == "" {
		return
	}
	p := r.imageUserPath(c)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	_ = record.WriteJSONVolatile(p, imageUser{
		Version: imageUserVersion, Image: c.ImageID, User: c.Config.User, GroupAdd: c.Config.GroupAdd,
		Uid: eu.Uid, Gid: eu.Gid, Sgids: eu.Sgids, Home: eu.Home,
	})
}
