package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/den-project/den/store/events"
	"github.com/den-project/den/store/image"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// PruneReport says what a prune removed.
type PruneReport struct {
	Containers []string
	Images     []string
	// Reclaimed is the storage the removed containers and images took, in bytes.
	Reclaimed int64
}

// PruneContainers removes every container that is not running, of those f selects (nil:
// all). A container that starts meanwhile is left alone.
func (r *Runtime) PruneContainers(ctx context.Context, f *ContainerFilter) (*PruneReport, error) {
	cs, err := r.Select(f, func(c *Container) bool { return c.State.Status != StatusRunning })
	if err != nil {
		return nil, err
	}
	rep := &PruneReport{}
	var errs []error
	for _, c := range cs {
		var size int64
		if r.storageExists() {
			st, err := r.Store()
			if err != nil {
				return rep, err
			}
			size, _ = st.ContainerSize(c.ID)
		}
		if _, err := r.Remove(ctx, c.ID, false); err != nil {
			if !errors.Is(err, ErrRunning) && !errors.Is(err, ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		rep.Containers = append(rep.Containers, c.ID)
		rep.Reclaimed += max(size, 0)
	}
	return rep, errors.Join(errs...)
}

// PruneImages removes images no container uses: with all every one of them, else only the
// dangling ones, which have no name.
func (r *Runtime) PruneImages(all bool) (*PruneReport, error) {
	if !r.storageExists() {
		return &PruneReport{}, nil
	}
	// A container removed a moment ago may still hold its image in storage.
	release, err := r.HoldRemovals()
	if err != nil {
		return nil, err
	}
	defer release()
	im, err := r.Images()
	if err != nil {
		return nil, err
	}
	imgs, err := im.List()
	if err != nil {
		return nil, err
	}
	rep := &PruneReport{}
	var errs []error
	for _, img := range imgs {
		if (!all && len(img.Names) > 0) || r.ImageInUse(img.ID) {
			continue
		}
		if _, _, err := im.Remove(img.ID, r.ImageInUse); err != nil {
			if !errors.Is(err, image.ErrInUse) && !errors.Is(err, image.ErrNotFound) {
				errs = append(errs, err)
			}
			continue
		}
		rep.Images = append(rep.Images, img.ID)
		rep.Reclaimed += max(img.Size, 0)
		// podman's prune publishes a remove event per image.
		r.PublishImage(events.StatusRemove, img.ID, strings.Join(img.Names, ","))
	}
	// What den keeps of images removed here, and by rmi before.
	if left, err := im.List(); err == nil {
		ids := make(map[string]bool, len(left))
		for _, img := range left {
			ids[img.ID] = true
		}
		r.pruneImageCaches(ids)
	}
	return rep, errors.Join(errs...)
}

// Reset removes every container, stopping those that run, and then all of den's state: the
// contents of the data and runtime directories, which hold storage with every image, the
// storage roots when den.toml puts them elsewhere, and the programs den keeps in its cache
// directory. It must run where storage files of
// subordinate ids can be removed: as root or in den's user namespace.
func (r *Runtime) Reset(ctx context.Context) error {
	release, err := r.HoldRemovals()
	if err != nil {
		return err
	}
	defer release()
	cs, err := r.recs.list()
	if err != nil {
		return err
	}
	var holders []State
	for _, c := range cs {
		if c.State.Status == StatusRunning && !reconcile(c) {
			holders = append(holders, c.State)
		}
		// Reset is the hammer: no grace period (podman's waits the stop timeout).
		if _, err := r.RemoveWithVolumes(ctx, c.ID, true, false, 0); err != nil && !errors.Is(err, ErrNotFound) {
			// What Remove could not take, the wipe below does.
			logrus.Warnf("removing container %s: %v", c.Name, err)
		}
	}
	// A monitor writes the exit and closes storage after its container is gone: it must be
	// finished before the files go, or it would write some back.
	waitHolders(holders, 10*time.Second)
	if r.st != nil {
		if _, err := r.st.Shutdown(true); err != nil {
			logrus.Warnf("closing storage: %v", err)
		}
		r.st = nil
	}
	graph, run := r.Paths.StorageRoots(r.Config)
	var errs []error
	for _, p := range []string{graph, run, r.Paths.CacheDir} {
		if p == "" {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	for _, dir := range []string{r.Paths.DataDir, r.Paths.RuntimeDir} {
		ents, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing den's state: %w", err)
	}
	return nil
}

// waitHolders waits for the den processes that held containers to exit, and kills those
// still there after timeout; their containers die with them.
func waitHolders(holders []State, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, h := range holders {
		for holderAlive(&h) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if holderAlive(&h) {
			_ = unix.Kill(h.Holder, unix.SIGKILL)
		}
	}
}
