package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
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

// within runs f and fails the test when it has not returned after d.
func within(t *testing.T, d time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: no answer within %v", what, d)
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
			within(t, 30*time.Second, "den rm gone", func() { wantStdout(t, d.run(t, "rm", "gone"), "gone\n") })
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
			within(t, 30*time.Second, "den run --rm", func() {
				ls, code := s.rest()
				if code != 3 || strings.Join(ls, ",") != "down" {
					t.Errorf("want down and exit code 3, got %q and %d; stderr:\n%s", ls, code, s.stderr.String())
				}
			})
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
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--rm", "busybox", "true")
	if r := d.run(t, "rmi", "busybox"); r.code != 0 {
		t.Errorf("want busybox removed right after den run --rm\n%s", r)
	}
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--name", "kept", "busybox", "true")
	d.mustRun(t, "rm", "kept")
	if r := d.run(t, "rmi", "busybox"); r.code != 0 {
		t.Errorf("want busybox removed right after den rm\n%s", r)
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
		f, err := os.Open(filepath.Join(d.dataDir(), "containers", "removals.lock"))
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
			t.Fatal(err)
		}
		wantStdout(t, d.run(t, "ps", "-a", "-q"), "")
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		cmd := d.command(ctx, args...)
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Errorf("den %s ended (%v) while a deletion was pending", strings.Join(args, " "), err)
		case <-time.After(time.Second):
		}
		f.Close()
		if err := <-done; err != nil {
			t.Errorf("den %s: %v", strings.Join(args, " "), err)
		}
		cancel()
	}
}
