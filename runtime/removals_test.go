package runtime

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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

// exclusiveFree reports whether another process could take removals.lock exclusively now.
func exclusiveFree(t *testing.T, r *Runtime) bool {
	t.Helper()
	err := exec.Command("flock", "-n", "-x", r.removalsLock(), "true").Run()
	if _, failed := err.(*exec.ExitError); err != nil && !failed {
		t.Fatal(err)
	}
	return err == nil
}

// A deletion pending in another process holds removals.lock shared: WaitRemovals returns only
// once that process has let go.
func TestWaitRemovalsWaitsForAnotherProcesssPendingDeletion(t *testing.T) {
	r := removalsRuntime(t)
	done := filepath.Join(t.TempDir(), "done")
	holder := exec.Command("flock", "-s", r.removalsLock(), "sh", "-c", "echo held; sleep 0.2; touch "+done)
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	if l, _ := bufio.NewReader(out).ReadString('\n'); l != "held\n" {
		t.Fatalf("the holder said %q", l)
	}
	if err := r.WaitRemovals(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(done); err != nil {
		t.Error("WaitRemovals returned while another process held the lock")
	}
}

// Deferring a deletion takes the lock shared before the record goes; FinishRemovals lets go.
func TestDeferredDeletionHoldsTheLockUntilFinished(t *testing.T) {
	r := removalsRuntime(t)
	if r.deferDeletion("x") || r.PendingRemovals() {
		t.Fatal("a deletion was deferred without DeferStorageDeletion")
	}
	if !exclusiveFree(t, r) {
		t.Fatal("the lock is held before anything was deferred")
	}
	r.DeferStorageDeletion()
	if !r.deferDeletion("x") || !r.PendingRemovals() {
		t.Fatal("the deletion was not deferred")
	}
	if exclusiveFree(t, r) {
		t.Error("another process could take the lock exclusively while a deletion was pending")
	}
	r.undefer("x") // as when the record could not be removed
	if r.PendingRemovals() {
		t.Error("undefer left the deletion pending")
	}
	if err := r.FinishRemovals(); err != nil {
		t.Fatal(err)
	}
	if !exclusiveFree(t, r) {
		t.Error("FinishRemovals kept the lock")
	}
	if r.deferDeletion("y") {
		t.Error("FinishRemovals left deferring on")
	}
}

// Without any record there is nothing to wait for, and nothing is created.
func TestWaitRemovalsInAnEmptyDataDir(t *testing.T) {
	r := New(&config.Paths{DataDir: t.TempDir(), RuntimeDir: t.TempDir()}, nil)
	if err := r.WaitRemovals(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.recs.dir); !os.IsNotExist(err) {
		t.Errorf("WaitRemovals made %s (%v)", r.recs.dir, err)
	}
}
