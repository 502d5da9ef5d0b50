package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// slackOf is a thread's timer slack in ns, -1 when it is gone.
func slackOf(tid string) int {
	b, err := os.ReadFile("/proc/" + tid + "/timerslack_ns")
	if err != nil {
		return -1
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return v
}

// wideThreads counts the threads of pid with sysmon's 1 ms slack and checks that the others
// have want.
func wideThreads(t *testing.T, what string, pid, want int) int {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	wide := 0
	for _, e := range tasks {
		switch v := slackOf(e.Name()); v {
		case 1000000:
			wide++
			if e.Name() == strconv.Itoa(pid) {
				t.Errorf("%s: the main thread has sysmon's slack", what)
			}
		case want, -1:
		default:
			t.Errorf("%s: thread %s has a timer slack of %d ns, want %d", what, e.Name(), v, want)
		}
	}
	return wide
}

// In den's processes, the Go runtime's sysmon alone waits with a 1 ms timer slack
// (runtime/sysmonslack); a container's processes, which come from den's threads, keep the
// slack of whoever ran den.
func TestOnlySysmonWaitsWithAWideTimerSlackNotTheContainers(t *testing.T) {
	own := slackOf("self")
	if own <= 0 || own >= 1000000 {
		t.Skipf("this test runs with a timer slack of %d ns", own)
	}
	d := newDen(t)

	pid := d.startedDen(t)
	if n := wideThreads(t, "den events", pid, own); n != 1 {
		t.Errorf("den events has %d threads with a 1 ms slack, want 1 (sysmon)", n)
	}

	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--name", "slack", "--network", "none", "busybox", "sleep", "1000")
	ctr := d.pidOf(t, "slack")
	if n := wideThreads(t, "the container's process", ctr, own); n != 0 {
		t.Errorf("the container's process has %d threads with a 1 ms slack, want none", n)
	}
	out := d.mustRun(t, "exec", "slack", "cat", "/proc/self/timerslack_ns").stdout
	if got := strings.TrimSpace(out); got != strconv.Itoa(own) {
		t.Errorf("a process exec'd in the container has a timer slack of %s ns, want %d", got, own)
	}
	ppid := 0
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", ctr)); err == nil {
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+1:])
		ppid, _ = strconv.Atoi(f[1])
	}
	if ppid <= 1 {
		t.Fatalf("no parent (monitor) for the container's process %d", ctr)
	}
	if n := wideThreads(t, "the container's monitor", ppid, own); n != 1 {
		t.Errorf("the monitor has %d threads with a 1 ms slack, want 1 (sysmon)", n)
	}
}
