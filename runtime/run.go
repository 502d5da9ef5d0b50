package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containerd/console"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/den-project/den/netstack"
	"github.com/den-project/den/runtime/initexec"
	"github.com/den-project/den/runtime/seccompcache"
	"github.com/den-project/den/runtime/security"
	"github.com/den-project/den/runtime/userns"
	"github.com/den-project/den/store"
	"github.com/den-project/den/store/events"
	"github.com/den-project/den/store/record"
	"github.com/moby/sys/user"
	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runc/libcontainer/utils"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"go.podman.io/storage"
	"golang.org/x/sys/unix"
)

// ExitError carries an exit status that is not the container's own: 126 when the command
// cannot be invoked, 127 when it is not found.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Stdio is the terminal or pipes a foreground container is attached to.
type Stdio struct {
	In       *os.File
	Out, Err *os.File
}

// lockContainer takes a container's lock. A container whose directory is gone (removed, by
// now, by another command or by its own --rm) is ErrNotFound.
func (r *Runtime) lockContainer(id string) (*record.Lock, error) {
	lk, err := record.Acquire(r.recs.lockPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	return lk, err
}

// lockedRecord takes a container's lock and reads its record under it; the caller releases
// the lock. A record that is gone is ErrNotFound, with no lock held.
func (r *Runtime) lockedRecord(id string) (*Container, *record.Lock, error) {
	lk, err := r.lockContainer(id)
	if err != nil {
		return nil, nil, err
	}
	c, err := r.recs.load(id)
	if err != nil {
		lk.Release()
		return nil, nil, err
	}
	return c, lk, nil
}

func (r *Runtime) stateRoot() string { return filepath.Join(r.Paths.RuntimeDir, "runc") }

// initLogLevel is the log level of a container's init (or an exec's), with the requests to
// get its root filesystem from den through rootfsWait, if any (early.go), to load the
// seccomp filter from den's cache of compiled profiles (runtime/seccompcache) and to exec
// the den-init kept under den's data directory (runtime/initexec), last: the init takes them
// out from the end, in that order, before anything reads the level.
func (r *Runtime) initLogLevel(w initexec.RootfsWait, z *userns.Zygote) string {
	lv := strconv.Itoa(int(logrus.GetLevel()))
	if z != nil {
		lv += " den-zygote=" + strconv.Itoa(z.Sock) + ":" + strconv.Itoa(z.Pid)
	}
	if w.Dir != "" {
		lv, _ = initexec.WithRootfsWait(lv, w)
	}
	lv = seccompcache.LogLevel(lv, seccompcache.Dir(r.Paths.DataDir))
	if dir := initexec.Keep(r.Paths.DataDir); dir != "" {
		lv += " den-init=" + dir
	}
	return lv
}

// session is one run of a container's process, kept by its holder: the foreground den that
// started it, or its monitor.
type session struct {
	r    *Runtime
	c    *Container
	cont *libcontainer.Container
	// proc is the container's first process as libcontainer started it; nil in a monitor
	// that took the container over from the den that started it (held.go), which knows
	// pid only, its child.
	proc    *libcontainer.Process
	pid     int
	cons    console.Console
	unmount func()
	ctl     *controlServer
	rootfs  string
	// hub serves attach for containers whose monitor holds their stdio.
	hub *hub
	// stopHealth ends the healthcheck loop.
	stopHealth func()
	// net is the container's slirp4netns and port forwarding, released with the session.
	net *netstack.Attachment
	// busy counts the execs and healthchecks in progress (see working in control.go).
	busy atomic.Int32
	// paused is set while the container's processes are frozen (den pause).
	paused atomic.Bool
}

// begin starts a created or exited container. Under the container's lock it checks the state,
// mounts the rootfs, starts the process and records it running with this process as holder.
func (r *Runtime) begin(c *Container, stdio Stdio, h *hub) (*session, error) {
	lk, err := r.lockContainer(c.ID)
	if err != nil {
		return nil, err
	}
	// The lock is not held while the container runs: stop, kill and inspect must get in.
	defer lk.Release()
	c, err = r.recs.load(c.ID)
	if err != nil {
		return nil, err
	}
	reconcile(c)
	if c.State.Status == StatusRunning {
		return nil, fmt.Errorf("container %s: %w", c.Name, ErrRunning)
	}
	// run -d creates a container's storage when it starts it; so does a start after a create
	// killed between its record and its storage. Its writable layer is new then, and its
	// root filesystem the image's. A container this invocation created is known to be new
	// without opening storage, which the early start then opens beside the init's start-up.
	driver, fresh := r.deferredDriver(c.ID)
	var st *store.Store
	if !fresh {
		if st, err = r.Store(); err != nil {
			return nil, err
		}
		_, err = st.Container(c.ID)
		fresh = errors.Is(err, storage.ErrContainerUnknown)
		if err != nil && !fresh {
			return nil, fmt.Errorf("looking up container storage: %w", err)
		}
		driver = st.Driver
	}
	plan := rootfsPlan{keepUser: fresh}
	var early *earlyRootfs
	if fresh && driver == store.DriverOverlay {
		if eu, ok := r.canStartEarly(c); ok {
			if early, err = r.prepareEarly(c.ID); err != nil {
				logrus.Debugf("starting %s with its rootfs mounted first: %v", c.ID, err)
				early = nil
			} else {
				plan = rootfsPlan{rootfs: early.rootfs(), user: eu, wait: early.dir}
			}
		}
	}
	if early == nil {
		r.rootfsGiven.open() // no hand-over to wait for (StartHeld)
	}
	if early == nil && st == nil {
		if st, err = r.Store(); err != nil {
			return nil, err
		}
	}
	if early == nil {
		if fresh {
			if err := r.createStorage(st, c); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrCreatingStorage, err)
			}
		}
		logrus.Debugf("mounting rootfs of %s", c.ID)
		if plan.rootfs, err = st.Mount(c.ID, ""); err != nil {
			return nil, fmt.Errorf("mounting container rootfs: %w", err)
		}
	}
	s := &session{r: r, c: c, rootfs: plan.rootfs, hub: h, unmount: r.unmounter(c.ID)}
	ctl, err := listenControl(r.runDir(c.ID), s)
	if err == nil && early != nil {
		logrus.Debugf("creating and mounting the rootfs of %s while its init starts", c.ID)
		go early.mount(r, *c)
	}
	if err != nil {
		if early != nil {
			early.close()
		}
		s.unmount()
		return nil, err
	}
	s.ctl = ctl
	logrus.Debugf("starting container")
	s.cont, s.proc, s.cons, s.net, err = r.startContainer(c, plan, stdio)
	if early != nil {
		// The init has its root filesystem, or is gone: either way mount is over or ends now.
		early.close()
		if merr, retry := early.wait(err); retry {
			// Refused by the kernel, not the container: never again here, and this start
			// the usual way, on the root filesystem mounted meanwhile. A refusal of this
			// image's layout is this start's alone.
			logrus.Debugf("starting %s early: %v; starting it on its mounted rootfs", c.ID, merr)
			if !early.layoutRefused {
				r.refuseEarly(merr)
			}
			s.cont, s.proc, s.cons, s.net, err = r.startContainer(c, rootfsPlan{rootfs: early.merged}, stdio)
		} else {
			err = merr
		}
		s.rootfs = early.merged
	}
	if err != nil {
		if early != nil {
			early.takeRecord(c, -1)
		}
		ctl.close()
		s.unmount()
		return nil, err
	}
	pid, _ := s.proc.Pid()
	s.pid = pid
	var saved *record.Prepared
	if early != nil {
		saved = early.takeRecord(c, pid)
	}
	if saved == nil {
		c.State = runningState(c, pid)
		err = r.recs.save(c)
	} else {
		var old string
		old, err = saved.CommitKeepingOld()
		r.removeLater(old)
	}
	if err != nil {
		_ = s.cont.Signal(unix.SIGKILL)
		_, _ = s.proc.Wait()
		s.release()
		return nil, err
	}
	r.publishCreate(c, events.StatusInit, events.StatusStart)
	logrus.Debugf("container started")
	return s, nil
}

// runningState is the state of c once its process pid runs, held by this process.
func runningState(c *Container, pid int) State {
	st := State{
		Status: StatusRunning, Pid: pid, PidStart: procStart(pid), StartedAt: time.Now(),
		Holder: os.Getpid(), HolderStart: procStart(os.Getpid()), BootID: bootID(),
		RestartCount: c.State.RestartCount,
	}
	if c.Config.Health != nil {
		st.Health = &HealthState{Status: HealthStarting}
	}
	return st
}

// activate makes the holder of a started session answer its control socket and run the
// container's healthchecks. A den that hands the container to a monitor (held.go) never
// activates its session: the monitor does, with the same socket.
func (s *session) activate() {
	go s.ctl.serve()
	var ctx context.Context
	ctx, s.stopHealth = context.WithCancel(context.Background())
	go s.healthLoop(ctx)
}

// wait waits for the container's first process to exit and returns its exit code (128+N
// for a signal, 125 when it cannot be waited for).
func (s *session) wait() int {
	if s.proc != nil {
		ps, _ := s.proc.Wait()
		if ps == nil {
			return 125
		}
		return waitCode(ps.Sys())
	}
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(s.pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 125
		}
		return waitCode(ws)
	}
}

// unmounter unmounts the root filesystem of container id, opening storage if need be.
func (r *Runtime) unmounter(id string) func() {
	return func() {
		if st, err := r.Store(); err == nil {
			_, _ = st.Unmount(id, false)
		}
	}
}

// release frees what a finished session holds.
func (s *session) release() {
	s.net.Close()
	if s.cons != nil {
		s.cons.Close()
	}
	if s.cont != nil {
		_ = s.cont.Destroy()
	}
	s.unmount()
}

// end records the exit of the session's process, answers everyone waiting on it and cleans
// up; a --rm container is removed before the answer.
func (s *session) end(code int) error {
	logrus.Debugf("container exited with %d", code)
	// The network goes first: whoever hears of the exit finds nothing of it left.
	s.net.Close()
	r, c := s.r, s.c
	lk, err := r.lockContainer(c.ID)
	if err != nil {
		s.answer(code)
		return err
	}
	defer lk.Release()
	if s.stopHealth != nil {
		s.stopHealth()
	}
	if cur, err := r.recs.load(c.ID); err == nil {
		c = cur
	}
	c.State.Status, c.State.Paused = StatusExited, false
	c.State.ExitCode = code
	c.State.Pid, c.State.PidStart = 0, 0
	c.State.Holder, c.State.HolderStart = 0, 0
	c.State.FinishedAt = time.Now()
	s.c = c
	if !c.Config.Remove {
		// stop, wait and attach answer as soon as the exit is on record. The cleanup after
		// it still holds the container's lock, so the next command on the container waits
		// for it, and a holder killed in between leaves what system check repairs.
		err := r.recs.save(c)
		r.publish(c, events.StatusDied, withExitCode(code))
		s.answer(code)
		s.release()
		r.publish(c, events.StatusCleanup)
		return err
	}
	defer s.answer(code)
	// Left for after the answer (removals.go), the storage deletion unmounts the rootfs too.
	deferred := r.deferDeletion(c.ID)
	unmount := s.unmount
	if deferred {
		s.unmount = func() {}
	}
	s.release()
	r.publish(c, events.StatusDied, withExitCode(code))
	logrus.Debugf("removing container")
	if kept, err := r.drop(c, deferred); err != nil {
		if kept {
			unmount() // the container stays, exited, with its storage
		}
		return err
	}
	r.releaseAddresses(c)
	r.publish(c, events.StatusCleanup)
	r.publish(c, events.StatusRemove)
	// --rm takes the container's anonymous volumes with it, as podman's does.
	r.removeAnonymousVolumes(context.Background(), c)
	return nil
}

// answer tells everyone waiting on the session (stop, wait, attach) how it ended.
func (s *session) answer(code int) {
	s.ctl.finish(code)
	if s.hub != nil {
		s.hub.exit(code)
	}
}

// RunAttached starts a created container in the foreground, attached to stdio, and waits
// for it. It returns the container's exit code (128+N for a signal).
func (r *Runtime) RunAttached(ctx context.Context, c *Container, stdio Stdio) (int, error) {
	s, err := r.begin(c, stdio, nil)
	if err != nil {
		return exitCodeOf(err), err
	}
	s.activate()
	r.dropKept()
	code := waitAttached(s.cont, s.proc, s.cons, stdio)
	// The console is closed by waitAttached's caller only after output is drained.
	return code, s.end(code)
}

// startContainer builds the spec and starts the process; with a terminal it returns the
// console master. The container's network is attached between libcontainer's create and
// start, when its namespace exists and its command has not run yet.
// rootfsPlan is what startContainer is given of a container's root filesystem.
type rootfsPlan struct {
	// rootfs is where libcontainer finds it: mounted, or an early mount point (early.go).
	rootfs string
	// user is the container's user where it is known without the root filesystem; else it
	// is resolved in rootfs, and kept for the image's next containers if keepUser.
	user     *user.ExecUser
	keepUser bool
	// wait is the directory the init gets its root filesystem from before it mounts
	// anything (early.go), or "".
	wait string
}

func (r *Runtime) startContainer(c *Container, plan rootfsPlan, stdio Stdio) (*libcontainer.Container, *libcontainer.Process, console.Console, *netstack.Attachment, error) {
	rootfs, eu := plan.rootfs, plan.user
	var err error
	if eu == nil {
		if eu, err = resolveUser(rootfs, c.Config.User, c.Config.GroupAdd); err != nil {
			return nil, nil, nil, nil, err
		}
		if plan.keepUser {
			r.keepImageUser(c, eu)
		}
	}
	n := networkOf(c)
	var netnsPath string
	var joined *Container
	if n.Mode == netstack.ModeContainer {
		if netnsPath, joined, err = r.joinedNetNS(n); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	binds, err := r.writeEtcFiles(c, joined)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	// slirp4netns starts on a namespace made here, while libcontainer sets the container up.
	early, err := netstack.Prepare(n)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			early.Abort()
		}
	}()
	netnsOwn := early != nil
	if netnsOwn {
		netnsPath = early.Path()
	}
	mounts, err := r.mountSpecs(c, rootfs, uint32(eu.Uid), uint32(eu.Gid))
	if err != nil {
		return nil, nil, nil, nil, err
	}
	binds = append(binds, mounts...)
	env := setEnvDefault(c.Config.Env, "HOME", firstNonEmpty(eu.Home, "/"))
	env = setEnvDefault(env, "HOSTNAME", c.Config.Hostname)
	env = setEnvDefault(env, "container", "den")
	if c.Config.Tty {
		env = setEnvDefault(env, "TERM", "xterm")
	}
	groups := make([]uint32, 0, len(eu.Sgids))
	for _, g := range eu.Sgids {
		groups = append(groups, uint32(g))
	}
	in := specInput{
		ID: c.ID, Hostname: c.Config.Hostname, Rootfs: rootfs,
		Args: c.Config.Args, Env: env, Cwd: c.Config.WorkingDir,
		UID: uint32(eu.Uid), GID: uint32(eu.Gid), Groups: groups,
		Terminal: c.Config.Tty, Binds: binds,
		HostNetwork: n.Mode == netstack.ModeHost, NetNSPath: netnsPath, NetNSOwn: netnsOwn,
		Seccomp:  r.Config == nil || r.Config.Engine.Seccomp == nil || *r.Config.Engine.Seccomp,
		Security: c.Config.Security,
		Umask:    c.Config.Umask, Sysctls: c.Config.Sysctls, Annotations: c.Config.Annotations,
	}
	if tz := c.Config.Timezone; tz != "" {
		zone, err := security.TimezoneFile(tz)
		if err != nil {
			return nil, nil, nil, nil, &ExitError{Code: 125, Err: err}
		}
		if err := clearLocaltimeLink(rootfs); err != nil {
			return nil, nil, nil, nil, err
		}
		in.Binds = append(in.Binds, specs.Mount{Destination: "/etc/localtime", Type: "bind", Source: zone, Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}})
	}
	if c.Config.InitPath != "" {
		// --init: the host's catatonit, bound in read-only, is the first process; it passes
		// signals on and reaps what the command leaves (podman's /run/podman-init).
		in.Args = append([]string{containerInit, "--"}, in.Args...)
		in.Binds = append(in.Binds, specs.Mount{Destination: containerInit, Type: "bind", Source: c.Config.InitPath, Options: []string{"bind", "ro"}})
	}
	for _, dv := range c.Config.Devices {
		d, err := security.ParseDevice(dv)
		if err != nil {
			return nil, nil, nil, nil, &ExitError{Code: 125, Err: err}
		}
		in.Devices = append(in.Devices, d)
	}
	in.Rootless = r.Paths.Rootless
	if r.Paths.Rootless && os.Getenv("DEN_NESTED_USERNS") != "" {
		in.IDMapSize = ownMapSize()
	}
	spec, err := buildSpec(in)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	lcfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName: c.ID, Spec: spec, RootlessCgroups: r.Paths.Rootless,
	})
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("building container config: %w", err)
	}
	// A container must not outlive the den process that holds it: nobody else could reap it.
	lcfg.ParentDeathSignal = int(unix.SIGKILL)
	nameRootlessCgroup(lcfg.Cgroups, r.Paths.Rootless, cgroups.IsCgroup2UnifiedMode())
	// An init that waits for its root filesystem brings its loopback interface up itself
	// meanwhile, instead of libcontainer's init after the wait (initexec.WithRootfsWait).
	loopback := plan.wait != "" && len(lcfg.Networks) == 1 && lcfg.Networks[0].Type == "loopback"
	if loopback {
		lcfg.Networks = nil
	}
	// specconv leaves the process's limits to the runtime: the container's config carries
	// them, for its init and its execs alike.
	for _, l := range spec.Process.Rlimits {
		n, ok := security.RlimitNumber(l.Type)
		if !ok {
			return nil, nil, nil, nil, fmt.Errorf("resource limit %s: not one den knows", l.Type)
		}
		lcfg.Rlimits = append(lcfg.Rlimits, configs.Rlimit{Type: n, Hard: l.Hard, Soft: l.Soft})
	}
	if err := os.MkdirAll(r.stateRoot(), 0o700); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("creating runtime state directory: %w", err)
	}
	clearStaleState(r.stateRoot(), c.ID)
	logrus.Debugf("libcontainer create")
	cont, err := libcontainer.Create(r.stateRoot(), c.ID, lcfg)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("creating container: %w", err)
	}
	// The init enter.c started ahead for a detached run, if it is one this container can have:
	// an init that waits for its root filesystem and brings its loopback interface up, in
	// the namespaces the waiting one was made with.
	waits := loopback && ownNamespaces(lcfg.Namespaces)
	zyg := userns.TakeZygote()
	if zyg != nil && !waits {
		zyg.Release(false)
		zyg = nil
	}
	// Such an init attaches the standard file systems itself, when the config has them as
	// den always makes them (initexec's premount.go).
	wait := initexec.RootfsWait{Dir: plan.wait, Loopback: loopback}
	if waits {
		wait.Premount = takeStandardMounts(lcfg)
		if wait.Premount {
			wait.Etc = takeEtcMounts(lcfg, r.runDir(c.ID))
		}
	}
	proc := &libcontainer.Process{
		Args: spec.Process.Args, Env: spec.Process.Env, Cwd: spec.Process.Cwd,
		UID: eu.Uid, GID: eu.Gid, AdditionalGroups: eu.Sgids,
		Init: true, LogLevel: r.initLogLevel(wait, zyg),
	}
	var sockParent *os.File
	if c.Config.Tty {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			_ = cont.Destroy()
			return nil, nil, nil, nil, fmt.Errorf("creating console socket: %w", err)
		}
		sockParent = os.NewFile(uintptr(fds[0]), "console-parent")
		sockChild := os.NewFile(uintptr(fds[1]), "console-child")
		defer sockParent.Close()
		defer sockChild.Close()
		proc.ConsoleSocket = sockChild
		if stdio.In != nil {
			if ws, err := unix.IoctlGetWinsize(int(stdio.In.Fd()), unix.TIOCGWINSZ); err == nil {
				proc.ConsoleWidth, proc.ConsoleHeight = ws.Col, ws.Row
			}
		}
	} else {
		if c.Config.Interactive && stdio.In != nil {
			proc.Stdin = stdio.In
		}
		proc.Stdout, proc.Stderr = stdio.Out, stdio.Err
	}
	logrus.Debugf("libcontainer start")
	err = cont.Start(proc)
	pid, _ := proc.Pid()
	if zyg != nil {
		used := err == nil && pid == zyg.Pid
		zyg.Release(used)
		if used {
			logrus.Debugf("the container's init is the one started ahead (pid %d)", pid)
		}
	}
	if err != nil {
		_ = cont.Destroy()
		return nil, nil, nil, nil, classifyStartError(err)
	}
	logrus.Debugf("attaching network")
	att, err := netstack.Attach(n, early, pid, r.runDir(c.ID), netstack.Who{
		ID: c.ID, Name: c.Name, NetworksDir: filepath.Join(r.Paths.RuntimeDir, "networks"),
	})
	if err != nil {
		_ = cont.Signal(unix.SIGKILL)
		_, _ = proc.Wait()
		_ = cont.Destroy()
		return nil, nil, nil, nil, err
	}
	logrus.Debugf("libcontainer exec")
	if err := cont.Exec(); err != nil {
		att.Close()
		_ = cont.Signal(unix.SIGKILL)
		_, _ = proc.Wait()
		_ = cont.Destroy()
		return nil, nil, nil, nil, classifyStartError(err)
	}
	var cons console.Console
	if sockParent != nil {
		f, err := utils.RecvFile(sockParent)
		if err != nil {
			att.Close()
			_ = cont.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			_ = cont.Destroy()
			return nil, nil, nil, nil, fmt.Errorf("receiving the container's terminal: %w", err)
		}
		cons, err = console.ConsoleFromFile(f)
		if err != nil {
			att.Close()
			_ = cont.Signal(unix.SIGKILL)
			_, _ = proc.Wait()
			_ = cont.Destroy()
			return nil, nil, nil, nil, fmt.Errorf("using the container's terminal: %w", err)
		}
	}
	ok = true
	return cont, proc, cons, att, nil
}

// ownNamespaces reports whether a container's namespaces ns are new mount, UTS, IPC, pid,
// network and cgroup namespaces and no other, none joined: those of the init started ahead
// (userns.Zygote), and those in which an init makes the standard file systems itself
// (takeStandardMounts).
func ownNamespaces(ns configs.Namespaces) bool {
	want := map[configs.NamespaceType]bool{
		configs.NEWNS: true, configs.NEWUTS: true, configs.NEWIPC: true, configs.NEWPID: true, configs.NEWNET: true,
		configs.NEWCGROUP: true,
	}
	if len(ns) != len(want) {
		return false
	}
	for _, n := range ns {
		if !want[n.Type] || n.Path != "" {
			return false
		}
		delete(want, n.Type)
	}
	return true
}

// standardMounts are the file systems runtime/spec.go gives every container, as libcontainer's
// config names them, in that order, which initexec's premount.go makes the same way.
var standardMounts = []configs.Mount{
	{Source: "proc", Destination: "/proc", Device: "proc", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV},
	{Source: "tmpfs", Destination: "/dev", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
	{Source: "devpts", Destination: "/dev/pts", Device: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
	{Source: "shm", Destination: "/dev/shm", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV, Data: "mode=1777,size=65536k"},
	{Source: "mqueue", Destination: "/dev/mqueue", Device: "mqueue", Flags: unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV},
	{Source: "sysfs", Destination: "/sys", Device: "sysfs", Flags: unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV},
}

// takeStandardMounts takes the standard file systems and device nodes out of cfg for the
// container's init to attach, when cfg, a rootless container's, has them exactly as initexec
// makes them: the mounts first and as they are (no other size, no read-write /sys, nothing
// mounted in their place or over them later), and the devices initexec.Devices and no
// others. It reports whether it did.
func takeStandardMounts(cfg *configs.Config) bool {
	// Rootless only: as root, libcontainer makes device nodes where initexec binds the host's.
	if !cfg.RootlessCgroups || len(cfg.Mounts) < len(standardMounts) || len(cfg.Devices) != len(initexec.Devices) {
		return false
	}
	for i, want := range standardMounts {
		m := cfg.Mounts[i]
		if m.Source != want.Source || m.Destination != want.Destination || m.Device != want.Device ||
			m.Flags != want.Flags || m.Data != want.Data || m.ClearedFlags != 0 || len(m.PropagationFlags) != 0 ||
			m.Relabel != "" || m.RecAttr != nil || m.Extensions != 0 || m.IDMapping != nil {
			return false
		}
	}
	for i, name := range initexec.Devices {
		if cfg.Devices[i].Path != "/dev/"+name {
			return false
		}
	}
	// A later mount over one of them (--tmpfs /dev) would hide what the init puts there,
	// where libcontainer makes the device nodes after all mounts, in whatever is at /dev.
	for _, m := range cfg.Mounts[len(standardMounts):] {
		switch filepath.Clean(m.Destination) {
		case "/", "/dev", "/proc", "/sys":
			return false
		}
	}
	cfg.Mounts = cfg.Mounts[len(standardMounts):]
	cfg.Devices = nil
	return true
}

// takeEtcMounts takes out of cfg the binds of the container's hostname, hosts and
// resolv.conf from its runtime directory dir (writeEtcFiles) for the init to make
// (initexec's attachEtc), and returns their names: each as writeEtcFiles makes it (a
// recursive private bind, nothing else), and only where no other mount of cfg goes at /,
// /etc or over one of them, whose order with them would count. libcontainer's init makes
// each through runc's path-safety layer, with its source opened by den on a thread of its
// own: some 0.3 to 0.65 ms a bind here, in the init's last steps (uprobes, run -d).
func takeEtcMounts(cfg *configs.Config, dir string) []string {
	var names []string
	var rest []*configs.Mount
	for _, m := range cfg.Mounts {
		name := strings.TrimPrefix(m.Destination, "/etc/")
		if slices.Contains(initexec.EtcFiles, name) && m.Source == filepath.Join(dir, name) && m.Device == "bind" &&
			m.Flags == unix.MS_BIND|unix.MS_REC && m.ClearedFlags == 0 && slices.Equal(m.PropagationFlags, []int{unix.MS_PRIVATE | unix.MS_REC}) &&
			m.Relabel == "" && m.RecAttr == nil && m.Extensions == 0 && m.IDMapping == nil && !slices.Contains(names, name) {
			names = append(names, name)
			continue
		}
		rest = append(rest, m)
	}
	for _, m := range rest {
		d := filepath.Clean(m.Destination)
		if d == "/" || d == "/etc" {
			return nil
		}
		for _, name := range names {
			if d == "/etc/"+name || strings.HasPrefix(d, "/etc/"+name+"/") {
				return nil
			}
		}
	}
	if len(names) > 0 {
		cfg.Mounts = rest
	}
	return names
}

// nameRootlessCgroup names a rootless container's cgroup under /den on cgroup v1, as root
// names it. Rootless on cgroup v1 a container gets no cgroup of its own: libcontainer cannot
// make one, skips the hierarchies it cannot write, and den never uses them (see pause.go).
// Named by a path relative to den's own cgroups, as specconv names it, libcontainer finds
// those by reading /proc/self/cgroup and the cgroup mounts again for each of some 13
// hierarchies; named from the root, it finds each hierarchy's mount point with a stat
// (run -d 1.1 to 1.9 ms faster here, in two measurements). Path stays empty: rootless, libcontainer skips the
// hierarchies it cannot write only then. On cgroup v2 the name is left as it is: there
// libcontainer reads /proc/self/cgroup once, and may make the cgroup where den's own is
// delegated.
func nameRootlessCgroup(cg *cgroups.Cgroup, rootless, unified bool) {
	if rootless && !unified && cg != nil && cg.Path == "" && cg.Parent == "" && cg.Name != "" {
		cg.Parent = "/den"
	}
}

// clearLocaltimeLink makes the /etc/localtime of a container's root filesystem a file that
// --tz's zone can be bound on. A symbolic link there (Debian's points into
// /usr/share/zoneinfo) would be followed by the bind, which would then cover the image's own
// zone file, or fail where the link dangles: as podman does, the link is replaced, here by an
// empty file, in the container's own layer. /etc is resolved within the root filesystem.
func clearLocaltimeLink(rootfs string) error {
	etc, err := securejoin.SecureJoin(rootfs, "etc")
	if err != nil {
		return fmt.Errorf("finding the container's /etc for --tz: %w", err)
	}
	p := filepath.Join(etc, "localtime")
	if fi, err := os.Lstat(p); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return nil // none, which the bind makes, or a file, which it covers
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("replacing the container's /etc/localtime link for --tz: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("replacing the container's /etc/localtime link for --tz: %w", err)
	}
	return f.Close()
}

// waitAttached relays stdio and signals until the container exits, and returns its code.
func waitAttached(cont *libcontainer.Container, proc *libcontainer.Process, cons console.Console, stdio Stdio) int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	var copyDone sync.WaitGroup
	if cons != nil {
		defer rawTerminal(stdio.In, func(ws *unix.Winsize) {
			_ = cons.Resize(console.WinSize{Height: ws.Row, Width: ws.Col})
		})()
		if stdio.In != nil {
			go func() { _, _ = io.Copy(cons, stdio.In) }()
		}
		copyDone.Add(1)
		go func() {
			defer copyDone.Done()
			_, _ = io.Copy(stdio.Out, cons)
		}()
	}
	done := make(chan int, 1)
	go func() {
		ps, err := proc.Wait()
		if ps == nil {
			if err != nil {
				done <- 125
				return
			}
		}
		done <- waitCode(ps.Sys())
	}()
	for {
		select {
		case s := <-sigs:
			sig, ok := s.(unix.Signal)
			if !ok {
				continue
			}
			switch sig {
			case unix.SIGWINCH, unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
			case unix.SIGINT, unix.SIGQUIT:
				// Without a terminal the container shares our process group and got the
				// terminal's signal itself; with one, keys reach it as bytes.
			default:
				_ = cont.Signal(sig)
			}
		case code := <-done:
			if cons != nil {
				copyDone.Wait()
			}
			return code
		}
	}
}

func waitCode(sys any) int {
	ws, ok := sys.(syscall.WaitStatus)
	if !ok {
		return 125
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// classifyStartError maps libcontainer's report of a failed exec to podman's codes.
func classifyStartError(err error) error {
	msg := err.Error()
	logrus.Debugf("container start failed: %v", err)
	switch {
	case strings.Contains(msg, "mount"):
		// A mount that failed (a bind source removed since the container was created) is
		// no missing command, whatever errno it carries.
		return fmt.Errorf("starting container: %w: check that the source of each volume and bind mount exists", err)
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return &ExitError{Code: 127, Err: fmt.Errorf("%s: command not found in the container", execTarget(msg))}
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "exec format error"), strings.Contains(msg, "is a directory"):
		return &ExitError{Code: 126, Err: fmt.Errorf("%s: cannot invoke the command: %s", execTarget(msg), lastPart(msg))}
	}
	return fmt.Errorf("starting container: %w", err)
}

func execTarget(msg string) string {
	if i := strings.Index(msg, "exec: \""); i >= 0 {
		rest := msg[i+7:]
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			return rest[:j]
		}
	}
	if i := strings.Index(msg, "exec "); i >= 0 {
		rest := msg[i+5:]
		if j := strings.IndexByte(rest, ':'); j >= 0 {
			return rest[:j]
		}
	}
	return lastPart(msg)
}

func lastPart(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

func exitCodeOf(err error) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 125
}

// clearStaleState removes libcontainer state a killed den left for this id.
func clearStaleState(root, id string) {
	if old, err := libcontainer.Load(root, id); err == nil {
		_ = old.Signal(unix.SIGKILL)
		if err := old.Destroy(); err == nil {
			return
		}
	}
	os.RemoveAll(filepath.Join(root, id))
}

// resolveUser reads the rootfs's /etc/passwd and /etc/group, never following a symlink out
// of the rootfs.
func resolveUser(rootfs, spec string, groupAdd []string) (*user.ExecUser, error) {
	defaults := &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	open := func(p string) io.ReadCloser {
		full, err := securejoin.SecureJoin(rootfs, p)
		if err != nil {
			return nil
		}
		f, err := os.Open(full)
		if err != nil {
			return nil
		}
		return f
	}
	passwd, group := open("/etc/passwd"), open("/etc/group")
	var pr, gr io.Reader
	if passwd != nil {
		defer passwd.Close()
		pr = passwd
	}
	if group != nil {
		defer group.Close()
		gr = group
	}
	eu, err := user.GetExecUser(spec, defaults, pr, gr)
	if err != nil {
		return nil, &ExitError{Code: 125, Err: fmt.Errorf("user %q: %w: use a uid or a name from the image's /etc/passwd", spec, err)}
	}
	if len(groupAdd) > 0 {
		// --group-add: gids, or names from the image's /etc/group.
		var gr io.Reader
		if g := open("/etc/group"); g != nil {
			defer g.Close()
			gr = g
		}
		gids, err := user.GetAdditionalGroups(groupAdd, gr)
		if err != nil {
			return nil, &ExitError{Code: 125, Err: fmt.Errorf("--group-add %s: %w: use a gid or a name from the image's /etc/group", strings.Join(groupAdd, ","), err)}
		}
		for _, g := range gids {
			if !slices.Contains(eu.Sgids, g) {
				eu.Sgids = append(eu.Sgids, g)
			}
		}
	}
	return eu, nil
}

// ownMapSize is how many uids den's user namespace maps, read from the kernel.
func ownMapSize() uint32 {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return 0
	}
	var total uint64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 {
			n, _ := strconv.ParseUint(f[2], 10, 32)
			total += n
		}
	}
	return uint32(total)
}
