package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	cstorage "go.podman.io/storage"
)

// Catalog is a snapshot of the images and layers containers/storage records in a graph root,
// read from its JSON files and decoded into its own exported types, without initialising a
// graph driver. Read-only commands (images, inspect, history, image exists) use it from the
// host user namespace: initialising the overlay driver there would probe for privileges it
// lacks and record that the store needs fuse-overlayfs. containers/storage replaces those
// files by rename, so a snapshot is always a whole one.
type Catalog struct {
	graphRoot, driver string
	images            []cstorage.Image
	layers            map[string]*cstorage.Layer
}

// ReadCatalog reads the records of graphRoot, made with driver ("overlay" or "vfs"). A graph
// root without records is an empty catalog.
func ReadCatalog(graphRoot, driver string) (*Catalog, error) {
	c := &Catalog{graphRoot: graphRoot, driver: driver}
	if err := readJSON(filepath.Join(graphRoot, driver+"-images", "images.json"), &c.images); err != nil {
		return nil, err
	}
	var layers []cstorage.Layer
	if err := readJSON(filepath.Join(graphRoot, driver+"-layers", "layers.json"), &layers); err != nil {
		return nil, err
	}
	for i := range c.images {
		fillDigests(&c.images[i])
	}
	c.layers = make(map[string]*cstorage.Layer, len(layers))
	for i := range layers {
		c.layers[layers[i].ID] = &layers[i]
	}
	return c, nil
}

// fillDigests sets what containers/storage computes when it loads a record rather than
// stores: Digests, the digests of the image's manifests (the big-data items whose names start
// with "manifest"), and Digest, when unset, the first of them.
func fillDigests(img *cstorage.Image) {
	img.Digests = nil
	if img.Digest != "" {
		img.Digests = append(img.Digests, img.Digest)
	}
	keys := slices.Sorted(maps.Keys(img.BigDataDigests))
	for _, k := range keys {
		if d := img.BigDataDigests[k]; strings.HasPrefix(k, cstorage.ImageDigestManifestBigDataNamePrefix) && !slices.Contains(img.Digests, d) {
			img.Digests = append(img.Digests, d)
		}
	}
	if img.Digest == "" && len(img.Digests) > 0 {
		img.Digest = img.Digests[0]
	}
}

// Lookup resolves what a user typed, as Manager.Lookup does.
func (c *Catalog) Lookup(nameOrID string) (*cstorage.Image, error) {
	img, _, err := resolve(c.images, nameOrID)
	return img, err
}

// List returns every image, newest first, with its labels.
func (c *Catalog) List() []Image {
	out := make([]Image, 0, len(c.images))
	for i := range c.images {
		img := &c.images[i]
		li := Image{ID: img.ID, Names: img.Names, Digest: img.Digest.String(), Created: img.Created, Size: c.size(img)}
		// An image whose config cannot be read is still listed, without labels.
		if cfg, err := c.Config(img); err == nil {
			li.Labels = cfg.Config.Labels
		}
		out = append(out, li)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// size is what podman shows as an image's size: its layers unpacked, and its metadata.
func (c *Catalog) size(img *cstorage.Image) int64 {
	var size int64
	for _, l := range c.chain(img) {
		size += max(l.UncompressedSize, 0)
	}
	for _, n := range img.BigDataSizes {
		size += n
	}
	return size
}

// chain is the image's layers, top first.
func (c *Catalog) chain(img *cstorage.Image) []*cstorage.Layer {
	var out []*cstorage.Layer
	for l := c.layers[img.TopLayer]; l != nil && len(out) <= len(c.layers); l = c.layers[l.Parent] {
		out = append(out, l)
	}
	return out
}

// bigData reads one item containers/storage keeps beside an image record.
func (c *Catalog) bigData(img *cstorage.Image, key string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(c.graphRoot, c.driver+"-images", img.ID, bigDataFileName(key)))
	if err != nil {
		return nil, fmt.Errorf("reading %s of image %s: %w", key, shortID(img.ID), err)
	}
	return b, nil
}

// bigDataFileName is containers/storage's file name for a big-data key (its unexported
// makeBigDataBaseName, part of its on-disk format): the key itself when it holds only
// [a-z0-9.], else "=" and the key in standard base64.
func bigDataFileName(key string) string {
	for _, ch := range key {
		if ch != '.' && (ch < '0' || ch > '9') && (ch < 'a' || ch > 'z') {
			return "=" + base64.StdEncoding.EncodeToString([]byte(key))
		}
	}
	return key
}

// Config returns the image's OCI configuration.
func (c *Catalog) Config(img *cstorage.Image) (*imgspecv1.Image, error) {
	b, err := c.bigData(img, configKey(img))
	if err != nil {
		return nil, err
	}
	return decodeConfig(img, b)
}

// configKey is the big-data key of an image's config. containers/image stores it under the
// config digest, which is also the image ID it gives.
func configKey(img *cstorage.Image) string {
	key := digest.NewDigestFromEncoded(digest.SHA256, img.ID).String()
	if !slices.Contains(img.BigDataNames, key) {
		// An image stored by other means: its config is the one item named by a digest.
		for _, k := range img.BigDataNames {
			if strings.HasPrefix(k, "sha256:") {
				return k
			}
		}
	}
	return key
}

func decodeConfig(img *cstorage.Image, b []byte) (*imgspecv1.Image, error) {
	cfg := &imgspecv1.Image{}
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("reading config of image %s: %w", shortID(img.ID), err)
	}
	return cfg, nil
}

// Details is everything inspect and history show of one image.
type Details struct {
	Image  *cstorage.Image
	Config *imgspecv1.Image
	// ManifestType is the media type of the stored manifest.
	ManifestType string
	Size         int64
	// Layers is the image's layer chain, top first.
	Layers []cstorage.Layer
	// GraphDriver names the driver and, for overlay, the top layer's directories.
	GraphDriver     string
	GraphDriverData map[string]string
}

// Describe gathers an image's details.
func (c *Catalog) Describe(img *cstorage.Image) (*Details, error) {
	cfg, err := c.Config(img)
	if err != nil {
		return nil, err
	}
	d := &Details{Image: img, Config: cfg, Size: c.size(img), GraphDriver: c.driver, GraphDriverData: map[string]string{}}
	if b, err := c.bigData(img, cstorage.ImageDigestBigDataKey); err == nil {
		d.ManifestType = manifest.GuessMIMEType(b)
	}
	chain := c.chain(img)
	for _, l := range chain {
		d.Layers = append(d.Layers, *l)
	}
	if c.driver == "overlay" && len(chain) > 0 {
		dir := func(l *cstorage.Layer, sub string) string { return filepath.Join(c.graphRoot, "overlay", l.ID, sub) }
		d.GraphDriverData["UpperDir"] = dir(chain[0], "diff")
		d.GraphDriverData["WorkDir"] = dir(chain[0], "work")
		var lower []string
		for _, l := range chain[1:] {
			lower = append(lower, dir(l, "diff"))
		}
		if len(lower) > 0 {
			d.GraphDriverData["LowerDir"] = strings.Join(lower, ":")
		}
	}
	return d, nil
}

// HistoryEntry is one row of `den history`.
type HistoryEntry struct {
	// ID is the image's for the newest entry and "<missing>" for the others, as in podman.
	ID        string
	Created   time.Time
	CreatedBy string
	Size      int64
	Comment   string
	Tags      []string
}

// History returns the image's history, newest first, each entry with the size of the layer
// it made. An image whose config records no history gets one entry per layer.
func (d *Details) History() []HistoryEntry {
	// Layers bottom first, to pair with the history's layer-making entries.
	layers := slices.Clone(d.Layers)
	slices.Reverse(layers)
	hist := d.Config.History
	if len(hist) == 0 {
		for range layers {
			hist = append(hist, imgspecv1.History{Created: d.Config.Created})
		}
	}
	out := make([]HistoryEntry, 0, len(hist))
	next := 0
	for _, h := range hist {
		e := HistoryEntry{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment}
		if h.Created != nil {
			e.Created = *h.Created
		}
		if !h.EmptyLayer && next < len(layers) {
			e.Size = max(layers[next].UncompressedSize, 0)
			next++
		}
		out = append(out, e)
	}
	slices.Reverse(out)
	if len(out) > 0 {
		out[0].ID = d.Image.ID
		out[0].Tags = d.Image.Names
	}
	return out
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading image records: %w", err)
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("reading image records %s: %w", path, err)
	}
	return nil
}
