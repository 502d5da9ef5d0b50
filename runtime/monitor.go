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

// monitorLine is the monitorArgs line of a monitor for container id.
func (r *Runtime) monitorLine(id string) ([]byte, error) {
	a := monitorArgs{ID: id, Paths: *r.Paths, Config: *r.Config, HostUID: -1, HostGID: -1}
	if userns.InChild() {
		a.HostUID, a.HostGID = userns.HostIDs()
	}
	b, err := json.Marshal(a)
	return append(b, '\n'), err
}

// monitorGo follows the monitorArgs line on a monitor's pipe once its container exists.
const monitorGo = 'g'

// startReport is what the monitor writes on its ready pipe.
type startReport struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
	Code  int    `json:"code,omitempty"`
}

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
	os.Unsetenv(envMonitor)
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
	// 5, where given, is den's own program, for the network holders this monitor starts.
	if fl, err := unix.FcntlInt(denFD, unix.F_GETFL, 0); err == nil && fl&unix.O_PATH != 0 {
		syscall.CloseOnExec(denFD)
		bridge.Program = "/proc/self/fd/" + strconv.Itoa(denFD)
	}
	r := New(&a.Paths, &a.Config)
	defer r.Close()
	// An error here is met again, and reported, where the start opens storage.
	_, _ = r.Store()
	if b, err := in.ReadByte(); err != nil || b != monitorGo {
		return 0
	}
	goR.Close()
	r.monitor(a.ID, os.NewFile(3, "ready"))
	return 0
}

func (r *Runtime) monitor(id string, ready *os.File) {
	report := func(rep startReport) {
		if ready != nil {
			_ = json.NewEncoder(ready).Encode(rep)
			ready.Close()
			ready = nil
		}
	}
	defer report(startReport{Error: "monitor ended unexpectedly", Code: 125})
	backoff := 100 * time.Millisecond
	for {
		c, err := r.recs.load(id)
		if err != nil {
			report(startReport{Error: err.Error(), Code: 125})
			return
		}
		code, started, err := r.runMonitored(c, func(pid int) { report(startReport{Pid: pid}) })
		if err != nil && !started {
			report(startReport{Error: err.Error(), Code: exitCodeOf(err)})
			return
		}
		c, err = r.recs.load(id)
		if err != nil || !shouldRestart(c, code) {
			return
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 10*time.Second)
		if again, err := r.countRestart(id); err != nil || !again {
			return
		}
	}
}

// runMonitored runs the container once, logging its output, and returns its exit code.
func (r *Runtime) runMonitored(c *Container, started func(pid int)) (int, bool, error) {
	logw, err := r.openLog(c)
	if err != nil {
		return 125, false, err
	}
	defer logw.close()
	var pumps sync.WaitGroup
	var stdio Stdio
	h := newHub()
	h.onAttach = func() { r.publish(c, events.StatusAttach) }
	var outR, errR, outW, errW, inR *os.File
	if !c.Config.Tty {
		if outR, outW, err = os.Pipe(); err != nil {
			return 125, false, err
		}
		if errR, errW, err = os.Pipe(); err != nil {
			return 125, false, err
		}
		stdio = Stdio{Out: outW, Err: errW}
		if c.Config.Interactive {
			// Kept open by the monitor so that attach can feed it; EOF when the last
			// attached client's input ends.
			var inW *os.File
			if inR, inW, err = os.Pipe(); err != nil {
				return 125, false, err
			}
			stdio.In, h.stdin = inR, inW
			defer inW.Close()
		}
	}
	s, err := r.begin(c, stdio, h)
	for _, f := range []*os.File{outW, errW, inR} {
		if f != nil {
			f.Close()
		}
	}
	if err != nil {
		if outR != nil {
			outR.Close()
			errR.Close()
		}
		return exitCodeOf(err), false, err
	}
	h.cons = s.cons
	pid, _ := s.proc.Pid()
	started(pid)
	// The monitor lives as long as the container: give back what starting it took. Storage
	// is opened again for the cleanup at exit.
	r.Close()
	debug.FreeOSMemory()
	if s.cons != nil {
		pumps.Add(1)
		go logw.pump("stdout", s.cons, h.sink, &pumps)
	} else {
		pumps.Add(2)
		go logw.pump("stdout", outR, h.sink, &pumps)
		go logw.pump("stderr", errR, h.sink, &pumps)
	}
	ps, _ := s.proc.Wait()
	code := 125
	if ps != nil {
		code = waitCode(ps.Sys())
	}
	drained := make(chan struct{})
	go func() { pumps.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(time.Second):
		// Daemonised children still hold the output open: the log stops here.
		if s.cons != nil {
			s.cons.Close()
		}
		if outR != nil {
			outR.Close()
			errR.Close()
		}
		<-drained
	}
	if outR != nil {
		outR.Close()
		errR.Close()
	}
	return code, true, s.end(code)
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
