package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/den-project/den/store/record"
	"github.com/sirupsen/logrus"
)

// Storage deleted after the answer.
//
// Removing a container is two steps of different weight: its record and name (a file and a
// link, about a millisecond), then its storage (containers/storage's layer and lists, some 4
// to 6 ms here). Once the record is gone the container is gone for every den command: the
// name is free, ps and inspect know nothing of it. A command that removes containers can
// therefore give its answer, and the shell its prompt, before the storage is deleted, as
// podman's cleanup processes finish after podman has returned. DeferStorageDeletion asks for
// that; FinishRemovals does the deletions left.
//
// removals.lock (under the records directory) keeps that window out of sight. A process with
// deletions pending holds it shared, from before the first record goes until the last storage
// is deleted. The commands to which a storage container without a record would matter (image
// removal and pruning, system check, df, prune and reset) hold it exclusively while they work
// (HoldRemovals): they wait for the pending deletions, and a removal that starts meanwhile
// finds the lock taken and deletes its storage before its record, as when nothing is
// deferred.
//
// Each deferred deletion leaves a marker, removing/ID under the records directory, from
// before the record goes until the storage is deleted. A process killed in between (a
// script's kill, a failed deletion) leaves its marker behind, and the next HoldRemovals, with
// no deleter alive, finishes what it names: an rmi or a prune never trips over a container
// that is gone from den's records but not from storage. Without its marker, such a leftover
// is what system check reports and --repair deletes.

// pendingRemovals are the storage deletions a process has deferred.
type pendingRemovals struct {
	mu   sync.Mutex
	on   bool         // DeferStorageDeletion was called
	lock *record.Lock // removals.lock, shared, while ids is not empty
	ids  []string
}

// removalsLock is the lock that pending storage deletions hold shared.
func (r *Runtime) removalsLock() string { return filepath.Join(r.recs.dir, "removals.lock") }

// removingDir holds the markers of deferred deletions, one empty file per container id.
func (r *Runtime) removingDir() string { return filepath.Join(r.recs.dir, "removing") }

// removalMarker marks the deferred deletion of container id's storage.
func (r *Runtime) removalMarker(id string) string { return filepath.Join(r.removingDir(), id) }

// DeferStorageDeletion makes Remove and the end of a --rm container run in this process
// leave the deletion of the container's storage to FinishRemovals, which the caller must
// call before it exits.
func (r *Runtime) DeferStorageDeletion() {
	r.pending.mu.Lock()
	r.pending.on = true
	r.pending.mu.Unlock()
}

// deferDeletion takes note of a container whose storage FinishRemovals deletes. It is called
// before the container's record is removed, and reports false when deletions are not
// deferred, or another process holds removals.lock exclusively: the caller then deletes the
// storage at once, before the record.
func (r *Runtime) deferDeletion(id string) bool {
	d := &r.pending
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.on {
		return false
	}
	if d.lock == nil {
		lk, ok, err := record.TryAcquireShared(r.removalsLock())
		if err != nil || !ok {
			return false
		}
		d.lock = lk
	}
	if err := os.MkdirAll(r.removingDir(), 0o700); err != nil {
		return false
	}
	if err := os.WriteFile(r.removalMarker(id), nil, 0o600); err != nil {
		return false
	}
	d.ids = append(d.ids, id)
	return true
}

// drop deletes c's storage, unless deferred says deferDeletion took it for after the answer,
// then its runtime files and its record: storage first, or else the record first, under the
// removals lock. kept reports that the record could not be removed and the deferral was taken
// back: the container stays, with its storage.
func (r *Runtime) drop(c *Container, deferred bool) (kept bool, err error) {
	if !deferred {
		if err := r.deleteStorage(c.ID); err != nil {
			return false, err
		}
	}
	os.RemoveAll(r.runDir(c.ID))
	aside, err := r.recs.removeAside(c)
	if err != nil {
		if deferred && r.recs.exists(c.ID) {
			r.undefer(c.ID)
			return true, err
		}
		return false, err
	}
	if deferred {
		// Deleted with the storage's deletions, after the answer.
		r.removeLater(aside)
	} else if aside != "" {
		os.RemoveAll(aside)
	}
	removeCIDFile(c)
	return false, nil
}

// undefer takes back deferDeletion's note when the record could not be removed after all.
func (r *Runtime) undefer(id string) {
	d := &r.pending
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, x := range d.ids {
		if x == id {
			d.ids = append(d.ids[:i], d.ids[i+1:]...)
			os.Remove(r.removalMarker(id))
			break
		}
	}
	if len(d.ids) == 0 {
		d.lock.Release()
		d.lock = nil
	}
}

// PendingRemovals reports whether storage deletions wait for FinishRemovals.
func (r *Runtime) PendingRemovals() bool {
	d := &r.pending
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.ids) > 0
}

// FinishRemovals deletes the storage of the containers removed with deletion deferred, and
// lets go of removals.lock; later removals delete at once. The errors are joined; a
// container whose storage could not be deleted is left for system check.
func (r *Runtime) FinishRemovals() error {
	d := &r.pending
	d.mu.Lock()
	ids, lk := d.ids, d.lock
	d.ids, d.lock, d.on = nil, nil, false
	d.mu.Unlock()
	defer lk.Release()
	var errs []error
	for _, id := range ids {
		if err := r.deleteStorage(id); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", id[:12], err))
			continue // the marker stays, for the next HoldRemovals
		}
		os.Remove(r.removalMarker(id))
	}
	return errors.Join(errs...)
}

// finishLeftovers deletes the storage that the markers of dead deleters name; the caller
// holds removals.lock exclusively, so no deleter is alive. A marker whose container still
// has its record (killed before the record went) is only dropped.
func (r *Runtime) finishLeftovers() {
	ents, err := os.ReadDir(r.removingDir())
	if err != nil {
		return
	}
	for _, e := range ents {
		id := e.Name()
		if !isContainerID(id) {
			continue
		}
		if !r.recs.exists(id) {
			if err := r.deleteStorage(id); err != nil {
				logrus.Warnf("deleting the storage of removed container %s: %v", id[:12], err)
				continue
			}
		}
		os.Remove(r.removalMarker(id))
	}
}

// HoldRemovals waits until no den process has a storage deletion pending, this process's
// own done first, and keeps new ones from being deferred until the returned release is
// called (see above).
func (r *Runtime) HoldRemovals() (release func(), err error) {
	if r.PendingRemovals() {
		if err := r.FinishRemovals(); err != nil {
			return nil, err
		}
	}
	lk, err := record.Acquire(r.removalsLock())
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil // no container was ever made here
	}
	if err != nil {
		return nil, err
	}
	r.finishLeftovers()
	return lk.Release, nil
}
