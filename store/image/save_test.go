//go:build !den_core

package image

import "testing"

func TestParseSaveFormat(t *testing.T) {
	cases := []struct {
		in      string
		want    SaveFormat
		dir     bool
		wantErr bool
	}{
		{"", FormatDockerArchive, false, false},
		{"docker-archive", FormatDockerArchive, false, false},
		{"oci-archive", FormatOCIArchive, false, false},
		{"oci-dir", FormatOCIDir, true, false},
		{"docker-dir", FormatDockerDir, true, false},
		{"zip", "", false, true},
		{"OCI-ARCHIVE", "", false, true},
		{"docker", "", false, true},
	}
	for _, c := range cases {
		got, err := ParseSaveFormat(c.in)
		if c.wantErr {
			if err == nil {
				t.Errorf("ParseSaveFormat(%q) = %q, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want || got.IsDir() != c.dir {
			t.Errorf("ParseSaveFormat(%q) = %q (dir %v), %v; want %q (dir %v)", c.in, got, got.IsDir(), err, c.want, c.dir)
		}
	}
}

func TestBigDataFileNameFollowsContainersStorage(t *testing.T) {
	cases := map[string]string{
		"manifest":   "manifest",
		"signatures": "signatures",
		"sha256:abc": "=c2hhMjU2OmFiYw==",
		"Manifest":   "=TWFuaWZlc3Q=",
		"a.b.1":      "a.b.1",
	}
	for in, want := range cases {
		if got := bigDataFileName(in); got != want {
			t.Errorf("bigDataFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
