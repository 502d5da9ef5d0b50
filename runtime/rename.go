package runtime

import (
	"fmt"
	"github.com/den-project/den/store/events"
	"os"
	"path/filepath"
	"strings"

	"github.com/den-project/den/store/record"
)

// Rename gives a container a new name, whether it runs or not. It holds the container's lock
// and then the name registry lock, the order remove takes them in, so every other den sees
// the old name or the new one and never both free or both taken.
func (r *Runtime) Rename(ref, name string) (*Container, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	c, err := r.recs.resolve(ref)
	if err != nil {
		return nil, err
	}
	lk, err := r.lockContainer(c.ID)
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	// What resolve read may be older than the lock: a concurrent rename or exit.
	if c, err = r.recs.load(c.ID); err != nil {
		return nil, err
	}
	if err := r.recs.rename(c, name); err != nil {
		return nil, err
	}
	r.publish(c, events.StatusRename)
	return c, nil
}

// rename moves c's registry entry to name and rewrites its record. The caller holds c's lock.
// The new entry is written first and the old removed last, so a crash in between leaves an
// extra entry, which system check removes, never a container without its name.
func (r records) rename(c *Container, name string) error {
	lk, err := record.Acquire(r.registryLock())
	if err != nil {
		return err
	}
	defer lk.Release()
	newPath := filepath.Join(r.namesDir(), name)
	if b, err := os.ReadFile(newPath); err == nil {
		owner := strings.TrimSpace(string(b))
		// An entry left by an interrupted rename names a record with another name: free.
		if oc, err := r.load(owner); err == nil && oc.Name == name {
			return fmt.Errorf("the container name %q is already in use by %s: %w; choose another name or remove that container", name, owner, ErrNameInUse)
		}
	}
	old := c.Name
	if err := record.WriteFile(newPath, []byte(c.ID+"\n"), 0o600); err != nil {
		return err
	}
	c.Name = name
	if err := r.save(c); err != nil {
		os.Remove(newPath)
		c.Name = old
		return err
	}
	oldPath := filepath.Join(r.namesDir(), old)
	if b, err := os.ReadFile(oldPath); err == nil && strings.TrimSpace(string(b)) == c.ID {
		os.Remove(oldPath)
	}
	return nil
}
