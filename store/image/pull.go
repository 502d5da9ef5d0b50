//go:build !den_core

package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/den-project/den/store/registry"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// PullOptions are the choices of one pull.
type PullOptions struct {
	Registry registry.Options
	// AllTags pulls every tag of the repository.
	AllTags bool
}

// Pulled is one image that Pull stored.
type Pulled struct {
	ID   string
	Name string
}

// Pull copies an image into storage from a registry (by tag or digest; short names resolve
// through registries.conf) or from an oci:, oci-archive:, docker-archive: or dir: location.
// A failed pull leaves no image and no layer of its own behind.
func (m *Manager) Pull(ctx context.Context, name string, o PullOptions) ([]Pulled, error) {
	ref, err := registry.ParseRef(name)
	if err != nil {
		return nil, err
	}
	if o.AllTags && ref.Transport != registry.TransportDocker {
		return nil, fmt.Errorf("--all-tags works with registries only, not with %s:", ref.Transport)
	}
	sys, done, err := o.Registry.SystemContext()
	if err != nil {
		return nil, err
	}
	defer done()
	pc, err := registry.PolicyContext(sys)
	if err != nil {
		return nil, err
	}
	defer pc.Destroy()
	c := &copier{m: m, sys: sys, policy: pc}
	// Each copy into storage removes what it left when it fails (see guardCopy).
	switch {
	case ref.Transport != registry.TransportDocker:
		return c.fromFile(ctx, ref)
	case o.AllTags:
		return c.allTags(ctx, ref.Docker)
	}
	p, err := c.fromRegistry(ctx, ref.Docker)
	if err != nil {
		return nil, err
	}
	return []Pulled{p}, nil
}

// copier copies images into storage with one operation's configuration.
type copier struct {
	m      *Manager
	sys    *types.SystemContext
	policy *signature.PolicyContext
}

func (c *copier) report() io.Writer {
	if c.m.Report == nil {
		return io.Discard
	}
	return c.m.Report
}

// fromRegistry tries each name a (maybe short) name resolves to, in order.
func (c *copier) fromRegistry(ctx context.Context, name string) (Pulled, error) {
	resolved, err := shortnames.Resolve(c.sys, name)
	if err != nil {
		return Pulled{}, fmt.Errorf("resolving %q: %w", name, err)
	}
	if d := resolved.Description(); d != "" {
		fmt.Fprintln(c.report(), d)
	}
	var errs []error
	for _, cand := range resolved.PullCandidates {
		fmt.Fprintf(c.report(), "Trying to pull %s...\n", cand.Value)
		src, err := docker.NewReference(cand.Value)
		if err != nil {
			return Pulled{}, err
		}
		id, err := c.into(ctx, src, cand.Value)
		if err != nil {
			errs = append(errs, fmt.Errorf("pulling %s: %w", cand.Value, err))
			continue
		}
		if err := cand.Record(); err != nil {
			return Pulled{}, err
		}
		return Pulled{ID: id, Name: cand.Value.String()}, nil
	}
	if len(errs) == 1 {
		return Pulled{}, errs[0]
	}
	return Pulled{}, resolved.FormatPullErrors(errs)
}

// allTags pulls every tag of a repository that names no tag or digest.
func (c *copier) allTags(ctx context.Context, name string) ([]Pulled, error) {
	if n, err := reference.ParseNormalizedNamed(name); err == nil && !reference.IsNameOnly(n) {
		return nil, fmt.Errorf("--all-tags: %q names a tag or digest: give the repository only", name)
	}
	resolved, err := shortnames.Resolve(c.sys, name)
	if err != nil {
		return nil, fmt.Errorf("resolving %q: %w", name, err)
	}
	var errs []error
	for _, cand := range resolved.PullCandidates {
		repo := reference.TrimNamed(cand.Value)
		ref, err := docker.NewReference(reference.TagNameOnly(repo))
		if err != nil {
			return nil, err
		}
		tags, err := docker.GetRepositoryTags(ctx, c.sys, ref)
		if err != nil {
			errs = append(errs, fmt.Errorf("listing tags of %s: %w", repo, err))
			continue
		}
		var out []Pulled
		for _, tag := range tags {
			tagged, err := reference.WithTag(repo, tag)
			if err != nil {
				return out, fmt.Errorf("tag %q of %s: %w", tag, repo, err)
			}
			p, err := c.fromRegistry(ctx, tagged.String())
			if err != nil {
				return out, err
			}
			out = append(out, p)
		}
		return out, nil
	}
	return nil, errors.Join(errs...)
}

// fromFile copies from a file-based transport. Archives named without an image inside are
// loaded whole, every image with the names the archive gives it, as den load does.
func (c *copier) fromFile(ctx context.Context, ref registry.Ref) ([]Pulled, error) {
	within := ref.Image.StringWithinTransport()
	archive := ref.Transport == registry.TransportOCIArchive || ref.Transport == registry.TransportDockerArchive
	if path, inner, _ := strings.Cut(within, ":"); archive && inner == "" {
		loaded, err := c.m.Load(ctx, path)
		if err != nil {
			return nil, err
		}
		var out []Pulled
		for _, l := range loaded {
			out = append(out, Pulled{ID: l.ID, Name: strings.Join(l.Names, ",")})
		}
		return out, nil
	}
	name := fileImageName(ref)
	fmt.Fprintf(c.report(), "Copying from %s...\n", ref)
	id, err := c.into(ctx, ref.Image, name)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", ref, err)
	}
	p := Pulled{ID: id}
	if name != nil {
		p.Name = name.String()
	}
	return []Pulled{p}, nil
}

// fileImageName names an image copied from a file as podman does: the name the reference
// carries, else localhost/ and the path or the reference inside the layout; nil (ID only)
// when neither makes a valid name.
func fileImageName(ref registry.Ref) reference.Named {
	if n := ref.Image.DockerReference(); n != nil {
		return reference.TagNameOnly(n)
	}
	within := ref.Image.StringWithinTransport()
	if ref.Transport != registry.TransportDir {
		if path, inner, ok := strings.Cut(within, ":"); ok && inner != "" && !strings.HasPrefix(inner, "@") {
			within = inner
		} else {
			within = path
		}
	}
	if hasRegistry(within) {
		if n, err := reference.ParseNormalizedNamed(within); err == nil {
			return reference.TagNameOnly(n)
		}
	}
	n, err := NormalizeLocalName(strings.Trim(within, "/"))
	if err != nil {
		return nil
	}
	return n
}

// into copies src into storage under name (nil: ID only) and returns the image ID.
func (c *copier) into(ctx context.Context, src types.ImageReference, name reference.Named) (string, error) {
	return c.m.copyIntoWith(ctx, src, name, c.sys, c.policy)
}
