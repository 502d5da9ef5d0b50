//go:build !den_core

package image

import (
	"fmt"
	"regexp"
	"sync"

	"github.com/den-project/den/store/record"
	cstorage "go.podman.io/storage"
)

// A copy into storage that fails part-way keeps the layers it had already committed:
// containers/storage treats them as a cache for the next try. den promises that a failed
// load or pull leaves nothing behind, so it removes them.
//
// Copies run concurrently. Each holds store.CopiesLock shared while it copies; one that failed
// takes it exclusively before cleaning, which waits until no other copy is between creating
// a layer and naming the image that uses it. Then a layer that is new since the failed
// copy began and that no image or container uses is the failed copy's own leftover.
// (copiesLockPath is in commit.go: commit, which den's core build has, holds it too.)

// copyGuard is held for the duration of one copy into storage.
type copyGuard struct {
	m      *Manager
	lk     *record.Lock
	before map[string]bool
}

// guardCopy registers a copy that is about to write into storage.
func (m *Manager) guardCopy() (*copyGuard, error) {
	lk, err := record.AcquireShared(m.copiesLockPath())
	if err != nil {
		return nil, err
	}
	before, err := m.layerIDs()
	if err != nil {
		lk.Release()
		return nil, err
	}
	return &copyGuard{m: m, lk: lk, before: before}, nil
}

func (m *Manager) layerIDs() (map[string]bool, error) {
	layers, err := m.Store.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	ids := make(map[string]bool, len(layers))
	for _, l := range layers {
		ids[l.ID] = true
	}
	return ids, nil
}

// done ends the copy. After a failure it removes the layers the copy left behind; the
// copy's own error is what the caller reports, so a failed cleanup is only returned when
// there was nothing else to say.
func (g *copyGuard) done(failed bool) error {
	// flock locks belong to open files: the shared one must go before the exclusive one is
	// asked for on another, or this copy would wait for itself.
	g.lk.Release()
	if !failed {
		return nil
	}
	lk, err := record.Acquire(g.m.copiesLockPath())
	if err != nil {
		return err
	}
	defer lk.Release()
	return g.m.removeOrphanLayers(g.before)
}

// removeOrphanLayers deletes the layers not in keep that no image and no container uses,
// children before parents.
func (m *Manager) removeOrphanLayers(keep map[string]bool) error {
	layers, err := m.Store.Layers()
	if err != nil {
		return fmt.Errorf("listing layers: %w", err)
	}
	used := map[string]bool{}
	imgs, err := m.Store.Images()
	if err != nil {
		return fmt.Errorf("listing images: %w", err)
	}
	byID := map[string]cstorage.Layer{}
	for _, l := range layers {
		byID[l.ID] = l
	}
	markChain := func(id string) {
		for id != "" && !used[id] {
			used[id] = true
			id = byID[id].Parent
		}
	}
	for _, img := range imgs {
		markChain(img.TopLayer)
		for _, id := range img.MappedTopLayers {
			markChain(id)
		}
	}
	ctrs, err := m.Store.Containers()
	if err != nil {
		return fmt.Errorf("listing containers: %w", err)
	}
	for _, c := range ctrs {
		markChain(c.LayerID)
	}
	// Delete leaves first: a layer with children cannot go.
	for removed := true; removed; {
		removed = false
		children := map[string]int{}
		for _, l := range byID {
			if l.Parent != "" {
				children[l.Parent]++
			}
		}
		for id := range byID {
			if keep[id] || used[id] || children[id] > 0 {
				continue
			}
			if err := m.Store.DeleteLayer(id); err != nil {
				return fmt.Errorf("removing layer %s left by a failed copy: %w", shortID(id), err)
			}
			delete(byID, id)
			removed = true
		}
	}
	return nil
}

// unpackFailure matches how containers/storage reports a layer it could not unpack, e.g.
// `writing blob: adding layer with blob "sha256:4c14..."/""/"sha256:4c14...": unpacking
// failed (error: exit status 1; output: no such file or directory)`. Compiled when first
// needed: at package initialisation, every den process (ps, images...) paid for it.
var unpackFailure = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:writing blob: )?adding layer with blob "(sha256:[0-9a-f]{12})[0-9a-f]*"(?:/"[^"]*")*: unpacking failed \(error: [^;]*; output: (.*)\)$`)
})

// readableError is err with a message a user can act on; errors.Is and errors.As still see
// the original.
type readableError struct {
	msg string
	err error
}

func (e *readableError) Error() string { return e.msg }
func (e *readableError) Unwrap() error { return e.err }

// copyError rewrites containers/image and containers/storage failures that name internals
// (blob triples, helper exit statuses) into one line naming the layer and the cause.
func copyError(err error) error {
	if err == nil {
		return nil
	}
	if m := unpackFailure().FindStringSubmatch(err.Error()); m != nil {
		return &readableError{msg: fmt.Sprintf("layer %s cannot be unpacked: %s", m[1], m[2]), err: err}
	}
	return err
}
