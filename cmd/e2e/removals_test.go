package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdStorageContainers takes containers/storage's lock on its container list, as another
// storage user would: a den process that deletes a container's storage waits for it. It
// returns the release.
func holdStorageContainers(t *testing.T, d *den) func() {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(d.graphRoot(), "overlay-containers", "containers.lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &lk); err != nil {
		f.Close()
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			f.Close() // drops the lock
		}
	}
	t.Cleanup(release)
	return release
}

// start runs den in the background; the channel gets its result. Nothing in it fails the
// test, so that the test's own goroutine decides.
func (d *den) start(t *testing.T, args ...string) <-chan result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	cmd := d.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	ch := make(chan result, 1)
	go func() {
		defer cancel()
		_ = cmd.Wait()
		ch <- result{args: args, stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	}()
	return ch
}

// answerWithin waits for a result, failing the test after wait.
func answerWithin(t *testing.T, ch <-chan result, wait time.Duration, what string) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(wait):
		t.Fatalf("%s: no answer within %v", what, wait)
	}
	return result{}
}

// stillRunning fails the test if a result comes within a second: the command waits.
func stillRunning(t *testing.T, ch <-chan result, what string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Errorf("%s ended while it should wait\n%s", what, r)
	case <-time.After(time.Second):
	}
}

// rm and run --rm answer once the container is gone from den's records; its storage is
// deleted after that, by the same process (runtime/removals.go). Proved by holding storage's
// container list locked: the answer comes all the same, the storage waits for the lock.
func TestRemovalAnswersBeforeStorageIsDeleted(t *testing.T) {
	for _, beside := range []bool{false, true} {
		name := "new namespace"
		if beside {
			// With a container running, den joins its user namespace instead of making one:
			// the waiting parent is forked there too.
			name = "beside a running container"
		}
		t.Run(name, func(t *testing.T) {
			d := newDen(t)
			d.load(t, "busybox-oci.tar")
			if beside {
				d.runDetached(t, "--name", "other", "busybox", "sleep", "1000")
			}
			d.mustRun(t, "run", "--name", "gone", "busybox", "true")
			id := d.inspectf(t, "gone", "{{.Id}}")

			left := ""
			if beside {
				left = "other\n"
			}
			release := holdStorageContainers(t, d)
			wantStdout(t, answerWithin(t, d.start(t, "rm", "gone"), 30*time.Second, "den rm gone"), "gone\n")
			wantStdout(t, d.run(t, "ps", "-a", "--format", "{{.Names}}"), left)
			if ids := storageContainers(t, d, "containers.json"); !slices.Contains(ids, id) {
				t.Errorf("want the storage of %s still there while its list is locked, got %q", id[:12], ids)
			}

			// run --rm answers with its container's exit code, its output complete.
			s := d.startStream(t, "run", "--rm", "--name", "brief", "busybox", "sh", "-c", "echo up; sleep 1; echo down; exit 3")
			release()
			if l := s.next(20 * time.Second); l != "up" {
				t.Fatalf("want up, got %q", l)
			}
			release = holdStorageContainers(t, d)
			rest := make(chan result, 1)
			go func() {
				var ls []string
				for l := range s.lines {
					ls = append(ls, l)
				}
				_ = s.cmd.Wait()
				rest <- result{stdout: strings.Join(ls, ","), stderr: s.stderr.String(), code: s.cmd.ProcessState.ExitCode()}
			}()
			if r := answerWithin(t, rest, 30*time.Second, "den run --rm"); r.code != 3 || r.stdout != "down" {
				t.Errorf("want down and exit code 3\n%s", r)
			}
			wantStdout(t, d.run(t, "ps", "-a", "--format", "{{.Names}}"), left)

			release()
			d.removalsSettled(t)
			if ids := storageContainers(t, d, "volatile-containers.json"); len(ids) != 0 {
				t.Errorf("want the --rm container's storage deleted, got %q", ids)
			}
			if ids := storageContainers(t, d, "containers.json"); len(ids) != len(lines(left)) {
				t.Errorf("want only the running container's storage left, got %q", ids)
			}
			wantStdout(t, d.run(t, "system", "check"), "")
		})
	}
}

// The commands to which a container's storage matters wait for deletions left after an
// answer: rmi right after run --rm or rm finds the image unused.
func TestRmiRightAfterARemovalFindsTheImageUnused(t *testing.T) {
	d := newDen(t)
	for _, remove := range [][][]string{
		{{"run", "--rm", "busybox", "true"}},
		{{"run", "--name", "kept", "busybox", "true"}, {"rm", "kept"}},
	} {
		d.load(t, "busybox-oci.tar")
		for _, args := range remove {
			d.mustRun(t, args...)
		}
		if r := d.run(t, "rmi", "busybox"); r.code != 0 {
			t.Errorf("want busybox removed right after den %s\n%s", strings.Join(remove[len(remove)-1], " "), r)
		}
	}
	wantStdout(t, d.run(t, "system", "check"), "")
}

// While another process has a deletion pending (removals.lock held shared), the commands to
// which a container's storage matters wait for it; ps does not.
func TestStorageCommandsWaitForPendingDeletions(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--rm", "busybox", "true")
	d.removalsSettled(t)
	for _, args := range [][]string{
		{"rmi", "-a"},
		{"image", "prune", "-a", "-f"},
		{"system", "check"},
		{"system", "df"},
		{"system", "prune", "-f"},
	} {
		release := d.lockRemovals(t, unix.LOCK_SH)
		wantStdout(t, d.run(t, "ps", "-a", "-q"), "")
		ch := d.start(t, args...)
		stillRunning(t, ch, "den "+strings.Join(args, " "))
		release()
		if r := answerWithin(t, ch, commandTimeout, "den "+strings.Join(args, " ")); r.code != 0 {
			t.Errorf("want exit 0 once the deletion was done\n%s", r)
		}
	}
}

// Den as root has no waiting parent to answer: rm deletes the storage before it answers.
func TestRootRemovalDeletesStorageBeforeTheAnswer(t *testing.T) {
	d := newRootDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--name", "gone", "busybox", "true")
	release := holdStorageContainers(t, d)
	ch := d.start(t, "rm", "gone")
	stillRunning(t, ch, "den rm as root")
	release()
	wantStdout(t, answerWithin(t, ch, commandTimeout, "den rm as root"), "gone\n")
	if ids := storageContainers(t, d, "containers.json"); len(ids) != 0 {
		t.Errorf("want the storage deleted by the time rm answered, got %q", ids)
	}
}

// While a command to which storage matters holds removals.lock (as rmi and system check do
// while they work), rm deletes the storage before it answers, without waiting for the lock.
func TestRemovalBesideAHeldLockDeletesStorageFirst(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--name", "gone", "busybox", "true")
	id := d.inspectf(t, "gone", "{{.Id}}")
	d.mustRun(t, "run", "--rm", "busybox", "true") // makes the lock file, as den's user
	d.removalsSettled(t)
	defer d.lockRemovals(t, unix.LOCK_EX)()
	wantStdout(t, d.run(t, "rm", "gone"), "gone\n")
	if ids := storageContainers(t, d, "containers.json"); slices.Contains(ids, id) {
		t.Errorf("want the storage of %s deleted by the time rm answered, got %q", id[:12], ids)
	}
}

// A deletion cut short after the answer (a script killing what is left of its commands)
// leaves a marker, and the next command to which storage matters finishes it: rmi finds the
// image unused, and system check has nothing to report.
func TestACutShortDeletionIsFinishedByTheNextStorageCommand(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--name", "gone", "busybox", "true")
	release := holdStorageContainers(t, d)
	wantStdout(t, answerWithin(t, d.start(t, "rm", "gone"), 30*time.Second, "den rm gone"), "gone\n")
	var deleters []string
	for _, pid := range d.procsNamed(denBinary) {
		if cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline")); strings.HasSuffix(string(cmdline), "\x00rm\x00gone\x00") {
			deleters = append(deleters, pid)
		}
	}
	if len(deleters) != 1 {
		t.Fatalf("want one den process left deleting after the answer, found %q", deleters)
	}
	pid, _ := strconv.Atoi(deleters[0])
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(10*time.Second, func() bool { return !livingProcess(deleters[0]) }) {
		t.Fatalf("the deleter %d did not die", pid)
	}
	release()
	if ids := storageContainers(t, d, "containers.json"); len(ids) != 1 {
		t.Fatalf("want the cut-short deletion's storage left, got %q", ids)
	}
	if r := d.run(t, "rmi", "busybox"); r.code != 0 {
		t.Errorf("want busybox removed, the cut-short deletion finished first\n%s", r)
	}
	if ids := storageContainers(t, d, "containers.json"); len(ids) != 0 {
		t.Errorf("want no storage container left, got %q", ids)
	}
	wantStdout(t, d.run(t, "system", "check"), "")
}
