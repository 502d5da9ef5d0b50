package runtime

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"
)

// Copying in and out of containers (den cp) moves tar streams. Every read or write inside a
// container happens chrooted into its root (containers/storage's chrootarchive), so symlinks
// in the container, even ones swapped in during the copy, resolve inside it and never reach
// the host. A running container is reached through its holder, which sees the container's
// mounts at /proc/PID/root; a stopped one is mounted by the den that copies.

// CopySpec says what goes where inside a container: Path names the file or directory;
// Contents asks for a directory's content rather than the directory (SRC/. as podman
// spells it); Rename gives the top entry another name in the stream.
type CopySpec struct {
	Path     string `json:"path"`
	Contents bool   `json:"contents,omitempty"`
	Rename   string `json:"rename,omitempty"`
	// UID and GID own what is copied in (podman's --archive: the container's user).
	UID int `json:"uid,omitempty"`
	GID int `json:"gid,omitempty"`
	// KeepOwners keeps the owners the stream carries instead (--archive=false).
	KeepOwners bool `json:"keepOwners,omitempty"`
}

// tarOptions turns a spec into the directory to tar and the options that select and name
// its entries.
func (s CopySpec) tarOptions(root string) (string, *archive.TarOptions) {
	p := path.Clean("/" + s.Path)
	if s.Contents || p == "/" {
		return filepath.Join(root, p), &archive.TarOptions{}
	}
	base := path.Base(p)
	o := &archive.TarOptions{IncludeFiles: []string{base}}
	if s.Rename != "" && s.Rename != base {
		o.RebaseNames = map[string]string{base: s.Rename}
	}
	return filepath.Join(root, path.Dir(p)), o
}

// tarFrom writes the tar stream of spec, read inside root, to w.
func tarFrom(root string, spec CopySpec, w io.Writer) error {
	dir, opts := spec.tarOptions(root)
	if !spec.Contents {
		// A missing source is an error here rather than an empty archive.
		fi, full, err := lstatIn(root, spec.Path)
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return tarSymlink(full, fi, spec, w)
		}
	}
	rc, err := chrootarchive.Tar(dir, opts, root)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}

// lstatIn finds p inside root, resolving symlinks of its parents inside root but not p
// itself, and returns what it is and where.
func lstatIn(root, p string) (os.FileInfo, string, error) {
	clean := path.Clean("/" + p)
	parent, err := securejoin.SecureJoin(root, path.Dir(clean))
	if err != nil {
		return nil, "", err
	}
	full := filepath.Join(parent, path.Base(clean))
	fi, err := os.Lstat(full)
	if err != nil {
		return nil, "", fmt.Errorf("%s: no such file or directory in the container", p)
	}
	return fi, full, nil
}

// tarSymlink writes a one-entry archive of the symlink at full: podman copies a symlink
// itself, and containers/storage's tar leaves out a top-level link that points outside its
// directory.
func tarSymlink(full string, fi os.FileInfo, spec CopySpec, w io.Writer) error {
	target, err := os.Readlink(full)
	if err != nil {
		return err
	}
	hdr, err := tar.FileInfoHeader(fi, target)
	if err != nil {
		return err
	}
	hdr.Name = path.Base(path.Clean("/" + spec.Path))
	if spec.Rename != "" {
		hdr.Name = spec.Rename
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	}
	hdr.Uname, hdr.Gname = "", ""
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	return tw.Close()
}

// untarInto unpacks the tar stream r into the directory spec.Path inside root.
func untarInto(root string, spec CopySpec, r io.Reader) error {
	dest, err := securejoin.SecureJoin(root, spec.Path)
	if err != nil {
		return err
	}
	if st, err := os.Stat(dest); err != nil || !st.IsDir() {
		return fmt.Errorf("%s: no such directory in the container", spec.Path)
	}
	opts := &archive.TarOptions{ChownOpts: &idtools.IDPair{UID: spec.UID, GID: spec.GID}, InUserNS: true, NoOverwriteDirNonDir: true}
	if spec.KeepOwners {
		opts.ChownOpts = nil
	}
	return chrootarchive.UntarWithRoot(r, dest, opts, root)
}

// CopyPoint is a place in a container, resolved for a copy.
type CopyPoint struct {
	Exists, IsDir bool
}

// StatInContainer tells whether p exists in the container and is a directory, following
// symlinks inside it.
func (r *Runtime) StatInContainer(ref, p string) (CopyPoint, error) {
	c, err := r.Lookup(ref)
	if err != nil {
		return CopyPoint{}, err
	}
	if c.State.Status == StatusRunning {
		rep, err := askHolder(r.runDir(c.ID), controlRequest{Op: "stat", Copy: &CopySpec{Path: p}}, time.Now().Add(10*time.Second))
		if err == nil && rep.Stat != nil {
			return *rep.Stat, nil
		}
		if !errors.Is(err, ErrNotRunning) {
			return CopyPoint{}, err
		}
	}
	var out CopyPoint
	err = r.inContainerRoot(c, p, func(root, inner string) error {
		full, err := securejoin.SecureJoin(root, inner)
		if err != nil {
			return err
		}
		st, err := os.Stat(full)
		if err == nil {
			out = CopyPoint{Exists: true, IsDir: st.IsDir()}
		}
		return nil
	})
	return out, err
}

// CopyFromContainer writes the tar stream of spec, taken from the container, to w.
func (r *Runtime) CopyFromContainer(ref string, spec CopySpec, w io.Writer) error {
	c, err := r.Lookup(ref)
	if err != nil {
		return err
	}
	if c.State.Status == StatusRunning {
		if err := r.copyThroughHolder(c, "copyout", spec, w, nil); !errors.Is(err, ErrNotRunning) {
			return err
		}
	}
	return r.inContainerRoot(c, spec.Path, func(root, inner string) error {
		spec.Path = inner
		return tarFrom(root, spec, w)
	})
}

// CopyToContainer unpacks the tar stream rd into the directory spec.Path of the container.
func (r *Runtime) CopyToContainer(ref string, spec CopySpec, rd io.Reader) error {
	c, err := r.Lookup(ref)
	if err != nil {
		return err
	}
	spec.UID, spec.GID = numericUser(c.Config.User)
	if c.State.Status == StatusRunning {
		if err := r.copyThroughHolder(c, "copyin", spec, nil, rd); !errors.Is(err, ErrNotRunning) {
			return err
		}
	}
	return r.inContainerRoot(c, spec.Path, func(root, inner string) error {
		spec.Path = inner
		return untarInto(root, spec, rd)
	})
}

// numericUser reads a container's USER when it is numeric; names resolve to root, as the
// common images that name a user run their copies as root anyway.
func numericUser(u string) (int, int) {
	us, gs, _ := strings.Cut(u, ":")
	uid, err := strconv.Atoi(us)
	if err != nil {
		return 0, 0
	}
	gid, err := strconv.Atoi(gs)
	if err != nil {
		gid = uid
	}
	return uid, gid
}

// inContainerRoot calls fn with the root to chroot into and the path inside it, for a
// container that is not running: its rootfs mounted here, or the volume or bind mount that
// covers p.
func (r *Runtime) inContainerRoot(c *Container, p string, fn func(root, inner string) error) error {
	p = path.Clean("/" + p)
	if root, inner, ok := r.mountCovering(c, p); ok {
		return fn(root, inner)
	}
	st, err := r.Store()
	if err != nil {
		return err
	}
	lk, err := r.lockContainer(c.ID)
	if err != nil {
		return err
	}
	defer lk.Release()
	rootfs, err := st.Mount(c.ID, "")
	if err != nil {
		return fmt.Errorf("mounting the container's files: %w", err)
	}
	defer func() { _, _ = st.Unmount(c.ID, false) }()
	return fn(rootfs, p)
}

// mountCovering finds the volume or bind mount of c that holds p, deepest first.
func (r *Runtime) mountCovering(c *Container, p string) (root, inner string, ok bool) {
	best := ""
	for _, m := range c.Config.Mounts {
		if m.Type == MountTmpfs || !(p == m.Destination || strings.HasPrefix(p, m.Destination+"/")) || len(m.Destination) <= len(best) {
			continue
		}
		src := m.Source
		if m.Type == MountVolume {
			v, err := r.Volumes().Get(m.Source)
			if err != nil {
				continue
			}
			src = v.Mountpoint
		}
		best, root = m.Destination, src
	}
	if best == "" {
		return "", "", false
	}
	return root, "/" + strings.TrimPrefix(strings.TrimPrefix(p, best), "/"), true
}

// copyThroughHolder runs a copy inside a running container's holder, streaming the tar
// through a pipe whose far end travels with the request.
func (r *Runtime) copyThroughHolder(c *Container, op string, spec CopySpec, w io.Writer, rd io.Reader) error {
	conn, err := dialHolder(r.runDir(c.ID))
	if err != nil {
		return ErrNotRunning
	}
	defer conn.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	far, near := pw, pr
	if op == "copyin" {
		far, near = pr, pw
	}
	b, _ := json.Marshal(controlRequest{Op: op, Copy: &spec})
	_, _, err = conn.WriteMsgUnix(append(b, '\n'), unix.UnixRights(int(far.Fd())), nil)
	far.Close()
	if err != nil {
		near.Close()
		return ErrNotRunning
	}
	streamed := make(chan error, 1)
	go func() {
		var err error
		if op == "copyin" {
			_, err = io.Copy(near, rd)
		} else {
			_, err = io.Copy(w, near)
		}
		near.Close()
		streamed <- err
	}()
	rep, err := readReply(conn)
	serr := <-streamed
	if err != nil {
		return err
	}
	if rep.Error != "" {
		return errors.New(rep.Error)
	}
	return serr
}

func readReply(conn *net.UnixConn) (controlReply, error) {
	var rep controlReply
	dec := json.NewDecoder(conn)
	if err := dec.Decode(&rep); err != nil {
		return rep, ErrNotRunning
	}
	return rep, nil
}

// serveCopy is the holder's side of copyin, copyout and stat.
func (s *session) serveCopy(conn net.Conn, op string, spec *CopySpec, fds []*os.File) {
	defer closeFiles(fds...)
	if spec == nil || (op != "stat" && len(fds) != 1) {
		reply(conn, controlReply{Error: "malformed copy request"})
		return
	}
	root := fmt.Sprintf("/proc/%d/root", s.pid)
	var err error
	switch op {
	case "stat":
		st := &CopyPoint{}
		if full, err := securejoin.SecureJoin(root, spec.Path); err == nil {
			if fi, err := os.Stat(full); err == nil {
				st = &CopyPoint{Exists: true, IsDir: fi.IsDir()}
			}
		}
		reply(conn, controlReply{Stat: st})
		return
	case "copyout":
		err = tarFrom(root, *spec, fds[0])
	case "copyin":
		err = untarInto(root, *spec, fds[0])
	}
	// The stream ends before the answer, so the client never waits on a full pipe.
	fds[0].Close()
	if err != nil {
		reply(conn, controlReply{Error: err.Error()})
		return
	}
	reply(conn, controlReply{})
}
