package initexec

import (
	"errors"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// An init that waits for its root filesystem can make the file systems every container of
// den's has at /proc, /dev (its tmpfs, devpts, shm, mqueue and the six device nodes) and
// /sys while it waits, and attach them to the root filesystem as soon as that arrives. den
// asks for it (WithRootfsWait's premount) where a container's config names exactly those
// (StandardMounts) and leaves them out of what libcontainer mounts: libcontainer's init
// mounts each one through runc's path-safety layer, some 0.5 ms a mount here (perf), and
// binds each device the same way. The targets must be ordinary directories of the root
// filesystem, or missing (made then); any other, a link above all, is left to libcontainer's
// init, which starts the container instead (mountpoint).

// Devices are the device nodes a container of den's has under /dev, bound from the host's
// (as rootless runc binds them), in libcontainer's order.
var Devices = []string{"null", "random", "full", "tty", "zero", "urandom"}

// premounts are those file systems, made and not yet attached (fsmount, open_tree).
type premounts struct {
	proc, sys, dev, pts, shm, mqueue int
	devices                          []int // the host's nodes, as Devices
}

// newMount makes a detached mount of a new file system of type fstype named source, with the
// options opts (name, value pairs) and the mount attributes attrs; read-only (attrs), its
// super block is read-only too, as mount(2) makes it.
func newMount(fstype, source string, attrs int, opts ...string) (int, error) {
	fs, err := unix.Fsopen(fstype, unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	defer unix.Close(fs)
	opts = append([]string{"source", source}, opts...)
	for i := 0; i+1 < len(opts); i += 2 {
		if err := unix.FsconfigSetString(fs, opts[i], opts[i+1]); err != nil {
			return -1, err
		}
	}
	if attrs&unix.MOUNT_ATTR_RDONLY != 0 {
		if err := unix.FsconfigSetFlag(fs, "ro"); err != nil {
			return -1, err
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		return -1, err
	}
	return unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, attrs)
}

// preparePremounts makes the file systems, with the options runtime/spec.go gives them,
// and lays out the /dev tmpfs: the mount points of its file systems and of the device
// nodes. Everything is made in this process's namespaces (pid, network, IPC), which are the
// container's.
func preparePremounts() (_ *premounts, err error) {
	p := &premounts{proc: -1, sys: -1, dev: -1, pts: -1, shm: -1, mqueue: -1}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	const hidden = unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC
	if p.proc, err = newMount("proc", "proc", hidden); err != nil {
		return nil, err
	}
	if p.sys, err = newMount("sysfs", "sysfs", hidden|unix.MOUNT_ATTR_RDONLY); err != nil {
		return nil, err
	}
	if p.dev, err = newMount("tmpfs", "tmpfs", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_STRICTATIME, "mode", "755", "size", "65536k"); err != nil {
		return nil, err
	}
	if p.pts, err = newMount("devpts", "devpts", unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, "ptmxmode", "0666", "mode", "0620", "gid", "5"); err != nil {
		return nil, err
	}
	if p.shm, err = newMount("tmpfs", "shm", hidden, "mode", "1777", "size", "65536k"); err != nil {
		return nil, err
	}
	if p.mqueue, err = newMount("mqueue", "mqueue", hidden); err != nil {
		return nil, err
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := unix.Mkdirat(p.dev, d, 0o755); err != nil {
			return nil, err
		}
	}
	for _, name := range Devices {
		fd, err := unix.OpenTree(unix.AT_FDCWD, "/dev/"+name, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return nil, err
		}
		p.devices = append(p.devices, fd)
		f, err := unix.Openat(p.dev, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o666)
		if err != nil {
			return nil, err
		}
		unix.Close(f)
	}
	return p, nil
}

func (p *premounts) close() {
	for _, fd := range append([]int{p.proc, p.sys, p.dev, p.pts, p.shm, p.mqueue}, p.devices...) {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// mountpoint opens the directory name (one component) of the root filesystem at root for
// a mount, making it when it does not exist. Only an ordinary directory will do: a link (which
// runc refuses for /proc and /sys, and follows within the root filesystem for /dev) or
// anything else there is refused, and the container then starts the usual way, with
// libcontainer's init deciding.
func mountpoint(root int, name string) (int, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
	}
	fd, err := unix.Openat2(root, name, how)
	if errors.Is(err, unix.ENOENT) {
		if err := unix.Mkdirat(root, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		fd, err = unix.Openat2(root, name, how)
	}
	return fd, err
}

// fileMountpoint opens the file name of the directory dir for a mount, making it (empty)
// when it does not exist. Only a regular file will do: a link (which libcontainer would
// follow within the root filesystem) or anything else is refused, and the container then
// starts the usual way.
func fileMountpoint(dir int, name string) (int, error) {
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
	}
	fd, err := unix.Openat2(dir, name, how)
	if errors.Is(err, unix.ENOENT) {
		f, cerr := unix.Openat(dir, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if cerr != nil && !errors.Is(cerr, unix.EEXIST) {
			return -1, cerr
		}
		if cerr == nil {
			unix.Close(f)
		}
		fd, err = unix.Openat2(dir, name, how)
	}
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		if err == nil {
			err = unix.ENOTDIR // not a file: what is there is no mount point for one
		}
		return -1, err
	}
	return fd, nil
}

// attachEtc binds the files names of the directory dir, den's hostname, hosts and
// resolv.conf of the container, over those of /etc in the root filesystem at root, as
// libcontainer's init binds them from the config: recursive binds, made private, which a
// detached copy of each (open_tree) is. An errLayout says the root filesystem refused a
// target.
func attachEtc(root int, dir string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	etc, err := mountpoint(root, "etc")
	if err != nil {
		return errLayout{err}
	}
	defer unix.Close(etc)
	for _, name := range names {
		if !slices.Contains(EtcFiles, name) {
			return unix.EINVAL // not a request of den's (WithRootfsWait)
		}
		target, err := fileMountpoint(etc, name)
		if err != nil {
			return errLayout{err}
		}
		tree, err := unix.OpenTree(unix.AT_FDCWD, filepath.Join(dir, name), unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
		if err == nil {
			err = unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
			unix.Close(tree)
		}
		unix.Close(target)
		if err != nil {
			return err
		}
	}
	return nil
}

// errLayout wraps the error of a target the root filesystem's layout refused (mountpoint).
type errLayout struct{ error }

func (e errLayout) Unwrap() error { return e.error }

// attach puts the file systems in place in the root filesystem at root, in the order of
// the config that names them (/proc, /dev and what goes in it, /sys), the device nodes last,
// as libcontainer mounts them after the config's mounts. An errLayout says the root
// filesystem refused a target; any other error is the kernel's.
func (p *premounts) attach(root int) error {
	top := func(name string, fd int) error {
		target, err := mountpoint(root, name)
		if err != nil {
			return errLayout{err}
		}
		defer unix.Close(target)
		return unix.MoveMount(fd, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
	}
	// In /dev, attached by then (p.dev is its mount), what goes there is preparePremounts'.
	in := func(name string, fd int) error {
		return unix.MoveMount(fd, "", p.dev, name, unix.MOVE_MOUNT_F_EMPTY_PATH)
	}
	err := top("proc", p.proc)
	if err == nil {
		err = top("dev", p.dev)
	}
	for _, m := range []struct {
		name string
		fd   int
	}{{"pts", p.pts}, {"shm", p.shm}, {"mqueue", p.mqueue}} {
		if err == nil {
			err = in(m.name, m.fd)
		}
	}
	if err == nil {
		err = top("sys", p.sys)
	}
	for i, name := range Devices {
		if err == nil {
			err = in(name, p.devices[i])
		}
	}
	return err
}
