package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/den-project/den/netstack"
	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// The control socket: the holder of a running container (the foreground den that started
// it, or its monitor) answers requests from later invocations on
// RuntimeDir/containers/ID/ctl.sock. It is the holder that signals: it lives in the user
// namespace the container's processes belong to, so it may signal any of them, which a later
// invocation in a sibling namespace may not. One JSON request line per connection; the
// answer is one JSON line.

// controlRequest is what a client asks.
type controlRequest struct {
	Op     string       `json:"op"` // "signal", "wait" or "exec"
	Signal int          `json:"signal,omitempty"`
	Exec   *ExecOptions `json:"exec,omitempty"`
	// Stdin asks an attach to feed the client's input to the container.
	Stdin bool `json:"stdin,omitempty"`
	// Copy is the request of "copyin", "copyout" and "stat" (den cp).
	Copy *CopySpec `json:"copy,omitempty"`
	// Endpoint is the network "connect" puts the container on; Network the one
	// "disconnect" takes it off.
	Endpoint *netstack.Endpoint `json:"endpoint,omitempty"`
	Network  string             `json:"network,omitempty"`
	// Top are the columns "top" answers with, format descriptors; none for DefaultTop.
	Top []string `json:"top,omitempty"`
}

// controlReply is the holder's answer.
type controlReply struct {
	Error string `json:"error,omitempty"`
	// Exit is set in the answer to "wait": the code the process exited with.
	Exit *int `json:"exit,omitempty"`
	// Code is the exit status that goes with Error (126/127 for exec).
	Code int `json:"code,omitempty"`
	// Pid answers "exec": the process started.
	Pid int `json:"pid,omitempty"`
	// Rows answers "top", with Columns, the descriptors of its columns (none from a den
	// older than them: DefaultTop).
	Rows    [][]string `json:"rows,omitempty"`
	Columns []string   `json:"columns,omitempty"`
	// Stat answers "stat".
	Stat *CopyPoint `json:"stat,omitempty"`
}

const controlSocket = "ctl.sock"

// ErrNotRunning is returned when an operation needs a running container.
var ErrNotRunning = errors.New("container is not running")

type controlServer struct {
	ln      *net.UnixListener
	path    string
	s       *session
	mu      sync.Mutex
	waiters []net.Conn
	done    bool
	code    int
}

// viaDir runs fn with a path to name inside dir that is short enough for a socket address
// (108 bytes): /proc/self/fd/N/name, through an O_PATH descriptor of dir.
func viaDir(dir, name string, fn func(path string) error) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn("/proc/self/fd/" + strconv.Itoa(fd) + "/" + name)
}

func listenControl(dir string, s *session) (*controlServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating container runtime directory: %w", err)
	}
	path := filepath.Join(dir, controlSocket)
	os.Remove(path)
	var ln *net.UnixListener
	err := viaDir(dir, controlSocket, func(p string) error {
		var err error
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	return &controlServer{ln: ln, path: path, s: s}, nil
}

func (cs *controlServer) serve() {
	if cs.ln == nil {
		return // a monitor that could not take the socket over (held.go)
	}
	for {
		conn, err := cs.ln.Accept()
		if err != nil {
			return
		}
		go cs.handle(conn)
	}
}

// working and done bracket an exec or a healthcheck (the work that allocates; a wait or a
// signal does not). The last one to end gives back to the system the memory it took: a holder lives as long as its container, and each exec
// grows Go's heap by some 70 KB, which the collector would let pile up to twice the live heap
// (3.5 MB more in a monitor after 50 execs).
func (s *session) working() { s.busy.Add(1) }

func (s *session) done() {
	if s.busy.Add(-1) == 0 {
		debug.FreeOSMemory()
	}
}

func (cs *controlServer) handle(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	req, fds, err := readRequest(conn.(*net.UnixConn))
	if err != nil {
		closeFiles(fds...)
		reply(conn, controlReply{Error: "malformed request"})
		conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	switch req.Op {
	case "exec":
		cs.s.working()
		cs.s.serveExec(conn.(*net.UnixConn), req.Exec, fds)
		cs.s.done()
		conn.Close()
	case "top":
		closeFiles(fds...)
		desc := req.Top
		if len(desc) == 0 {
			desc = DefaultTop
		}
		rows, err := cs.s.top(desc)
		if err != nil {
			reply(conn, controlReply{Error: err.Error()})
		} else {
			reply(conn, controlReply{Rows: rows, Columns: desc})
		}
		conn.Close()
	case "health":
		goruntime.LockOSThread() // see serveExec
		closeFiles(fds...)
		cs.s.working()
		code, err := cs.s.runHealth(context.Background())
		cs.s.done()
		if err != nil && code == 125 {
			reply(conn, controlReply{Error: err.Error()})
		} else {
			reply(conn, controlReply{Exit: &code})
		}
		conn.Close()
	case "copyin", "copyout", "stat":
		cs.s.serveCopy(conn, req.Op, req.Copy, fds)
		conn.Close()
	case "attach":
		closeFiles(fds...)
		if cs.s.hub == nil {
			reply(conn, controlReply{Error: "only containers started in the background can be attached to"})
			conn.Close()
			return
		}
		cs.s.hub.attach(conn, req.Stdin)
	case "connect":
		closeFiles(fds...)
		err := errors.New("connect needs an endpoint")
		if req.Endpoint != nil {
			err = cs.s.net.Connect(*req.Endpoint)
		}
		replyErr(conn, err)
		conn.Close()
	case "disconnect":
		closeFiles(fds...)
		replyErr(conn, cs.s.net.Disconnect(req.Network))
		conn.Close()
	case "pause", "unpause":
		closeFiles(fds...)
		replyErr(conn, cs.s.freeze(req.Op == "pause"))
		conn.Close()
	case "signal":
		// A process that has just exited (a restart in progress, a command that ended on its
		// own) needs no signal: the answer to "wait" says how it ended.
		err := cs.s.cont.Signal(unix.Signal(req.Signal))
		if errors.Is(err, libcontainer.ErrNotRunning) {
			err = nil
		}
		replyErr(conn, err)
		conn.Close()
	case "wait":
		cs.mu.Lock()
		if cs.done {
			code := cs.code
			cs.mu.Unlock()
			reply(conn, controlReply{Exit: &code})
			conn.Close()
			return
		}
		cs.waiters = append(cs.waiters, conn)
		cs.mu.Unlock()
	default:
		closeFiles(fds...)
		reply(conn, controlReply{Error: "unknown operation " + strconv.Quote(req.Op)})
		conn.Close()
	}
}

// readRequest reads one request line and the descriptors sent along with it.
func readRequest(conn *net.UnixConn) (controlRequest, []*os.File, error) {
	var req controlRequest
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*8))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return req, nil, err
	}
	fds, err := parseRights(oob[:oobn])
	if err != nil {
		return req, fds, err
	}
	line := buf[:n]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return req, fds, json.Unmarshal(line, &req)
}

func parseRights(oob []byte) ([]*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "passed"))
		}
	}
	return files, nil
}

// closeFiles closes the files that are open (not nil).
func closeFiles(fs ...*os.File) {
	for _, f := range fs {
		if f != nil {
			f.Close()
		}
	}
}

func reply(conn net.Conn, r controlReply) {
	b, _ := json.Marshal(r)
	_, _ = conn.Write(append(b, '\n'))
}

// replyErr answers err, or success when it is nil.
func replyErr(conn net.Conn, err error) {
	if err != nil {
		reply(conn, controlReply{Error: err.Error()})
		return
	}
	reply(conn, controlReply{})
}

// finish answers every waiter with the exit code and stops serving. The record is already
// written, so a client that wakes up sees the container exited.
func (cs *controlServer) finish(code int) {
	cs.mu.Lock()
	cs.done, cs.code = true, code
	ws := cs.waiters
	cs.waiters = nil
	cs.mu.Unlock()
	cs.close()
	for _, w := range ws {
		reply(w, controlReply{Exit: &code})
		w.Close()
	}
}

func (cs *controlServer) close() {
	if cs.path != "" {
		os.Remove(cs.path)
	}
	if cs.ln != nil {
		cs.ln.Close()
	}
}

// dialHolder connects to the control socket of the container whose runtime directory is dir.
func dialHolder(dir string) (*net.UnixConn, error) {
	var conn *net.UnixConn
	err := viaDir(dir, controlSocket, func(p string) error {
		var err error
		conn, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: p, Net: "unix"})
		return err
	})
	return conn, err
}

// dialRunning resolves a running container and connects to its holder.
func (r *Runtime) dialRunning(ref string) (*Container, *net.UnixConn, error) {
	c, err := r.running(ref)
	if err != nil {
		return nil, nil, err
	}
	conn, err := dialHolder(r.runDir(c.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", c.Name, ErrNotRunning)
	}
	return c, conn, nil
}

// ask sends one request to a container's holder and reads the answer. With wait, it blocks
// until the container exits or ctx-like deadline passes (zero: no deadline).
func askHolder(dir string, req controlRequest, deadline time.Time) (controlReply, error) {
	conn, err := dialHolder(dir)
	if err != nil {
		return controlReply{}, ErrNotRunning
	}
	defer conn.Close()
	b, _ := json.Marshal(req)
	if _, err := conn.Write(append(b, '\n')); err != nil {
		return controlReply{}, ErrNotRunning
	}
	_ = conn.SetReadDeadline(deadline)
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return controlReply{}, os.ErrDeadlineExceeded
		}
		// The holder went away without answering: it died, the record says the rest.
		return controlReply{}, ErrNotRunning
	}
	var rep controlReply
	if err := json.Unmarshal(line, &rep); err != nil {
		return controlReply{}, fmt.Errorf("reading the holder's answer: %w", err)
	}
	if rep.Error != "" {
		return rep, errors.New(rep.Error)
	}
	return rep, nil
}
