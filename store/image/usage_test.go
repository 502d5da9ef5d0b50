package image

import (
	"testing"
	"time"

	cstorage "go.podman.io/storage"
)

func TestUsageCountsSharedLayersOnceOnDisk(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// base <- app and base <- tool: two images on one base layer, and a lone one.
	c := &Catalog{
		images: []cstorage.Image{
			{ID: "app", TopLayer: "l-app", Created: t0.Add(2 * time.Hour), BigDataSizes: map[string]int64{"manifest": 10}},
			{ID: "tool", TopLayer: "l-tool", Created: t0.Add(time.Hour)},
			{ID: "lone", TopLayer: "l-lone", Created: t0},
		},
		layers: map[string]*cstorage.Layer{
			"l-base": {ID: "l-base", UncompressedSize: 1000},
			"l-app":  {ID: "l-app", Parent: "l-base", UncompressedSize: 100},
			"l-tool": {ID: "l-tool", Parent: "l-base", UncompressedSize: 200},
			"l-lone": {ID: "l-lone", UncompressedSize: 50},
		},
	}
	got := c.Usage()
	want := []Usage{
		{ID: "app", Size: 1110, SharedSize: 1000},
		{ID: "tool", Size: 1200, SharedSize: 1000},
		{ID: "lone", Size: 50, SharedSize: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("Usage() = %+v, want %d images", got, len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Size != want[i].Size || got[i].SharedSize != want[i].SharedSize {
			t.Errorf("image %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if u := got[1].UniqueSize(); u != 200 {
		t.Errorf("tool's unique size %d, want 200", u)
	}
	for _, tc := range []struct {
		ids  []string
		want int64
	}{
		{[]string{"app", "tool", "lone"}, 1000 + 100 + 200 + 50 + 10},
		{[]string{"app", "tool"}, 1310},
		{[]string{"tool"}, 1200},
		{[]string{"gone"}, 0},
		{nil, 0},
	} {
		if got := c.DiskSize(tc.ids); got != tc.want {
			t.Errorf("DiskSize(%v) = %d, want %d", tc.ids, got, tc.want)
		}
	}
}
