package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// The lifecycle publishes podman's events on den's own bus, in order, with the exit code on
// died and exec_died.
func TestLifecyclePublishesItsEvents(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--name", "pub", "busybox", "sleep", "1000")
	if r := d.run(t, "exec", "pub", "sh", "-c", "exit 3"); r.code != 3 {
		t.Fatalf("want exec to exit 3, got %s", r)
	}
	d.mustRun(t, "stop", "-t", "0", "pub")
	d.mustRun(t, "rm", "pub")

	r := d.mustRun(t, "events", "--stream=false", "--since", "10m", "--filter", "container=pub", "--format", "json")
	var got []string
	for _, line := range lines(r.stdout) {
		var ev struct {
			Status            string
			Name              string
			ContainerExitCode *int
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event line %q is not JSON: %v", line, err)
		}
		s := ev.Status
		if ev.ContainerExitCode != nil {
			s += "(" + strconv.Itoa(*ev.ContainerExitCode) + ")"
		}
		got = append(got, s)
	}
	// stop returns once the exit is on record, while the monitor still unmounts under the
	// container's lock: its stop and the monitor's cleanup may come in either order, and rm,
	// which waits for that lock, comes after both.
	want := []string{
		"create init start exec exec_died(3) died(137) cleanup stop remove",
		"create init start exec exec_died(3) died(137) stop cleanup remove",
	}
	if g := strings.Join(got, " "); g != want[0] && g != want[1] {
		t.Fatalf("events of pub:\n got  %s\n want %s\n   or %s", g, want[0], want[1])
	}
}

// A held run -d (its container started by the command itself) appends its create event with
// its start's: the same events, in order; a start that fails still publishes the create.
func TestHeldRunPublishesCreateWithItsStart(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--network", "none", "--name", "held", "busybox", "sleep", "1000")
	if r := d.run(t, "run", "-d", "--network", "none", "--name", "nocmd", "busybox", "nosuchcommand"); r.code != 127 {
		t.Fatalf("want a command not found to exit 127, got %s", r)
	}
	for name, want := range map[string]string{"held": "create\ninit\nstart\n", "nocmd": "create\n"} {
		wantStdout(t, d.run(t, "events", "--stream=false", "--since", "10m", "--filter", "container="+name, "--format", "{{.Status}}"), want)
	}
	d.mustRun(t, "rm", "-af", "-t", "0")
}
