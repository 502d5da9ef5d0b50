package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"reflect"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/den-project/den/runtime/earlyexec"
	"github.com/den-project/den/runtime/initexec"
	"github.com/den-project/den/store/events"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// ExecOptions describe a process to run in a running container.
type ExecOptions struct {
	Args        []string `json:"args"`
	Env         []string `json:"env,omitempty"`
	WorkingDir  string   `json:"workingDir,omitempty"`
	User        string   `json:"user,omitempty"`
	Tty         bool     `json:"tty,omitempty"`
	Interactive bool     `json:"interactive,omitempty"`
	Detach      bool     `json:"detach,omitempty"`
	Width       uint16   `json:"width,omitempty"`
	Height      uint16   `json:"height,omitempty"`
	// DetachKeys end an attached terminal session without stopping the process.
	DetachKeys []byte `json:"-"`
}

// ErrDetached is returned by Exec when the user typed the detach keys.
var ErrDetached = errors.New("detached")

// serveExec runs an exec request in the holder. Without a terminal the process gets the
// client's own stdin, stdout and stderr descriptors, passed over the socket: no copying.
// With one, the holder hands the terminal's master back to the client.
func (s *session) serveExec(conn *net.UnixConn, o *ExecOptions, fds []*os.File) {
	// The process's parent-death signal follows this thread: keep it until the process ends
	// (a locked goroutine that returns takes its thread with it).
	goruntime.LockOSThread()
	defer closeFiles(fds...)
	fail := func(code int, err error) { reply(conn, controlReply{Error: err.Error(), Code: code}) }
	if o == nil || len(o.Args) == 0 {
		fail(125, errors.New("exec needs a command"))
		return
	}
	if s.paused.Load() {
		// Its process would join the frozen cgroup and hang.
		fail(125, fmt.Errorf("container %s is paused: unpause it first (den unpause %s)", s.c.Name, s.c.Name))
		return
	}
	p, err := s.execProcess(o)
	if err != nil {
		fail(125, err)
		return
	}
	var consParent *os.File
	if o.Tty {
		pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			fail(125, err)
			return
		}
		consParent = os.NewFile(uintptr(pair[0]), "console-parent")
		consChild := os.NewFile(uintptr(pair[1]), "console-child")
		defer consParent.Close()
		defer consChild.Close()
		p.ConsoleSocket, p.ConsoleWidth, p.ConsoleHeight = consChild, o.Width, o.Height
	} else {
		if len(fds) != 3 {
			fail(125, errors.New("exec without a terminal needs stdin, stdout and stderr"))
			return
		}
		p.Stdin, p.Stdout, p.Stderr = fds[0], fds[1], fds[2]
	}
	if err := s.cont.Run(p); err != nil {
		err = classifyStartError(err)
		fail(exitCodeOf(err), err)
		return
	}
	pid, _ := p.Pid()
	s.r.publish(s.c, events.StatusExec)
	rep, _ := json.Marshal(controlReply{Pid: pid})
	rep = append(rep, '\n')
	if consParent != nil {
		master, err := utils.RecvFile(consParent)
		if err != nil {
			_ = p.Signal(unix.SIGKILL)
			_, _ = p.Wait()
			fail(125, fmt.Errorf("receiving the exec terminal: %w", err))
			return
		}
		_, _, err = conn.WriteMsgUnix(rep, unix.UnixRights(int(master.Fd())), nil)
		// Kept open until the process ends: a client that detaches closes its copy, and the
		// last close of a terminal's master hangs its processes up.
		defer master.Close()
		if err != nil {
			_, _ = p.Wait()
			return
		}
	} else if _, err := conn.Write(rep); err != nil {
		_, _ = p.Wait()
		return
	}
	closeFiles(fds...)
	fds = nil
	ps, _ := p.Wait()
	code := 125
	if ps != nil {
		code = waitCode(ps.Sys())
	}
	s.r.publish(s.c, events.StatusExecDied, withExitCode(code))
	if !o.Detach {
		reply(conn, controlReply{Exit: &code})
	}
}

// execProcess prepares a process to run in the session's container, with the container's
// environment, user and working directory unless o overrides them.
func (s *session) execProcess(o *ExecOptions) (*libcontainer.Process, error) {
	eu, err := resolveUser(s.rootfs, firstNonEmpty(o.User, s.c.Config.User), s.c.Config.GroupAdd)
	if err != nil {
		return nil, err
	}
	env, err := Env(s.c.Config.Env, nil, o.Env, func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, err
	}
	env = setEnvDefault(env, "HOME", firstNonEmpty(eu.Home, "/"))
	env = setEnvDefault(env, "HOSTNAME", s.c.Config.Hostname)
	env = setEnvDefault(env, "container", "den")
	if o.Tty {
		env = setEnvDefault(env, "TERM", "xterm")
	}
	return &libcontainer.Process{
		Args: o.Args, Env: env, Cwd: firstNonEmpty(o.WorkingDir, s.c.Config.WorkingDir, "/"),
		UID: eu.Uid, GID: eu.Gid, AdditionalGroups: eu.Sgids,
		LogLevel: s.r.initLogLevel(initexec.RootfsWait{}, nil),
	}, nil
}

// Exec runs a process in a running container through its holder and returns its exit code.
func (r *Runtime) Exec(ref string, o ExecOptions, stdio Stdio) (int, error) {
	c, conn, sent, err := r.dialExec(ref, o)
	if err != nil {
		return 125, err
	}
	defer conn.Close()
	if !sent {
		if err := sendExec(conn, o, stdio); err != nil {
			return 125, err
		}
	}
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil || n == 0 {
		return 125, fmt.Errorf("container %s: its holder did not answer the exec request", c.Name)
	}
	line, rest, _ := strings.Cut(string(buf[:n]), "\n")
	var first controlReply
	if err := json.Unmarshal([]byte(line), &first); err != nil {
		return 125, fmt.Errorf("reading exec answer: %w", err)
	}
	if first.Error != "" {
		code := first.Code
		if code == 0 {
			code = 125
		}
		return code, &ExitError{Code: code, Err: errors.New(first.Error)}
	}
	files, _ := parseRights(oob[:oobn])
	var master *os.File
	if len(files) > 0 {
		master = files[0]
		defer master.Close()
	}
	if o.Detach {
		return 0, nil
	}
	exit := make(chan int, 1)
	go func() {
		br := bufio.NewReader(io.MultiReader(strings.NewReader(rest), conn))
		line, err := br.ReadString('\n')
		var rep controlReply
		if err != nil || json.Unmarshal([]byte(line), &rep) != nil || rep.Exit == nil {
			exit <- -1
			return
		}
		exit <- *rep.Exit
	}()
	if master == nil {
		code := <-exit
		if code < 0 {
			return 125, fmt.Errorf("container %s: its holder went away during exec", c.Name)
		}
		return code, nil
	}
	return relayTerminal(master, stdio, o.DetachKeys, exit)
}

// relayTerminal connects the user's terminal to a container terminal until the process exits
// or the user types the detach keys.
func relayTerminal(master *os.File, stdio Stdio, detachKeys []byte, exit <-chan int) (int, error) {
	defer rawTerminal(stdio.In, func(ws *unix.Winsize) {
		_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws)
	})()
	detached := make(chan struct{})
	if stdio.In != nil {
		go func() {
			if copyWithDetach(master, stdio.In, detachKeys) {
				close(detached)
			}
		}()
	}
	var out sync.WaitGroup
	out.Add(1)
	go func() {
		defer out.Done()
		_, _ = io.Copy(stdio.Out, master)
	}()
	select {
	case code := <-exit:
		// Drain what the process wrote before it ended.
		done := make(chan struct{})
		go func() { out.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		if code < 0 {
			return 125, errors.New("the container's holder went away during exec")
		}
		return code, nil
	case <-detached:
		return 0, ErrDetached
	}
}

// rawTerminal puts the user's terminal in raw mode and calls resize with its size now and
// at every SIGWINCH. The returned function restores the terminal. Not a terminal: nothing.
func rawTerminal(in *os.File, resize func(*unix.Winsize)) func() {
	if in == nil || !term.IsTerminal(int(in.Fd())) {
		return func() {}
	}
	old, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return func() {}
	}
	size := func() {
		if ws, err := unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ); err == nil {
			resize(ws)
		}
	}
	size()
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	go func() {
		for range winch {
			size()
		}
	}()
	return func() {
		signal.Stop(winch)
		close(winch)
		_ = term.Restore(int(in.Fd()), old)
	}
}

// copyWithDetach copies src to dst until src ends or the detach sequence is typed, which it
// reports. A partial match that breaks off is passed on.
func copyWithDetach(dst io.Writer, src io.Reader, keys []byte) bool {
	buf := make([]byte, 4096)
	matched := 0
	for {
		n, err := src.Read(buf)
		out := make([]byte, 0, n+len(keys))
		for _, b := range buf[:n] {
			if len(keys) > 0 && b == keys[matched] {
				matched++
				if matched == len(keys) {
					_, _ = dst.Write(out)
					return true
				}
				continue
			}
			if matched > 0 {
				out = append(out, keys[:matched]...)
				matched = 0
			}
			out = append(out, b)
		}
		if len(out) > 0 {
			if _, werr := dst.Write(out); werr != nil {
				return false
			}
		}
		if err != nil {
			return false
		}
	}
}

// ParseDetachKeys reads podman's --detach-keys: "ctrl-p,ctrl-q", letters, or "" for none.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, fmt.Errorf("--detach-keys %q: %q is not a key: use ctrl-<letter> or a character", s, k)
			}
		default:
			return nil, fmt.Errorf("--detach-keys %q: %q is not a key: use ctrl-<letter> or a character", s, k)
		}
	}
	return out, nil
}

// dialExec connects to the holder of the running container ref for an exec. When den exec
// sent its request before Go started (runtime/earlyexec), the connection is that one, sent
// is true, and it is checked to be the request o would have made, to the same container.
func (r *Runtime) dialExec(ref string, o ExecOptions) (c *Container, conn *net.UnixConn, sent bool, err error) {
	early, ok, err := earlyexec.Take()
	if err != nil {
		return nil, nil, false, err
	}
	if !ok {
		c, conn, err = r.dialRunning(ref)
		return c, conn, false, err
	}
	if c, err = r.running(ref); err != nil {
		early.Conn.Close()
		return nil, nil, false, err
	}
	var req controlRequest
	if early.Dir != r.runDir(c.ID) || json.Unmarshal(early.Request, &req) != nil || req.Op != "exec" || req.Exec == nil || !req.Exec.Same(o) {
		early.Conn.Close()
		return nil, nil, false, fmt.Errorf("den exec sent %q to %s from its start-up, which is not what its command line asks of %s (a bug in den; the process may have started): set DEN_NO_EARLY_EXEC=1 to leave exec to the CLI", bytes.TrimSpace(early.Request), early.Dir, c.Name)
	}
	logrus.Debugf("exec: the request went to the monitor before den's Go runtime started")
	return c, early.Conn, true, nil
}

// Same reports whether two exec requests ask for the same process (the detach keys stay with
// the client).
func (a ExecOptions) Same(b ExecOptions) bool {
	a.DetachKeys, b.DetachKeys = nil, nil
	return reflect.DeepEqual(a, b)
}

// sendExec sends the exec request, with the process's stdio unless it has a terminal.
func sendExec(conn *net.UnixConn, o ExecOptions, stdio Stdio) error {
	var rights []byte
	if !o.Tty {
		in := stdio.In
		if !o.Interactive || in == nil {
			null, err := os.Open(os.DevNull)
			if err != nil {
				return err
			}
			defer null.Close()
			in = null
		}
		rights = unix.UnixRights(int(in.Fd()), int(stdio.Out.Fd()), int(stdio.Err.Fd()))
	} else if stdio.In != nil {
		if ws, err := unix.IoctlGetWinsize(int(stdio.In.Fd()), unix.TIOCGWINSZ); err == nil {
			o.Width, o.Height = ws.Col, ws.Row
		}
	}
	req, _ := json.Marshal(controlRequest{Op: "exec", Exec: &o})
	if _, _, err := conn.WriteMsgUnix(append(req, '\n'), rights, nil); err != nil {
		return fmt.Errorf("sending exec request: %w", err)
	}
	return nil
}
