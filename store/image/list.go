package image

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	cstorage "go.podman.io/storage"
)

// ListFromDisk lists images by reading containers/storage's image and layer records, decoded
// into its own exported types, without initialising a graph driver. Read-only commands use it
// from the host user namespace: initialising the overlay driver there would probe for
// privileges it lacks and record that the store needs fuse-overlayfs.
func ListFromDisk(graphRoot, driver string) ([]Image, error) {
	var imgs []cstorage.Image
	if err := readJSON(filepath.Join(graphRoot, driver+"-images", "images.json"), &imgs); err != nil {
		return nil, err
	}
	var layers []cstorage.Layer
	if err := readJSON(filepath.Join(graphRoot, driver+"-layers", "layers.json"), &layers); err != nil {
		return nil, err
	}
	byID := make(map[string]*cstorage.Layer, len(layers))
	for i := range layers {
		byID[layers[i].ID] = &layers[i]
	}
	out := make([]Image, 0, len(imgs))
	for i := range imgs {
		img := &imgs[i]
		var size int64
		for l := byID[img.TopLayer]; l != nil; l = byID[l.Parent] {
			size += l.UncompressedSize
		}
		for _, n := range img.BigDataSizes {
			size += n
		}
		out = append(out, Image{ID: img.ID, Names: img.Names, Digest: img.Digest.String(), Created: img.Created, Size: size})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
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
