package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// A healthcheck, run by the monitor: starting, then unhealthy after --health-retries failures
// in a row, then healthy once the check passes; ps, inspect, healthcheck run and the events
// say so, as podman's do.
func TestHealthStatusGoesFromStartingToUnhealthyToHealthy(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--name", "web", "--health-cmd", "test -e /tmp/ok", "--health-interval", "300ms",
		"--health-retries", "2", "busybox", "sleep", "1000")
	status := func() string { return d.inspectf(t, "web", "{{.State.Health.Status}}") }
	if s := status(); s != "starting" && s != "unhealthy" {
		t.Fatalf("want starting (or already unhealthy) after run -d, got %q", s)
	}
	if !waitUntil(10*time.Second, func() bool { return status() == "unhealthy" }) {
		t.Fatalf("want unhealthy after two failed checks, got %q", status())
	}
	if n := d.inspectf(t, "web", "{{.State.Health.FailingStreak}}"); n == "0" || n == "1" {
		t.Errorf("want a failing streak of at least 2 when unhealthy, got %s", n)
	}
	if ps := d.mustRun(t, "ps", "--format", "{{.Status}}").stdout; !strings.Contains(ps, "(unhealthy)") {
		t.Errorf("want ps to show (unhealthy), got %q", ps)
	}
	r := d.run(t, "healthcheck", "run", "web")
	if r.code != 1 || r.stdout != "unhealthy\n" {
		t.Errorf("healthcheck run of a failing check: want exit 1 and unhealthy\n%s", r)
	}

	d.mustRun(t, "exec", "web", "touch", "/tmp/ok")
	wantStdout(t, d.run(t, "healthcheck", "run", "web"), "")
	if !waitUntil(10*time.Second, func() bool { return status() == "healthy" }) {
		t.Fatalf("want healthy once the check passes, got %q", status())
	}
	if n := d.inspectf(t, "web", "{{.State.Health.FailingStreak}}"); n != "0" {
		t.Errorf("want the failing streak reset when healthy, got %s", n)
	}
	if ps := d.mustRun(t, "ps", "--format", "{{.Status}}").stdout; !strings.Contains(ps, "(healthy)") {
		t.Errorf("want ps to show (healthy), got %q", ps)
	}
	ev := d.mustRun(t, "events", "--stream=false", "--filter", "event=health_status", "--format", "{{.HealthStatus}}").stdout
	if !strings.Contains(ev, "unhealthy") || !strings.Contains(ev, "healthy\n") {
		t.Errorf("want health_status events for unhealthy and healthy, got %q", ev)
	}

	// A container without a healthcheck: an empty status, as podman 4 shows, and
	// healthcheck run refuses.
	d.runDetached(t, "--name", "plain", "--network", "none", "busybox", "sleep", "1000")
	wantStdout(t, d.run(t, "inspect", "-f", "{{.State.Health.Status}}|{{.NetworkSettings.IPAddress}}", "plain"), "|\n")
	if r := d.run(t, "healthcheck", "run", "plain"); r.code != 125 {
		t.Errorf("healthcheck run of a container without a healthcheck: want 125\n%s", r)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "web", "plain")
}

// wait --condition waits for a state or a health, woken by the container's events: running
// once it is started, healthy and unhealthy as its check turns, exited with its exit code.
func TestWaitConditionWaitsForStateAndHealth(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "w", "--network", "none", "--health-cmd", "test -e /tmp/ok",
		"--health-interval", "300ms", "--health-retries", "1", "busybox", "sleep", "1000")
	running := d.start(t, "wait", "--condition", "running", "w")
	select {
	case r := <-running:
		t.Fatalf("want wait --condition running to block while w is only created\n%s", r)
	case <-time.After(300 * time.Millisecond):
	}
	d.mustRun(t, "start", "w")
	wantStdout(t, <-running, "-1\n")

	healthy := d.start(t, "wait", "--condition", "healthy", "--interval", "250", "w")
	d.mustRun(t, "exec", "w", "touch", "/tmp/ok")
	wantStdout(t, <-healthy, "-1\n")
	if s := d.inspectf(t, "w", "{{.State.Health.Status}}"); s != "healthy" {
		t.Errorf("want w healthy once wait said so, got %q", s)
	}
	unhealthy := d.start(t, "wait", "--condition=unhealthy", "--condition=exited", "w")
	d.mustRun(t, "exec", "w", "rm", "/tmp/ok")
	wantStdout(t, <-unhealthy, "-1\n")

	// Any of several conditions; exited prints the exit code.
	exited := d.start(t, "wait", "--condition", "paused", "--condition", "exited", "w")
	d.mustRun(t, "kill", "w")
	wantStdout(t, <-exited, "137\n")
	wantStdout(t, d.run(t, "wait", "--condition", "exited", "w"), "137\n")

	// A monitor killed outright writes no event: wait is woken by its death all the same.
	id := d.runDetached(t, "--name", "doomed", "--network", "none", "busybox", "sleep", "1000")
	doomed := d.start(t, "wait", "--condition", "paused", "--condition", "exited", "doomed")
	select {
	case r := <-doomed:
		t.Fatalf("want wait to block while doomed runs\n%s", r)
	case <-time.After(300 * time.Millisecond):
	}
	mons := d.monitorPids(t, id[:12])
	if len(mons) != 1 {
		t.Fatalf("want one monitor for doomed, found %v", mons)
	}
	if err := syscall.Kill(mons[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if r := <-doomed; r.code != 0 || len(lines(r.stdout)) != 1 {
		t.Errorf("want wait to answer once doomed's monitor died\n%s", r)
	}
	// A --rm container leaves only its exit, which wait gives.
	d.runDetached(t, "--rm", "--name", "brief", "--network", "none", "busybox", "sh", "-c", "sleep 1; exit 3")
	wantStdout(t, d.run(t, "wait", "--condition", "paused", "--condition", "exited", "brief"), "3\n")

	d.mustRun(t, "create", "--name", "plain", "busybox", "true")
	wantError(t, d.run(t, "wait", "--condition", "healthy", "plain"), 125, "plain", "healthcheck")
	wantError(t, d.run(t, "wait", "--condition", "bogus", "plain"), 125, `"bogus"`)
	wantError(t, d.run(t, "wait", "--interval", "soon", "plain"), 125, `"soon"`)
}
