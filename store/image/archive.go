//go:build !den_core

package image

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/directory"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/tarball"
	"go.podman.io/image/v5/types"
)

// Loaded is one image that Load stored.
type Loaded struct {
	ID    string
	Names []string
}

// ErrBadArchive is returned for what is none of docker-archive, oci-archive, oci-dir and
// docker-dir.
var ErrBadArchive = errors.New("not a docker-archive, oci-archive, oci-dir or docker-dir")

// Load stores every image of a docker-archive or oci-archive file, compressed or not, or of an
// oci-dir or docker-dir directory.
func (m *Manager) Load(ctx context.Context, path string) ([]Loaded, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening archive: %w", err)
	}
	if fi.IsDir() {
		return m.loadDir(ctx, path)
	}
	kind, index, err := sniffArchive(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if kind == "oci" {
		return m.loadOCI(ctx, path, index, ociarchive.NewReference)
	}
	return m.loadDocker(ctx, path)
}

func (m *Manager) loadDocker(ctx context.Context, path string) ([]Loaded, error) {
	r, err := dockerarchive.NewReader(nil, path)
	if err != nil {
		return nil, fmt.Errorf("reading docker-archive %s: %w", path, err)
	}
	defer r.Close()
	groups, err := r.List()
	if err != nil {
		return nil, fmt.Errorf("reading docker-archive %s: %w", path, err)
	}
	var out []Loaded
	for _, refs := range groups {
		if len(refs) == 0 {
			continue
		}
		var names []reference.Named
		for _, ref := range refs {
			if n := ref.DockerReference(); n != nil {
				names = append(names, n)
			}
		}
		var first reference.Named
		if len(names) > 0 {
			first = names[0]
		}
		id, err := m.copyInto(ctx, refs[0], first)
		if err != nil {
			return out, fmt.Errorf("loading %s: %w", path, err)
		}
		l := Loaded{ID: id}
		for _, n := range names {
			if err := m.Store.AddNames(id, []string{n.String()}); err != nil {
				return out, fmt.Errorf("naming image: %w", err)
			}
			l.Names = append(l.Names, n.String())
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: archive holds no image", path)
	}
	return out, nil
}

// loadDir stores the image of an oci-dir (an OCI layout) or a docker-dir (containers/image's
// dir: format, which holds no name).
func (m *Manager) loadDir(ctx context.Context, path string) ([]Loaded, error) {
	switch isDirLayout(path) {
	case "oci":
		index := &imgspecv1.Index{}
		if err := readJSON(filepath.Join(path, "index.json"), index); err != nil {
			return nil, err
		}
		return m.loadOCI(ctx, path, index, layout.NewReference)
	case "dir":
		src, err := directory.NewReference(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		id, err := m.copyInto(ctx, src, nil)
		if err != nil {
			return nil, fmt.Errorf("loading %s: %w", path, err)
		}
		return []Loaded{{ID: id}}, nil
	}
	return nil, fmt.Errorf("reading %s: %w", path, ErrBadArchive)
}

// loadOCI stores every image of an OCI layout's index, in an oci-archive or an oci-dir as
// newRef opens it.
func (m *Manager) loadOCI(ctx context.Context, path string, index *imgspecv1.Index, newRef func(path, image string) (types.ImageReference, error)) ([]Loaded, error) {
	var out []Loaded
	for i, desc := range index.Manifests {
		refName := desc.Annotations[imgspecv1.AnnotationRefName]
		var src, err = newRef(path, "")
		if refName != "" {
			src, err = newRef(path, refName)
		} else if len(index.Manifests) > 1 {
			src, err = newRef(path, fmt.Sprintf("@%d", i))
		}
		if err != nil {
			return out, fmt.Errorf("reading OCI layout %s: %w", path, err)
		}
		var name reference.Named
		if refName != "" {
			if n, err := reference.ParseNormalizedNamed(refName); err == nil {
				name = reference.TagNameOnly(n)
			}
		}
		id, err := m.copyInto(ctx, src, name)
		if err != nil {
			return out, fmt.Errorf("loading %s: %w", path, err)
		}
		l := Loaded{ID: id}
		if name != nil {
			l.Names = []string{name.String()}
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: archive holds no image", path)
	}
	return out, nil
}

// sniffArchive tells docker-archive ("docker") from oci-archive ("oci") by the files at the
// top of the tar, gzip or not, and returns an oci-archive's index.
func sniffArchive(path string) (string, *imgspecv1.Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return "", nil, fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
		defer gz.Close()
		r = gz
	}
	tr := tar.NewReader(r)
	var index *imgspecv1.Index
	sawLayout := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", nil, fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
		switch h.Name {
		case "manifest.json", "./manifest.json":
			return "docker", nil, nil
		case "oci-layout", "./oci-layout":
			sawLayout = true
		case "index.json", "./index.json":
			index = &imgspecv1.Index{}
			if err := json.NewDecoder(io.LimitReader(tr, 16<<20)).Decode(index); err != nil {
				return "", nil, fmt.Errorf("%w: index.json: %v", ErrBadArchive, err)
			}
		}
		if sawLayout && index != nil {
			return "oci", index, nil
		}
	}
	return "", nil, ErrBadArchive
}

// Import stores a root filesystem tarball as a one-layer image, named when name is set.
func (m *Manager) Import(ctx context.Context, path string, name string, cfg imgspecv1.ImageConfig) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("opening tarball: %w", err)
	}
	var named reference.Named
	if name != "" {
		n, err := NormalizeLocalName(name)
		if err != nil {
			return "", err
		}
		named = n
	}
	src, err := tarball.NewReference([]string{path}, nil)
	if err != nil {
		return "", fmt.Errorf("reading tarball %s: %w", path, err)
	}
	if up, ok := src.(tarball.ConfigUpdater); ok {
		if err := up.ConfigUpdate(imgspecv1.Image{Config: cfg}, nil); err != nil {
			return "", err
		}
	}
	id, err := m.copyInto(ctx, src, named)
	if err != nil {
		return "", fmt.Errorf("importing %s: %w", path, err)
	}
	return id, nil
}
