package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// den's monitor waits 100 ms before the first restart and doubles the wait each time.

// restartCount reads RestartCount of a container.
func (d *den) restartCount(t *testing.T, ctr string) int {
	t.Helper()
	s := d.inspectf(t, ctr, "{{.RestartCount}}")
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("want a number for RestartCount of %s, got %q", ctr, s)
	}
	return n
}

func TestRestartOnFailureRetriesUpToItsLimit(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := d.runDetached(t, "--restart", "on-failure:2", "--name", "flaky", "busybox", "sh", "-c", "echo run; exit 1")
	if got := d.inspectf(t, "flaky", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"); got != "on-failure 2" {
		t.Errorf("want RestartPolicy on-failure with MaximumRetryCount 2, got %q", got)
	}

	const final = "exited 1 2"
	tmpl := "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}"
	d.waitForState(t, "flaky", tmpl, final, 20*time.Second)
	d.wantMonitorGone(t, id[:12])
	// A third restart would have come 400 ms after the second exit.
	time.Sleep(time.Second)
	if got := d.inspectf(t, "flaky", tmpl); got != final {
		t.Errorf("want flaky to stay %q after its retries ran out, got %q", final, got)
	}
	wantStdout(t, d.run(t, "logs", "flaky"), "run\nrun\nrun\n")
}

func TestRestartNoAndOnFailureLeaveContainerExited(t *testing.T) {
	for _, tc := range []struct{ policy, exit string }{
		{"no", "1"},
		{"on-failure", "0"},
	} {
		t.Run(tc.policy+" exit "+tc.exit, func(t *testing.T) {
			d := newDen(t)
			d.load(t, "busybox-oci.tar")
			id := d.runDetached(t, "--restart", tc.policy, "--name", "once", "busybox", "sh", "-c", "echo run; exit "+tc.exit)
			wantStdout(t, d.run(t, "wait", "once"), tc.exit+"\n")
			d.wantMonitorGone(t, id[:12])
			want := "exited " + tc.exit + " 0"
			if got := d.inspectf(t, "once", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}"); got != want {
				t.Errorf("want %q (no restart), got %q", want, got)
			}
			wantStdout(t, d.run(t, "logs", "once"), "run\n")
		})
	}
}

// wantStaysStopped checks that a stopped container is not brought back by its policy: a restart
// would come within the backoff, which here is at most 1.6 s.
func wantStaysStopped(t *testing.T, d *den, ctr, shortID string) {
	t.Helper()
	count := d.restartCount(t, ctr)
	d.wantMonitorGone(t, shortID)
	time.Sleep(2 * time.Second)
	if got := d.inspectf(t, ctr, "{{.State.Status}}"); got != "exited" {
		t.Errorf("want %s to stay exited after stop, it is %s", ctr, got)
	}
	if got := d.restartCount(t, ctr); got != count {
		t.Errorf("want RestartCount of %s to stay %d after stop, it is %d", ctr, count, got)
	}
	if l := psLine(t, d, ctr); !strings.Contains(l, "Exited") {
		t.Errorf("want %s listed as Exited, got %q", ctr, l)
	}
}

func TestRestartAlwaysRestartsUntilStoppedWhileRunning(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// Exits 0 twice, then stays up on its third run (the rootfs keeps the counter).
	script := `n=$(( $(cat /runs 2>/dev/null || echo 0) + 1 )); echo $n > /runs; echo run $n
[ $n -lt 3 ] && exit 0
trap 'exit 0' TERM; sleep 100 & wait`
	id := d.runDetached(t, "--restart", "always", "--name", "keeper", "busybox", "sh", "-c", script)
	d.waitForState(t, "keeper", "{{.State.Status}} {{.RestartCount}}", "running 2", 20*time.Second)
	d.waitForLog(t, "keeper", "run 1\nrun 2\nrun 3\n")

	wantStdout(t, d.run(t, "stop", "keeper"), "keeper\n")
	wantStaysStopped(t, d, "keeper", id[:12])
	wantStdout(t, d.run(t, "logs", "keeper"), "run 1\nrun 2\nrun 3\n")
}

func TestRestartAlwaysRestartsUntilStoppedBetweenRuns(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := d.runDetached(t, "--restart", "always", "--name", "bouncer", "busybox", "sh", "-c", "echo run; exit 0")
	// After its fourth restart the container waits 1.6 s between runs: stop lands in that wait.
	var state string
	if !waitUntil(30*time.Second, func() bool {
		state = d.inspectf(t, "bouncer", "{{.State.Status}} {{.RestartCount}}")
		f := strings.Fields(state)
		n, _ := strconv.Atoi(f[1])
		return f[0] == "exited" && n >= 4
	}) {
		t.Fatalf("want bouncer to keep restarting (exited with RestartCount 4 or more within 30s), it is %q", state)
	}
	wantStdout(t, d.run(t, "stop", "bouncer"), "bouncer\n")
	wantStaysStopped(t, d, "bouncer", id[:12])
}
