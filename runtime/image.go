package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/den-project/den/store"
	"github.com/den-project/den/store/image"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/storage/pkg/archive"
)

// Catalog reads the image records from disk without opening storage, so read-only image
// commands run in the host user namespace. Before any image was stored it is empty.
func (r *Runtime) Catalog() (*image.Catalog, error) {
	graph, _ := r.Paths.StorageRoots(r.Config)
	driver, err := store.RecordedDriver(graph)
	if errors.Is(err, store.ErrNoStore) {
		return image.ReadCatalog(graph, "overlay")
	}
	if err != nil {
		return nil, err
	}
	return image.ReadCatalog(graph, driver)
}

// CommitOptions are the user's choices for `den commit`.
type CommitOptions struct {
	Container string
	// Name names the new image; empty leaves it unnamed.
	Name string
	// Changes are Dockerfile-style instructions applied to the config (image.ApplyChange).
	Changes         []string
	Author, Message string
	// Pause asks for the container to be frozen while its changes are read.
	Pause bool
}

// Commit makes an image of a container's changes on top of its image. The new image's
// config starts from the container's: its environment, working directory, user, labels and
// command, as podman's commit does; Changes come last. It returns the new image's ID.
func (r *Runtime) Commit(ctx context.Context, o CommitOptions) (string, error) {
	c, err := r.Lookup(o.Container)
	if err != nil {
		return "", err
	}
	if o.Pause && c.State.Status == StatusRunning && !c.State.Paused {
		if _, err := r.Pause(c.ID); err != nil {
			return "", err
		}
		defer func() { _, _ = r.Unpause(c.ID) }()
	}
	im, err := r.Images()
	if err != nil {
		return "", err
	}
	parent, err := im.Lookup(c.ImageID)
	if err != nil {
		return "", fmt.Errorf("the image of container %s: %w", c.Name, err)
	}
	pcfg, err := im.Config(parent)
	if err != nil {
		return "", err
	}
	cfg := commitConfig(pcfg.Config, c)
	for _, ch := range o.Changes {
		if err := image.ApplyChange(&cfg, ch); err != nil {
			return "", err
		}
	}
	sc, err := im.Store.Container(c.ID)
	if err != nil {
		return "", fmt.Errorf("container %s has no storage: %w", c.Name, err)
	}
	id, err := im.Commit(ctx, image.CommitOptions{
		ParentID: parent.ID, LayerID: sc.LayerID, Name: o.Name, Config: cfg,
		Author: o.Author, Comment: o.Message, CreatedBy: strings.Join(c.Config.Args, " "),
	})
	if err != nil {
		return "", err
	}
	r.publish(c, "commit")
	return id, nil
}

// commitConfig is the image config a container stands for: its image's, with what the
// container was given in place of the image's own.
func commitConfig(img imgspecv1.ImageConfig, c *Container) imgspecv1.ImageConfig {
	cfg := img
	cfg.Env = slices.Clone(c.Config.Env)
	cfg.WorkingDir = c.Config.WorkingDir
	cfg.User = c.Config.User
	if len(c.Labels) > 0 {
		cfg.Labels = map[string]string{}
		for k, v := range img.Labels {
			cfg.Labels[k] = v
		}
		for k, v := range c.Labels {
			cfg.Labels[k] = v
		}
	}
	if c.Config.StopSignal != "" {
		cfg.StopSignal = c.Config.StopSignal
	}
	cfg.ExposedPorts = withExposed(img.ExposedPorts, c.Config.Expose)
	// The record keeps the full argv: the image's entrypoint, when the container still runs
	// it, stays the entrypoint and the rest is the command.
	ep := c.Config.Entrypoint
	if len(ep) > 0 && len(c.Config.Args) >= len(ep) && slices.Equal(c.Config.Args[:len(ep)], ep) {
		cfg.Entrypoint, cfg.Cmd = slices.Clone(ep), slices.Clone(c.Config.Args[len(ep):])
	} else {
		cfg.Entrypoint, cfg.Cmd = nil, slices.Clone(c.Config.Args)
	}
	return cfg
}

// Export writes a tar of a container's root filesystem (its image and its changes) to w.
func (r *Runtime) Export(ctx context.Context, ref string, w io.Writer) error {
	c, err := r.Lookup(ref)
	if err != nil {
		return err
	}
	st, err := r.Store()
	if err != nil {
		return err
	}
	// A running container's rootfs is mounted in its holder's mount namespace only: this
	// mounts it again, read from here, and drops that mount again.
	rootfs, err := st.Mount(c.ID, "")
	if err != nil {
		return fmt.Errorf("mounting the root filesystem of %s: %w", c.Name, err)
	}
	defer func() { _, _ = st.Unmount(c.ID, false) }()
	tr, err := archive.TarWithOptions(rootfs, &archive.TarOptions{Compression: archive.Uncompressed})
	if err != nil {
		return fmt.Errorf("exporting %s: %w", c.Name, err)
	}
	defer tr.Close()
	if _, err := io.Copy(w, tr); err != nil {
		return fmt.Errorf("exporting %s: %w", c.Name, err)
	}
	r.publish(c, "export")
	return nil
}
