package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/den-project/den/store"
	"github.com/den-project/den/store/record"
)

// Finding is one inconsistency system check found, and what its repair did.
type Finding struct {
	// Problem says what is wrong, naming the container or entry.
	Problem string
	// Repair says what was done about it; empty when nothing was (not asked, or no safe fix).
	Repair string
	// Err is why a repair failed.
	Err error
}

// Resolved reports whether the repair fixed the problem.
func (f Finding) Resolved() bool { return f.Repair != "" && f.Err == nil }

func (f Finding) String() string {
	switch {
	case f.Err != nil:
		return f.Problem + ": repair failed: " + oneLineErr(f.Err)
	case f.Repair != "":
		return f.Problem + ": " + f.Repair
	}
	return f.Problem
}

func oneLineErr(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// CheckOptions are the choices of `system check`.
type CheckOptions struct {
	// Repair fixes what can be fixed without guessing.
	Repair bool
}

// checkGrace is how old a record or a temporary file must be before check judges it: a
// create writes its record a moment before its storage, and every write goes through a
// temporary file.
const checkGrace = time.Minute

// checkStorage is what system check needs of containers/storage; tests stand in a map.
type checkStorage interface {
	containerIDs() (map[string]bool, error)
	deleteContainer(id string) error
	unmount(id string)
}

// openStorage is the real checkStorage: the store, opened on first use.
type openStorage struct{ r *Runtime }

func (s openStorage) containerIDs() (map[string]bool, error) {
	if !s.r.storageExists() {
		return nil, nil
	}
	st, err := s.r.Store()
	if err != nil {
		return nil, err
	}
	cs, err := st.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing storage containers: %w", err)
	}
	ids := make(map[string]bool, len(cs))
	for _, c := range cs {
		ids[c.ID] = true
	}
	return ids, nil
}

func (s openStorage) deleteContainer(id string) error { return s.r.deleteStorage(id) }

func (s openStorage) unmount(id string) {
	if st, err := s.r.Store(); err == nil {
		_, _ = st.Unmount(id, true)
	}
}

// storageExists reports whether storage was ever created, so that commands that only clean
// up do not create it, and with it choose a driver, on a fresh installation.
func (r *Runtime) storageExists() bool {
	if r.st != nil {
		return true
	}
	graph, _ := r.Paths.StorageRoots(r.Config)
	_, err := store.RecordedDriver(graph)
	return !errors.Is(err, store.ErrNoStore)
}

// Check compares den's container records, their name registry, containers/storage, the
// runtime directory and the processes holding containers, and reports every disagreement.
// With Repair it fixes each one it safely can, under the same locks the commands that make
// such state take. It must run where storage can be opened: as root or in den's namespace.
func (r *Runtime) Check(o CheckOptions) ([]Finding, error) {
	// A removal half done (removals.go) is not an inconsistency: it is let finish first.
	release, err := r.HoldRemovals()
	if err != nil {
		return nil, err
	}
	defer release()
	return r.check(openStorage{r}, o.Repair, time.Now())
}

// recordsSnapshot is the record side of the state, read under the name registry lock so
// that no create, remove or rename is half seen.
type recordsSnapshot struct {
	// recs holds every record directory: a record, or nil when it holds none.
	recs map[string]*Container
	// broken holds the directories whose record cannot be read.
	broken map[string]error
	// names maps each names/ entry to the id it holds.
	names map[string]string
	// temps are temporary files of interrupted writes and the directories of removed
	// records that their removers left aside (records.removeAside), old enough to be
	// abandoned.
	temps []string
	// young are the record directories without a record made less than checkGrace ago:
	// creates in progress, whose directory and storage come before the record
	// (Runtime.MakeRecordAhead, CreateStorageAhead, createAhead). They are not judged, nor
	// is their storage.
	young map[string]bool
}

func (r *Runtime) snapshotRecords(now time.Time) (*recordsSnapshot, error) {
	s := &recordsSnapshot{recs: map[string]*Container{}, broken: map[string]error{}, names: map[string]string{}, young: map[string]bool{}}
	if _, err := os.Stat(r.recs.dir); os.IsNotExist(err) {
		return s, nil
	}
	lk, err := record.AcquireShared(r.recs.registryLock())
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	ents, err := os.ReadDir(r.recs.dir)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), removedPrefix) {
			// A removed record's directory that its remover was killed before deleting.
			if fi, err := e.Info(); err == nil && now.Sub(changedAt(fi)) > checkGrace {
				s.temps = append(s.temps, filepath.Join(r.recs.dir, e.Name()))
			}
			continue
		}
		if !e.IsDir() || !isContainerID(e.Name()) {
			continue
		}
		id := e.Name()
		s.temps = append(s.temps, staleTemps(filepath.Join(r.recs.dir, id), now)...)
		c, err := r.recs.load(id)
		switch {
		case errors.Is(err, ErrNotFound):
			if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) <= checkGrace {
				s.young[id] = true
				continue
			}
			s.recs[id] = nil
		case err != nil:
			s.broken[id] = err
		default:
			s.recs[id] = c
		}
	}
	nents, err := os.ReadDir(r.recs.namesDir())
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("listing container names: %w", err)
	}
	for _, e := range nents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.recs.namesDir(), e.Name()))
		if err != nil {
			continue
		}
		s.names[e.Name()] = strings.TrimSpace(string(b))
	}
	s.temps = append(s.temps, staleTemps(r.recs.namesDir(), now)...)
	return s, nil
}

// staleTemps lists record.WriteFile's temporary files in dir that are older than the grace.
func staleTemps(dir string, now time.Time) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), ".tmp") {
			continue
		}
		if fi, err := e.Info(); err == nil && now.Sub(changedAt(fi)) > checkGrace {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// changedAt is when fi's file last changed, its contents or its links and name: a file
// linked or moved aside keeps its old modification time (record.CommitKeepingOld,
// records.removeAside), and its age counts from the move.
func changedAt(fi fs.FileInfo) time.Time {
	t := fi.ModTime()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if c := time.Unix(st.Ctim.Unix()); c.After(t) {
			t = c
		}
	}
	return t
}

func isContainerID(s string) bool { return len(s) == 64 && isHex(s) }

func describeContainer(c *Container) string {
	return fmt.Sprintf("container %s (%s)", c.ShortID(), c.Name)
}

// checker runs one system check.
type checker struct {
	r        *Runtime
	st       checkStorage
	repair   bool
	now      time.Time
	findings []Finding
}

// report adds a finding and, when repairing, runs fix: it returns what it did ("" when on a
// second look there was nothing to do) or why it could not.
func (k *checker) report(problem string, fix func() (string, error)) {
	f := Finding{Problem: problem}
	if k.repair && fix != nil {
		f.Repair, f.Err = fix()
		if f.Repair == "" && f.Err == nil {
			f.Repair = "nothing left to repair"
		}
	}
	k.findings = append(k.findings, f)
}

func (r *Runtime) check(st checkStorage, repair bool, now time.Time) ([]Finding, error) {
	k := &checker{r: r, st: st, repair: repair, now: now}
	// Storage is listed before the records: create writes its record first, so a storage
	// container listed here whose record is missing afterwards is never a create in progress.
	stored, err := st.containerIDs()
	if err != nil {
		return nil, err
	}
	snap, err := r.snapshotRecords(now)
	if err != nil {
		return nil, err
	}
	for _, id := range sortedIDs(snap.broken) {
		k.report(fmt.Sprintf("container %s: its record cannot be read (%s)", id[:12], oneLineErr(snap.broken[id])),
			func() (string, error) { return k.dropUnreadable(id) })
	}
	for _, id := range sortedIDs(snap.recs) {
		if snap.recs[id] == nil {
			k.report(fmt.Sprintf("container directory %s holds no record (an interrupted create or remove)", id[:12]),
				func() (string, error) { return k.dropEmptyDir(id) })
		}
	}
	for _, id := range sortedIDs(stored) {
		if _, ok := snap.recs[id]; ok && snap.recs[id] != nil {
			continue
		}
		if _, ok := snap.broken[id]; ok || snap.young[id] {
			continue
		}
		k.report(fmt.Sprintf("storage container %s has no den record", shortRef(id)),
			func() (string, error) { return k.dropOrphanStorage(id) })
	}
	stale := map[string]bool{}
	for _, id := range sortedIDs(snap.recs) {
		c := snap.recs[id]
		if c == nil {
			continue
		}
		cur := *c
		stale[id] = reconcile(&cur)
		switch {
		case !stored[id] && now.Sub(c.Created) > checkGrace:
			// Removing it settles a dead holder's leftovers too.
			k.report(describeContainer(c)+" has no storage", func() (string, error) { return k.dropStorageless(id) })
		case stale[id]:
			k.report(describeContainer(c)+" is recorded running, but "+deathCause(c), func() (string, error) { return k.settle(id) })
		}
	}
	k.checkNames(snap)
	k.checkRuntimeDirs(snap, stale)
	for _, p := range snap.temps {
		what := "leftover temporary file "
		if strings.HasPrefix(filepath.Base(p), removedPrefix) {
			what = "leftover directory of a removed container "
		}
		k.report(what+p, func() (string, error) {
			if err := os.RemoveAll(p); err != nil {
				return "", err
			}
			return "removed it", nil
		})
	}
	return k.findings, nil
}

// deathCause says why a running record is stale, as reconcile judges it.
func deathCause(c *Container) string {
	if c.State.BootID != bootID() {
		return "the machine rebooted since it started"
	}
	return fmt.Sprintf("the den process holding it (pid %d) is gone", c.State.Holder)
}

func sortedIDs[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkNames compares the name registry with the records: every entry must name a record
// of that name, and every record must own the entry of its name.
func (k *checker) checkNames(s *recordsSnapshot) {
	named := func(id, name string) bool {
		c := s.recs[id]
		return c != nil && c.Name == name
	}
	for _, name := range sortedIDs(s.names) {
		id := s.names[name]
		if _, broken := s.broken[id]; broken {
			continue // dropping the unreadable record frees its names
		}
		switch c := s.recs[id]; {
		case c == nil:
			k.report(fmt.Sprintf("name %q points to container %s, which does not exist", name, shortRef(id)),
				func() (string, error) { return k.dropName(name, id) })
		case c.Name != name:
			k.report(fmt.Sprintf("name %q points to %s, which has another name (an interrupted rename)", name, describeContainer(c)),
				func() (string, error) { return k.dropName(name, id) })
		}
	}
	for _, id := range sortedIDs(s.recs) {
		c := s.recs[id]
		if c == nil {
			continue
		}
		owner, ok := s.names[c.Name]
		switch {
		case ok && owner == id:
		case ok && named(owner, c.Name):
			k.report(fmt.Sprintf("%s and container %s have the same name: rename one with `den rename`", describeContainer(c), shortRef(owner)), nil)
		default:
			k.report(describeContainer(c)+" is missing from the name registry", func() (string, error) { return k.registerName(id) })
		}
	}
}

func shortRef(id string) string { return id[:min(12, len(id))] }

// checkRuntimeDirs finds runtime state of containers that are not running: a container
// directory of an unknown container or with a control socket nobody serves, and libcontainer
// state. Containers whose holder died are left to settle, which cleans up after them.
func (k *checker) checkRuntimeDirs(s *recordsSnapshot, stale map[string]bool) {
	for _, dir := range []string{"containers", "runc"} {
		ents, _ := os.ReadDir(filepath.Join(k.r.Paths.RuntimeDir, dir))
		for _, e := range ents {
			id := e.Name()
			if !isContainerID(id) || stale[id] {
				continue
			}
			if _, broken := s.broken[id]; broken {
				continue
			}
			if !k.leftover(dir, id) {
				continue
			}
			k.report(fmt.Sprintf("leftover runtime state %s of container %s, which is not running", filepath.Join(dir, id[:12]), id[:12]),
				func() (string, error) {
					if !k.leftover(dir, id) {
						return "", nil
					}
					if dir == "runc" {
						clearStaleState(k.r.stateRoot(), id)
					} else if err := os.RemoveAll(k.r.runDir(id)); err != nil {
						return "", err
					}
					return "removed it", nil
				})
		}
	}
}

// leftover decides, under the container's lock that start and exit hold while they make and
// remove runtime state, whether RuntimeDir/dir/id is left over.
func (k *checker) leftover(dir, id string) bool {
	lk, err := k.r.lockContainer(id)
	if err != nil {
		// No record directory: no container, so nothing of it can be in use.
		return true
	}
	defer lk.Release()
	c, err := k.r.recs.load(id)
	if err != nil {
		return errors.Is(err, ErrNotFound)
	}
	reconcile(c)
	if c.State.Status == StatusRunning {
		return false
	}
	if dir == "runc" {
		return true
	}
	// An exited container keeps its /etc files for the next start; a socket means its holder
	// died without cleaning up.
	_, err = os.Lstat(filepath.Join(k.r.runDir(id), controlSocket))
	return err == nil
}

// dropEmptyDir removes a record directory without a record. Under the registry lock, which
// create and remove hold while the directory lacks its record, it cannot be one in progress.
func (k *checker) dropEmptyDir(id string) (string, error) {
	if removed, err := k.r.recs.dropEmptyDir(id); !removed {
		return "", err
	}
	return "removed it", nil
}

// dropOrphanStorage deletes a storage container no record claims. Its record can come back
// only through a new create, which never reuses an id.
func (k *checker) dropOrphanStorage(id string) (string, error) {
	if _, err := os.Stat(k.r.recs.path(id)); err == nil {
		return "", nil
	}
	if err := k.st.deleteContainer(id); err != nil {
		return "", err
	}
	return "deleted it from storage", nil
}

// dropStorageless removes the record of a container whose storage is gone: nothing of its
// root filesystem is left to keep.
func (k *checker) dropStorageless(id string) (string, error) {
	c, lk, err := k.r.lockedRecord(id)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer lk.Release()
	if reconcile(c) {
		k.cleanAfterHolder(c)
	}
	if c.State.Status == StatusRunning {
		return "", fmt.Errorf("it is running: stop it with `den stop %s` first", c.Name)
	}
	os.RemoveAll(k.r.runDir(id))
	if err := k.r.recs.remove(c); err != nil {
		return "", err
	}
	removeCIDFile(c)
	return "removed the container", nil
}

// dropUnreadable removes a container whose record cannot be read: no command can use or
// remove it otherwise.
func (k *checker) dropUnreadable(id string) (string, error) {
	lk, err := k.r.lockContainer(id)
	if err != nil {
		return "", err
	}
	defer lk.Release()
	if err := k.st.deleteContainer(id); err != nil {
		return "", err
	}
	clearStaleState(k.r.stateRoot(), id)
	os.RemoveAll(k.r.runDir(id))
	rl, err := record.Acquire(k.r.recs.registryLock())
	if err != nil {
		return "", err
	}
	defer rl.Release()
	ents, _ := os.ReadDir(k.r.recs.namesDir())
	for _, e := range ents {
		p := filepath.Join(k.r.recs.namesDir(), e.Name())
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == id {
			os.Remove(p)
		}
	}
	if err := os.RemoveAll(filepath.Join(k.r.recs.dir, id)); err != nil {
		return "", fmt.Errorf("removing container directory: %w", err)
	}
	return "removed the container", nil
}

// dropName removes a names/ entry if it still holds id and id still lacks a record of that
// name.
func (k *checker) dropName(name, id string) (string, error) {
	lk, err := record.Acquire(k.r.recs.registryLock())
	if err != nil {
		return "", err
	}
	defer lk.Release()
	p := filepath.Join(k.r.recs.namesDir(), name)
	b, err := os.ReadFile(p)
	if err != nil || strings.TrimSpace(string(b)) != id {
		return "", nil
	}
	if c, err := k.r.recs.load(id); err == nil && c.Name == name {
		return "", nil
	}
	if err := os.Remove(p); err != nil {
		return "", fmt.Errorf("removing name entry: %w", err)
	}
	return "removed the entry", nil
}

// registerName writes the names/ entry of a record that lacks it, unless another container
// of that name owns it.
func (k *checker) registerName(id string) (string, error) {
	c, lk, err := k.r.lockedRecord(id)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer lk.Release()
	rl, err := record.Acquire(k.r.recs.registryLock())
	if err != nil {
		return "", err
	}
	defer rl.Release()
	p := filepath.Join(k.r.recs.namesDir(), c.Name)
	if b, err := os.ReadFile(p); err == nil {
		owner := strings.TrimSpace(string(b))
		if owner == id {
			return "", nil
		}
		if oc, err := k.r.recs.load(owner); err == nil && oc.Name == c.Name {
			return "", fmt.Errorf("container %s has the name now: rename one of them with `den rename`", shortRef(owner))
		}
	}
	if err := os.MkdirAll(k.r.recs.namesDir(), 0o700); err != nil {
		return "", err
	}
	if err := record.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	return "registered its name", nil
}

// settle persists the exit of a container whose holder died and cleans up what the holder
// left; a --rm container is removed, as it asked.
func (k *checker) settle(id string) (string, error) {
	c, lk, err := k.r.lockedRecord(id)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer lk.Release()
	if !reconcile(c) {
		return "", nil
	}
	k.cleanAfterHolder(c)
	if c.Config.Remove {
		if err := k.st.deleteContainer(id); err != nil {
			return "", err
		}
		if err := k.r.recs.remove(c); err != nil {
			return "", err
		}
		removeCIDFile(c)
		return "removed it, as --rm asked", nil
	}
	if err := k.r.recs.save(c); err != nil {
		return "", err
	}
	return "recorded it exited", nil
}

// cleanAfterHolder undoes what a dead holder left: the rootfs mount it counted, libcontainer's
// state and the runtime directory with its dead control socket.
func (k *checker) cleanAfterHolder(c *Container) {
	k.st.unmount(c.ID)
	clearStaleState(k.r.stateRoot(), c.ID)
	os.RemoveAll(k.r.runDir(c.ID))
}
