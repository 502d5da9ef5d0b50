package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Layers crafted to write outside themselves. Whatever den does with each (refuse it, or
// store a harmless version of it), nothing may appear outside the layer, and a refused
// archive leaves no image and no layer behind.

// hostileLayer is a layer tarball's entries, in order.
type hostileLayer []tar.Header

// ociArchiveOf packs busybox's rootfs and one layer made of the given entries (with the given
// file contents) into an OCI archive named ref.
func ociArchiveOf(t *testing.T, ref string, layer hostileLayer, contents map[string]string) []byte {
	t.Helper()
	var lb bytes.Buffer
	tw := tar.NewWriter(&lb)
	for _, h := range layer {
		h := h
		body := contents[h.Name]
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(body))
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("layer entry %s: %v", h.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	base, err := os.ReadFile(filepath.Join(imagesDir, "rootfs.tar"))
	if err != nil {
		t.Fatal(err)
	}
	return ociArchive(t, ref, base, lb.Bytes())
}

// ociArchive wraps uncompressed layers, bottom first, into an OCI image layout tarball.
func ociArchive(t *testing.T, ref string, layers ...[]byte) []byte {
	t.Helper()
	return ociArchiveConfig(t, ref, map[string]any{"Cmd": []string{"/bin/sh"}}, layers...)
}

// ociArchiveConfig is ociArchive with the image's run config (podman's "config" object).
func ociArchiveConfig(t *testing.T, ref string, runConfig map[string]any, layers ...[]byte) []byte {
	t.Helper()
	blobs := map[string][]byte{}
	add := func(b []byte) (string, int) {
		sum := sha256.Sum256(b)
		d := "sha256:" + hex.EncodeToString(sum[:])
		blobs[d] = b
		return d, len(b)
	}
	var diffIDs []string
	var descs []any
	for _, l := range layers {
		dg, size := add(l)
		diffIDs = append(diffIDs, dg)
		descs = append(descs, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": dg, "size": size})
	}
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": runConfig,
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	configDigest, configSize := add(config)
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": configDigest, "size": configSize},
		"layers": descs,
	})
	manifestDigest, manifestSize := add(manifest)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifestDigest, "size": manifestSize,
			"annotations": map[string]string{"org.opencontainers.image.ref.name": ref},
		}},
	})
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	put := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	put("index.json", index)
	for d, b := range blobs {
		put("blobs/sha256/"+strings.TrimPrefix(d, "sha256:"), b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// outside is a directory on the host, writable by den's user, that hostile layers aim at.
func outside(t *testing.T, d *den) string {
	t.Helper()
	dir := filepath.Join(d.dir, "outside")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	d.chown(t, dir)
	return dir
}

// wantEmptyDir fails when a hostile layer put anything into dir.
func wantEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("a layer wrote %s outside itself", filepath.Join(dir, e.Name()))
	}
}

// loadHostile loads the archive and, when den refuses it, checks that the refusal is one
// clear line with exit 125 and that no image or layer is left. It reports whether the image
// was stored.
func loadHostile(t *testing.T, d *den, archive []byte) bool {
	t.Helper()
	p := d.writeFile(t, "hostile.tar", archive)
	r := d.run(t, "load", "-i", p)
	if r.code == 0 {
		return true
	}
	// Before the error, load reports progress as podman's does ("Copying blob ...").
	errs := 0
	for _, l := range lines(r.stderr) {
		if strings.HasPrefix(l, "Error: ") {
			errs++
		}
	}
	if r.code != 125 || errs != 1 || !strings.HasPrefix(lines(r.stderr)[len(lines(r.stderr))-1], "Error: ") {
		t.Errorf("want one error line, last, and exit 125\n%s", r)
	}
	t.Logf("refused: %s", lines(r.stderr)[len(lines(r.stderr))-1])
	wantStdout(t, d.run(t, "images", "-q"), "")
	wantNoLayers(t, d)
	return false
}

// wantNoLayers fails when storage holds a layer: a refused load must not leave one.
func wantNoLayers(t *testing.T, d *den) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(d.graphRoot(), "overlay"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range ents {
		if hex64.MatchString(e.Name()) {
			t.Errorf("a refused load left layer %s in storage", e.Name())
		}
	}
	var layers []any
	if b, err := os.ReadFile(filepath.Join(d.graphRoot(), "overlay-layers", "layers.json")); err == nil {
		if err := json.Unmarshal(b, &layers); err != nil {
			t.Fatal(err)
		}
	}
	if len(layers) != 0 {
		t.Errorf("a refused load left %d layer records", len(layers))
	}
}

func reg(name string) tar.Header {
	return tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}
}

// Entries named with ../ or an absolute path are either refused or land inside the rootfs,
// at the path they name as seen from its root.
func TestLayerEntriesAimedOutsideLandInsideTheRootfsOrAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		// entry is the tar entry's name for a target directory on the host.
		entry func(target string) string
	}{
		// The storage directory is several levels below the test's directory; enough ../
		// reach /.
		{"dotdot", func(target string) string {
			return strings.Repeat("../", 30) + strings.TrimPrefix(target, "/") + "/dotdot"
		}},
		{"absolute", func(target string) string { return filepath.Join(target, "absolute") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDen(t)
			out := outside(t, d)
			entry := tc.entry(out)
			ref := "localhost/" + tc.name + ":latest"
			if loadHostile(t, d, ociArchiveOf(t, ref, hostileLayer{reg("ok"), reg(entry)}, map[string]string{entry: "inside"})) {
				r := d.mustRun(t, "run", "--rm", ref, "cat", "/"+strings.TrimPrefix(filepath.Clean("/"+entry), "/"))
				if r.stdout != "inside" {
					t.Errorf("entry %s was stored neither refused nor inside the rootfs\n%s", entry, r)
				}
			}
			wantEmptyDir(t, out)
		})
	}
}

func TestASymlinkToTheHostCannotBeWrittenThrough(t *testing.T) {
	d := newDen(t)
	out := outside(t, d)
	layer := hostileLayer{
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: out, Mode: 0o777},
		reg("link/through"),
		{Name: "rel", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("../", 30) + strings.TrimPrefix(out, "/"), Mode: 0o777},
		reg("rel/through-relative"),
	}
	loadHostile(t, d, ociArchiveOf(t, "localhost/symlink:latest", layer, map[string]string{
		"link/through": "pwned", "rel/through-relative": "pwned",
	}))
	wantEmptyDir(t, out)
}

func TestAHardlinkToAHostFileIsNeverMade(t *testing.T) {
	d := newDen(t)
	out := outside(t, d)
	secret := filepath.Join(out, "secret")
	if err := os.WriteFile(secret, []byte("host secret\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	d.chown(t, secret)
	layer := hostileLayer{
		{Name: "abs-link", Typeflag: tar.TypeLink, Linkname: secret},
		{Name: "rel-link", Typeflag: tar.TypeLink, Linkname: strings.Repeat("../", 30) + strings.TrimPrefix(secret, "/")},
	}
	if loadHostile(t, d, ociArchiveOf(t, "localhost/hardlink:latest", layer, nil)) {
		r := d.run(t, "run", "--rm", "localhost/hardlink", "cat", "/abs-link", "/rel-link")
		if strings.Contains(r.stdout, "host secret") {
			t.Errorf("a hardlink in a layer reads a host file\n%s", r)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(secret, &st); err != nil {
		t.Fatal(err)
	}
	if st.Nlink != 1 {
		t.Errorf("the host file now has %d links: a layer linked to it", st.Nlink)
	}
	b, err := os.ReadFile(secret)
	if err != nil || string(b) != "host secret\n" {
		t.Errorf("the host file changed: %q, %v", b, err)
	}
}

func TestDeviceNodesInALayerGiveNoAccessToHostDevices(t *testing.T) {
	d := newDen(t)
	layer := hostileLayer{
		{Name: "mem", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 1, Mode: 0o666},     // /dev/mem
		{Name: "disk", Typeflag: tar.TypeBlock, Devmajor: 253, Devminor: 0, Mode: 0o666}, // a virtio disk
		{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o666},
	}
	if !loadHostile(t, d, ociArchiveOf(t, "localhost/devices:latest", layer, nil)) {
		return
	}
	// Stored or not, a device node in a layer must not open a host device from the container.
	r := d.run(t, "run", "--rm", "localhost/devices", "sh", "-c",
		"[ -c /mem ] && head -c 1 /mem >/dev/null 2>&1 && echo mem-readable; [ -b /disk ] && head -c 1 /disk >/dev/null 2>&1 && echo disk-readable; true")
	if r.code != 0 || strings.Contains(r.stdout, "readable") {
		t.Errorf("a device node from a layer opened a host device\n%s", r)
	}
}

func TestAHugeSparseFileDoesNotFillTheDisk(t *testing.T) {
	d := newDen(t)
	// A PAX sparse entry claims 64 GiB of which only a few bytes hold data.
	const claimed = 64 << 30
	var lb bytes.Buffer
	tw := tar.NewWriter(&lb)
	hdr := &tar.Header{
		Name: "sparse", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4, ModTime: time.Unix(1700000000, 0),
		Format: tar.FormatPAX,
		PAXRecords: map[string]string{
			"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
			"GNU.sparse.name": "sparse", "GNU.sparse.realsize": fmt.Sprint(claimed),
		},
	}
	// Without the sparse map block the claim is only in the headers; readers that honour
	// GNU sparse 1.0 see a map they cannot parse, others a 4-byte file. Either is fine: what
	// matters is that den never writes 64 GiB.
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var before syscall.Statfs_t
	if err := syscall.Statfs(d.dir, &before); err != nil {
		t.Fatal(err)
	}
	loadHostile(t, d, ociArchive(t, "localhost/sparse:latest", lb.Bytes()))
	var after syscall.Statfs_t
	if err := syscall.Statfs(d.dir, &after); err != nil {
		t.Fatal(err)
	}
	used := (int64(before.Bfree) - int64(after.Bfree)) * before.Bsize
	if used > 1<<30 {
		t.Errorf("loading a layer with a sparse file used %d MiB of disk", used>>20)
	}
}

// A failed load removes the layers it left, but never one that a load running beside it
// has just made: here good and refused archives share their bottom layer.
func TestRefusedLoadsBesideGoodOnesRemoveOnlyTheirOwnLayers(t *testing.T) {
	d := newDen(t)
	var paths []string
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("localhost/good%d:latest", i)
		layer := hostileLayer{reg(fmt.Sprintf("file%d", i))}
		if i%3 == 2 {
			name = fmt.Sprintf("localhost/bad%d:latest", i)
			layer = hostileLayer{{Name: "link", Typeflag: tar.TypeLink, Linkname: "/nonexistent/target"}}
		}
		paths = append(paths, d.writeFile(t, fmt.Sprintf("a%d.tar", i), ociArchiveOf(t, name, layer, nil)))
	}
	results := make([]result, len(paths))
	done := make(chan int)
	for i, p := range paths {
		go func() {
			results[i] = d.run(t, "load", "-i", p)
			done <- i
		}()
	}
	for range paths {
		<-done
	}
	for i, r := range results {
		if bad := i%3 == 2; bad != (r.code != 0) {
			t.Errorf("archive %d: want failure %v\n%s", i, bad, r)
		}
	}
	for i := 0; i < 6; i++ {
		if i%3 == 2 {
			continue
		}
		r := d.run(t, "run", "--rm", fmt.Sprintf("localhost/good%d", i), "ls", fmt.Sprintf("/file%d", i))
		if r.code != 0 {
			t.Errorf("image good%d lost a layer to a failed load beside it\n%s", i, r)
		}
	}
	// Two layers per good image, the bottom one shared: 1 + 4.
	d.removalsSettled(t)
	b, err := os.ReadFile(filepath.Join(d.graphRoot(), "overlay-layers", "layers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var layers []any
	if err := json.Unmarshal(b, &layers); err != nil {
		t.Fatal(err)
	}
	if len(layers) != 5 {
		t.Errorf("want 5 layers (shared base + 4 good tops), found %d", len(layers))
	}
}
