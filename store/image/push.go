//go:build !den_core

package image

import (
	"context"
	"fmt"
	"slices"

	"github.com/den-project/den/store/registry"
	"github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
)

// PushOptions are the choices of one push.
type PushOptions struct {
	Registry registry.Options
	// Format is the manifest type written: "oci", "v2s2", or "" to keep the image's.
	Format string
}

var manifestFormats = map[string]string{
	"":     "",
	"oci":  imgspecv1.MediaTypeImageManifest,
	"v2s2": manifest.DockerV2Schema2MediaType,
}

// Pushed is what Push copied: the stored image and the digest of the manifest written.
type Pushed struct {
	ID     string
	Digest digest.Digest
}

// Push copies a stored image to a registry (dest empty: the registry its name says) or to
// an oci:, oci-archive:, docker-archive: or dir: location.
func (m *Manager) Push(ctx context.Context, nameOrID, dest string, o PushOptions) (Pushed, error) {
	mime, ok := manifestFormats[o.Format]
	if !ok {
		return Pushed{}, fmt.Errorf("--format %q: use oci or v2s2", o.Format)
	}
	img, err := m.Lookup(nameOrID)
	if err != nil {
		return Pushed{}, err
	}
	// The name the user typed, when the image has it, travels with the image.
	var named reference.Named
	for _, cand := range Candidates(nameOrID) {
		if slices.Contains(img.Names, cand) {
			named, _ = reference.ParseNormalizedNamed(cand)
			break
		}
	}
	if dest == "" {
		if named == nil {
			return Pushed{}, fmt.Errorf("%s names no repository: give a destination, e.g. `den push %s registry.example.com/name:tag`", nameOrID, nameOrID)
		}
		dest = named.String()
	}
	destRef, err := pushDestination(dest, named)
	if err != nil {
		return Pushed{}, err
	}
	srcRef, err := istorage.Transport.NewStoreReference(m.Store.Store, named, img.ID)
	if err != nil {
		return Pushed{}, fmt.Errorf("reading image %s: %w", shortID(img.ID), err)
	}
	sys, done, err := o.Registry.SystemContext()
	if err != nil {
		return Pushed{}, err
	}
	defer done()
	pc, err := registry.PolicyContext(sys)
	if err != nil {
		return Pushed{}, err
	}
	defer pc.Destroy()
	c := &copier{m: m, sys: sys, policy: pc}
	man, err := copy.Image(ctx, pc, destRef, srcRef, &copy.Options{
		ReportWriter:          c.report(),
		SourceCtx:             sys,
		DestinationCtx:        sys,
		ForceManifestMIMEType: mime,
	})
	if err != nil {
		return Pushed{}, fmt.Errorf("pushing %s to %s: %w", nameOrID, dest, err)
	}
	d, err := manifest.Digest(man)
	if err != nil {
		return Pushed{}, fmt.Errorf("digest of the pushed manifest: %w", err)
	}
	return Pushed{ID: img.ID, Digest: d}, nil
}

// pushDestination parses where to push. A registry name is normalized as podman does
// (busybox is docker.io/library/busybox:latest); a docker-archive without a name inside
// takes the image's, so loading it back restores the name.
func pushDestination(dest string, named reference.Named) (types.ImageReference, error) {
	ref, err := registry.ParseRef(dest)
	if err != nil {
		return nil, err
	}
	if ref.Transport == registry.TransportDocker {
		n, err := reference.ParseNormalizedNamed(ref.Docker)
		if err != nil {
			return nil, fmt.Errorf("%q is not a valid image reference: %w", dest, err)
		}
		return docker.NewReference(reference.TagNameOnly(n))
	}
	if ref.Transport == registry.TransportDockerArchive && ref.Image.DockerReference() == nil && named != nil {
		if tagged, ok := reference.TagNameOnly(named).(reference.NamedTagged); ok {
			return dockerarchive.NewReference(ref.Image.StringWithinTransport(), tagged)
		}
	}
	return ref.Image, nil
}
