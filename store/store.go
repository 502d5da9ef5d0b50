// Package store owns den's handle on containers/storage: the graph of images and layers and
// the container root filesystems made from them. Image operations live in store/image.
package store

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/den-project/den/config"
	"github.com/den-project/den/store/record"
	"github.com/sirupsen/logrus"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

// Driver names as den shows them.
const (
	DriverOverlay     = "overlay"
	DriverFuseOverlay = "overlay (fuse-overlayfs)"
	DriverVFS         = "vfs"
)

// Store is an open containers/storage store and the driver choice made for it.
type Store struct {
	cstorage.Store
	// Driver is one of the Driver constants.
	Driver string
}

// driverFile remembers the driver chosen for a graph root: a store must keep the driver its
// layers were made with.
const driverFile = "den-driver"

// ErrNoStore is returned by RecordedDriver when no image was ever stored.
var ErrNoStore = errors.New("no storage yet")

// RecordedDriver returns the containers/storage driver name ("overlay" or "vfs") that the
// graph root was created with, without opening it.
func RecordedDriver(graph string) (string, error) {
	b, err := os.ReadFile(filepath.Join(graph, driverFile))
	if err != nil {
		return "", ErrNoStore
	}
	if strings.TrimSpace(string(b)) == DriverVFS {
		return "vfs", nil
	}
	return "overlay", nil
}

// Open opens (creating if needed) the store below paths. The driver is den.toml's choice, else
// what this graph root used before, else the first that works: native overlay, fuse-overlayfs,
// vfs. It must run where layers can be written: as root or inside den's user namespace.
func Open(p *config.Paths, c *config.Config) (*Store, error) {
	graph, run := p.StorageRoots(c)

	for _, d := range []string{graph, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("creating storage directory: %w", err)
		}
	}
	var candidates []string
	if c != nil && c.Storage.Driver != "" {
		candidates = []string{c.Storage.Driver}
		if c.Storage.Driver == "overlay" {
			candidates = append(candidates, DriverFuseOverlay)
		}
	} else if b, err := os.ReadFile(filepath.Join(graph, driverFile)); err == nil {
		candidates = []string{strings.TrimSpace(string(b))}
	} else {
		candidates = []string{DriverOverlay, DriverFuseOverlay, DriverVFS}
	}
	var errs []error
	for _, d := range candidates {
		s, err := openWith(graph, run, d)
		if err == nil {
			if old, _ := os.ReadFile(filepath.Join(graph, driverFile)); strings.TrimSpace(string(old)) == d {
				return &Store{Store: s, Driver: d}, nil
			}
			if err := record.WriteFile(filepath.Join(graph, driverFile), []byte(d+"\n"), 0o600); err != nil {
				s.Shutdown(false)
				return nil, err
			}
			return &Store{Store: s, Driver: d}, nil
		}
		logrus.Debugf("storage driver %s unusable: %v", d, err)
		errs = append(errs, fmt.Errorf("%s: %w", d, err))
	}
	return nil, fmt.Errorf("opening storage in %s: %w", graph, errors.Join(errs...))
}

func openWith(graph, run, driver string) (cstorage.Store, error) {
	opts := types.StoreOptions{GraphRoot: graph, RunRoot: run}
	switch driver {
	case DriverOverlay:
		opts.GraphDriverName = "overlay"
		// The private bind mount of the graph root needs privileges: skipping it lets
		// read-only commands open the store from the host user namespace.
		opts.GraphDriverOptions = []string{"overlay.skip_mount_home=true"}
	case DriverFuseOverlay:
		prog, err := exec.LookPath("fuse-overlayfs")
		if err != nil {
			return nil, errors.New("fuse-overlayfs not found: install it with `sudo apt-get install fuse-overlayfs`")
		}
		opts.GraphDriverName = "overlay"
		opts.GraphDriverOptions = []string{"overlay.mount_program=" + prog, "overlay.skip_mount_home=true"}
	case DriverVFS:
		opts.GraphDriverName = "vfs"
	default:
		return nil, fmt.Errorf("unknown storage driver %q", driver)
	}
	return cstorage.GetStore(opts)
}

// CopiesLock is held shared by every den process that writes layers through containers/
// storage's staging directories (copies into storage, commit); see store/image.
const CopiesLock = "den-copies.lock"

// Close releases the store. containers/storage's shutdown also removes staging directories
// it takes for leaked, and it can take one that another process has just made and not yet
// locked (the layer being unpacked then vanishes). So the store is shut down only when no
// den process is writing layers; otherwise the process simply exits, which releases the
// same locks.
func (s *Store) Close() {
	if s == nil || s.Store == nil {
		return
	}
	lk, ok, err := record.TryAcquire(filepath.Join(s.GraphRoot(), CopiesLock))
	if err != nil || !ok {
		return
	}
	defer lk.Release()
	_, _ = s.Shutdown(false)
}
