// Package image owns den's images: loading archives, importing root filesystem tarballs,
// listing, resolving the names users type, and removing. It is a thin layer over
// containers/image (copying between transports) and containers/storage (where images live).
//
// The files that copy with containers/image (copy.go, archive.go, pull.go, push.go, save.go)
// are left out of den's core build (the den_core tag, see runtime/initexec): what the rest
// does, it does with containers/storage and containers/image's light packages (reference,
// manifest) alone.
package image

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/den-project/den/store"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker/reference"
	cstorage "go.podman.io/storage"
)

// ErrNotFound is returned when no local image matches what the user typed.
var ErrNotFound = errors.New("image not known")

// ErrAmbiguous is returned when an ID prefix matches more than one image.
var ErrAmbiguous = errors.New("more than one image matches")

// ErrInUse is returned when removing an image that containers still use.
var ErrInUse = errors.New("image is in use by a container")

// Image is one stored image as den lists it.
type Image struct {
	ID      string
	Names   []string
	Digest  string
	Created time.Time
	Size    int64
	Labels  map[string]string
}

// Manager does image work on an open store.
type Manager struct {
	Store *store.Store
	// Report receives containers/image's plain progress lines; nil discards them.
	Report io.Writer
}

// List returns every stored image, newest first.
func (m *Manager) List() ([]Image, error) {
	imgs, err := m.Store.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	out := make([]Image, 0, len(imgs))
	for i := range imgs {
		out = append(out, m.describe(&imgs[i]))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

func (m *Manager) describe(img *cstorage.Image) Image {
	size, err := m.Store.ImageSize(img.ID)
	if err != nil {
		size = -1
	}
	return Image{ID: img.ID, Names: img.Names, Digest: img.Digest.String(), Created: img.Created, Size: size}
}

// Lookup resolves what a user typed (a full or short name, with or without tag, an ID or an
// ID prefix) to a stored image.
func (m *Manager) Lookup(nameOrID string) (*cstorage.Image, error) {
	img, _, err := m.resolve(nameOrID)
	return img, err
}

func (m *Manager) resolve(nameOrID string) (*cstorage.Image, string, error) {
	imgs, err := m.Store.Images()
	if err != nil {
		return nil, "", fmt.Errorf("listing images: %w", err)
	}
	return resolve(imgs, nameOrID)
}

// resolve finds what a user typed among imgs: an ID, a full name, a name Candidates makes of
// it, a unique ID prefix, or a short name that ends a stored repository, in that order. It
// returns the stored name that matched ("" for an ID).
func resolve(imgs []cstorage.Image, nameOrID string) (*cstorage.Image, string, error) {
	if nameOrID == "" {
		return nil, "", fmt.Errorf("empty image name: %w", ErrNotFound)
	}
	hexRef := isHexPrefix(nameOrID)
	if !hexRef {
		if _, err := reference.ParseNormalizedNamed(nameOrID); err != nil {
			return nil, "", fmt.Errorf("%q is not a valid image reference: %w", nameOrID, err)
		}
	}
	id := strings.TrimPrefix(nameOrID, "sha256:")
	for i := range imgs {
		if imgs[i].ID == id {
			return &imgs[i], "", nil
		}
	}
	for _, cand := range Candidates(nameOrID) {
		for i := range imgs {
			if slices.Contains(imgs[i].Names, cand) {
				return &imgs[i], cand, nil
			}
			if name, ok := matchDigest(&imgs[i], cand); ok {
				return &imgs[i], name, nil
			}
		}
	}
	if hexRef {
		var found *cstorage.Image
		for i := range imgs {
			if strings.HasPrefix(imgs[i].ID, id) {
				if found != nil {
					return nil, "", fmt.Errorf("%s: %w", nameOrID, ErrAmbiguous)
				}
				found = &imgs[i]
			}
		}
		if found != nil {
			return found, "", nil
		}
	}
	// A short name matches any stored repository that ends with it, as podman does for
	// images it has locally.
	if n, err := reference.ParseNormalizedNamed(nameOrID); err == nil && !hasRegistry(nameOrID) && !strings.Contains(nameOrID, "@") {
		tagged := reference.TagNameOnly(n)
		short := strings.TrimPrefix(strings.TrimPrefix("/"+reference.Path(tagged), "/library"), "/")
		suffix := "/" + short + ":" + tagged.(reference.Tagged).Tag()
		for i := range imgs {
			for _, name := range imgs[i].Names {
				if strings.HasSuffix(name, suffix) {
					return &imgs[i], name, nil
				}
			}
		}
	}
	return nil, "", fmt.Errorf("%s: %w", nameOrID, ErrNotFound)
}

// matchDigest matches "repo@sha256:..." against an image that has one of its manifests'
// digests and a name in that repository, and returns that name.
func matchDigest(img *cstorage.Image, cand string) (string, bool) {
	repo, dg, ok := strings.Cut(cand, "@")
	if !ok || !slices.Contains(img.Digests, digest.Digest(dg)) && img.Digest.String() != dg {
		return "", false
	}
	for _, name := range img.Names {
		if r, _ := splitName(name); r == repo {
			return name, true
		}
	}
	return "", false
}

// splitName splits a stored full name into its repository and its tag ("" without one).
func splitName(name string) (repo, tag string) {
	n, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return name, ""
	}
	if t, ok := n.(reference.Tagged); ok {
		return n.Name(), t.Tag()
	}
	return n.Name(), ""
}

// Candidates lists the full names a user's reference may stand for, most likely first:
// docker.io/library/busybox:latest and localhost/busybox:latest for "busybox".
func Candidates(s string) []string {
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil
	}
	n = reference.TagNameOnly(n)
	out := []string{n.String()}
	if !hasRegistry(s) {
		if ln, err := reference.ParseNormalizedNamed("localhost/" + s); err == nil {
			out = append(out, reference.TagNameOnly(ln).String())
		}
	}
	return out
}

// hasRegistry reports whether a reference's first component names a registry host, the way
// the docker reference grammar decides it.
func hasRegistry(s string) bool {
	first, _, found := strings.Cut(s, "/")
	return found && (strings.ContainsAny(first, ".:") || first == "localhost")
}

func isHexPrefix(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// Config returns the OCI configuration of a stored image.
func (m *Manager) Config(img *cstorage.Image) (*imgspecv1.Image, error) {
	key := configKey(img)
	b, err := m.Store.ImageBigData(img.ID, key)
	if err != nil {
		return nil, fmt.Errorf("reading %s of image %s: %w", key, shortID(img.ID), err)
	}
	return decodeConfig(img, b)
}

// Remove deletes images by what the user typed. With force, containers using an image are
// not protected (the caller removes them first); without it, ErrInUse. It returns the
// removed IDs and names that were untagged.
func (m *Manager) Remove(nameOrID string, inUse func(imageID string) bool) (untagged []string, deleted string, err error) {
	img, matched, err := m.resolve(nameOrID)
	if err != nil {
		return nil, "", err
	}
	// Removing by one of several names only untags, as podman does.
	if len(img.Names) > 1 && matched != "" {
		if err := m.Store.RemoveNames(img.ID, []string{matched}); err != nil {
			return nil, "", fmt.Errorf("untagging %s: %w", matched, err)
		}
		return []string{matched}, "", nil
	}
	if inUse != nil && inUse(img.ID) {
		return nil, "", fmt.Errorf("image %s: %w: remove the container first or use --force", nameOrID, ErrInUse)
	}
	if _, err := m.Store.DeleteImage(img.ID, true); err != nil {
		return nil, "", fmt.Errorf("removing image %s: %w", shortID(img.ID), err)
	}
	return img.Names, img.ID, nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
