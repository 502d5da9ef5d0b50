package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/den-project/den/store"
	"github.com/den-project/den/store/record"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
)

// CommitOptions describe the image Commit makes of a container.
type CommitOptions struct {
	// ParentID is the image the container was made from, LayerID the container's own layer.
	ParentID, LayerID string
	// Name names the new image when set; short names go under localhost/.
	Name string
	// Config is the new image's run configuration.
	Config imgspecv1.ImageConfig
	// Author, Comment and CreatedBy go into the image and its new history entry.
	Author, Comment, CreatedBy string
}

// Commit stores the changes in a container's layer as a new layer on top of its image, and an
// image of it with o.Config. It returns the new image's ID. containers/image has no
// transport that reads a container, so the image is assembled here the way its storage
// transport stores one: the config under its digest (also the image ID), and an OCI manifest
// under "manifest" and "manifest-<digest>", whose layers are the uncompressed diffs the
// storage transport serves. On failure nothing is left behind.
func (m *Manager) Commit(ctx context.Context, o CommitOptions) (string, error) {
	var named string
	if o.Name != "" {
		n, err := NormalizeLocalName(o.Name)
		if err != nil {
			return "", err
		}
		named = n.String()
	}
	parent, err := m.Store.Image(o.ParentID)
	if err != nil {
		return "", fmt.Errorf("finding the container's image: %w", err)
	}
	parentCfg, err := m.Config(parent)
	if err != nil {
		return "", err
	}
	diff, err := m.spoolDiff(o.LayerID)
	if err != nil {
		return "", err
	}
	defer diff.Close()
	// Held shared like a copy's, so no store shutdown prunes the layer's staging directory.
	lk, err := record.AcquireShared(m.copiesLockPath())
	if err != nil {
		return "", err
	}
	layer, _, err := m.Store.PutLayer("", parent.TopLayer, nil, "", false, nil, diff)
	lk.Release()
	if err != nil {
		return "", fmt.Errorf("storing the container's changes as a layer: %w", err)
	}
	id, err := m.commitImage(parentCfg, layer, named, o)
	if err != nil {
		if derr := m.Store.DeleteLayer(layer.ID); derr != nil {
			err = fmt.Errorf("%w (and removing the new layer: %v)", err, derr)
		}
		return "", err
	}
	return id, nil
}

// spoolDiff writes a layer's changes to a temporary file: the store stays locked while a
// diff is read, so it cannot be read straight into PutLayer.
func (m *Manager) spoolDiff(layerID string) (*os.File, error) {
	rc, err := m.Store.Diff("", layerID, &cstorage.DiffOptions{Compression: ptr(archive.Uncompressed)})
	if err != nil {
		return nil, fmt.Errorf("reading the container's changes: %w", err)
	}
	defer rc.Close()
	f, err := spool("den-commit-*.tar")
	if err != nil {
		return nil, fmt.Errorf("spooling the container's changes: %w", err)
	}
	if _, err = io.Copy(f, rc); err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading the container's changes: %w", err)
	}
	return f, nil
}

func (m *Manager) commitImage(parentCfg *imgspecv1.Image, layer *cstorage.Layer, name string, o CommitOptions) (string, error) {
	now := time.Now().UTC()
	cfg := *parentCfg
	cfg.Created = &now
	cfg.Author = o.Author
	cfg.Config = o.Config
	cfg.RootFS.DiffIDs = append(append([]digest.Digest{}, parentCfg.RootFS.DiffIDs...), layer.UncompressedDigest)
	cfg.History = append(append([]imgspecv1.History{}, parentCfg.History...), imgspecv1.History{
		Created: &now, CreatedBy: o.CreatedBy, Author: o.Author, Comment: o.Comment,
	})
	cfgBlob, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	cfgDigest := digest.Canonical.FromBytes(cfgBlob)

	// The manifest lists the layers bottom first, each as the storage transport serves it.
	var layers []imgspecv1.Descriptor
	for l := layer; l != nil; {
		if l.UncompressedDigest == "" {
			return "", fmt.Errorf("layer %s has no recorded digest", shortID(l.ID))
		}
		layers = append([]imgspecv1.Descriptor{{
			MediaType: imgspecv1.MediaTypeImageLayer, Digest: l.UncompressedDigest, Size: l.UncompressedSize,
		}}, layers...)
		if l.Parent == "" {
			break
		}
		if l, err = m.Store.Layer(l.Parent); err != nil {
			return "", fmt.Errorf("reading the image's layers: %w", err)
		}
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return "", fmt.Errorf("the image has %d layers but its config lists %d", len(layers), len(cfg.RootFS.DiffIDs))
	}
	man := imgspecv1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: imgspecv1.MediaTypeImageManifest,
		Config:    imgspecv1.Descriptor{MediaType: imgspecv1.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(cfgBlob))},
		Layers:    layers,
	}
	manBlob, err := json.Marshal(man)
	if err != nil {
		return "", err
	}
	manDigest, err := manifest.Digest(manBlob)
	if err != nil {
		return "", err
	}
	var names []string
	if name != "" {
		names = []string{name}
	}
	img, err := m.Store.CreateImage(cfgDigest.Encoded(), names, layer.ID, "", &cstorage.ImageOptions{
		CreationDate: now,
		BigData: []cstorage.ImageBigDataOption{
			{Key: cfgDigest.String(), Data: cfgBlob, Digest: cfgDigest},
			{Key: cstorage.ImageDigestManifestBigDataNamePrefix + "-" + manDigest.String(), Data: manBlob, Digest: manDigest},
			{Key: cstorage.ImageDigestBigDataKey, Data: manBlob, Digest: manDigest},
		},
	})
	if err != nil {
		return "", fmt.Errorf("storing the committed image: %w", err)
	}
	return img.ID, nil
}

func ptr[T any](v T) *T { return &v }

// copiesLockPath is the lock that copies into storage hold shared while they write and a
// failed one takes exclusively to clean up (see orphans.go), and commit holds like a copy.
func (m *Manager) copiesLockPath() string {
	return filepath.Join(m.Store.GraphRoot(), store.CopiesLock)
}
