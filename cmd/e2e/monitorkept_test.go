package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// den as make builds it carries den-monitor, the program detached containers' monitors run,
// and keeps it as a file of the user's cache directory, ~/.cache/den/monitor/SUM/den-monitor,
// written by the first monitor that needs it, as it keeps the whole den (transfer_test.go).

// keptMonitor is the one den-monitor kept in d's cache directory.
func keptMonitor(t *testing.T, d *den) string {
	t.Helper()
	return keptInCache(t, d, "monitor", "den-monitor")
}

// monitorProgram is the program the monitor of the container id runs.
func monitorProgram(t *testing.T, d *den, id string) string {
	t.Helper()
	pids := d.monitorPids(t, id[:12])
	if len(pids) != 1 {
		t.Fatalf("want one monitor of %s, found %v", id[:12], pids)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pids[0]))
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestDetachedContainersMonitorsRunTheKeptMonitor(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// run -d starts its monitor before Go (runtime/userns), start from Go (runtime.spawnMonitor).
	id := strings.TrimSpace(d.mustRun(t, "run", "-d", "--name", "kept", "busybox", "sleep", "300").stdout)
	kept := keptMonitor(t, d)
	st, err := os.Stat(kept)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o500 || ownerOf(st) != d.hostUID() {
		t.Errorf("kept den-monitor: mode %v, owner %d; want 0500 and %d", st.Mode(), ownerOf(st), d.hostUID())
	}
	if got := monitorProgram(t, d, id); got != kept {
		t.Errorf("the monitor of run -d runs %s, want %s", got, kept)
	}
	// What a monitor does works from it: exec, logs, stop, and a start, whose monitor is
	// started by Go.
	if r := d.mustRun(t, "exec", "kept", "echo", "from exec"); strings.TrimSpace(r.stdout) != "from exec" {
		t.Errorf("exec through the kept monitor: %q", r.stdout)
	}
	d.mustRun(t, "stop", "-t", "0", "kept")
	d.mustRun(t, "start", "kept")
	if got := monitorProgram(t, d, id); got != kept {
		t.Errorf("the monitor of start runs %s, want %s", got, kept)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "kept")

	// A user network's holder, which the monitor of the network's first container starts,
	// runs den, which den-monitor leaves that role to.
	d.mustRun(t, "network", "create", "keptnet")
	d.mustRun(t, "run", "-d", "--name", "member", "--network", "keptnet", "busybox", "sleep", "300")
	holders := d.procsNamed("den-network")
	den, err := filepath.EvalSymlinks(denBinary)
	if err != nil {
		t.Fatal(err)
	}
	if len(holders) != 1 {
		t.Fatalf("want one network holder, found %v", holders)
	}
	if exe, err := os.Readlink("/proc/" + holders[0] + "/exe"); err != nil || exe != den {
		t.Errorf("the holder runs %s (%v), want den, %s", exe, err, den)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "member")

	// A den-monitor of another build kept there is removed when this build writes its own.
	other := filepath.Join(d.home, ".cache", "den", "monitor", "0123456789abcdef")
	d.chownedDir(t, other)
	d.replace(t, filepath.Join(other, "den-monitor"), []byte("#!/bin/sh\n"), 0o500)
	if err := os.Remove(kept); err != nil {
		t.Fatal(err)
	}
	d.mustRun(t, "run", "--rm", "busybox", "true") // a foreground run has no monitor
	if _, err := os.Stat(kept); !os.IsNotExist(err) {
		t.Errorf("a foreground run kept den-monitor: %v", err)
	}
	d.mustRun(t, "run", "-d", "--rm", "busybox", "true")
	if got := keptMonitor(t, d); got != kept {
		t.Errorf("kept den-monitor is %s, was %s", got, kept)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("the other build's den-monitor is still there: %v", err)
	}
}

// A kept den-monitor of another size is not run but replaced, as any file den keeps; the
// control shows the same program, the right size, would have been run.
func TestOnlyTheUsersOwnKeptMonitorIsRun(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "-d", "--rm", "busybox", "true")
	kept := keptMonitor(t, d)
	st, err := os.Stat(kept)
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(d.home, "planted-monitor-ran")
	planted := plantedProgram(t, d, marker)
	d.replace(t, kept, planted(st.Size()-1), 0o500)
	id := strings.TrimSpace(d.mustRun(t, "run", "-d", "busybox", "sleep", "300").stdout)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("den ran the planted program as a monitor")
	}
	if got := monitorProgram(t, d, id); got != kept {
		t.Errorf("the monitor runs %s, want %s", got, kept)
	}
	if b, _ := os.ReadFile(kept); bytes.Equal(b, planted(st.Size()-1)) || len(b) != int(st.Size()) {
		t.Error("the planted program was not replaced by den-monitor")
	}
	d.mustRun(t, "rm", "-f", "-t", "0", id)

	// The control: the user's own file of the right size is what den runs.
	// It only leaves its marker, so the container is never started.
	d.replace(t, kept, planted(st.Size()), 0o500)
	if r := d.run(t, "run", "-d", "--rm", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, "monitor died") {
		t.Errorf("want run -d to fail as its monitor was the planted program\n%s", r)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the user's own kept den-monitor was not run: %v", err)
	}
	d.mustRun(t, "rm", "-af", "-t", "0")
}

// Without a cache directory to keep it in, the monitor is den itself, and works as well.
func TestMonitorIsDenWithoutACacheDirectory(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	noDir := d.writeFile(t, "not-a-directory", nil)
	monitorIsDen(t, d, execOpts{env: []string{"XDG_CACHE_HOME=" + noDir}})
}

// Nor when the cache directory cannot run programs: den-monitor is kept there, and den runs
// itself as the monitor when exec'ing it fails.
func TestMonitorIsDenWhenTheCacheDirectoryIsNoexec(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a noexec file system needs root")
	}
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	cache := filepath.Join(d.home, "noexec-cache")
	d.chownedDir(t, cache)
	if err := unix.Mount("tmpfs", cache, "tmpfs", unix.MS_NOEXEC|unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(cache, unix.MNT_DETACH) })
	d.chown(t, cache)
	monitorIsDen(t, d, execOpts{env: []string{"XDG_CACHE_HOME=" + cache}})
	if found, _ := filepath.Glob(filepath.Join(cache, "den", "monitor", "*", "den-monitor")); len(found) != 1 {
		t.Errorf("want den-monitor kept in the noexec cache directory all the same, found %v", found)
	}
}

// monitorIsDen runs a detached container with o and sees den itself as its monitor, through
// run -d (enter.c) and start (runtime.spawnMonitor), and exec and stop work through it.
func monitorIsDen(t *testing.T, d *den, o execOpts) {
	t.Helper()
	r := d.runWith(t, o, "run", "-d", "--name", "plain", "busybox", "sleep", "300")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	want, err := filepath.EvalSymlinks(denBinary)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(r.stdout)
	if got := monitorProgram(t, d, id); got != want {
		t.Errorf("the monitor runs %s, want den itself, %s", got, want)
	}
	if r := d.runWith(t, o, "exec", "plain", "echo", "ok"); r.code != 0 || strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("exec through den as the monitor\n%s", r)
	}
	if r := d.runWith(t, o, "stop", "-t", "0", "plain"); r.code != 0 {
		t.Errorf("stop\n%s", r)
	}
	if r := d.runWith(t, o, "start", "plain"); r.code != 0 {
		t.Fatalf("start\n%s", r)
	}
	if got := monitorProgram(t, d, id); got != want {
		t.Errorf("the monitor of start runs %s, want den itself, %s", got, want)
	}
}

// cpusAllowed is the Cpus_allowed_list of /proc/PATH/status: "self", "PID" or "PID/task/TID".
func cpusAllowed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", path, "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list in /proc/%s/status", path)
	return ""
}

// run -d starts its monitor on a CPU other than den's (runtime/userns, spawn_premonitor),
// which takes pinning the monitor there for a moment: the monitor, every thread of it and the
// container must then be free to run on every CPU den could.
func TestDetachedMonitorAndContainerRunOnEveryCPU(t *testing.T) {
	want := cpusAllowed(t, "self")
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil || all.Count() < 2 {
		t.Skipf("the test may run on CPUs %s only: the monitor has no other CPU to start on", want)
	}
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := strings.TrimSpace(d.mustRun(t, "run", "-d", "--name", "cpus", "busybox", "sleep", "300").stdout)
	if got := cpusAllowed(t, strconv.Itoa(d.pidOf(t, "cpus"))); got != want {
		t.Errorf("the container may run on CPUs %s, want %s", got, want)
	}
	pids := d.monitorPids(t, id[:12])
	if len(pids) != 1 {
		t.Fatalf("want one monitor of %s, found %v", id[:12], pids)
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pids[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if got := cpusAllowed(t, fmt.Sprintf("%d/task/%s", pids[0], task.Name())); got != want {
			t.Errorf("monitor thread %s may run on CPUs %s, want %s", task.Name(), got, want)
		}
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "cpus")
}
