package runtime

import (
	"errors"
	"fmt"

	"github.com/den-project/den/store/record"
	"go.podman.io/storage/pkg/mount"
	"golang.org/x/sys/unix"
)

// `den mount` and `den umount` hand a container's root filesystem to the user. The mount
// lives in the mount namespace of the den that made it: the host's for root, and for a
// normal user the namespace of the `den unshare` session it ran in (a den outside such a
// session would mount in a namespace that ends with it). containers/storage counts mounts
// across all namespaces in one file, so its count is no answer to "is it mounted here":
// the kernel's mount table of this namespace is.

// ErrNeedsUnshare is returned for mount and umount run by a normal user outside
// `den unshare`.
var ErrNeedsUnshare = errors.New("must execute `den unshare` first")

// MountedRootfs is a container whose root filesystem is mounted in this namespace.
type MountedRootfs struct {
	Container *Container
	Path      string
}

// rootfsHere returns where c's root filesystem is mounted in this mount namespace, if it is.
func (r *Runtime) rootfsHere(c *Container) (string, bool, error) {
	st, err := r.Store()
	if err != nil {
		return "", false, err
	}
	sc, err := st.Container(c.ID)
	if err != nil {
		return "", false, nil
	}
	l, err := st.Layer(sc.LayerID)
	if err != nil || l.MountPoint == "" {
		return "", false, nil
	}
	ok, err := mount.Mounted(l.MountPoint)
	if err != nil {
		return "", false, fmt.Errorf("checking the mounts of %s: %w", c.Name, err)
	}
	return l.MountPoint, ok, nil
}

// lockedLookup finds a container as Lookup does and takes its lock, with its record read
// again under it, as lockedRecord does; the caller releases the lock.
func (r *Runtime) lockedLookup(ref string) (*Container, *record.Lock, error) {
	c, err := r.Lookup(ref)
	if err != nil {
		return nil, nil, err
	}
	c, lk, err := r.lockedRecord(c.ID)
	if err != nil {
		return nil, nil, err
	}
	reconcile(c)
	return c, lk, nil
}

// MountRootfs mounts a container's root filesystem in this mount namespace and returns its
// path. A container already mounted here is not mounted again, so one umount undoes any
// number of mounts from one session.
func (r *Runtime) MountRootfs(ref string) (*MountedRootfs, error) {
	c, lk, err := r.lockedLookup(ref)
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	if p, ok, err := r.rootfsHere(c); err != nil || ok {
		return &MountedRootfs{Container: c, Path: p}, err
	}
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	p, err := st.Mount(c.ID, "")
	if err != nil {
		return nil, fmt.Errorf("mounting the root filesystem of %s: %w", c.Name, err)
	}
	r.publish(c, "mount")
	return &MountedRootfs{Container: c, Path: p}, nil
}

// UnmountRootfs undoes MountRootfs. A running container's root filesystem belongs to it
// and is refused; so is one that is not mounted in this namespace.
func (r *Runtime) UnmountRootfs(ref string) (*Container, error) {
	c, lk, err := r.lockedLookup(ref)
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	if c.State.Status == StatusRunning {
		return nil, fmt.Errorf("container %s is running and uses its root filesystem: stop it first", c.Name)
	}
	p, ok, err := r.rootfsHere(c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("container %s is not mounted here: `den mount` lists the mounted ones", c.Name)
	}
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	if _, err := st.Unmount(c.ID, false); err != nil {
		return nil, fmt.Errorf("unmounting the root filesystem of %s: %w", c.Name, err)
	}
	// containers/storage only counted down when a mount from another namespace (one that
	// has ended, or a copy in progress) is still counted: this namespace's mount goes all
	// the same.
	if still, _ := mount.Mounted(p); still {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			return nil, fmt.Errorf("unmounting %s: %w", p, err)
		}
	}
	r.publish(c, "unmount")
	return c, nil
}

// MountedRootfses lists the containers whose root filesystems are mounted in this
// namespace, newest first.
func (r *Runtime) MountedRootfses() ([]MountedRootfs, error) {
	cs, err := r.List()
	if err != nil {
		return nil, err
	}
	var out []MountedRootfs
	for _, c := range cs {
		p, ok, err := r.rootfsHere(c)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, MountedRootfs{Container: c, Path: p})
		}
	}
	return out, nil
}
