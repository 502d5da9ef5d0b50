package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/den-project/den/config"
	"github.com/den-project/den/netstack/bridge"
	"github.com/den-project/den/runtime/initexec"
	"github.com/den-project/den/runtime/userns"
	"github.com/den-project/den/store/events"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The monitor is den re-executed, one per detached container, as the container's parent: it
// holds the container's output and writes the log, records the exit, runs the restart
// policy, answers the control socket and cleans up. It lives in den's user and mount namespace
// of the invocation that started it and keeps them alive; the invocation returns as soon as
// the monitor reports the container started.

const envMonitor = "_DEN_MONITOR"

// A monitor starts with 3, the pipe on which it reports the container started; 4, the pipe on
// which it gets monitorArgs; and 5, den's own program (an O_PATH descriptor), which runs the
// network holders a monitor starts where the monitor is den-monitor (runtime/monitorbin).
// runtime/userns's enter.c passes the same to the monitor of run -d.
const denFD = 5

// monitorArgs is what a monitor needs to know, the line SpawnMonitor sends it: its
// container, den's paths and configuration, and the user den's namespace belongs to when the
// command that started it ran there (HostUID -1 otherwise).
type monitorArgs struct {
	ID      string        `json:"id"`
	Paths   config.Paths  `json:"paths"`
	Config  config.Config `json:"config"`
	HostUID int           `json:"hostUid"`
	HostGID int           `json:"hostGid"`
}

// monitorArgsFor is what a monitor of container id needs to know.
func (r *Runtime) monitorArgsFor(id string) monitorArgs {
	a := monitorArgs{ID: id, Paths: *r.Paths, Config: *r.Config, HostUID: -1, HostGID: -1}
	if userns.InChild() {
		a.HostUID, a.HostGID = userns.HostIDs()
	}
	return a
}

// monitorLine is the monitorArgs line of a monitor for container id.
func (r *Runtime) monitorLine(id string) ([]byte, error) {
	b, err := json.Marshal(r.monitorArgsFor(id))
	return append(b, '\n'), err
}

// monitorGo follows the monitorArgs line on a monitor's pipe once its container exists.
const monitorGo = 'g'

// startReport is what the monitor writes on its ready pipe.
type startReport struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
	// Storage says that the start could not create the container's storage
	// (ErrCreatingStorage), which run then removes.
	Storage bool `json:"storage,omitempty"`
}

// reportedError is an error a monitor reported, as the text it sent, and is what it was
// sent as: ErrCreatingStorage, or nothing.
type reportedError struct {
	text string
	is   error
}

func (e *reportedError) Error() string { return e.text }
func (e *reportedError) Unwrap() error { return e.is }

// IsMonitorStage reports whether this process is a container monitor.
func IsMonitorStage() bool { return os.Getenv(envMonitor) != "" }

// StartDetached starts a container under a new monitor and returns once it runs, or with the
// reason it could not start (an *ExitError for 126/127).
func (r *Runtime) StartDetached(c *Container) error {
	m, err := r.spawnMonitor(c.ID, c.ShortID())
	if err != nil {
		return err
	}
	return m.Start(c, nil)
}

// Monitor is a container's monitor started before the container exists: its start-up, that
// of a den process, and its opening of storage overlap the container's creation. The
// container must be created with ID; Start then hands it over, or Abandon lets the monitor
// exit having done nothing.
type Monitor struct {
	ID    string
	proc  *os.Process // nil for the one enter.c started: not den's child to reap
	goW   *os.File    // has had the monitorArgs line; Start sends monitorGo
	ready *os.File
}

// SpawnMonitor starts a monitor for a container yet to be created with the returned ID, or
// takes the one den's start-up already began (runtime/userns, spawn_premonitor).
func (r *Runtime) SpawnMonitor() (*Monitor, error) {
	if id, goW, ready, ok := userns.TakePremonitor(); ok {
		m := &Monitor{ID: id, goW: goW, ready: ready}
		if err := r.sendLine(m); err != nil {
			return nil, err
		}
		return m, nil
	}
	id := newID()
	return r.spawnMonitor(id, id[:12])
}

func (r *Runtime) spawnMonitor(id, short string) (*Monitor, error) {
	rd, wr, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating monitor pipe: %w", err)
	}
	goR, goW, err := os.Pipe()
	if err != nil {
		rd.Close()
		wr.Close()
		return nil, fmt.Errorf("creating monitor pipe: %w", err)
	}
	files := []*os.File{wr, goR}
	self, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err == nil {
		den := os.NewFile(uintptr(self), "den")
		defer den.Close()
		files = append(files, den)
	}
	start := func(exe string) (*exec.Cmd, error) {
		cmd := exec.Command(exe)
		cmd.Args = []string{"den-monitor", short}
		cmd.Env = append(os.Environ(), envMonitor+"=pipe")
		cmd.ExtraFiles = files
		// Its own session: no terminal signals, and it outlives this command.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		return cmd, cmd.Start()
	}
	// den-monitor kept as a file when there is one (see runtime/monitorbin) and den's own
	// program could be handed to it (5, for the holders it starts); else den itself, which
	// also runs when the kept one cannot (a cache directory mounted noexec).
	var cmd *exec.Cmd
	err = errors.New("no den-monitor")
	if path, dir, ok := initexec.MonitorProgram(); ok && len(files) == 3 {
		cmd, err = start(path)
		dir.Close()
	} else if ok {
		dir.Close()
	}
	if err != nil {
		cmd, err = start("/proc/self/exe")
	}
	wr.Close()
	goR.Close()
	if err != nil {
		rd.Close()
		goW.Close()
		return nil, fmt.Errorf("starting monitor: %w", err)
	}
	m := &Monitor{ID: id, proc: cmd.Process, goW: goW, ready: rd}
	if err := r.sendLine(m); err != nil {
		return nil, err
	}
	return m, nil
}

// sendLine gives the monitor its monitorArgs line, which it works on while the container is
// created. A monitor that died already is found out by Start, which says so.
func (r *Runtime) sendLine(m *Monitor) error {
	line, err := r.monitorLine(m.ID)
	if err != nil {
		m.Abandon()
		return err
	}
	_, _ = m.goW.Write(line)
	return nil
}

// Start tells the monitor its container, now created, and waits until the container runs.
// meanwhile, when given, runs while the monitor starts the container, whatever comes of the
// start.
func (m *Monitor) Start(c *Container, meanwhile func()) error {
	defer m.ready.Close()
	_, err := m.goW.Write([]byte{monitorGo})
	m.goW.Close()
	if meanwhile != nil {
		meanwhile()
	}
	var rep startReport
	if err == nil {
		err = json.NewDecoder(m.ready).Decode(&rep)
	}
	m.release()
	if err != nil {
		return fmt.Errorf("container %s: its monitor died before starting it", c.Name)
	}
	if rep.Error != "" {
		if rep.Code != 0 && rep.Code != 125 {
			return &ExitError{Code: rep.Code, Err: fmt.Errorf("%s", rep.Error)}
		}
		if rep.Storage {
			return &reportedError{text: rep.Error, is: ErrCreatingStorage}
		}
		return fmt.Errorf("%s", rep.Error)
	}
	return nil
}

// Abandon lets a monitor whose container was never created exit.
func (m *Monitor) Abandon() {
	m.goW.Close()
	m.ready.Close()
	m.release()
}

func (m *Monitor) release() {
	if m.proc != nil {
		_ = m.proc.Release()
	}
}

// MonitorMain is the monitor stage. It returns the process exit status.
func MonitorMain() int {
	mode := os.Getenv(envMonitor)
	os.Unsetenv(envMonitor)
	if fd, ok := strings.CutPrefix(mode, heldPrefix); ok {
		n, err := strconv.Atoi(fd)
		if err != nil {
			return 125
		}
		return heldMain(n)
	}
	// Started ahead of its container, it gets at once the line that says how to reach den's
	// state (monitorArgs), and monitorGo once the container exists; the end of the pipe
	// before that means the container was never made. In between it opens storage, the
	// first thing the start needs, while den creates the container.
	goR := os.NewFile(4, "go")
	in := bufio.NewReader(goR)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return 0
	}
	var a monitorArgs
	if err := json.Unmarshal(line, &a); err != nil {
		return 125
	}
	r := monitorSetup(a, denFD)
	defer r.Close()
	// A den whose command failed meanwhile (an image that is not there) has closed the pipe:
	// opening storage then would only make files under a directory that may be going away.
	if abandoned(in, goR) {
		return 0
	}
	// An error here is met again, and reported, where the start opens storage.
	_, _ = r.Store()
	if b, err := in.ReadByte(); err != nil || b != monitorGo {
		return 0
	}
	goR.Close()
	r.monitorFrom(a.ID, os.NewFile(3, "ready"), firstRestartBackoff)
	return 0
}

// abandoned reports, without waiting, whether the writer of pipe went away with nothing
// more to read, in the pipe or already in in, its reader: a den that gave up the container it
// started this monitor for. (A den that said go and then exited is not one.)
func abandoned(in *bufio.Reader, pipe *os.File) bool {
	if in.Buffered() > 0 {
		return false
	}
	fds := []unix.PollFd{{Fd: int32(pipe.Fd()), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n == 1 && fds[0].Revents&unix.POLLHUP != 0 && fds[0].Revents&unix.POLLIN == 0
}

// monitorSetup makes this process a monitor for a: in den's namespace for its user, quiet,
// deaf to the terminal's signals, and able to start network holders from den's own program
// at descriptor den (where that is one).
func monitorSetup(a monitorArgs, den int) *Runtime {
	if a.HostUID >= 0 {
		userns.Adopt(a.HostUID, a.HostGID)
	}
	userns.Register()
	// Its stdio is /dev/null; diagnostics go to the log of den itself, off by default.
	logrus.SetLevel(logrus.ErrorLevel)
	// Caught, not ignored: an ignored signal would stay ignored in the container's command.
	stray := make(chan os.Signal, 8)
	signal.Notify(stray, unix.SIGHUP, unix.SIGPIPE, unix.SIGINT)
	go func() {
		for range stray {
		}
	}()
	if den >= 0 {
		if fl, err := unix.FcntlInt(uintptr(den), unix.F_GETFL, 0); err == nil && fl&unix.O_PATH != 0 {
			syscall.CloseOnExec(den)
			bridge.Program = "/proc/self/fd/" + strconv.Itoa(den)
		}
	}
	return New(&a.Paths, &a.Config)
}

// firstRestartBackoff is the wait before a container's first restart; it doubles with each
// restart after, up to 10 s.
const firstRestartBackoff = 100 * time.Millisecond

// monitorFrom runs container id, and again as its restart policy says, waiting backoff
// before the first restart. ready, when given, gets the report of the first start.
func (r *Runtime) monitorFrom(id string, ready *os.File, backoff time.Duration) {
	report := func(rep startReport) {
		if ready != nil {
			_ = json.NewEncoder(ready).Encode(rep)
			ready.Close()
			ready = nil
		}
	}
	defer report(startReport{Error: "monitor ended unexpectedly", Code: 125})
	for {
		c, err := r.recs.load(id)
		if err != nil {
			report(startReport{Error: err.Error(), Code: 125})
			return
		}
		code, started, err := r.runMonitored(c, func(pid int) { report(startReport{Pid: pid}) })
		if err != nil && !started {
			report(startReport{Error: err.Error(), Code: exitCodeOf(err), Storage: errors.Is(err, ErrCreatingStorage)})
			return
		}
		if !r.again(id, code, &backoff) {
			return
		}
	}
}

// again applies the restart policy of container id to an exit with code: when it says to
// run the container again, again waits out the backoff, doubles it and counts the restart.
func (r *Runtime) again(id string, code int, backoff *time.Duration) bool {
	c, err := r.recs.load(id)
	if err != nil || !shouldRestart(c, code) {
		return false
	}
	time.Sleep(*backoff)
	*backoff = min(*backoff*2, 10*time.Second)
	ok, err := r.countRestart(id)
	return err == nil && ok
}

// runMonitored runs the container once, logging its output, and returns its exit code.
func (r *Runtime) runMonitored(c *Container, started func(pid int)) (int, bool, error) {
	logw, err := r.openLog(c)
	if err != nil {
		return 125, false, err
	}
	defer logw.close()
	p, stdio, err := newMonitorPipes(c)
	if err != nil {
		return 125, false, err
	}
	s, err := r.begin(c, stdio, nil)
	p.closeChild()
	if err != nil {
		p.close()
		return exitCodeOf(err), false, err
	}
	started(s.pid)
	// The monitor lives as long as the container: give back what starting it took. Storage
	// is opened again for the cleanup at exit.
	r.Close()
	debug.FreeOSMemory()
	code := r.watch(s, logw, p)
	return code, true, s.end(code)
}

// monitorPipes are a monitor's ends of its container's standard streams where the container
// has no terminal: the output it logs and, with -i, the input that attach feeds (kept open by
// the monitor; EOF when the last attached client's input ends).
type monitorPipes struct {
	outR, errR, inW *os.File
	// child are the container's ends, closed once it has them.
	child []*os.File
}

// newMonitorPipes makes the pipes of c and returns the container's ends as its Stdio; none
// for a container with a terminal.
func newMonitorPipes(c *Container) (*monitorPipes, Stdio, error) {
	p := &monitorPipes{}
	var stdio Stdio
	if c.Config.Tty {
		return p, stdio, nil
	}
	pipe := func() (rd, wr *os.File, err error) {
		if rd, wr, err = os.Pipe(); err != nil {
			p.close()
			return nil, nil, fmt.Errorf("creating the container's pipes: %w", err)
		}
		return rd, wr, nil
	}
	var err error
	if p.outR, stdio.Out, err = pipe(); err != nil {
		return nil, Stdio{}, err
	}
	p.child = append(p.child, stdio.Out)
	if p.errR, stdio.Err, err = pipe(); err != nil {
		return nil, Stdio{}, err
	}
	p.child = append(p.child, stdio.Err)
	if c.Config.Interactive {
		if stdio.In, p.inW, err = pipe(); err != nil {
			return nil, Stdio{}, err
		}
		p.child = append(p.child, stdio.In)
	}
	return p, stdio, nil
}

func (p *monitorPipes) closeChild() {
	for _, f := range p.child {
		f.Close()
	}
	p.child = nil
}

func (p *monitorPipes) close() {
	p.closeChild()
	for _, f := range []*os.File{p.outR, p.errR, p.inW} {
		if f != nil {
			f.Close()
		}
	}
}

// watch holds a started session until its process exits: it answers the control socket and
// attach, runs the healthchecks and logs the output, and returns the exit code once the
// output is drained (or given up on). The pipes are closed after.
func (r *Runtime) watch(s *session, logw *logWriter, p *monitorPipes) int {
	defer p.close()
	h := newHub()
	h.onAttach = func() { r.publish(s.c, events.StatusAttach) }
	h.cons = s.cons
	if p.inW != nil {
		h.stdin = p.inW
	}
	s.hub = h
	s.activate()
	var pumps sync.WaitGroup
	if s.cons != nil {
		pumps.Add(1)
		go logw.pump("stdout", s.cons, h.sink, &pumps)
	} else {
		pumps.Add(2)
		go logw.pump("stdout", p.outR, h.sink, &pumps)
		go logw.pump("stderr", p.errR, h.sink, &pumps)
	}
	code := s.wait()
	drained := make(chan struct{})
	go func() { pumps.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(time.Second):
		// Daemonised children still hold the output open: the log stops here.
		if s.cons != nil {
			s.cons.Close()
		}
		if p.outR != nil {
			p.outR.Close()
			p.errR.Close()
		}
		<-drained
	}
	return code
}

// shouldRestart applies the restart policy to an exit.
func shouldRestart(c *Container, code int) bool {
	if c.State.StoppedByUser {
		return false
	}
	switch c.Config.Restart {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (c.Config.RestartMaxRetries == 0 || c.State.RestartCount < c.Config.RestartMaxRetries)
	}
	return false
}

// countRestart records one more restart, unless the user stopped the container while the
// monitor waited, which it reports as false.
func (r *Runtime) countRestart(id string) (bool, error) {
	c, lk, err := r.lockedRecord(id)
	if err != nil {
		return false, err
	}
	defer lk.Release()
	if c.State.StoppedByUser {
		return false, nil
	}
	c.State.RestartCount++
	return true, r.recs.save(c)
}
