package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Helpers for containers that outlive the den invocation that started them: each runs under
// a monitor, a den process whose argv is ["den-monitor", SHORTID].

// waitUntil polls cond until it holds or timeout passes, and reports whether it held.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runDetached runs `den run -d ARGS...` and returns the id it printed.
func (d *den) runDetached(t *testing.T, args ...string) string {
	t.Helper()
	r := d.mustRun(t, append([]string{"run", "-d"}, args...)...)
	id := strings.TrimSpace(r.stdout)
	if !hex64.MatchString(id) {
		t.Fatalf("want a 64-digit id on stdout\n%s", r)
	}
	return id
}

// inspectf renders an inspect template for one container.
func (d *den) inspectf(t *testing.T, ctr, tmpl string) string {
	t.Helper()
	return strings.TrimSpace(d.mustRun(t, "inspect", "-f", tmpl, ctr).stdout)
}

// pidOf returns the host pid inspect reports for a running container.
func (d *den) pidOf(t *testing.T, ctr string) int {
	t.Helper()
	s := d.inspectf(t, ctr, "{{.State.Pid}}")
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		t.Fatalf("want a positive State.Pid for %s, got %q", ctr, s)
	}
	return pid
}

// waitForLog waits until the container's stdout in `den logs` holds s.
func (d *den) waitForLog(t *testing.T, ctr, s string) {
	t.Helper()
	var last result
	if !waitUntil(10*time.Second, func() bool {
		last = d.mustRun(t, "logs", ctr)
		return strings.Contains(last.stdout, s)
	}) {
		t.Fatalf("want %q in the logs of %s within 10s\n%s", s, ctr, last)
	}
}

// waitForState waits until the inspect template renders want for the container.
func (d *den) waitForState(t *testing.T, ctr, tmpl, want string, timeout time.Duration) {
	t.Helper()
	var got string
	if !waitUntil(timeout, func() bool {
		got = d.inspectf(t, ctr, tmpl)
		return got == want
	}) {
		t.Fatalf("want %s of %s to be %q within %v, it is %q", tmpl, ctr, want, timeout, got)
	}
}

// allPids lists the processes in /proc.
func allPids(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// monitorPids lists the processes of den's user whose argv is ["den-monitor", shortID].
func (d *den) monitorPids(t *testing.T, shortID string) []int {
	t.Helper()
	var pids []int
	for _, pid := range allPids(t) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(argv) < 2 || argv[0] != "den-monitor" || argv[1] != shortID {
			continue
		}
		if uid, ok := procUID(pid); ok && uid == d.hostUID() && !processGone(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procUID returns the real uid a process runs as.
func procUID(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			uid, err := strconv.Atoi(f[1])
			return uid, err == nil
		}
	}
	return 0, false
}

// processGone reports whether pid has ended: it no longer exists or is a zombie nobody reaped
// yet (an orphan's reaper may be slow, or absent in a sandbox).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

// wantMonitorGone fails unless the container's monitor has exited within a few seconds.
func (d *den) wantMonitorGone(t *testing.T, shortID string) {
	t.Helper()
	if !waitUntil(5*time.Second, func() bool { return len(d.monitorPids(t, shortID)) == 0 }) {
		t.Errorf("want no den-monitor process for %s left, found pids %v", shortID, d.monitorPids(t, shortID))
	}
}

// stream is a den invocation whose stdout is read line by line while it runs.
type stream struct {
	t      *testing.T
	cmd    *exec.Cmd
	cancel context.CancelFunc
	lines  chan string // closed at EOF
	stderr bytes.Buffer
}

func (d *den) startStream(t *testing.T, args ...string) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	s := &stream{t: t, cmd: d.command(ctx, args...), cancel: cancel, lines: make(chan string, 100)}
	s.cmd.Stderr = &s.stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting den %s: %v", shellQuote(args), err)
	}
	t.Cleanup(func() {
		cancel()
		_ = s.cmd.Wait()
	})
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	return s
}

// next returns the next line of output, failing the test if none comes within timeout.
func (s *stream) next(timeout time.Duration) string {
	s.t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			s.t.Fatalf("den %s ended its output early; stderr:\n%s", shellQuote(s.cmd.Args[1:]), s.stderr.String())
		}
		return l
	case <-time.After(timeout):
		s.t.Fatalf("den %s printed no line within %v", shellQuote(s.cmd.Args[1:]), timeout)
	}
	return ""
}

// rest reads the remaining output and waits for den to exit, returning the lines and exit code.
func (s *stream) rest() ([]string, int) {
	s.t.Helper()
	var ls []string
	for l := range s.lines {
		ls = append(ls, l)
	}
	err := s.cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		s.t.Fatalf("den %s: %v", shellQuote(s.cmd.Args[1:]), err)
	}
	return ls, s.cmd.ProcessState.ExitCode()
}

// procsNamed lists the pids of this test's live den processes whose argv[0] is name
// (den-monitor, den-network), found by the test's runtime directory in their environment.
func (d *den) procsNamed(name string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.HasPrefix(string(cmdline), name+"\x00") || !livingProcess(e.Name()) {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if strings.Contains(string(env), "XDG_RUNTIME_DIR="+d.runDir+"\x00") {
			out = append(out, e.Name())
		}
	}
	return out
}

func monitorsOf(d *den) []string { return d.procsNamed("den-monitor") }

func TestFailedDetachedRunsLeaveNoMonitorBehind(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "-d", "--name", "one", "--network", "none", "busybox", "sleep", "100")
	// Rootless, the den that started it becomes its monitor a moment after it answers.
	if !waitUntil(5*time.Second, func() bool { return len(monitorsOf(d)) == 1 }) {
		t.Fatalf("want one monitor for one detached container, found %q", monitorsOf(d))
	}
	// The monitor is started while the container is created; a create that fails lets it go.
	wantError(t, d.run(t, "run", "-d", "--name", "one", "busybox", "true"), 125, "already in use")
	wantError(t, d.run(t, "run", "-d", "nosuchimage"), 125, "nosuchimage")
	// den's start-up starts the monitor of run -d before the flags are checked.
	wantError(t, d.run(t, "run", "-d", "--restart", "bogus", "busybox", "true"), 125, "bogus")
	var left []string
	for range 40 {
		if left = monitorsOf(d); len(left) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(left) != 1 {
		t.Errorf("want only the running container's monitor after two failed run -d, found %q", left)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "one")
	d.wantNoContainers(t)
}

// A detached run's monitor is started by den's start-up, before a new user namespace has its
// id maps: it must still become root there, with the rights to mount the container's root
// file system. With no den process alive, every run makes a new namespace.
func TestDetachedRunInANewUserNamespaceGetsAMonitorThatCanMount(t *testing.T) {
	d := newDen(t)
	if d.user == nil {
		t.Skip("root mode has no user namespace")
	}
	d.load(t, "busybox-oci.tar")
	for i := range 5 {
		// No registered den process: the next command makes a namespace of its own.
		if err := os.RemoveAll(filepath.Join(d.runDir, "den", "userns")); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("fresh%d", i)
		d.mustRun(t, "run", "-d", "--name", name, "--network", "none", "busybox", "true")
		wantStdout(t, d.run(t, "wait", name), "0\n")
	}
}
