package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A rootless `run -d` whose network needs no helper of den's (none, host, container:) starts
// its container itself, answers, and then execs den-monitor in its own place
// (runtime/held.go): the monitor takes the container over from the descriptors it inherits.
// Elsewhere (root, slirp4netns, user networks) a monitor started ahead starts it.

// monitorMode is how the monitor of container id was started: "held:FD" for a den that
// became the monitor, "pipe" for one started ahead (the _DEN_MONITOR of its first
// environment, which /proc keeps after Go unsets it).
func monitorMode(t *testing.T, d *den, id string) string {
	t.Helper()
	// A den that holds its container has answered a moment before it execs den-monitor.
	var pids []int
	if !waitUntil(5*time.Second, func() bool { pids = d.monitorPids(t, id[:12]); return len(pids) == 1 }) {
		t.Fatalf("want one monitor of %s, found %v", id[:12], pids)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pids[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, "_DEN_MONITOR="); ok {
			return v
		}
	}
	t.Fatalf("the monitor of %s has no _DEN_MONITOR in its environment", id[:12])
	return ""
}

// ppidOf is the parent of a process.
func ppidOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

// vmHWM is a process's peak resident size in kB.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "VmHWM:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func TestDetachedRunBecomesItsContainersMonitor(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := d.runDetached(t, "--name", "held", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exec sleep 300")
	// An exec at once meets the monitor while it may still be taking over: the request waits
	// on the control socket, which the den before the exec made.
	if r := d.mustRun(t, "exec", "held", "echo", "from exec"); strings.TrimSpace(r.stdout) != "from exec" {
		t.Errorf("exec right after run -d: %q", r.stdout)
	}
	if mode := monitorMode(t, d, id); !strings.HasPrefix(mode, "held:") {
		t.Errorf("rootless run -d --network none: monitor %q, want the den that started the container (held:FD)", mode)
	}
	mon := d.monitorPids(t, id[:12])[0]
	if got := monitorProgram(t, d, id); got != keptMonitor(t, d) {
		t.Errorf("the monitor runs %s, want the kept den-monitor", got)
	}
	if pp := ppidOf(t, d.pidOf(t, "held")); pp != mon {
		t.Errorf("the container's parent is %d, want its monitor %d", pp, mon)
	}
	// The exec leaves the den command's memory behind.
	if kb := vmHWM(t, mon); kb == 0 || kb > 15000 {
		t.Errorf("the monitor's peak resident size is %d kB, want under 15 MB", kb)
	}
	// Output written before the monitor took over is logged, both streams.
	d.waitForLog(t, "held", "out")
	if r := d.mustRun(t, "logs", "held"); !strings.Contains(r.stderr, "err") {
		t.Errorf("want the container's stderr in its log\n%s", r)
	}
	if got := d.inspectf(t, "held", "{{.State.Status}} {{.State.Pid}}"); got != "running "+strconv.Itoa(d.pidOf(t, "held")) {
		t.Errorf("inspect: %q", got)
	}
	d.mustRun(t, "stop", "-t", "0", "held")
	wantStdout(t, d.run(t, "wait", "held"), "137\n")
	d.wantMonitorGone(t, id[:12])
	if r := d.mustRun(t, "events", "--stream=false", "--filter", "container=held", "--format", "{{.Status}}"); !strings.Contains(r.stdout, "start\n") || !strings.Contains(r.stdout, "died\n") {
		t.Errorf("want start and died events\n%s", r)
	}
	// Started again, from a monitor den starts (start), it runs as before.
	d.mustRun(t, "start", "held")
	d.waitForState(t, "held", "{{.State.Status}}", "running", 10*time.Second)
	d.mustRun(t, "rm", "-f", "-t", "0", "held")
	d.wantNoContainers(t)
}

// What the monitor takes over: a terminal, an open stdin, --rm, the restart policy and the
// healthcheck.
func TestHeldDetachedRunsKeepWhatAMonitorServes(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// A terminal: what the container writes on it is logged.
	d.runDetached(t, "-it", "--name", "tty", "--network", "none", "busybox", "sh")
	d.mustRun(t, "exec", "tty", "sh", "-c", "echo on-the-terminal > /proc/1/fd/1")
	d.waitForLog(t, "tty", "on-the-terminal")
	// Stdin kept open: attach feeds it, and its end ends the container.
	d.runDetached(t, "-i", "--name", "cat", "--network", "none", "busybox", "cat")
	r := d.runWith(t, execOpts{stdin: strings.NewReader("fed through attach\n")}, "attach", "cat")
	if r.code != 0 || !strings.Contains(r.stdout, "fed through attach") {
		t.Errorf("attach to a held -i container\n%s", r)
	}
	wantStdout(t, d.run(t, "wait", "cat"), "0\n")
	// --rm: the monitor removes the container when it exits.
	rm := d.runDetached(t, "--rm", "--network", "none", "busybox", "true")
	if !waitUntil(10*time.Second, func() bool { return d.run(t, "container", "exists", rm).code == 1 }) {
		t.Errorf("the --rm container %s is still there", rm[:12])
	}
	d.wantMonitorGone(t, rm[:12])
	// The restart policy runs from the monitor that took over.
	d.runDetached(t, "--name", "again", "--restart", "on-failure:2", "--network", "none", "busybox", "false")
	d.waitForState(t, "again", "{{.State.Status}} {{.RestartCount}}", "exited 2", 20*time.Second)
	// So does the healthcheck.
	d.runDetached(t, "--name", "checked", "--health-cmd", "true", "--health-interval", "1s", "--network", "none", "busybox", "sleep", "300")
	d.waitForState(t, "checked", "{{.State.Health.Status}}", "healthy", 15*time.Second)
	// The host's network needs no helper either: the container sees the host's interfaces.
	host := d.runDetached(t, "--name", "hostnet", "--network", "host", "busybox", "sleep", "300")
	if mode := monitorMode(t, d, host); !strings.HasPrefix(mode, "held:") {
		t.Errorf("run -d --network host: monitor %q, want held:FD", mode)
	}
	ents, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range ents {
		want = append(want, e.Name())
	}
	if got := strings.Fields(d.mustRun(t, "exec", "hostnet", "ls", "/sys/class/net").stdout); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("interfaces in a --network host container: %q, the host's: %q", got, want)
	}
	// A command that cannot run is reported by run -d, which then has nothing to hold.
	wantError(t, d.run(t, "run", "-d", "--name", "missing", "--network", "none", "busybox", "no-such-command"), 127, "no-such-command")
	wantError(t, d.run(t, "run", "-d", "--name", "notexec", "--network", "none", "busybox", "/etc/passwd"), 126, "/etc/passwd")
	d.mustRun(t, "rm", "-f", "-t", "0", "-a")
	d.wantNoContainers(t)
	if left := monitorsOf(d); len(left) != 0 {
		t.Errorf("monitors left: %q", left)
	}
}

// Without a kept den-monitor (no cache directory), the den that started the container execs
// den itself as the monitor.
func TestHeldDetachedRunWithoutACacheDirectoryBecomesDen(t *testing.T) {
	d := newDen(t)
	if d.user == nil {
		t.Skip("root's run -d does not hold its container")
	}
	d.load(t, "busybox-oci.tar")
	noDir := d.writeFile(t, "not-a-directory", nil)
	o := execOpts{env: []string{"XDG_CACHE_HOME=" + noDir}}
	r := d.runWith(t, o, "run", "-d", "--name", "plain", "--network", "none", "busybox", "sleep", "300")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	id := strings.TrimSpace(r.stdout)
	if mode := monitorMode(t, d, id); !strings.HasPrefix(mode, "held:") {
		t.Errorf("monitor %q, want held:FD", mode)
	}
	want, err := filepath.EvalSymlinks(denBinary)
	if err != nil {
		t.Fatal(err)
	}
	if got := monitorProgram(t, d, id); got != want {
		t.Errorf("the monitor runs %s, want den itself, %s", got, want)
	}
	if r := d.runWith(t, o, "exec", "plain", "echo", "ok"); r.code != 0 || strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("exec through den as the monitor\n%s", r)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "plain")
	d.wantMonitorGone(t, id[:12])
}

// Where the network needs a helper of den's (slirp4netns, the default), and as root (no
// parent waits for an answer), a monitor started ahead starts the container.
func TestDetachedRunsThatCannotHoldGetAMonitorStartedAhead(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := d.runDetached(t, "--name", "slirp", "busybox", "sleep", "300")
	if mode := monitorMode(t, d, id); mode != "pipe" {
		t.Errorf("run -d with slirp4netns: monitor %q, want one started ahead (pipe)", mode)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "slirp")

	root := newRootDen(t)
	root.load(t, "busybox-oci.tar")
	id = root.runDetached(t, "--name", "rooted", "--network", "none", "busybox", "sleep", "300")
	if mode := monitorMode(t, root, id); mode != "pipe" {
		t.Errorf("root's run -d: monitor %q, want one started ahead (pipe)", mode)
	}
	if r := root.mustRun(t, "exec", "rooted", "echo", "ok"); strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("exec: %q", r.stdout)
	}
	root.mustRun(t, "rm", "-f", "-t", "0", "rooted")
}

// The den that holds its container until its monitor takes over must not die of a stdout
// closed under it (run -d | head -c 0): the container runs on, under its monitor.
func TestHeldDetachedRunOutlivesAClosedStdout(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := d.command(ctx, "run", "-d", "--name", "piped", "--network", "none", "busybox", "sleep", "300")
	cmd.Stdout = wr
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	wr.Close()
	if err != nil {
		t.Logf("run -d into a closed pipe: %v\n%s", err, stderr.String())
	}
	d.waitForState(t, "piped", "{{.State.Status}}", "running", 5*time.Second)
	id := d.inspectf(t, "piped", "{{.Id}}")
	if mode := monitorMode(t, d, id); !strings.HasPrefix(mode, "held:") {
		t.Errorf("monitor %q, want held:FD", mode)
	}
	if r := d.mustRun(t, "exec", "piped", "echo", "ok"); strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("exec: %q", r.stdout)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "piped")
	d.wantMonitorGone(t, id[:12])
}
