package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A rootless `run -d` that starts its container itself starts the container's init in its
// first moment, before it knows the container (runtime/initexec, zygote.go); libcontainer's
// stage 0 hands that waiting init the container when it checks out, and den kills it when
// not. The debug log says when a container's init was the one started ahead.

const aheadMark = "the container's init is the one started ahead"

// waitingInits are the live inits that d's den started ahead and that still wait: their
// environment names the waiting socket and d's runtime directory.
func (d *den) waitingInits(t *testing.T) []int {
	t.Helper()
	var pids []int
	for _, pid := range allPids(t) {
		env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
		if err != nil {
			continue
		}
		vars := bytes.Split(env, []byte{0})
		var waiting, ours bool
		for _, v := range vars {
			waiting = waiting || bytes.HasPrefix(v, []byte("_DEN_ZYGOTE="))
			ours = ours || string(v) == "XDG_RUNTIME_DIR="+d.runDir
		}
		if waiting && ours && !processGone(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// wantNoWaitingInits fails when an init den started ahead outlives the command.
func (d *den) wantNoWaitingInits(t *testing.T, after string) {
	t.Helper()
	var left []int
	if !waitUntil(5*time.Second, func() bool { left = d.waitingInits(t); return len(left) == 0 }) {
		t.Errorf("after %s: inits started ahead still wait: %v", after, left)
	}
}

func TestRunDetachedUsesTheInitStartedAhead(t *testing.T) {
	d := newDen(t)
	if d.user == nil {
		t.Skip("an init is started ahead only rootless")
	}
	d.load(t, "busybox-oci.tar")
	// The first container of the image mounts its root filesystem before the init starts
	// (early.go): the init started ahead is not the one it can have.
	first := d.mustRun(t, "--log-level", "debug", "run", "-d", "--network", "none", "--name", "first", "busybox", "sleep", "300")
	if strings.Contains(first.stderr, aheadMark) {
		t.Errorf("the first container of the image had the init started ahead\n%s", first)
	}
	d.wantNoWaitingInits(t, "the first run")

	r := d.mustRun(t, "--log-level", "debug", "run", "-d", "--network", "none", "--name", "ahead", "busybox", "sleep", "300")
	if !strings.Contains(r.stderr, aheadMark) {
		t.Fatalf("the second container's init was not the one started ahead\n%s", r)
	}
	id := strings.TrimSpace(r.stdout)
	d.wantNoWaitingInits(t, "the second run")
	// It is what runc's nsenter would have made: pid 1 of its namespace, holding the
	// container's stdio alone, in a session of its own, its loopback interface up, its
	// hostname the container's, and the container's environment.
	script := `ls /proc/1/fd; cat /proc/1/stat | cut -d' ' -f 5,6,8; hostname; ip -o link show lo | grep -c 'UP'; tr '\0' '\n' </proc/1/environ | grep -c '^_DEN\|^_LIBCONTAINER'; true`
	got := d.mustRun(t, "exec", "ahead", "sh", "-c", script).stdout
	want := "0\n1\n2\n1 1 -1\n" + id[:12] + "\n1\n0\n"
	if got != want {
		t.Errorf("inside the container: %q, want %q", got, want)
	}
	d.mustRun(t, "stop", "-t", "0", "ahead")
	wantStdout(t, d.run(t, "inspect", "-f", "{{.State.ExitCode}}", "ahead"), "137\n")

	// A container the waiting init does not fit (no network namespace of its own), and a
	// den told not to start one: started as always, and nothing waits afterwards.
	r = d.mustRun(t, "--log-level", "debug", "run", "-d", "--network", "host", "--name", "hostnet", "busybox", "sleep", "300")
	if strings.Contains(r.stderr, aheadMark) {
		t.Errorf("a container on the host's network had the init started ahead\n%s", r)
	}
	d.wantNoWaitingInits(t, "a run on the host's network")
	r = d.runWith(t, execOpts{env: []string{"DEN_NO_ZYGOTE=1"}}, "--log-level", "debug", "run", "-d", "--network", "none", "--name", "plain", "busybox", "sleep", "300")
	if r.code != 0 || strings.Contains(r.stderr, aheadMark) {
		t.Errorf("DEN_NO_ZYGOTE=1: want a container started as always\n%s", r)
	}
	// A run that fails before its start lets its waiting init go too.
	wantError(t, d.run(t, "run", "-d", "--network", "none", "--name", "plain", "busybox", "true"), 125, "plain")
	d.wantNoWaitingInits(t, "a run refused for its name")
	for _, c := range []string{"hostnet", "plain"} {
		wantStdout(t, d.run(t, "exec", c, "echo", "ok"), "ok\n")
	}
	d.mustRun(t, "rm", "-af", "-t", "0")
	d.wantNoWaitingInits(t, "rm -af")
}

// A detached run's record directory is made before its command line is read
// (Runtime.MakeRecordAhead): a run that fails before its record, whatever it fails on,
// leaves no directory without a record behind, and system check finds nothing.
func TestAFailedDetachedRunLeavesNoRecordDirectory(t *testing.T) {
	d := newDen(t)
	if d.user == nil {
		t.Skip("records are made ahead only where an init is started ahead: rootless")
	}
	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--network", "none", "--name", "taken", "busybox", "sleep", "300")
	d.runDetached(t, "--network", "none", "--name", "second", "busybox", "sleep", "300")
	wantError(t, d.run(t, "run", "-d", "--network", "none", "--name", "taken", "busybox", "true"), 125, "taken")
	wantError(t, d.run(t, "run", "-d", "--network", "none", "--pull", "never", "nosuch.example/none:1"), 125, "nosuch.example/none:1")
	wantError(t, d.run(t, "run", "-d", "--network", "none", "--bogus", "busybox"), 125, "--bogus")
	wantError(t, d.run(t, "run", "-d", "--network", "none", "-w", "relative", "busybox"), 125, "relative")
	recs := filepath.Join(d.data, "den", "containers")
	ents, err := os.ReadDir(recs)
	if err != nil {
		t.Fatal(err)
	}
	dirs := 0
	for _, e := range ents {
		if !e.IsDir() || len(e.Name()) != 64 {
			continue
		}
		dirs++
		if _, err := os.Stat(filepath.Join(recs, e.Name(), "container.json")); err != nil {
			t.Errorf("container directory %s holds no record after the failed runs", e.Name()[:12])
		}
	}
	if dirs != 2 {
		t.Errorf("want the two containers' directories alone, found %d", dirs)
	}
	wantStdout(t, d.run(t, "system", "check"), "")
	d.mustRun(t, "rm", "-af", "-t", "0")
	d.wantNoWaitingInits(t, "rm -af")
}

// The standard file systems an early start's init attaches itself (initexec's premount.go)
// go only on ordinary directories of the root filesystem, and the binds of /etc's hostname,
// hosts and resolv.conf only on ordinary files: where an image has a link instead, the init
// refuses and the container starts the usual way, libcontainer deciding (it refuses sysfs
// on a link, and follows a link for /dev or /etc within the root filesystem).
// Each image runs twice, its first container the usual way and the second early: both end
// the same, and nothing lands outside.
func TestStandardMountsLandInsideTheRootfsWhateverItsLinksSay(t *testing.T) {
	d := newDen(t)
	if d.user == nil {
		t.Skip("the init attaches the standard mounts itself only rootless")
	}
	out := outside(t, d)
	images := map[string]hostileLayer{
		"localhost/plain:latest": {{Name: "empty/", Typeflag: tar.TypeDir, Mode: 0o755}},
		"localhost/syslink:latest": {
			{Name: "sys2/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "sys", Typeflag: tar.TypeSymlink, Linkname: "/sys2", Mode: 0o777},
		},
		"localhost/devlink:latest": {
			{Name: "dev", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("../", 12) + strings.TrimPrefix(out, "/"), Mode: 0o777},
		},
		// The binds of /etc/hostname, hosts and resolv.conf, which the init makes too.
		"localhost/etclink:latest": {
			{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("../", 12) + strings.TrimPrefix(out, "/"), Mode: 0o777},
		},
		"localhost/hostslink:latest": {
			{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "etc/hosts", Typeflag: tar.TypeSymlink, Linkname: filepath.Join(out, "hosts"), Mode: 0o777},
		},
	}
	// Where each mount is, how, and what (file system type and its options).
	script := `awk '$5 != "/" { print $5, $6, $(NF-2), $NF }' /proc/self/mountinfo | sort; ls -d /sys2/kernel 2>/dev/null; echo x >/dev/null && echo null-ok`
	for ref, layer := range images {
		if !loadHostile(t, d, ociArchiveOf(t, ref, layer, nil)) {
			continue
		}
		var outputs []string
		for i := 0; i < 2; i++ {
			r := d.run(t, "--log-level", "debug", "run", "-d", "--network", "none", ref, "sleep", "300")
			// The second start is early: its init attaches the standard mounts, or refuses
			// a link and the container starts the usual way.
			refused := strings.Contains(r.stderr, "starting it on its mounted rootfs")
			if i == 1 && (!strings.Contains(r.stderr, earlyMark) || refused != (ref != "localhost/plain:latest")) {
				t.Errorf("%s: second start early: %v, refused by the init: %v\n%s", ref, strings.Contains(r.stderr, earlyMark), refused, r)
			}
			if r.code != 0 {
				outputs = append(outputs, fmt.Sprintf("run failed: %d: %s", r.code, lines(r.stderr)[len(lines(r.stderr))-1]))
				continue
			}
			id := strings.TrimSpace(lines(r.stdout)[len(lines(r.stdout))-1])
			e := d.run(t, "exec", id, "sh", "-c", script)
			outputs = append(outputs, e.stdout)
			d.mustRun(t, "rm", "-f", "-t", "0", id)
		}
		if len(outputs) == 2 && outputs[0] != outputs[1] {
			t.Errorf("%s: the usual start and the early one differ:\n%s\n---\n%s", ref, outputs[0], outputs[1])
		}
		t.Logf("%s:\n%s", ref, outputs[0])
	}
	wantEmptyDir(t, out)
	d.wantNoWaitingInits(t, "the hostile images")
	// An image's layout refused is that start's alone: early starts go on.
	if _, err := os.Stat(filepath.Join(d.data, "den", "early-refused")); err == nil {
		t.Error("an image's layout turned early starts off")
	}
}
