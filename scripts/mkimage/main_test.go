package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// fakeApplets stands in for `busybox --list-full`, so the tests never exec
// the fake binary. linuxrc sits at the root, as in Debian's busybox.
var fakeApplets = []string{"bin/sh", "bin/echo", "usr/bin/env", "sbin/ip", "usr/local/bin/deep", "linuxrc"}

// buildFake builds the images from a small fake busybox into a fresh
// directory and returns that directory.
func buildFake(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "busybox")
	if err := os.WriteFile(bin, []byte("#!/bin/false\nnot really busybox\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "images")
	if err := build(bin, fakeApplets, out); err != nil {
		t.Fatalf("build: %v", err)
	}
	return out
}

// tarEntry is a tar member as the tests see it.
type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

// readTar returns the members of a tar stream by name, failing on
// duplicates so a second entry cannot shadow the first unnoticed.
func readTar(t *testing.T, b []byte) (map[string]tarEntry, []string) {
	t.Helper()
	members := map[string]tarEntry{}
	var order []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading tar member %s: %v", hdr.Name, err)
		}
		if _, dup := members[hdr.Name]; dup {
			t.Fatalf("tar member %s appears twice", hdr.Name)
		}
		members[hdr.Name] = tarEntry{hdr, data}
		order = append(order, hdr.Name)
	}
	return members, order
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeJSON(t *testing.T, what string, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v\n%s", what, err, b)
	}
}

// blob returns an OCI layout blob after checking it against its descriptor.
func blob(t *testing.T, members map[string]tarEntry, d descriptor) []byte {
	t.Helper()
	hex, ok := strings.CutPrefix(d.Digest, "sha256:")
	if !ok {
		t.Fatalf("digest %q is not sha256", d.Digest)
	}
	m, ok := members["blobs/sha256/"+hex]
	if !ok {
		t.Fatalf("blob %s is missing", d.Digest)
	}
	if got := digest(m.data); got != d.Digest {
		t.Errorf("blob %s has digest %s", d.Digest, got)
	}
	if int64(len(m.data)) != d.Size {
		t.Errorf("blob %s has size %d, descriptor says %d", d.Digest, len(m.data), d.Size)
	}
	return m.data
}

// readOCI checks an OCI archive's structure and returns its only manifest
// and config, plus the layer bytes.
func readOCI(t *testing.T, archive []byte, wantRef string) (manifest, imageConfig, []byte) {
	t.Helper()
	members, _ := readTar(t, archive)
	if got := string(members["oci-layout"].data); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q", got)
	}
	var idx index
	decodeJSON(t, "index.json", members["index.json"].data, &idx)
	if idx.SchemaVersion != 2 || len(idx.Manifests) != 1 {
		t.Fatalf("index.json = %+v, want schema 2 with one manifest", idx)
	}
	if got := idx.Manifests[0].Annotations[annotationRefName]; got != wantRef {
		t.Errorf("ref.name = %q, want %q", got, wantRef)
	}
	var m manifest
	decodeJSON(t, "manifest", blob(t, members, idx.Manifests[0]), &m)
	if m.MediaType != mediaTypeManifest || len(m.Layers) != 1 {
		t.Fatalf("manifest = %+v, want one layer", m)
	}
	var cfg imageConfig
	decodeJSON(t, "config", blob(t, members, m.Config), &cfg)
	layer := blob(t, members, m.Layers[0])
	if want := []string{m.Layers[0].Digest}; !reflect.DeepEqual(cfg.RootFS.DiffIDs, want) {
		t.Errorf("diff_ids = %v, want %v", cfg.RootFS.DiffIDs, want)
	}
	if len(cfg.History) != 1 {
		t.Errorf("history has %d entries, want 1", len(cfg.History))
	}
	return m, cfg, layer
}

func TestBusyboxOCIArchiveIsAValidLayoutWithTheImageConfig(t *testing.T) {
	out := buildFake(t)
	_, cfg, layer := readOCI(t, readFile(t, out, fileBusyboxOCI), "busybox:latest")

	want := runConfig{
		Env:        []string{defaultPath, "IMAGE_VAR=from-image"},
		Cmd:        []string{"sh"},
		WorkingDir: "/",
		Labels:     map[string]string{"org.den.test": "busybox"},
	}
	if !reflect.DeepEqual(cfg.Config, want) {
		t.Errorf("config = %+v, want %+v", cfg.Config, want)
	}
	if cfg.OS != "linux" || cfg.Architecture == "" {
		t.Errorf("platform = %s/%s", cfg.OS, cfg.Architecture)
	}
	if !bytes.Equal(layer, readFile(t, out, fileRootfs)) {
		t.Error("layer differs from rootfs.tar")
	}
}

func TestToolOCIArchiveHasEntrypointUserAndWorkdir(t *testing.T) {
	out := buildFake(t)
	_, cfg, _ := readOCI(t, readFile(t, out, fileToolOCI), "tool:latest")

	want := runConfig{
		User:       "user",
		Env:        []string{defaultPath, "FOO=from-image"},
		Entrypoint: []string{"/bin/echo", "entry"},
		Cmd:        []string{"default-arg"},
		WorkingDir: "/srv",
	}
	if !reflect.DeepEqual(cfg.Config, want) {
		t.Errorf("config = %+v, want %+v", cfg.Config, want)
	}
}

func TestDockerArchiveHoldsTheSameConfigAndLayerAsTheOCIArchive(t *testing.T) {
	out := buildFake(t)
	_, ociCfg, ociLayer := readOCI(t, readFile(t, out, fileBusyboxOCI), "busybox:latest")

	docker := readFile(t, out, fileBusyboxDock)
	members, _ := readTar(t, docker)
	var dms []dockerManifest
	decodeJSON(t, "manifest.json", members["manifest.json"].data, &dms)
	if len(dms) != 1 || len(dms[0].Layers) != 1 {
		t.Fatalf("manifest.json = %+v, want one image with one layer", dms)
	}
	dm := dms[0]
	if !reflect.DeepEqual(dm.RepoTags, []string{"busybox:latest"}) {
		t.Errorf("RepoTags = %v", dm.RepoTags)
	}

	config := members[dm.Config].data
	if want := hexDigest(config) + ".json"; dm.Config != want {
		t.Errorf("config file is %s, its digest names it %s", dm.Config, want)
	}
	var cfg imageConfig
	decodeJSON(t, "docker config", config, &cfg)
	if !reflect.DeepEqual(cfg, ociCfg) {
		t.Errorf("docker config = %+v, oci config = %+v", cfg, ociCfg)
	}
	layer := members[dm.Layers[0]].data
	if !bytes.Equal(layer, ociLayer) {
		t.Error("docker layer differs from oci layer")
	}
	if got := digest(layer); got != cfg.RootFS.DiffIDs[0] {
		t.Errorf("layer digest %s, diff_id %s", got, cfg.RootFS.DiffIDs[0])
	}

	var repos map[string]map[string]string
	decodeJSON(t, "repositories", members["repositories"].data, &repos)
	if got := repos["busybox"]["latest"]; got != hexDigest(layer) {
		t.Errorf("repositories busybox:latest = %q, want the layer id %s", got, hexDigest(layer))
	}

	zr, err := gzip.NewReader(bytes.NewReader(readFile(t, out, fileBusyboxDockZ)))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzipped, docker) {
		t.Error("busybox-docker.tar.gz does not decompress to busybox-docker.tar")
	}
}

func TestTwoBuildsGiveIdenticalBytes(t *testing.T) {
	a, b := buildFake(t), buildFake(t)
	for _, name := range []string{fileRootfs, fileBusyboxOCI, fileBusyboxDock, fileBusyboxDockZ, fileToolOCI} {
		if !bytes.Equal(readFile(t, a, name), readFile(t, b, name)) {
			t.Errorf("%s differs between two builds", name)
		}
	}
	left, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 5 {
		t.Errorf("output holds %d files, want 5 (temporary files left behind?)", len(left))
	}
}

func TestLayerCarriesOwnersModesAndAppletLinksInItsHeaders(t *testing.T) {
	out := buildFake(t)
	members, order := readTar(t, readFile(t, out, fileRootfs))

	tests := []struct {
		name     string
		typ      byte
		mode     int64
		uid, gid int
		data     string
	}{
		{"bin/busybox", tar.TypeReg, 0o755, 0, 0, "#!/bin/false\nnot really busybox\n"},
		{"root/", tar.TypeDir, 0o700, 0, 0, ""},
		{"tmp/", tar.TypeDir, 0o1777, 0, 0, ""},
		{"home/user/", tar.TypeDir, 0o755, 1000, 1000, ""},
		{"home/user/owned", tar.TypeReg, 0o644, 1000, 1000, "owned"},
		{"srv/multi/u0", tar.TypeReg, 0o644, 0, 0, "u0"},
		{"srv/multi/u1000", tar.TypeReg, 0o644, 1000, 1000, "u1000"},
		{"srv/multi/u2000", tar.TypeReg, 0o644, 2000, 2000, "u2000"},
		{"srv/multi/u65534", tar.TypeReg, 0o644, 65534, 65534, "u65534"},
		{"dev/", tar.TypeDir, 0o755, 0, 0, ""},
		{"proc/", tar.TypeDir, 0o555, 0, 0, ""},
		{"sys/", tar.TypeDir, 0o555, 0, 0, ""},
		{"run/", tar.TypeDir, 0o755, 0, 0, ""},
		{"var/", tar.TypeDir, 0o755, 0, 0, ""},
		{"usr/local/bin/", tar.TypeDir, 0o755, 0, 0, ""},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0, passwd},
		{"etc/group", tar.TypeReg, 0o644, 0, 0, group},
	}
	for _, tt := range tests {
		m, ok := members[tt.name]
		if !ok {
			t.Errorf("%s is missing", tt.name)
			continue
		}
		h := m.hdr
		if h.Typeflag != tt.typ || h.Mode != tt.mode || h.Uid != tt.uid || h.Gid != tt.gid {
			t.Errorf("%s: type %c mode %o owner %d:%d, want type %c mode %o owner %d:%d",
				tt.name, h.Typeflag, h.Mode, h.Uid, h.Gid, tt.typ, tt.mode, tt.uid, tt.gid)
		}
		if string(m.data) != tt.data {
			t.Errorf("%s holds %q, want %q", tt.name, m.data, tt.data)
		}
		if !h.ModTime.Equal(epoch) {
			t.Errorf("%s has mtime %v, want %v", tt.name, h.ModTime, epoch)
		}
	}

	for _, a := range fakeApplets {
		m, ok := members[a]
		if !ok {
			t.Errorf("applet %s is missing", a)
			continue
		}
		if m.hdr.Typeflag != tar.TypeSymlink || m.hdr.Linkname != "/bin/busybox" {
			t.Errorf("applet %s: type %c link %q, want a symlink to /bin/busybox", a, m.hdr.Typeflag, m.hdr.Linkname)
		}
	}

	// A parent must come before its children for streaming extractors.
	if !slices.IsSortedFunc(order, func(a, b string) int {
		if pathLess(a, b) {
			return -1
		}
		if pathLess(b, a) {
			return 1
		}
		return 0
	}) {
		t.Errorf("layer entries are not sorted: %v", order)
	}
}

func TestParseAppletsKeepsPathsAndDropsBusyboxItself(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"typical", "usr/bin/[\nbin/busybox\nbin/sh\n", []string{"usr/bin/[", "bin/sh"}},
		{"root-level applet", "linuxrc\n", []string{"linuxrc"}},
		{"blank lines and slashes", "\n/bin/ls\n  \nsbin/ip/\n", []string{"bin/ls", "sbin/ip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseApplets(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseApplets(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRootfsRejectsAppletsThatCollideOrEscape(t *testing.T) {
	for _, applet := range []string{"etc/passwd", "bin", "../evil", "."} {
		if _, err := rootfs(nil, []string{applet}); err == nil {
			t.Errorf("rootfs accepted applet %q", applet)
		}
	}
}
