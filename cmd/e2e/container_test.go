package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// psLine returns the fields of the `den ps -a` line of the named container.
func psLine(t *testing.T, d *den, name string) string {
	t.Helper()
	r := d.mustRun(t, "ps", "-a")
	for _, l := range lines(r.stdout)[1:] {
		if f := strings.Fields(l); len(f) > 0 && f[len(f)-1] == name {
			return l
		}
	}
	t.Fatalf("want container %s listed\n%s", name, r)
	return ""
}

func TestCreateThenStartRunsContainer(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")

	r := d.mustRun(t, "create", "--name", "c1", "busybox", "echo", "started")
	id := strings.TrimSpace(r.stdout)
	if !hex64.MatchString(id) {
		t.Fatalf("want a 64-digit id on stdout\n%s", r)
	}
	if l := psLine(t, d, "c1"); !strings.Contains(l, "Created") || !strings.HasPrefix(l, id[:12]) {
		t.Errorf("want c1 listed with its short id as Created, got %q", l)
	}
	wantStdout(t, d.run(t, "ps", "-q"), "") // created is not running

	wantStdout(t, d.run(t, "start", "-a", "c1"), "started\n")
	if l := psLine(t, d, "c1"); !strings.Contains(l, "Exited (0)") {
		t.Errorf("want c1 listed as Exited (0), got %q", l)
	}
	// An exited container starts again.
	wantStdout(t, d.run(t, "start", "-a", id[:12]), "started\n")

	wantStdout(t, d.run(t, "rm", "c1"), "c1\n")
	d.wantNoContainers(t)
}

func TestStartReturnsContainerExitCode(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "c3", "busybox", "sh", "-c", "exit 3")
	if r := d.run(t, "start", "-a", "c3"); r.code != 3 {
		t.Errorf("want exit 3\n%s", r)
	}
	if l := psLine(t, d, "c3"); !strings.Contains(l, "Exited (3)") {
		t.Errorf("want c3 listed as Exited (3), got %q", l)
	}
}

func TestCreateRefusesNameInUse(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "c1", "busybox")
	wantError(t, d.run(t, "create", "--name", "c1", "busybox"), 125, "already in use", "c1")
	wantError(t, d.run(t, "run", "--rm", "--name", "c1", "busybox", "true"), 125, "already in use", "c1")
	if r := d.mustRun(t, "ps", "-a", "-q"); len(lines(r.stdout)) != 1 {
		t.Errorf("want only the first c1\n%s", r)
	}
}

func TestRmOfUnknownContainerExitsOne(t *testing.T) {
	d := newDen(t)
	wantError(t, d.run(t, "rm", "nosuchcontainer"), 1, "nosuchcontainer")
}

// rm -a removes what it lists; a listed container that is gone by the time rm gets to it (a
// detached --rm container its monitor removes as it ends) is no error.
func TestRmAllSucceedsWhileRmContainersRemoveThemselves(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	for i := 0; i < 5; i++ {
		d.mustRun(t, "run", "-d", "--rm", "busybox", "sleep", "0.1")
		d.mustRun(t, "create", "busybox")
		time.Sleep(time.Duration(i*25) * time.Millisecond)
		d.mustRun(t, "rm", "-af", "-t", "0")
	}
	d.wantNoContainers(t)
}

// As in podman, --force takes what does not exist as removed (the cleanup step of a CI job),
// silently; without it the exit code is 1.
func TestForcedRemovalOfWhatDoesNotExistSucceeds(t *testing.T) {
	d := newDen(t)
	for _, args := range [][]string{
		{"rm", "-f", "nosuch"}, {"rm", "-i", "nosuch"}, {"rmi", "-f", "nosuch"}, {"rmi", "-i", "nosuch"},
		{"volume", "rm", "-f", "nosuch"}, {"network", "rm", "-f", "nosuch"},
	} {
		if r := d.run(t, args...); r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("den %s: want exit 0 and no output\n%s", strings.Join(args, " "), r)
		}
	}
	for _, args := range [][]string{{"rm", "nosuch"}, {"rmi", "nosuch"}, {"volume", "rm", "nosuch"}, {"network", "rm", "nosuch"}} {
		wantError(t, d.run(t, args...), 1, "nosuch")
	}
}

// --noheading (images: -n) leaves out a table's header line, as in podman, and nothing of a
// plain template.
func TestListingsWithoutHeading(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "c1", "busybox", "true")
	d.mustRun(t, "volume", "create", "v1")
	d.mustRun(t, "network", "create", "n1")
	for _, tc := range []struct {
		args []string
		want string // the only line, or its start
	}{
		{[]string{"ps", "-a", "--noheading"}, "c1"},
		{[]string{"ps", "-a", "--noheading", "--format", "table {{.Names}}"}, "c1"},
		{[]string{"ps", "-a", "--noheading", "--format", "{{.Names}}"}, "c1"},
		{[]string{"images", "-n"}, "docker.io/library/busybox"},
		{[]string{"images", "--noheading", "--format", "table {{.Repository}}"}, "docker.io/library/busybox"},
		{[]string{"volume", "ls", "--noheading"}, "local"},
		{[]string{"network", "ls", "--noheading", "--format", "table {{.Name}}"}, "n1"},
	} {
		r := d.mustRun(t, tc.args...)
		ls := lines(r.stdout)
		if len(ls) != 1 || !strings.Contains(ls[0], tc.want) {
			t.Errorf("den %s: want one line with %q\n%s", strings.Join(tc.args, " "), tc.want, r)
		}
	}
	d.mustRun(t, "network", "rm", "n1")
}

func TestPsPrintsRequestedFormats(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := strings.TrimSpace(d.mustRun(t, "create", "--name", "c1", "busybox", "echo", "hi").stdout)

	t.Run("template", func(t *testing.T) {
		wantStdout(t, d.run(t, "ps", "-a", "--format", "{{.Names}} {{.State}}"), "c1 created\n")
		d.mustRun(t, "start", "-a", "c1")
		wantStdout(t, d.run(t, "ps", "-a", "--format", "{{.Names}} {{.State}} {{.ExitCode}}"), "c1 exited 0\n")
	})
	t.Run("quiet with no-trunc", func(t *testing.T) {
		wantStdout(t, d.run(t, "ps", "-a", "-q", "--no-trunc"), id+"\n")
	})
	t.Run("json", func(t *testing.T) {
		var listed []struct {
			ID      string   `json:"Id"`
			Names   []string `json:"Names"`
			Image   string   `json:"Image"`
			Command []string `json:"Command"`
			State   string   `json:"State"`
		}
		r := d.mustRun(t, "ps", "-a", "--format", "json")
		if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil {
			t.Fatalf("want a JSON array: %v\n%s", err, r)
		}
		if len(listed) != 1 {
			t.Fatalf("want one container\n%s", r)
		}
		c := listed[0]
		if c.ID != id || len(c.Names) != 1 || c.Names[0] != "c1" || c.Image != busyboxName ||
			strings.Join(c.Command, " ") != "echo hi" || c.State != "exited" {
			t.Errorf("want Id %s, Names [c1], Image %s, Command [echo hi], State exited\n%s", id, busyboxName, r)
		}
	})
	t.Run("json of nothing is an empty array", func(t *testing.T) {
		d.mustRun(t, "rm", "c1")
		if r := d.mustRun(t, "ps", "-a", "--format", "json"); strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("want []\n%s", r)
		}
	})
}
