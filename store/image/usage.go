package image

import (
	"time"

	cstorage "go.podman.io/storage"
)

// Usage is one image's share of the disk, as `system df -v` shows it.
type Usage struct {
	ID      string
	Names   []string
	Created time.Time
	// Size is the image's layers unpacked and its metadata, as `images` shows it.
	Size int64
	// SharedSize is the part of Size in layers that other images use too.
	SharedSize int64
}

// UniqueSize is what removing the image alone would free.
func (u Usage) UniqueSize() int64 { return u.Size - u.SharedSize }

// Usage returns the disk usage of every image, newest first.
func (c *Catalog) Usage() []Usage {
	users := map[string]int{}
	for i := range c.images {
		for _, l := range c.chain(&c.images[i]) {
			users[l.ID]++
		}
	}
	out := make([]Usage, 0, len(c.images))
	for _, li := range c.List() {
		img, _ := c.byID(li.ID)
		u := Usage{ID: li.ID, Names: li.Names, Created: li.Created, Size: li.Size}
		for _, l := range c.chain(img) {
			if users[l.ID] > 1 {
				u.SharedSize += max(l.UncompressedSize, 0)
			}
		}
		out = append(out, u)
	}
	return out
}

// DiskSize is what the images with the given IDs take on disk together: each layer once,
// however many of them use it, and their metadata.
func (c *Catalog) DiskSize(ids []string) int64 {
	seen := map[string]bool{}
	var size int64
	for _, id := range ids {
		img, ok := c.byID(id)
		if !ok {
			continue
		}
		for _, l := range c.chain(img) {
			if !seen[l.ID] {
				seen[l.ID] = true
				size += max(l.UncompressedSize, 0)
			}
		}
		for _, n := range img.BigDataSizes {
			size += n
		}
	}
	return size
}

func (c *Catalog) byID(id string) (*cstorage.Image, bool) {
	for i := range c.images {
		if c.images[i].ID == id {
			return &c.images[i], true
		}
	}
	return nil, false
}
