package image

import (
	"errors"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	cstorage "go.podman.io/storage"
)

func TestResolve(t *testing.T) {
	imgs := []cstorage.Image{
		{ID: "aaaa1111" + hex56, Names: []string{"docker.io/library/busybox:latest"}, Digests: []digest.Digest{testDigest}},
		{ID: "aaaa2222" + hex56, Names: []string{"localhost/app:1", "quay.io/team/tool:2"}},
		{ID: "bbbb3333" + hex56},
	}
	cases := []struct {
		name, in, wantID, wantName string
		wantErr                    error
	}{
		{"a short name", "busybox", imgs[0].ID, "docker.io/library/busybox:latest", nil},
		{"a full name", "docker.io/library/busybox:latest", imgs[0].ID, "docker.io/library/busybox:latest", nil},
		{"a short localhost name", "app:1", imgs[1].ID, "localhost/app:1", nil},
		{"the end of a repository", "tool:2", imgs[1].ID, "quay.io/team/tool:2", nil},
		{"a full id", imgs[2].ID, imgs[2].ID, "", nil},
		{"an id with sha256:", "sha256:" + imgs[2].ID, imgs[2].ID, "", nil},
		{"a unique id prefix", "bbbb", imgs[2].ID, "", nil},
		{"a digest reference", "busybox@" + testDigest, imgs[0].ID, "docker.io/library/busybox:latest", nil},
		{"an ambiguous prefix", "aaaa", "", "", ErrAmbiguous},
		{"an unknown name", "nosuch", "", "", ErrNotFound},
		{"an empty name", "", "", "", ErrNotFound},
		{"a wrong tag", "busybox:2", "", "", ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, name, err := resolve(imgs, c.in)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("resolve(%q) = %v, %q, %v; want %v", c.in, img, name, err, c.wantErr)
				}
				return
			}
			if err != nil || img.ID != c.wantID || name != c.wantName {
				t.Errorf("resolve(%q) = %v, %q, %v; want %s, %q", c.in, img, name, err, c.wantID[:8], c.wantName)
			}
		})
	}
	if _, _, err := resolve(imgs, "Bad//Name"); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("a malformed name: want an error other than not found, got %v", err)
	}
}

const hex56 = "00000000000000000000000000000000000000000000000000000000"

func TestHistoryPairsLayersWithTheirSteps(t *testing.T) {
	t1 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	d := &Details{
		Image: &cstorage.Image{ID: "img", Names: []string{"localhost/x:1"}},
		Config: &imgspecv1.Image{History: []imgspecv1.History{
			{Created: &t1, CreatedBy: "ADD rootfs"},
			{Created: &t1, CreatedBy: "ENV A=1", EmptyLayer: true},
			{Created: &t2, CreatedBy: "sh -c make", Comment: "built"},
		}},
		// Top first, as Describe gives them.
		Layers: []cstorage.Layer{{ID: "top", UncompressedSize: 20}, {ID: "base", UncompressedSize: 100}},
	}
	h := d.History()
	want := []HistoryEntry{
		{ID: "img", Created: t2, CreatedBy: "sh -c make", Size: 20, Comment: "built", Tags: []string{"localhost/x:1"}},
		{ID: "<missing>", Created: t1, CreatedBy: "ENV A=1"},
		{ID: "<missing>", Created: t1, CreatedBy: "ADD rootfs", Size: 100},
	}
	if len(h) != len(want) {
		t.Fatalf("History = %+v, want %+v", h, want)
	}
	for i := range want {
		if h[i].ID != want[i].ID || !h[i].Created.Equal(want[i].Created) || h[i].CreatedBy != want[i].CreatedBy ||
			h[i].Size != want[i].Size || h[i].Comment != want[i].Comment || len(h[i].Tags) != len(want[i].Tags) {
			t.Errorf("entry %d = %+v, want %+v", i, h[i], want[i])
		}
	}

	// Without recorded history, one entry per layer.
	d.Config.History = nil
	if h := d.History(); len(h) != 2 || h[0].ID != "img" || h[0].Size != 20 || h[1].Size != 100 {
		t.Errorf("History without steps = %+v, want one per layer, top first", h)
	}
}
