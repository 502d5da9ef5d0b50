package e2e

import (
	"strings"
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
