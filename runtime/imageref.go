package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/den-project/den/store/image"
	"github.com/den-project/den/store/record"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// A run resolves what the user typed (busybox, an id) to a stored image and reads the
// image's config, which needs containers/storage opened (some 3 ms here) before anything
// else of the start can go on. The resolution depends on the store's image list alone, and
// an image's config never changes: what a run found is kept with the identity of the list's
// file (images.json, which containers/storage replaces whole at every change), and used
// while that file is the same one, so that storage is first opened where the container's
// storage is created, beside the container's start (early.go).

// imageRefsDir holds the kept resolutions, one small JSON file each.
const imageRefsDir = "image-refs"

// imageRefVersion changes when what an entry means does: entries of another version are
// not used.
const imageRefVersion = 1

// fileStamp tells one version of a file from another: containers/storage writes its lists
// to a new file and renames it over the old, so a new inode at least.
type fileStamp struct {
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Ctime int64  `json:"ctime"`
}

func stampOf(path string) (fileStamp, bool) {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return fileStamp{}, false
	}
	return fileStamp{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, true
}

// imageRef is a kept resolution.
type imageRef struct {
	Version int              `json:"version"`
	Ref     string           `json:"ref"`
	Images  string           `json:"images"` // the image list's file
	Stamp   fileStamp        `json:"stamp"`
	Driver  string           `json:"driver"`
	ID      string           `json:"id"`
	Names   []string         `json:"names,omitempty"`
	Config  *imgspecv1.Image `json:"config"`
}

func (r *Runtime) imageRefPath(ref string) string {
	graph, _ := r.Paths.StorageRoots(r.Config)
	sum := sha256.Sum256([]byte(graph + "\x00" + ref))
	return filepath.Join(r.Paths.DataDir, imageRefsDir, hex.EncodeToString(sum[:]))
}

// keptImageRef is the image ref resolved to before, nil unless the store's image list is
// still the file it was resolved in.
func (r *Runtime) keptImageRef(ref string) *imageRef {
	b, err := os.ReadFile(r.imageRefPath(ref))
	if err != nil {
		return nil
	}
	var e imageRef
	if json.Unmarshal(b, &e) != nil || e.Version != imageRefVersion || e.Ref != ref || e.ID == "" || e.Config == nil || e.Images == "" {
		return nil
	}
	if st, ok := stampOf(e.Images); !ok || st != e.Stamp {
		return nil
	}
	return &e
}

// keepImageRef keeps what ref resolved to, in the image list stamped stamp.
func (r *Runtime) keepImageRef(ref, images string, stamp fileStamp, driver, id string, names []string, cfg *imgspecv1.Image) {
	p := r.imageRefPath(ref)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	_ = record.WriteJSONVolatile(p, imageRef{
		Version: imageRefVersion, Ref: ref, Images: images, Stamp: stamp, Driver: driver,
		ID: id, Names: slices.Clone(names), Config: cfg,
	})
}

// pruneImageCaches removes what den keeps of images that are no longer in storage: their
// kept resolutions (image-refs) and their users' (image-users). images holds the id of
// every image there. Both are caches: an entry whose image is gone is never used again (a
// new pull is a new id), and would stay until den's state is reset. Resolutions made in
// another store (den.toml's graph root changed) are left alone; a user's entry names its
// image alone, and one removed for an image another store still has costs that store's next
// start its wait for the root filesystem, once. So does an entry a start writes while this
// runs for an image pulled after images was listed.
func (r *Runtime) pruneImageCaches(images map[string]bool) {
	graph, _ := r.Paths.StorageRoots(r.Config)
	for _, dir := range []string{imageRefsDir, imageUsersDir} {
		d := filepath.Join(r.Paths.DataDir, dir)
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue // one being written (record's temporary files)
			}
			p := filepath.Join(d, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			var k struct {
				ID     string `json:"id"`     // image-refs
				Images string `json:"images"` // image-refs: the store's image list
				Image  string `json:"image"`  // image-users
			}
			if json.Unmarshal(b, &k) != nil {
				_ = os.Remove(p) // not an entry any start would use
				continue
			}
			id := k.Image
			if dir == imageRefsDir {
				if k.Images != "" && !strings.HasPrefix(k.Images, graph+string(filepath.Separator)) {
					continue
				}
				id = k.ID
			}
			if !images[id] {
				_ = os.Remove(p)
			}
		}
	}
}

// resolvedImage is what create needs of an image.
type resolvedImage struct {
	id     string
	names  []string
	config *imgspecv1.Image
	// driver is the store's driver (a store.Driver constant).
	driver string
}

// resolveImage finds the image ref names and reads its config. With kept, from a resolution
// kept before while the image list is unchanged, without opening storage; else from storage,
// keeping the resolution when kept.
func (r *Runtime) resolveImage(ref string, kept bool) (*resolvedImage, error) {
	if kept {
		e := r.keptAhead(ref)
		if e == nil {
			e = r.keptImageRef(ref)
		}
		if e != nil {
			return &resolvedImage{id: e.ID, names: e.Names, config: e.Config, driver: e.Driver}, nil
		}
	}
	logrus.Debugf("opening storage")
	im, err := r.Images()
	if err != nil {
		return nil, err
	}
	images := filepath.Join(im.Store.GraphRoot(), im.Store.GraphDriverName()+"-images", "images.json")
	stamp, stamped := stampOf(images)
	logrus.Debugf("looking up image")
	img, err := im.Lookup(ref)
	if err != nil {
		if errors.Is(err, image.ErrNotFound) {
			return nil, fmt.Errorf("%s: %w: pull it with `den pull %s` or load it with `den load -i FILE`", ref, image.ErrNotFound, ref)
		}
		return nil, err
	}
	cfg, err := im.Config(img)
	if err != nil {
		return nil, err
	}
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	if kept && stamped {
		r.keepImageRef(ref, images, stamp, st.Driver, img.ID, img.Names, cfg)
	}
	return &resolvedImage{id: img.ID, names: img.Names, config: cfg, driver: st.Driver}, nil
}
