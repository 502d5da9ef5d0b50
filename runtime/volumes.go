package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/den-project/den/store/events"
	"github.com/den-project/den/store/volume"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"go.podman.io/storage/pkg/archive"
)

// Volumes is the volume store of this installation.
func (r *Runtime) Volumes() *volume.Store { return volume.New(r.Paths.DataDir) }

// VolumeUsers returns the names of the containers that mount each volume.
func (r *Runtime) VolumeUsers() (map[string][]string, error) {
	cs, err := r.recs.list()
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, c := range cs {
		for _, m := range c.Config.Mounts {
			if m.Type == MountVolume {
				users[m.Source] = append(users[m.Source], c.Name)
			}
		}
	}
	return users, nil
}

// volumesAndUsers lists every volume and the containers that use each.
func (r *Runtime) volumesAndUsers() ([]*volume.Volume, map[string][]string, error) {
	vols, err := r.Volumes().List()
	if err != nil {
		return nil, nil, err
	}
	users, err := r.VolumeUsers()
	if err != nil {
		return nil, nil, err
	}
	return vols, users, nil
}

// CreateVolume makes a named volume and publishes its event.
func (r *Runtime) CreateVolume(o volume.CreateOptions) (*volume.Volume, error) {
	v, err := r.Volumes().Create(o)
	if err != nil {
		return nil, err
	}
	r.publishVolume(v.Name, events.StatusCreate)
	return v, nil
}

// RemoveVolume deletes a volume. One in use is refused unless force, which first removes
// the containers using it, stopping running ones with stopTimeout (OwnStopTimeout: each
// container's).
func (r *Runtime) RemoveVolume(ctx context.Context, name string, force bool, stopTimeout time.Duration) error {
	vs := r.Volumes()
	if _, err := vs.Get(name); err != nil {
		return err
	}
	if force {
		// Before the users lock: removing a container takes its lock, and a container's
		// lock is always taken before the users lock (a --rm exit removes its anonymous
		// volumes under it).
		users, err := r.VolumeUsers()
		if err != nil {
			return err
		}
		for _, c := range users[name] {
			if _, err := r.RemoveWithVolumes(ctx, c, true, false, stopTimeout); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	ul, err := vs.LockUsers()
	if err != nil {
		return err
	}
	defer ul.Release()
	users, err := r.VolumeUsers()
	if err != nil {
		return err
	}
	if u := users[name]; len(u) > 0 {
		return fmt.Errorf("volume %s: %w by container(s) %s: remove them first or use --force", name, volume.ErrInUse, strings.Join(u, ", "))
	}
	lk, err := vs.Lock(name)
	if err != nil {
		return err
	}
	defer lk.Release()
	if err := vs.Remove(name); err != nil {
		return err
	}
	r.publishVolume(name, events.StatusRemove)
	return nil
}

// PruneVolumes removes every volume no container uses that passes the filters, and
// returns their names.
func (r *Runtime) PruneVolumes(ctx context.Context, filters []volume.Filter) ([]string, error) {
	vols, users, err := r.volumesAndUsers()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, v := range vols {
		if len(users[v.Name]) > 0 || !volume.MatchAll(filters, v, false) {
			continue
		}
		// A container created since the listing may use it now: RemoveVolume checks again.
		if err := r.RemoveVolume(ctx, v.Name, false, OwnStopTimeout); err != nil {
			if errors.Is(err, volume.ErrInUse) || errors.Is(err, volume.ErrNotFound) {
				continue
			}
			return removed, err
		}
		removed = append(removed, v.Name)
	}
	return removed, nil
}

func (r *Runtime) publishVolume(name, status string) {
	ev := events.Event{ID: name, Name: name, Status: status, Type: events.TypeVolume}
	if err := r.Events().Append(ev); err != nil {
		logrus.Warnf("publishing %s event of volume %s: %v", status, name, err)
	}
}

// needsVolumes reports whether a new container would take volumes: named or anonymous ones
// of its own, another container's (--volumes-from) or the image's.
func needsVolumes(own []Mount, volumesFrom []string, imageVolumes map[string]struct{}) bool {
	if len(volumesFrom) > 0 || len(imageVolumes) > 0 {
		return true
	}
	for _, m := range own {
		if m.Type == MountVolume {
			return true
		}
	}
	return false
}

// mergedMounts are a new container's mounts before its volumes are made: its own, those of
// --volumes-from, the image's volumes, merged as resolveMounts merges them, bind sources
// checked. It changes nothing.
func (r *Runtime) mergedMounts(own []Mount, volumesFrom []string, imageVolumes map[string]struct{}) ([]Mount, error) {
	var from []Mount
	for _, spec := range volumesFrom {
		ref, mode, _ := strings.Cut(spec, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return nil, fmt.Errorf("--volumes-from %q: the mode after ':' is ro or rw", spec)
		}
		src, err := r.Lookup(ref)
		if err != nil {
			return nil, fmt.Errorf("--volumes-from %s: %w", ref, err)
		}
		for _, m := range src.Config.Mounts {
			if m.Type == MountTmpfs {
				continue
			}
			if mode != "" {
				opts := m.Options[:0:0]
				for _, o := range m.Options {
					if o != "ro" && o != "rw" {
						opts = append(opts, o)
					}
				}
				m.Options = append(opts, mode)
			}
			from = append(from, m)
		}
	}
	var imgVols []string
	for v := range imageVolumes {
		imgVols = append(imgVols, v)
	}
	sort.Strings(imgVols)
	mounts, err := mergeMounts(own, from, imgVols)
	if err != nil {
		return nil, err
	}
	for _, m := range mounts {
		if m.Type != MountBind {
			continue
		}
		if _, err := os.Stat(m.Source); err != nil {
			return nil, fmt.Errorf("bind mount source %s: %w", m.Source, errors.Unwrap(err))
		}
	}
	return mounts, nil
}

// resolveMounts completes a new container's mounts: --volumes-from copies another
// container's, image VOLUMEs become anonymous volumes, named volumes are created when
// missing, and bind sources must exist. It returns the volumes it created, for the caller
// to remove if the create fails later.
func (r *Runtime) resolveMounts(own []Mount, volumesFrom []string, imageVolumes map[string]struct{}) ([]Mount, []string, error) {
	mounts, err := r.mergedMounts(own, volumesFrom, imageVolumes)
	if err != nil {
		return nil, nil, err
	}
	vs := r.Volumes()
	var created []string
	undo := func() {
		for _, n := range created {
			_ = vs.Remove(n)
		}
	}
	for i := range mounts {
		m := &mounts[i]
		if m.Type == MountVolume {
			if m.Source != "" && vs.Exists(m.Source) {
				continue
			}
			v, err := vs.Create(volume.CreateOptions{Name: m.Source, Anonymous: m.Source == ""})
			if errors.Is(err, volume.ErrExists) {
				continue // made by a create running beside this one
			}
			if err != nil {
				undo()
				return nil, nil, err
			}
			m.Source = v.Name
			created = append(created, v.Name)
		}
	}
	return mounts, created, nil
}

// removeAnonymousVolumes deletes the anonymous volumes of a removed container that no other
// container uses.
func (r *Runtime) removeAnonymousVolumes(ctx context.Context, c *Container) {
	vs := r.Volumes()
	var users map[string][]string
	for _, m := range c.Config.Mounts {
		if m.Type != MountVolume {
			continue
		}
		v, err := vs.Get(m.Source)
		if err != nil || !v.Anonymous {
			continue
		}
		if users == nil {
			if users, err = r.VolumeUsers(); err != nil {
				return
			}
		}
		if len(users[v.Name]) > 0 {
			continue
		}
		_ = r.RemoveVolume(ctx, v.Name, false, OwnStopTimeout)
	}
}

// mountSpecs turns a starting container's mounts into OCI mounts: volumes get the image's
// content at their destination on first use, :U hands sources to the container's user.
func (r *Runtime) mountSpecs(c *Container, rootfs string, uid, gid uint32) ([]specs.Mount, error) {
	vs := r.Volumes()
	var out []specs.Mount
	for _, m := range c.Config.Mounts {
		var src string
		opts := []string{"rbind", m.Propagation()}
		switch m.Type {
		case MountTmpfs:
			out = append(out, specs.Mount{
				Destination: m.Destination, Type: "tmpfs", Source: "tmpfs",
				Options: append([]string{"rw", "noexec", "nosuid", "nodev"}, m.Options...),
			})
			continue
		case MountBind:
			src = m.Source
		case MountVolume:
			v, err := vs.Get(m.Source)
			if err != nil {
				return nil, fmt.Errorf("mounting volume %s at %s: %w", m.Source, m.Destination, err)
			}
			if err := r.copyUp(v, rootfs, m); err != nil {
				return nil, err
			}
			src = v.Mountpoint
			opts = append(opts, "nosuid", "nodev")
		}
		if m.Chown() {
			if err := chownTree(src, int(uid), int(gid)); err != nil {
				return nil, fmt.Errorf("mount %s with :U: %w", m.Destination, err)
			}
		}
		for _, o := range m.Options {
			switch o {
			case "ro", "exec", "noexec", "suid", "nosuid", "dev", "nodev":
				opts = append(opts, o)
			}
		}
		out = append(out, specs.Mount{Destination: m.Destination, Type: "bind", Source: src, Options: opts})
	}
	return out, nil
}

// copyUp fills a volume, on its first use by a container, with what the image has at the
// mount's destination, as podman does; an empty volume only, and not with nocopy.
func (r *Runtime) copyUp(v *volume.Volume, rootfs string, m Mount) error {
	if !v.NeedsCopyUp {
		return nil
	}
	vs := r.Volumes()
	lk, err := vs.Lock(v.Name)
	if err != nil {
		return err
	}
	defer lk.Release()
	cur, err := vs.Get(v.Name)
	if err != nil {
		return err
	}
	if !cur.NeedsCopyUp {
		return nil
	}
	if !m.NoCopy() {
		// The destination is resolved inside the rootfs, so an image whose path is a symlink
		// to / or ../.. copies from its own tree, never the host's.
		src, err := securejoin.SecureJoin(rootfs, m.Destination)
		if err != nil {
			return fmt.Errorf("volume %s: resolving %s in the image: %w", v.Name, m.Destination, err)
		}
		if st, err := os.Lstat(src); err == nil && st.IsDir() {
			empty, err := dirEmpty(cur.Mountpoint)
			if err != nil {
				return err
			}
			if empty {
				if err := archive.NewDefaultArchiver().CopyWithTar(src, cur.Mountpoint); err != nil {
					return fmt.Errorf("volume %s: copying the image's %s into it: %w", v.Name, m.Destination, err)
				}
				// The volume's root takes the owner and mode of the directory it shadows.
				if sys, ok := st.Sys().(*syscall.Stat_t); ok {
					if err := os.Lchown(cur.Mountpoint, int(sys.Uid), int(sys.Gid)); err != nil {
						return fmt.Errorf("volume %s: %w", v.Name, err)
					}
				}
				if err := os.Chmod(cur.Mountpoint, st.Mode()&(os.ModePerm|os.ModeSticky|os.ModeSetuid|os.ModeSetgid)); err != nil {
					return fmt.Errorf("volume %s: %w", v.Name, err)
				}
			}
		}
	}
	cur.NeedsCopyUp = false
	return vs.Update(cur)
}

func dirEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return len(names) == 0 && err != nil, nil
}

// chownTree gives every file under dir to uid:gid, without following symlinks.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}
