package runtime

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/containerd/console"
	"github.com/den-project/den/netstack"
	"github.com/den-project/den/runtime/initexec"
	"github.com/den-project/den/runtime/userns"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// A detached container can be started by the den command itself, which then becomes the
// container's monitor. Where enter.c leaves a parent waiting for the command's status
// (userns.CanAnswer), `run -d` starts the container as a foreground run does (StartHeld),
// prints its id, answers, and execs den-monitor in its own place (Held.Become). The
// container's init is this process's child, and stays the child of the monitor the exec
// makes of it, as its parent-death signal requires: the exec keeps the process and its
// main thread, the init's parent thread. The monitor takes the session over from the
// descriptors it inherits and a heldHandover line on a pipe.
//
// Against a monitor started ahead (spawn_premonitor), which starts the container after den
// has created it: no second den process starts up beside the command on a two-CPU machine,
// and the command's answer no longer waits for a monitor's report. The monitor's own
// start-up comes after the answer.
//
// Only containers whose network needs no helper process of den's are started so: the
// slirp4netns, port forwarders and user-network connections that a network attachment
// holds live in, or are tied to, the process that starts them, and an exec would cut them
// off. Others keep a monitor started ahead.

// heldPrefix starts the value of _DEN_MONITOR in a monitor that takes over a held container:
// "held:FD", FD being the pipe with the heldHandover line.
const heldPrefix = "held:"

// heldHandover is what a den that started a detached container tells the monitor it becomes.
type heldHandover struct {
	monitorArgs
	Pid    int    `json:"pid"`
	Rootfs string `json:"rootfs"`
	// Descriptors open across the exec, -1 where there is none: the control socket's
	// listener, the container's output and input pipes, its terminal, and den's own program
	// (an O_PATH descriptor, for the network holders a monitor may start).
	Control int `json:"control"`
	Stdout  int `json:"stdout"`
	Stderr  int `json:"stderr"`
	Stdin   int `json:"stdin"`
	Console int `json:"console"`
	Den     int `json:"den"`
}

// CanHold reports whether a detached container with network n can be started by this den
// command and handed to the monitor it becomes (StartHeld): where a parent waits for the
// command's answer, and the network needs no helper of den's.
func CanHold(n netstack.Config) bool {
	if !userns.CanAnswer() {
		return false
	}
	switch n.Mode {
	case netstack.ModeNone, netstack.ModeHost, netstack.ModeContainer:
		return true
	}
	return false
}

// rawConner is a file whose descriptor can be had without Fd, which makes it blocking.
type rawConner interface {
	SyscallConn() (syscall.RawConn, error)
}

// Held is a detached container that this den command started itself (StartHeld), for the
// monitor it becomes once it has answered (Become).
type Held struct {
	r *Runtime
	s *session
	p *monitorPipes
}

// StartHeld starts the created container c from this process, as a monitor would, and
// returns once its command runs. meanwhile, when given, runs while the container starts.
// It must be called on the main thread, as Become must.
func (r *Runtime) StartHeld(c *Container, meanwhile func()) (*Held, error) {
	p, stdio, err := newMonitorPipes(c)
	if err != nil {
		r.publishCreate(c) // the container was created, whatever its start did
		return nil, err
	}
	done := make(chan struct{})
	// With an init started ahead, the root filesystem's creation is the start's longest
	// path, and its syncs share the disk with meanwhile's: meanwhile waits for the hand-over
	// of the root filesystem, and runs while the init sets the container up.
	if userns.HasZygote() {
		r.rootfsGiven = newGate()
	}
	go func() {
		defer close(done)
		// This process holds the container from here on: a stdout closed under it (run -d
		// | head) must not kill it with SIGPIPE as Go's default would. Caught, not ignored:
		// the monitor it becomes, and the containers that starts, must not inherit an
		// ignored signal. Here, beside the start: the first Notify starts the signal
		// package's goroutine and a thread for it (0.5 ms), and nothing is written to
		// stdout before done.
		signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
		if meanwhile != nil {
			if r.rootfsGiven != nil {
				<-r.rootfsGiven.ch
			}
			meanwhile()
		}
	}()
	s, err := r.begin(c, stdio, nil)
	if err != nil {
		r.publishCreate(c) // the container was created, whatever its start did
	}
	r.rootfsGiven.open()
	<-done
	p.closeChild()
	if err != nil {
		p.close()
		return nil, err
	}
	return &Held{r: r, s: s, p: p}, nil
}

// Become makes this process the container's monitor, once the command has answered: it
// execs den-monitor (den itself where there is none), which takes the session over. It
// must run on the main thread, the container's parent thread. Where no exec works, the
// container is held here, to its end, as a monitor would hold it; the error says why.
func (h *Held) Become() error {
	r, s := h.r, h.s
	r.Close()
	ho := heldHandover{Pid: s.pid, Rootfs: s.rootfs, Control: -1, Stdout: -1, Stderr: -1, Stdin: -1, Console: -1, Den: -1}
	ho.monitorArgs = r.monitorArgsFor(s.c.ID)
	// Descriptors that cross the exec lose their close-on-exec flag; their numbers are
	// read without Fd, which would make them blocking, and the monitor would then get
	// files Go cannot poll. made are the files made for the exec, closed if it fails.
	var made []*os.File
	keep := func(f rawConner) int {
		n := -1
		if rc, err := f.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				if _, err := unix.FcntlInt(fd, unix.F_SETFD, 0); err == nil {
					n = int(fd)
				}
			})
		}
		return n
	}
	if f, err := s.ctl.ln.File(); err == nil {
		made = append(made, f)
		ho.Control = keep(f)
	}
	if s.cons != nil {
		// The terminal is a blocking file already (utils.RecvFile): Fd changes nothing.
		fd := int(s.cons.Fd())
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err == nil {
			ho.Console = fd
		}
	}
	for _, x := range []struct {
		f  *os.File
		fd *int
	}{{h.p.outR, &ho.Stdout}, {h.p.errR, &ho.Stderr}, {h.p.inW, &ho.Stdin}} {
		if x.f != nil {
			*x.fd = keep(x.f)
		}
	}
	if fd, err := unix.Open("/proc/self/exe", unix.O_PATH, 0); err == nil {
		ho.Den = fd
		made = append(made, os.NewFile(uintptr(fd), "den"))
	}
	line, _ := json.Marshal(ho)
	rd, wr, err := os.Pipe()
	if err == nil {
		made = append(made, rd)
		_, err = wr.Write(line)
		wr.Close()
	}
	if err == nil {
		env := append(os.Environ(), envMonitor+"="+heldPrefix+strconv.Itoa(keep(rd)))
		argv := []string{"den-monitor", s.c.ShortID()}
		if path, dir, ok := initexec.MonitorProgram(); ok {
			err = syscall.Exec(path, argv, env)
			dir.Close()
		}
		err = syscall.Exec("/proc/self/exe", argv, env)
	}
	for _, f := range made {
		f.Close()
	}
	r.holdOn(s, h.p)
	return fmt.Errorf("container %s: no monitor could be started (%v); this den process held it to its end", s.c.Name, err)
}

// heldMain is the monitor stage of a process that started its container itself (Become):
// fd is the pipe with the heldHandover line.
func heldMain(fd int) int {
	f := os.NewFile(uintptr(fd), "handover")
	var ho heldHandover
	err := json.NewDecoder(f).Decode(&ho)
	f.Close()
	if err != nil {
		// The container dies with this process (its parent-death signal); the next command
		// finds its holder gone.
		return 125
	}
	r := monitorSetup(ho.monitorArgs, ho.Den)
	defer r.Close()
	r.takeOver(&ho)
	return 0
}

// takeOver rebuilds the session that the den before the exec started, and holds it.
func (r *Runtime) takeOver(ho *heldHandover) {
	// Non-blocking as they were made, the descriptors become files Go polls.
	file := func(fd int, name string) *os.File {
		if fd < 0 {
			return nil
		}
		syscall.CloseOnExec(fd)
		return os.NewFile(uintptr(fd), name)
	}
	p := &monitorPipes{outR: file(ho.Stdout, "stdout"), errR: file(ho.Stderr, "stderr"), inW: file(ho.Stdin, "stdin")}
	ctlFile := file(ho.Control, "control")
	consFile := file(ho.Console, "console")
	c, err := r.recs.load(ho.ID)
	if err != nil {
		// Without its record nothing can be told of the container: it goes, and system
		// check finds what is left.
		_ = unix.Kill(ho.Pid, unix.SIGKILL)
		return
	}
	s := &session{r: r, c: c, pid: ho.Pid, rootfs: ho.Rootfs, unmount: r.unmounter(c.ID)}
	var ln net.Listener
	if ctlFile != nil {
		ln, err = net.FileListener(ctlFile)
		ctlFile.Close()
	}
	ctlPath := filepath.Join(r.runDir(c.ID), controlSocket)
	if ul, ok := ln.(*net.UnixListener); ok && err == nil {
		ul.SetUnlinkOnClose(false)
		s.ctl = &controlServer{ln: ul, path: ctlPath, s: s}
	} else if s.ctl, err = listenControl(r.runDir(c.ID), s); err != nil {
		s.ctl = &controlServer{path: ctlPath, s: s}
	}
	if err == nil {
		if s.cont, err = libcontainer.Load(r.stateRoot(), c.ID); err != nil {
			err = fmt.Errorf("loading its runtime state: %w", err)
		}
	}
	if err != nil {
		// Nobody could stop the container, exec in it or signal it: it goes now, and its
		// exit is recorded as any other.
		logrus.Warnf("container %s: %v", c.Name, err)
		_ = unix.Kill(ho.Pid, unix.SIGKILL)
		if s.ctl.ln != nil {
			s.ctl.ln.Close()
			s.ctl.ln = nil
		}
	}
	if consFile != nil {
		if s.cons, err = console.ConsoleFromFile(consFile); err != nil {
			logrus.Warnf("container %s: its terminal: %v", c.Name, err)
			_ = unix.Kill(ho.Pid, unix.SIGKILL)
		}
	}
	r.holdOn(s, p)
}

// holdOn holds a container started by the den before this monitor: it logs, serves and
// waits as runMonitored does, records the exit, and then applies the restart policy.
func (r *Runtime) holdOn(s *session, p *monitorPipes) {
	logw, err := r.openLog(s.c)
	if err != nil {
		// The output is still drained, or the container would block on it.
		logrus.Warnf("container %s: %v", s.c.Name, err)
		logw = &logWriter{path: r.logPath(s.c.ID), max: DefaultLogMaxSize}
	}
	code := r.watch(s, logw, p)
	logw.close()
	_ = s.end(code)
	backoff := firstRestartBackoff
	if r.again(s.c.ID, code, &backoff) {
		r.monitorFrom(s.c.ID, nil, backoff)
	}
}
