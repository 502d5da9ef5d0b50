package registry

import (
	"strings"
	"testing"
)

func TestParseRefTellsTransportsFromRegistryNames(t *testing.T) {
	for _, tc := range []struct {
		in, transport, docker, within, err string
	}{
		{in: "busybox", transport: "docker", docker: "busybox"},
		{in: "busybox:1.36", transport: "docker", docker: "busybox:1.36"},
		{in: "localhost:5000/a/b:tag", transport: "docker", docker: "localhost:5000/a/b:tag"},
		{in: "127.0.0.1:5000/busybox", transport: "docker", docker: "127.0.0.1:5000/busybox"},
		{in: "quay.io/a/b@sha256:" + strings.Repeat("a", 64), transport: "docker", docker: "quay.io/a/b@sha256:" + strings.Repeat("a", 64)},
		{in: "docker://quay.io/a/b", transport: "docker", docker: "quay.io/a/b"},
		{in: "docker://busybox", transport: "docker", docker: "busybox"},
		{in: "oci:/tmp/layout", transport: "oci", within: "/tmp/layout:"},
		{in: "oci:/tmp/layout:app:1.0", transport: "oci", within: "/tmp/layout:app:1.0"},
		{in: "oci-archive:/tmp/x.tar", transport: "oci-archive", within: "/tmp/x.tar:"},
		{in: "docker-archive:/tmp/x.tar:busybox:latest", transport: "docker-archive", within: "/tmp/x.tar:docker.io/library/busybox:latest"},
		{in: "dir:/tmp/img", transport: "dir", within: "/tmp/img"},
		{in: "", err: "empty image reference"},
		{in: "docker://", err: "not a valid image reference"},
		{in: "Busybox", err: "not a valid image reference"},
		{in: "a b", err: "not a valid image reference"},
		{in: "containers-storage:busybox", err: `transport "containers-storage" is not supported`},
		{in: "oci-archive:", err: "not a valid oci-archive reference"},
		{in: "dir:", err: "not a valid dir reference"},
		{in: "busybox@sha256:12", err: "not a valid image reference"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := ParseRef(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want an error containing %q, got %v (%+v)", tc.err, err, r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Transport != tc.transport || r.Docker != tc.docker {
				t.Errorf("got transport %q name %q, want %q %q", r.Transport, r.Docker, tc.transport, tc.docker)
			}
			if tc.within != "" && (r.Image == nil || r.Image.StringWithinTransport() != tc.within) {
				t.Errorf("got %v, want %s:%s", r.Image, tc.transport, tc.within)
			}
		})
	}
}

func TestParseCredsSplitsAtTheFirstColon(t *testing.T) {
	for _, tc := range []struct {
		in, user, pass string
		ok             bool
	}{
		{"alice:secret", "alice", "secret", true},
		{"alice:se:cr:et", "alice", "se:cr:et", true},
		{"alice", "", "", false},
		{"alice:", "", "", false},
		{":secret", "", "", false},
		{"", "", "", false},
	} {
		c, err := ParseCreds(tc.in)
		if !tc.ok {
			if err == nil {
				t.Errorf("ParseCreds(%q): want an error", tc.in)
			}
			continue
		}
		if err != nil || c.Username != tc.user || c.Password != tc.pass {
			t.Errorf("ParseCreds(%q) = %+v, %v; want %q %q", tc.in, c, err, tc.user, tc.pass)
		}
	}
}

func TestParsePlatformNeedsOSAndArch(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Platform
		ok   bool
	}{
		{"linux/amd64", Platform{OS: "linux", Arch: "amd64"}, true},
		{"linux/arm64/v8", Platform{OS: "linux", Arch: "arm64", Variant: "v8"}, true},
		{"linux/ppc64le", Platform{OS: "linux", Arch: "ppc64le"}, true},
		{"amd64", Platform{}, false},
		{"linux/", Platform{}, false},
		{"/amd64", Platform{}, false},
		{"linux/arm/v7/x", Platform{}, false},
		{"Linux/AMD64", Platform{}, false},
		{"", Platform{}, false},
	} {
		p, err := ParsePlatform(tc.in)
		if (err == nil) != tc.ok || p != tc.want {
			t.Errorf("ParsePlatform(%q) = %+v, %v; want %+v ok=%v", tc.in, p, err, tc.want, tc.ok)
		}
	}
}

func TestParseServerKeepsNamespaceInTheKey(t *testing.T) {
	for _, tc := range []struct{ in, key, host, err string }{
		{in: "registry.example.com", key: "registry.example.com", host: "registry.example.com"},
		{in: "https://127.0.0.1:5000/", key: "127.0.0.1:5000", host: "127.0.0.1:5000"},
		{in: "quay.io/team", key: "quay.io/team", host: "quay.io"},
		{in: "localhost", key: "localhost", host: "localhost"},
		{in: "", err: "no registry given"},
		{in: "https://", err: "no registry given"},
		{in: "reg istry", err: "is not a registry"},
		{in: "quay.io/a@sha256:x", err: "is not a registry"},
	} {
		s, err := ParseServer(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseServer(%q): want an error containing %q, got %v", tc.in, tc.err, err)
			}
			continue
		}
		if err != nil || s.Key != tc.key || s.Host != tc.host {
			t.Errorf("ParseServer(%q) = %+v, %v; want key %q host %q", tc.in, s, err, tc.key, tc.host)
		}
	}
}

// FuzzParseRefAndCreds checks that the parsers of user input never panic, that a parsed
// reference prints back to something that parses the same way, and that credentials
// round-trip.
func FuzzParseRefAndCreds(f *testing.F) {
	for _, s := range []string{"busybox", "docker://a/b:c", "oci:/x:y", "oci-archive:/t.tar", "docker-archive:/t.tar:a:b",
		"dir:/d", "127.0.0.1:5000/x@sha256:" + strings.Repeat("0", 64), "a:b:c", ":", "alice:pw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseRef(s); err == nil {
			again, err := ParseRef(r.String())
			if err != nil || again.Transport != r.Transport {
				t.Fatalf("%q parsed as %q, which parses as %+v, %v", s, r.String(), again, err)
			}
		}
		if c, err := ParseCreds(s); err == nil && c.Username+":"+c.Password != s {
			t.Fatalf("creds %q came back as %q:%q", s, c.Username, c.Password)
		}
		_, _ = ParsePlatform(s)
		_, _ = ParseServer(s)
	})
}
