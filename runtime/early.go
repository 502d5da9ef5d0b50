package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/den-project/den/runtime/initexec"
	"github.com/den-project/den/runtime/userns"
	"github.com/den-project/den/store/record"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// A new container (a detached run creates its storage only when it starts it) can have
// its writable layer created and its root filesystem mounted while its init starts up:
// runc's nsenter, the exec into den-init and the Go runtime's start on the other CPU, some
// 15 ms, against the 5 to 10 ms that containers/storage takes. libcontainer is given an empty directory of
// den's as the root filesystem; the init waits before it mounts anything, and den hands it a
// detached copy of the mounted root filesystem to attach there (initexec.WithRootfsWait).
//
// Only where nothing of the start needs the root filesystem's content first: the user must
// be known from an earlier new container of the image (keptImageUser), no volume needs the
// image's content copied up, and no --tz needs the image's /etc/localtime replaced. And only
// rootless, with the overlay driver: where the mount is this den's own, in its own mount
// namespace, gone with it.

// earlyNice is how much nicer than den the thread is that creates and mounts the root
// filesystem. Measured here, 30 interleaved run -d each (ftrace medians): the answer came
// 7.8 ms sooner than at den's own priority, the init's start-up no longer sharing the CPUs
// with it.
const earlyNice = 10

// earlyRootfs is a root filesystem being created and mounted while the container starts.
type earlyRootfs struct {
	dir string // the runtime directory that holds the mount point and the socket
	ln  *net.UnixListener
	// closeLn closes the socket, once: after the start, or to end a waiting init.
	closeLn sync.Once
	done    chan struct{}
	// Set before done closes: the mounted root filesystem (storage's path), or why not.
	merged string
	err    error
	// refused is set where the kernel refused the hand-over itself (see wait), or the init
	// the standard mounts where the image's layout has them elsewhere (layoutRefused).
	refused       error
	layoutRefused bool
	// record is the container's record as running, prepared (prepareRecord).
	record      *record.Prepared
	recordState State
	// urgent says the init is one started ahead (userns.Zygote), ready long before the
	// root filesystem: mount is the start's longest path then, and runs at den's priority.
	urgent bool
}

// rootfs is the empty directory libcontainer is given as the root filesystem.
func (e *earlyRootfs) rootfs() string { return filepath.Join(e.dir, initexec.EarlyRootfs) }

// canStartEarly says whether c, whose storage is not created yet, can start before its root
// filesystem is mounted; eu is its user, known from the image.
func (r *Runtime) canStartEarly(c *Container) (*user.ExecUser, bool) {
	if !r.Paths.Rootless || c.Config.Timezone != "" {
		return nil, false
	}
	for _, m := range c.Config.Mounts {
		if m.Type == MountVolume {
			return nil, false
		}
	}
	if r.earlyRefused() {
		return nil, false
	}
	eu := r.keptImageUser(c)
	return eu, eu != nil
}

// earlyRefusedFile, under the data directory, says that this kernel refused the hand-over
// of a root filesystem to an init (open_tree, move_mount; a seccomp policy around den can
// too): its release, then why. Starts wait for their root filesystem while it names the
// running kernel.
const earlyRefusedFile = "early-refused"

func (r *Runtime) earlyRefused() bool {
	b, err := os.ReadFile(filepath.Join(r.Paths.DataDir, earlyRefusedFile))
	if err != nil {
		return false
	}
	release, _, _ := strings.Cut(string(b), "\n")
	return release == kernelRelease()
}

// refuseEarly records that the kernel refused the hand-over, and why.
func (r *Runtime) refuseEarly(why error) {
	_ = record.WriteFileVolatile(filepath.Join(r.Paths.DataDir, earlyRefusedFile), []byte(kernelRelease()+"\n"+why.Error()+"\n"), 0o600)
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// prepareEarly makes the mount point and the socket in the container's runtime directory.
func (r *Runtime) prepareEarly(id string) (*earlyRootfs, error) {
	e := &earlyRootfs{dir: r.runDir(id), done: make(chan struct{}), urgent: userns.HasZygote()}
	if err := os.MkdirAll(filepath.Join(e.dir, initexec.EarlyRootfs), 0o700); err != nil {
		return nil, err
	}
	// libcontainer takes a root filesystem only by a path without symbolic links; the
	// runtime directory's may have some (XDG_RUNTIME_DIR, --runroot).
	dir, err := filepath.EvalSymlinks(e.dir)
	if err != nil {
		return nil, err
	}
	e.dir = dir
	if _, ok := initexec.WithRootfsWait("", initexec.RootfsWait{Dir: e.dir, Loopback: true, Premount: true}); !ok {
		return nil, fmt.Errorf("runtime directory %s cannot be named to a container's init", e.dir)
	}
	sock := filepath.Join(e.dir, initexec.EarlySocket)
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	err = viaDir(e.dir, initexec.EarlySocket, func(p string) error {
		var err error
		e.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", sock, err)
	}
	e.ln.SetUnlinkOnClose(false)
	return e, nil
}

// mount creates c's storage, mounts its root filesystem and hands a copy of the mount to the
// init when it asks. On failure it closes the socket, which ends the waiting init.
func (e *earlyRootfs) mount(r *Runtime, c Container) {
	defer close(e.done)
	defer r.rootfsGiven.open()
	// Behind the container's start on the CPUs: the init's start-up is the longer path, and
	// this work has some 15 ms for its 5 to 10. Linux takes the priority of the calling
	// thread alone, which stays locked to this goroutine and ends with it.
	if !e.urgent {
		goruntime.LockOSThread()
		if prio, err := unix.Getpriority(unix.PRIO_PROCESS, 0); err == nil { // 20 - nice, raw
			_ = unix.Setpriority(unix.PRIO_PROCESS, 0, min(20-prio+earlyNice, 19))
		}
	}
	fail := func(err error) {
		e.err = err
		e.close()
	}
	st, err := r.Store()
	if err != nil {
		fail(fmt.Errorf("%w: %w", ErrCreatingStorage, err))
		return
	}
	if err := r.createStorage(st, &c); err != nil {
		fail(fmt.Errorf("%w: %w", ErrCreatingStorage, err))
		return
	}
	merged, err := st.Mount(c.ID, "")
	if err != nil {
		fail(fmt.Errorf("mounting container rootfs: %w", err))
		return
	}
	e.merged = merged
	tree, err := unix.OpenTree(unix.AT_FDCWD, merged, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		e.refused = os.NewSyscallError("open_tree", err)
		e.close()
		return
	}
	defer unix.Close(tree)
	conn, err := e.ln.AcceptUnix()
	if err != nil {
		e.close() // the start is over: the init is gone or never came
		return
	}
	defer conn.Close()
	_, _, err = conn.WriteMsgUnix([]byte{1}, unix.UnixRights(tree), nil)
	r.rootfsGiven.open()
	if err == nil {
		// The init answers at once; one that cannot is gone, which ends the read too.
		_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
		var refused unix.Errno
		var premount bool
		if refused, premount, err = initexec.EarlyStatus(conn); err == nil && refused != 0 {
			e.refused = fmt.Errorf("the container's init attaching its rootfs: %w", os.NewSyscallError("move_mount", refused))
			if premount {
				e.refused = fmt.Errorf("the container's init attaching the standard mounts: %w", refused)
				e.layoutRefused = true
			}
			return
		}
		if err == nil {
			e.prepareRecord(r, &c, conn)
		}
	}
	if err != nil {
		e.close() // the init ends without its rootfs, and the start reports why
	}
}

// prepareRecord writes and syncs, while the init sets the container up, the record the
// start will put in place once the init runs (takeRecord): the container running as the
// init, the peer of conn, which is the process libcontainer reports. The sync was the
// longest part of the start's last step. Best effort: the start writes the record itself
// where there is none.
func (e *earlyRootfs) prepareRecord(r *Runtime, c *Container, conn *net.UnixConn) {
	if c.Config.Remove {
		return // a --rm container's record is volatile: nothing to sync ahead
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return
	}
	var cred *unix.Ucred
	_ = rc.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil || cred.Pid <= 0 {
		return
	}
	c.State = runningState(c, int(cred.Pid))
	if p, err := r.recs.prepare(c); err == nil {
		e.record, e.recordState = p, c.State
	}
}

// takeRecord gives the record prepared for c running as pid, and sets c's state to the one
// it holds; nil if there is none for pid, and a record prepared for another is dropped (-1:
// the start failed).
func (e *earlyRootfs) takeRecord(c *Container, pid int) *record.Prepared {
	<-e.done
	if e.record == nil {
		return nil
	}
	if e.recordState.Pid != pid {
		e.record.Abort()
		return nil
	}
	c.State = e.recordState
	return e.record
}

// wait waits for mount and returns the start's error given startErr, libcontainer's. A
// start that went well had its root filesystem handed over, the init going on with nothing
// else, so nothing of mount's counts then. A failure of storage's goes before the start's:
// the init ended for want of it. retry says the kernel or its policy refused the hand-over
// (open_tree or move_mount), not the container, or the init refused to attach the standard
// mounts to this image's layout: the root filesystem is mounted (merged) and a start on it
// the usual way can follow.
func (e *earlyRootfs) wait(startErr error) (err error, retry bool) {
	<-e.done
	switch {
	case startErr == nil:
		return nil, false
	case e.err != nil:
		return e.err, false
	case e.refused != nil:
		return e.refused, true
	}
	return startErr, false
}

// close closes and removes the socket, once.
func (e *earlyRootfs) close() {
	e.closeLn.Do(func() {
		e.ln.Close()
		os.Remove(filepath.Join(e.dir, initexec.EarlySocket))
	})
}
