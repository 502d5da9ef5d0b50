// Package volume owns den's named volumes: directories under DataDir/volumes that outlive
// the containers using them, as podman's "local" driver keeps them.
//
// Layout, one directory per volume:
//
//	volumes/NAME/volume.json   the record (written atomically under the volume's lock)
//	volumes/NAME/lock          the volume's lock
//	volumes/NAME/_data         what containers see
//
// Creating the directory is what claims a name, so two creates of one name race safely.
// Which containers use a volume is known from the containers' records, not from the
// volume's: runtime/ answers "in use" questions.
package volume

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/den-project/den/store/record"
)

// ErrNotFound is returned for a volume that does not exist.
var ErrNotFound = errors.New("no such volume")

// ErrExists is returned when creating a volume whose name is taken.
var ErrExists = errors.New("volume already exists")

// ErrInUse is returned when removing a volume that a container uses.
var ErrInUse = errors.New("volume is being used")

// Volume is one volume's record.
type Volume struct {
	Name       string            `json:"name"`
	Driver     string            `json:"driver"`
	Mountpoint string            `json:"mountpoint"`
	CreatedAt  time.Time         `json:"createdAt"`
	Labels     map[string]string `json:"labels,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	// Anonymous volumes are made for `-v /path` and image VOLUMEs; `rm -v` and `--rm`
	// remove them with their container.
	Anonymous bool `json:"anonymous,omitempty"`
	// NeedsCopyUp is true until the first container that mounts the volume has copied the
	// image's content at the mount point into it.
	NeedsCopyUp bool `json:"needsCopyUp,omitempty"`
}

// Store is the volumes directory of one den installation.
type Store struct {
	dir string
}

// New returns the volume store under dataDir.
func New(dataDir string) *Store { return &Store{dir: filepath.Join(dataDir, "volumes")} }

const (
	recordName = "volume.json"
	lockName   = "lock"
	dataName   = "_data"
)

// nameRE is podman's rule for volume names: no slashes, no leading dot or dash.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidateName refuses names that are not podman volume names.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) || len(name) > 255 {
		return fmt.Errorf("volume name %q is invalid: use letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	return nil
}

// CreateOptions describe a new volume.
type CreateOptions struct {
	// Name is the volume's name; empty gives a random 64-hex name (as anonymous volumes have).
	Name      string
	Labels    map[string]string
	Options   map[string]string
	Anonymous bool
}

// knownOptions are the driver options den accepts. podman's local driver mounts devices
// with type/device/o, which needs root; den keeps plain directories and accepts only the
// ownership of the volume's root.
var knownOptions = map[string]bool{"uid": true, "gid": true}

// Create makes a volume. The name must be free.
func (s *Store) Create(o CreateOptions) (*Volume, error) {
	if o.Name == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		o.Name = hex.EncodeToString(b[:])
	}
	if err := ValidateName(o.Name); err != nil {
		return nil, err
	}
	for k := range o.Options {
		if !knownOptions[k] {
			return nil, fmt.Errorf("volume option %q is not supported: den's volumes are plain directories (options: uid, gid)", k)
		}
	}
	uid, gid, err := ownerOptions(o.Options)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the volumes directory: %w", err)
	}
	dir := filepath.Join(s.dir, o.Name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("volume %s: %w", o.Name, ErrExists)
		}
		return nil, fmt.Errorf("creating volume %s: %w", o.Name, err)
	}
	v := &Volume{
		Name: o.Name, Driver: "local", Mountpoint: filepath.Join(dir, dataName), CreatedAt: time.Now(),
		Labels: o.Labels, Options: o.Options, Anonymous: o.Anonymous, NeedsCopyUp: true,
	}
	err = func() error {
		if err := os.Mkdir(v.Mountpoint, 0o755); err != nil {
			return err
		}
		if uid >= 0 || gid >= 0 {
			if err := os.Lchown(v.Mountpoint, uid, gid); err != nil {
				return err
			}
		}
		return record.WriteJSON(filepath.Join(dir, recordName), v)
	}()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("creating volume %s: %w", o.Name, err)
	}
	return v, nil
}

func ownerOptions(opts map[string]string) (uid, gid int, err error) {
	uid, gid = -1, -1
	for k, p := range map[string]*int{"uid": &uid, "gid": &gid} {
		v, ok := opts[k]
		if !ok {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != v {
			return 0, 0, fmt.Errorf("volume option %s=%q: want a number", k, v)
		}
		*p = n
	}
	return uid, gid, nil
}

// Get loads a volume's record.
func (s *Store) Get(name string) (*Volume, error) {
	if ValidateName(name) != nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	var v Volume
	if err := record.ReadJSON(filepath.Join(s.dir, name, recordName), &v); err != nil {
		if record.IsNotExist(err) {
			return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
		}
		return nil, err
	}
	return &v, nil
}

// Exists reports whether a volume exists.
func (s *Store) Exists(name string) bool {
	_, err := s.Get(name)
	return err == nil
}

// List returns every volume, by name. Half-created volumes (no record yet) are skipped.
func (s *Store) List() ([]*Volume, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing volumes: %w", err)
	}
	var out []*Volume
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if v, err := s.Get(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LockUsers takes the lock that orders containers taking volumes against volumes going:
// a create holds it from resolving its volumes to writing its record, a removal from
// checking a volume's users to deleting it. Without it a volume could be removed between a
// create's finding it and its record naming it. The lock file's name is not a valid volume
// name, so List never sees it.
func (s *Store) LockUsers() (*record.Lock, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the volumes directory: %w", err)
	}
	return record.Acquire(filepath.Join(s.dir, ".users.lock"))
}

// Lock takes a volume's lock, for work that must not overlap on one volume (copy-up,
// removal).
func (s *Store) Lock(name string) (*record.Lock, error) {
	if ValidateName(name) != nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return record.Acquire(filepath.Join(s.dir, name, lockName))
}

// Update rewrites a volume's record; the caller holds its lock.
func (s *Store) Update(v *Volume) error {
	return record.WriteJSON(filepath.Join(s.dir, v.Name, recordName), v)
}

// Remove deletes a volume and its data. The caller has checked that no container uses it.
// The record goes first, so a removal killed half-way leaves a directory that List skips
// and Remove of the same name finishes.
func (s *Store) Remove(name string) error {
	if ValidateName(name) != nil {
		return fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	dir := filepath.Join(s.dir, name)
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err := os.Remove(filepath.Join(dir, recordName)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	return nil
}

// Filter is a parsed `volume ls --filter` / `volume prune --filter` expression.
type Filter struct {
	key, value string
}

// ParseFilter parses KEY=VALUE for the keys podman's volume commands take.
func ParseFilter(s string) (Filter, error) {
	k, v, ok := strings.Cut(s, "=")
	switch {
	case !ok || v == "":
		return Filter{}, fmt.Errorf("volume filter %q: want KEY=VALUE with KEY one of name, label, driver, dangling", s)
	case k == "name" || k == "label" || k == "driver":
	case k == "dangling":
		if v != "true" && v != "false" {
			return Filter{}, fmt.Errorf("volume filter %q: dangling is true or false", s)
		}
	default:
		return Filter{}, fmt.Errorf("volume filter %q: unknown key %q (name, label, driver, dangling)", s, k)
	}
	return Filter{key: k, value: v}, nil
}

// MatchAll applies podman's rule for several filters: those with the same key match when
// any of them does, and every key must match.
func MatchAll(filters []Filter, v *Volume, inUse bool) bool {
	byKey := map[string]bool{}
	for _, f := range filters {
		byKey[f.key] = byKey[f.key] || f.Match(v, inUse)
	}
	for _, ok := range byKey {
		if !ok {
			return false
		}
	}
	return true
}

// Match reports whether v passes the filter; inUse tells whether a container uses it.
func (f Filter) Match(v *Volume, inUse bool) bool {
	switch f.key {
	case "name":
		return strings.Contains(v.Name, f.value)
	case "driver":
		return v.Driver == f.value
	case "dangling":
		return inUse == (f.value == "false")
	case "label":
		k, val, hasVal := strings.Cut(f.value, "=")
		got, ok := v.Labels[k]
		return ok && (!hasVal || got == val)
	}
	return false
}
