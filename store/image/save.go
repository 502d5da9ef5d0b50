//go:build !den_core

package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/directory"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	ociarchive "go.podman.io/image/v5/oci/archive"
	"go.podman.io/image/v5/oci/layout"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"
)

// SaveOptions say what `save` writes where.
type SaveOptions struct {
	Format SaveFormat
	// Path is the archive file or the directory to write.
	Path string
	// Images are what the user typed. With Multi each is an image of one docker-archive;
	// without it, the ones after the first are more names for the first, as in podman.
	Images []string
	Multi  bool
}

// Saved is one image that Save wrote.
type Saved struct {
	ID, Name string
}

// Save writes images to o.Path. On failure it removes what it wrote, unless o.Path was there
// before.
func (m *Manager) Save(ctx context.Context, o SaveOptions) (saved []Saved, err error) {
	if len(o.Images) == 0 {
		return nil, errors.New("no image to save")
	}
	if len(o.Images) > 1 && o.Format != FormatDockerArchive {
		return nil, fmt.Errorf("format %s holds one image: save several with --format docker-archive", o.Format)
	}
	type item struct {
		img  *cstorage.Image
		tags []reference.NamedTagged
	}
	var items []item
	for i, ref := range o.Images {
		if i > 0 && !o.Multi {
			n, err := NormalizeLocalName(ref)
			if err != nil {
				return nil, err
			}
			items[0].tags = append(items[0].tags, n.(reference.NamedTagged))
			continue
		}
		img, name, err := m.resolve(ref)
		if err != nil {
			return nil, err
		}
		it := item{img: img}
		if n, err := reference.ParseNormalizedNamed(name); err == nil && name != "" {
			if t, ok := reference.TagNameOnly(n).(reference.NamedTagged); ok {
				it.tags = append(it.tags, t)
			}
		}
		items = append(items, it)
	}
	if _, statErr := os.Lstat(o.Path); errors.Is(statErr, os.ErrNotExist) {
		defer func() {
			if err != nil {
				os.RemoveAll(o.Path)
			}
		}()
	}
	pc, err := m.policy()
	if err != nil {
		return nil, err
	}
	defer pc.Destroy()
	cp := func(dest types.ImageReference, img *cstorage.Image, mime string, sys *types.SystemContext) error {
		src, err := istorage.Transport.NewStoreReference(m.Store.Store, nil, img.ID)
		if err != nil {
			return err
		}
		report := m.Report
		if report == nil {
			report = io.Discard
		}
		if _, err := copy.Image(ctx, pc, dest, src, &copy.Options{ReportWriter: report, ForceManifestMIMEType: mime, DestinationCtx: sys}); err != nil {
			return fmt.Errorf("saving image %s: %w", shortID(img.ID), err)
		}
		return nil
	}
	for _, it := range items {
		name := ""
		if len(it.tags) > 0 {
			name = it.tags[0].String()
		}
		saved = append(saved, Saved{ID: it.img.ID, Name: name})
	}
	if o.Format == FormatDockerArchive {
		return saved, m.saveDockerArchive(o.Path, func(w *dockerarchive.Writer) error {
			for _, it := range items {
				var first reference.NamedTagged
				sys := &types.SystemContext{}
				if len(it.tags) > 0 {
					first, sys.DockerArchiveAdditionalTags = it.tags[0], it.tags[1:]
				}
				dest, err := w.NewReference(first)
				if err != nil {
					return err
				}
				if err := cp(dest, it.img, manifest.DockerV2Schema2MediaType, sys); err != nil {
					return err
				}
			}
			return nil
		})
	}
	it := items[0]
	name := saved[0].Name
	var dest types.ImageReference
	mime := ""
	switch o.Format {
	case FormatOCIArchive:
		dest, err = ociarchive.NewReference(o.Path, name)
	case FormatOCIDir:
		dest, err = layout.NewReference(o.Path, name)
		mime = imgspecv1.MediaTypeImageManifest
	case FormatDockerDir:
		dest, err = directory.NewReference(o.Path)
		mime = manifest.DockerV2Schema2MediaType
	}
	if err != nil {
		return nil, fmt.Errorf("saving to %s: %w", o.Path, err)
	}
	return saved, cp(dest, it.img, mime, nil)
}

func (m *Manager) saveDockerArchive(path string, write func(*dockerarchive.Writer) error) error {
	w, err := dockerarchive.NewWriter(nil, path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	werr := write(w)
	if err := w.Close(); err != nil && werr == nil {
		werr = fmt.Errorf("writing %s: %w", path, err)
	}
	return werr
}

// isDirLayout tells which directory format path holds: "oci" (oci-layout and index.json),
// "dir" (containers/image's dir: manifest.json and version) or "".
func isDirLayout(path string) string {
	exists := func(name string) bool {
		_, err := os.Stat(path + "/" + name)
		return err == nil
	}
	switch {
	case exists("oci-layout") && exists("index.json"):
		return "oci"
	case exists("manifest.json") && exists("version"):
		return "dir"
	}
	return ""
}
