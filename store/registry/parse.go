package registry

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	_ "go.podman.io/image/v5/directory"      // registers dir:
	_ "go.podman.io/image/v5/docker/archive" // registers docker-archive:
	"go.podman.io/image/v5/docker/reference"
	_ "go.podman.io/image/v5/oci/archive" // registers oci-archive:
	_ "go.podman.io/image/v5/oci/layout"  // registers oci:
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

// Transport names den accepts in front of a reference, besides docker://.
const (
	TransportDocker        = "docker"
	TransportOCI           = "oci"
	TransportOCIArchive    = "oci-archive"
	TransportDockerArchive = "docker-archive"
	TransportDir           = "dir"
)

var fileTransports = map[string]bool{TransportOCI: true, TransportOCIArchive: true, TransportDockerArchive: true, TransportDir: true}

// otherTransports are containers/image transports podman knows that den does not take.
var otherTransports = map[string]bool{"containers-storage": true, "docker-daemon": true, "sif": true, "tarball": true, "ostree": true}

// Ref is a parsed image location: a registry name (Docker set, maybe a short name that
// registries.conf resolves) or a file-based containers/image reference (Image set).
type Ref struct {
	// Transport is one of the Transport constants.
	Transport string
	// Docker is the name as typed, without "docker://", for the docker transport.
	Docker string
	// Image is the reference of a file-based transport.
	Image types.ImageReference
}

// ParseRef reads what a user typed as an image location: "busybox", "host:5000/a/b:tag",
// "name@sha256:...", "docker://NAME", "oci:DIR[:REF]", "oci-archive:FILE[:REF]",
// "docker-archive:FILE[:REF]" or "dir:DIR". Like podman, a prefix is a transport only
// when it names one; "localhost:5000/x" stays a registry name.
func ParseRef(s string) (Ref, error) {
	if s == "" {
		return Ref{}, errors.New("empty image reference: name an image such as registry.example.com/busybox:latest")
	}
	if rest, ok := strings.CutPrefix(s, "docker://"); ok {
		if rest == "" {
			return Ref{}, fmt.Errorf("%q is not a valid image reference: it needs a name, e.g. docker://registry.example.com/busybox:latest", s)
		}
		if err := validName(rest); err != nil {
			return Ref{}, err
		}
		return Ref{Transport: TransportDocker, Docker: rest}, nil
	}
	if name, within, ok := strings.Cut(s, ":"); ok && (fileTransports[name] || otherTransports[name]) {
		if otherTransports[name] {
			return Ref{}, fmt.Errorf("%q: transport %q is not supported: use docker://, oci:, oci-archive:, docker-archive: or dir:", s, name)
		}
		if within == "" || strings.HasPrefix(within, ":") {
			return Ref{}, fmt.Errorf("%q is not a valid %s reference: it needs a path, e.g. %s:/tmp/image", s, name, name)
		}
		ref, err := transports.Get(name).ParseReference(within)
		if err != nil {
			return Ref{}, fmt.Errorf("%q is not a valid %s reference: %w", s, name, err)
		}
		return Ref{Transport: name, Image: ref}, nil
	}
	if err := validName(s); err != nil {
		return Ref{}, err
	}
	return Ref{Transport: TransportDocker, Docker: s}, nil
}

func validName(s string) error {
	if _, err := reference.ParseNormalizedNamed(s); err != nil {
		return fmt.Errorf("%q is not a valid image reference: %w", s, err)
	}
	return nil
}

// String is the reference as a user would type it again.
func (r Ref) String() string {
	if r.Image != nil {
		return r.Transport + ":" + r.Image.StringWithinTransport()
	}
	return r.Docker
}

// ParseCreds reads --creds USERNAME:PASSWORD. The password may contain colons; neither
// part may be empty.
func ParseCreds(s string) (*types.DockerAuthConfig, error) {
	user, pass, ok := strings.Cut(s, ":")
	if !ok || user == "" || pass == "" {
		return nil, errors.New("--creds needs USERNAME:PASSWORD, both non-empty")
	}
	return &types.DockerAuthConfig{Username: user, Password: pass}, nil
}

// Platform selects one image of a multi-architecture index. Empty fields mean the host's.
type Platform struct {
	OS, Arch, Variant string
}

var platformPart = regexp.MustCompile(`^[a-z0-9_]+$`)

// ParsePlatform reads --platform OS/ARCH[/VARIANT], e.g. "linux/arm64/v8".
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Platform{}, fmt.Errorf("--platform %q: use OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8", s)
	}
	for _, p := range parts {
		if !platformPart.MatchString(p) {
			return Platform{}, fmt.Errorf("--platform %q: %q is not a valid part: use OS/ARCH[/VARIANT] in lower case, e.g. linux/arm64/v8", s, p)
		}
	}
	p := Platform{OS: parts[0], Arch: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}
