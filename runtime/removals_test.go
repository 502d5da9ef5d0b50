package runtime

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/den-project/den/config"
)

func removalsRuntime(t *testing.T) *Runtime {
	t.Helper()
	r := New(&config.Paths{DataDir: t.TempDir(), RuntimeDir: t.TempDir()}, nil)
	if err := os.MkdirAll(r.recs.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return r
}

// lockFree reports whether another process could take removals.lock now, exclusively
// (mode "-x") or shared ("-s").
func lockFree(t *testing.T, r *Runtime, mode string) bool {
	t.Helper()
	err := exec.Command("flock", "-n", mode, r.removalsLock(), "true").Run()
	if _, failed := err.(*exec.ExitError); err != nil && !failed {
		t.Fatal(err)
	}
	return err == nil
}

// holdLock has another process hold removals.lock (mode "-x" or "-s") until it has slept
// for a moment and touched the returned file.
func holdLock(t *testing.T, r *Runtime, mode string) (done string, wait func()) {
	t.Helper()
	done = filepath.Join(t.TempDir(), "done")
	holder := exec.Command("flock", mode, r.removalsLock(), "sh", "-c", "echo held; sleep 0.2; touch "+done)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	if l, _ := bufio.NewReader(out).ReadString('\n'); l != "held\n" {
		t.Fatalf("the holder said %q", l)
	}
	return done, func() { _ = holder.Wait() }
}

// A deletion pending in another process holds removals.lock shared: HoldRemovals returns
// only once that process has let go, and keeps new deletions from being deferred until it
// is released.
func TestHoldRemovalsWaitsForAnotherProcesssPendingDeletion(t *testing.T) {
	r := removalsRuntime(t)
	done, wait := holdLock(t, r, "-s")
	defer wait()
	release, err := r.HoldRemovals()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(done); err != nil {
		t.Error("HoldRemovals returned while another process held the lock")
	}
	if lockFree(t, r, "-s") {
		t.Error("a deletion could be deferred while HoldRemovals held the lock")
	}
	release()
	if !lockFree(t, r, "-s") {
		t.Error("the release kept the lock")
	}
}

// Deferring a deletion takes the lock shared before the record goes; FinishRemovals lets go.
func TestDeferredDeletionHoldsTheLockUntilFinished(t *testing.T) {
	r := removalsRuntime(t)
	if r.deferDeletion("x") || r.PendingRemovals() {
		t.Fatal("a deletion was deferred without DeferStorageDeletion")
	}
	if !lockFree(t, r, "-x") {
		t.Fatal("the lock is held before anything was deferred")
	}
	r.DeferStorageDeletion()
	x := newID()
	if !r.deferDeletion(x) || !r.PendingRemovals() {
		t.Fatal("the deletion was not deferred")
	}
	if _, err := os.Stat(r.removalMarker(x)); err != nil {
		t.Errorf("no marker for the deferred deletion: %v", err)
	}
	if lockFree(t, r, "-x") {
		t.Error("another process could take the lock exclusively while a deletion was pending")
	}
	r.undefer(x) // as when the record could not be removed
	if r.PendingRemovals() || !lockFree(t, r, "-x") {
		t.Error("undefer left the deletion pending or the lock held")
	}
	if _, err := os.Stat(r.removalMarker(x)); !os.IsNotExist(err) {
		t.Errorf("undefer left the marker (%v)", err)
	}
	if !r.deferDeletion("y") {
		t.Fatal("the second deletion was not deferred")
	}
	r.undefer("y")
	if err := r.FinishRemovals(); err != nil {
		t.Fatal(err)
	}
	if !lockFree(t, r, "-x") {
		t.Error("FinishRemovals kept the lock")
	}
	if r.deferDeletion("z") {
		t.Error("FinishRemovals left deferring on")
	}
}

// While another process holds the lock exclusively (a system check, an rmi), a removal
// deletes its storage at once instead of deferring it, without waiting.
func TestNoDeferringWhileTheLockIsHeldExclusively(t *testing.T) {
	r := removalsRuntime(t)
	r.DeferStorageDeletion()
	done, wait := holdLock(t, r, "-x")
	defer wait()
	if r.deferDeletion("x") {
		t.Error("a deletion was deferred under another process's exclusive lock")
	}
	if _, err := os.Stat(done); err == nil {
		t.Error("deferDeletion waited for the lock")
	}
}

// The marker of a deleter killed before it removed the record is dropped by the next
// HoldRemovals, and the container, record and all, stays.
func TestHoldRemovalsDropsTheMarkerOfAContainerThatKeptItsRecord(t *testing.T) {
	r := removalsRuntime(t)
	c := mustCreate(t, r.recs, newContainer("kept", time.Now()))
	if err := os.MkdirAll(r.removingDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.removalMarker(c.ID), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	release, err := r.HoldRemovals()
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := os.Stat(r.removalMarker(c.ID)); !os.IsNotExist(err) {
		t.Errorf("the marker is still there (%v)", err)
	}
	if !r.recs.exists(c.ID) {
		t.Error("the container's record went")
	}
}

// Without any record there is nothing to wait for, and nothing is created.
func TestHoldRemovalsInAnEmptyDataDir(t *testing.T) {
	r := New(&config.Paths{DataDir: t.TempDir(), RuntimeDir: t.TempDir()}, nil)
	release, err := r.HoldRemovals()
	if err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := os.Stat(r.recs.dir); !os.IsNotExist(err) {
		t.Errorf("HoldRemovals made %s (%v)", r.recs.dir, err)
	}
}
