//go:build !den_core

package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

type tarEntry struct {
	name, body string
	dir        bool
}

func tarBytes(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.dir {
			h = &tar.Header{Name: e.name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeTemp(t testing.TB, dir string, b []byte) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "archive")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

const (
	dockerManifest = `[{"Config":"cfg.json","RepoTags":["busybox:latest"],"Layers":["l.tar"]}]`
	ociLayout      = `{"imageLayoutVersion":"1.0.0"}`
	ociIndex       = `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":2,` +
		`"annotations":{"org.opencontainers.image.ref.name":"localhost/app:1"}}]}`
)

func TestSniffArchive(t *testing.T) {
	docker := tarBytes(t, []tarEntry{{name: "cfg.json", body: "{}"}, {name: "l.tar", body: "layer"}, {name: "manifest.json", body: dockerManifest}})
	oci := tarBytes(t, []tarEntry{{name: "blobs/", dir: true}, {name: "oci-layout", body: ociLayout}, {name: "index.json", body: ociIndex}})
	ociDotSlash := tarBytes(t, []tarEntry{{name: "./", dir: true}, {name: "./index.json", body: ociIndex}, {name: "./oci-layout", body: ociLayout}})
	dockerDotSlash := tarBytes(t, []tarEntry{{name: "./manifest.json", body: dockerManifest}})
	random := make([]byte, 4096)
	rand.New(rand.NewSource(1)).Read(random)

	cases := []struct {
		name     string
		data     []byte
		wantKind string
		wantRef  string
		wantErr  error
	}{
		{name: "recognises a docker-archive by its manifest.json", data: docker, wantKind: "docker"},
		{name: "recognises a gzipped docker-archive", data: gzipBytes(t, docker), wantKind: "docker"},
		{name: "recognises a docker-archive with ./ names", data: dockerDotSlash, wantKind: "docker"},
		{name: "recognises an oci-archive by oci-layout and index.json", data: oci, wantKind: "oci", wantRef: "localhost/app:1"},
		{name: "recognises a gzipped oci-archive", data: gzipBytes(t, oci), wantKind: "oci", wantRef: "localhost/app:1"},
		{name: "recognises an oci-archive with ./ names and index.json first", data: ociDotSlash, wantKind: "oci", wantRef: "localhost/app:1"},
		{name: "rejects random bytes", data: random, wantErr: ErrBadArchive},
		{name: "rejects gzipped random bytes", data: gzipBytes(t, random), wantErr: ErrBadArchive},
		{name: "rejects an empty file", data: nil, wantErr: ErrBadArchive},
		{name: "rejects a gzip header without a body", data: []byte{0x1f, 0x8b, 8, 0}, wantErr: ErrBadArchive},
		{name: "rejects an empty tar", data: tarBytes(t, nil), wantErr: ErrBadArchive},
		{name: "rejects a plain root filesystem tarball", data: tarBytes(t, []tarEntry{{name: "bin/", dir: true}, {name: "bin/sh", body: "#!"}}), wantErr: ErrBadArchive},
		{name: "rejects an oci-layout without an index", data: tarBytes(t, []tarEntry{{name: "oci-layout", body: ociLayout}}), wantErr: ErrBadArchive},
		{name: "rejects an index without an oci-layout", data: tarBytes(t, []tarEntry{{name: "index.json", body: ociIndex}}), wantErr: ErrBadArchive},
		{name: "rejects a broken index.json", data: tarBytes(t, []tarEntry{{name: "oci-layout", body: ociLayout}, {name: "index.json", body: "{broken"}}), wantErr: ErrBadArchive},
		{name: "rejects a manifest.json that is not at the top", data: tarBytes(t, []tarEntry{{name: "sub/manifest.json", body: dockerManifest}}), wantErr: ErrBadArchive},
		{name: "rejects a truncated tar", data: docker[:700], wantErr: ErrBadArchive},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind, index, err := sniffArchive(writeTemp(t, dir, c.data))
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("sniffArchive = %q, %v; want %v", kind, err, c.wantErr)
				}
				if kind != "" || index != nil {
					t.Errorf("failed sniff still returned kind %q, index %v", kind, index)
				}
				return
			}
			if err != nil {
				t.Fatalf("sniffArchive: %v", err)
			}
			if kind != c.wantKind {
				t.Errorf("kind = %q, want %q", kind, c.wantKind)
			}
			if c.wantKind == "docker" {
				if index != nil {
					t.Errorf("docker-archive came with an index %+v", index)
				}
				return
			}
			if index == nil || len(index.Manifests) != 1 {
				t.Fatalf("index = %+v, want one manifest", index)
			}
			if got := index.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != c.wantRef {
				t.Errorf("ref name = %q, want %q", got, c.wantRef)
			}
		})
	}
}

func TestSniffArchiveReportsAMissingFile(t *testing.T) {
	_, _, err := sniffArchive(filepath.Join(t.TempDir(), "nope.tar"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

// FuzzSniffArchive checks that no file content panics sniffArchive and that it answers
// with a kind or ErrBadArchive.
func FuzzSniffArchive(f *testing.F) {
	f.Add(tarBytes(f, []tarEntry{{name: "manifest.json", body: dockerManifest}}))
	f.Add(tarBytes(f, []tarEntry{{name: "oci-layout", body: ociLayout}, {name: "index.json", body: ociIndex}}))
	f.Add(gzipBytes(f, tarBytes(f, []tarEntry{{name: "index.json", body: "{"}})))
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "a")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		kind, index, err := sniffArchive(path)
		switch {
		case err != nil:
			if !errors.Is(err, ErrBadArchive) {
				t.Fatalf("error %v is not ErrBadArchive", err)
			}
		case kind == "docker":
		case kind == "oci":
			if index == nil {
				t.Fatal("oci kind without an index")
			}
		default:
			t.Fatalf("kind %q without an error", kind)
		}
	})
}
