package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// dfRow is one row of `system df --format json`.
type dfRow struct {
	Type                    string
	Total, Active           int
	RawSize, RawReclaimable int64
	Size, Reclaimable       string
}

func systemDf(t *testing.T, d *den) map[string]dfRow {
	t.Helper()
	r := d.mustRun(t, "system", "df", "--format", "json")
	var rows []dfRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("system df --format json: %v\n%s", err, r)
	}
	out := map[string]dfRow{}
	for _, row := range rows {
		out[row.Type] = row
	}
	return out
}

func TestSystemDfCountsImagesContainersAndVolumes(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// An image no container uses is all reclaimable.
	df := systemDf(t, d)
	if img := df["Images"]; img.Total != 1 || img.Active != 0 || img.RawSize <= 0 || img.RawReclaimable != img.RawSize ||
		!strings.HasSuffix(img.Reclaimable, "(100%)") {
		t.Errorf("an unused image: want all of it reclaimable, got %+v", img)
	}
	// A volume holding 1 MiB, part of it in a directory only a subordinate id may enter, and
	// a container that wrote 256 KiB into its own root filesystem.
	d.mustRun(t, "run", "--name", "w", "-v", "data:/data", "busybox", "sh", "-c",
		"dd if=/dev/zero of=/data/a bs=1024 count=512 2>/dev/null && mkdir -m 700 /data/p && "+
			"dd if=/dev/zero of=/data/p/b bs=1024 count=512 2>/dev/null && chown -R 1000:1000 /data/p && "+
			"dd if=/dev/zero of=/big bs=1024 count=256 2>/dev/null")
	d.mustRun(t, "volume", "create", "empty")
	df = systemDf(t, d)
	if img := df["Images"]; img.Active != 1 || img.RawReclaimable != 0 {
		t.Errorf("an image a container uses: want it active and nothing reclaimable, got %+v", img)
	}
	if c := df["Containers"]; c.Total != 1 || c.Active != 0 || c.RawSize < 256<<10 || c.RawReclaimable != c.RawSize {
		t.Errorf("an exited container that wrote 256 KiB: got %+v", c)
	}
	if v := df["Local Volumes"]; v.Total != 2 || v.Active != 1 || v.RawSize < 1<<20 || v.RawReclaimable != 0 {
		t.Errorf("a used volume of 1 MiB and an unused empty one: got %+v", v)
	}
	d.mustRun(t, "rm", "w")
	if v := systemDf(t, d)["Local Volumes"]; v.Active != 0 || v.RawReclaimable != v.RawSize ||
		!strings.HasSuffix(v.Reclaimable, "(100%)") || !strings.HasPrefix(v.Reclaimable, v.Size+" ") {
		t.Errorf("unused volumes are reclaimable: got %+v", v)
	}

	wantStdout(t, d.run(t, "system", "df", "--format", "{{.Type}} {{.Total}}"), "Images 1\nContainers 0\nLocal Volumes 2\n")
	r := d.mustRun(t, "system", "df")
	if ls := lines(r.stdout); len(ls) != 4 || strings.Join(strings.Fields(ls[0]), " ") != "TYPE TOTAL ACTIVE SIZE RECLAIMABLE" ||
		!strings.HasPrefix(ls[3], "Local Volumes ") {
		t.Errorf("want podman's table\n%s", r)
	}
	r = d.mustRun(t, "system", "df", "-v")
	for _, want := range []string{"Images space usage:", "SHARED SIZE", "docker.io/library/busybox", "Containers space usage:",
		"Local Volumes space usage:", "VOLUME NAME", "data ", "empty "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("system df -v: want %q\n%s", want, r)
		}
	}
	wantError(t, d.run(t, "system", "df", "-v", "--format", "json"), 125, "--format", "--verbose")
}
