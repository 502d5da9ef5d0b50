package image

import (
	"slices"
	"strings"
	"testing"

	"go.podman.io/image/v5/docker/reference"
)

const testDigest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestCandidates(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"tries Docker Hub's library then localhost for a short name", "busybox",
			[]string{"docker.io/library/busybox:latest", "localhost/busybox:latest"}},
		{"keeps the tag of a short name", "busybox:1.36",
			[]string{"docker.io/library/busybox:1.36", "localhost/busybox:1.36"}},
		{"tries Docker Hub then localhost for a name with a namespace", "team/app",
			[]string{"docker.io/team/app:latest", "localhost/team/app:latest"}},
		{"takes a name with a registry as it is", "quay.io/x/y:1",
			[]string{"quay.io/x/y:1"}},
		{"adds latest to a name with a registry", "quay.io/x/y",
			[]string{"quay.io/x/y:latest"}},
		{"takes a localhost name as it is", "localhost/foo",
			[]string{"localhost/foo:latest"}},
		{"takes a registry with a port as a registry", "registry.local:5000/app:2",
			[]string{"registry.local:5000/app:2"}},
		{"normalises docker.io without library", "docker.io/busybox",
			[]string{"docker.io/library/busybox:latest"}},
		{"keeps a digest reference", "busybox@" + testDigest,
			[]string{"docker.io/library/busybox@" + testDigest, "localhost/busybox@" + testDigest}},
		{"finds nothing for an upper-case name", "UPPER", nil},
		{"finds nothing for an empty name", "", nil},
		{"finds nothing for a malformed name", "a//b", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Candidates(c.in); !slices.Equal(got, c.want) {
				t.Errorf("Candidates(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestNormalizeLocalName(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{"puts a short name under localhost with latest", "foo", "localhost/foo:latest", ""},
		{"keeps a short name's tag", "foo:v1", "localhost/foo:v1", ""},
		{"puts a name with a namespace under localhost", "team/foo", "localhost/team/foo:latest", ""},
		{"keeps a name with a registry", "quay.io/a/b", "quay.io/a/b:latest", ""},
		{"keeps a name with a registry and tag", "quay.io/a/b:2", "quay.io/a/b:2", ""},
		{"keeps an explicit localhost name", "localhost/x:1", "localhost/x:1", ""},
		{"keeps a registry with a port", "reg:5000/x", "reg:5000/x:latest", ""},
		{"rejects a digest reference", "foo@" + testDigest, "", "digest"},
		{"rejects a digest reference with a registry", "quay.io/a/b@" + testDigest, "", "digest"},
		{"rejects an upper-case name", "UPPER", "", "UPPER"},
		{"rejects an empty name", "", "", "invalid image name"},
		{"rejects a name with spaces", "my image", "", "invalid image name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := NormalizeLocalName(c.in)
			if c.wantErr != "" {
				if err == nil {
					t.Fatalf("NormalizeLocalName(%q) = %v, want an error", c.in, got)
				}
				if !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("error %q does not mention %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeLocalName(%q): %v", c.in, err)
			}
			if got.String() != c.want {
				t.Errorf("NormalizeLocalName(%q) = %q, want %q", c.in, got.String(), c.want)
			}
		})
	}
}

func TestHasRegistry(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"busybox", false},
		{"team/app", false},
		{"quay.io/a", true},
		{"localhost/a", true},
		{"reg:5000/a", true},
		{"localhost", false},
		{"quay.io", false},
	}
	for _, c := range cases {
		if got := hasRegistry(c.in); got != c.want {
			t.Errorf("hasRegistry(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// FuzzCandidates checks that no user input panics and that every candidate is a full,
// parseable reference with a tag or digest.
func FuzzCandidates(f *testing.F) {
	for _, s := range []string{"busybox", "quay.io/x/y:1", "localhost/a", "a@" + testDigest, "UPPER", "", ":", "/", "a:b:c", "reg:5000/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range Candidates(s) {
			n, err := reference.ParseNamed(c)
			if err != nil {
				t.Fatalf("Candidates(%q) gave %q, which is not a full reference: %v", s, c, err)
			}
			_, tagged := n.(reference.Tagged)
			_, digested := n.(reference.Digested)
			if !tagged && !digested {
				t.Fatalf("Candidates(%q) gave %q without a tag or digest", s, c)
			}
		}
	})
}

// FuzzNormalizeLocalName checks that no name panics and that an accepted name is a full,
// tagged reference without a digest.
func FuzzNormalizeLocalName(f *testing.F) {
	for _, s := range []string{"foo", "foo:v1", "quay.io/a/b", "foo@" + testDigest, "UPPER", "", "localhost", "a/b/c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeLocalName(s)
		if err != nil {
			return
		}
		if _, ok := n.(reference.Digested); ok {
			t.Fatalf("NormalizeLocalName(%q) = %q, which has a digest", s, n)
		}
		if _, ok := n.(reference.Tagged); !ok {
			t.Fatalf("NormalizeLocalName(%q) = %q, which has no tag", s, n)
		}
		if _, err := reference.ParseNamed(n.String()); err != nil {
			t.Fatalf("NormalizeLocalName(%q) = %q, which is not a full reference: %v", s, n, err)
		}
	})
}
