package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/den-project/den/netstack"
	"github.com/den-project/den/store/record"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Container statuses, as podman names them in inspect.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusExited  = "exited"
	// StatusPaused is shown for a running container that is paused (State.Paused); the
	// record keeps "running".
	StatusPaused = "paused"
)

var (
	// ErrNotFound: no container has that name or id (prefix).
	ErrNotFound = errors.New("no such container")
	// ErrNameInUse: another container already has that name.
	ErrNameInUse = errors.New("name is already in use")
	// ErrAmbiguous: an id prefix matches more than one container.
	ErrAmbiguous = errors.New("more than one container matches")
	// ErrRunning: the operation needs a container that is not running.
	ErrRunning = errors.New("container is running")
)

// Container is the record den keeps for each container, one JSON file per container.
type Container struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Image     string            `json:"image"`
	ImageID   string            `json:"imageId"`
	ImageName string            `json:"imageName"`
	Created   time.Time         `json:"created"`
	Config    ContainerConfig   `json:"config"`
	State     State             `json:"state"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// ContainerConfig is what the user asked for at create time, resolved against the image.
type ContainerConfig struct {
	Args        []string `json:"args"`
	Env         []string `json:"env"`
	WorkingDir  string   `json:"workingDir"`
	User        string   `json:"user,omitempty"`
	Hostname    string   `json:"hostname"`
	Tty         bool     `json:"tty"`
	Interactive bool     `json:"interactive"`
	Remove      bool     `json:"remove"`
	Entrypoint  []string `json:"entrypoint,omitempty"`
	Cmd         []string `json:"cmd,omitempty"`
	StopSignal  string   `json:"stopSignal,omitempty"`
	// StopTimeout is the seconds stop waits by default before SIGKILL; nil in records made
	// before den had --stop-timeout, and when it was not given: DefaultStopTimeout.
	StopTimeout *uint         `json:"stopTimeout,omitempty"`
	Health      *HealthConfig `json:"health,omitempty"`
	// Restart is the restart policy: "no", "on-failure", "always", "unless-stopped".
	Restart           string `json:"restart,omitempty"`
	RestartMaxRetries int    `json:"restartMaxRetries,omitempty"`
	// Mounts are the volumes, bind mounts and tmpfs mounts, named volumes resolved.
	Mounts []Mount `json:"mounts,omitempty"`
	// Network is nil in records made before den had networking: a loopback interface only.
	Network *netstack.Config `json:"network,omitempty"`
	// Security is nil when the container has den's defaults.
	Security *SecurityConfig `json:"security,omitempty"`
	// GroupAdd are --group-add's groups, gids or names of the image's /etc/group.
	GroupAdd []string `json:"groupAdd,omitempty"`
	// Expose are the ports the container exposes, in the image's form ("80/tcp"): the
	// image's EXPOSE ports and --expose's (only --expose's in records made before den
	// 2026-12-05). -P published them, inspect shows those not published, and commit writes
	// them into the new image.
	Expose []string `json:"expose,omitempty"`
	// Devices are --device's HOST[:CONTAINER][:PERMS], read again at each start.
	Devices []string `json:"devices,omitempty"`
	// InitPath is the host's init program that --init bound in as the container's first
	// process, "" without --init.
	InitPath string `json:"initPath,omitempty"`
	// CIDFile is the file create --cidfile wrote the container's ID to, an absolute path:
	// removing the container removes it too, while it holds that ID.
	CIDFile string `json:"cidFile,omitempty"`
	// Umask is --umask, the container's processes' umask; nil for 0022.
	Umask *uint32 `json:"umask,omitempty"`
	// Sysctls are --sysctl's, of the container's own namespaces (security.ParseSysctl).
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// Timezone is --tz: a name under /usr/share/zoneinfo, or local; its file is bound at
	// /etc/localtime at each start.
	Timezone string `json:"timezone,omitempty"`
	// Annotations are --annotation's, the OCI annotations of the container's spec.
	Annotations map[string]string `json:"annotations,omitempty"`
	// LogDriver is --log-driver: "" or k8s-file for the log, none for no log; LogMaxSize
	// the size past which the log rotates (--log-opt max-size), 0 for den's 16 MB.
	LogDriver  string `json:"logDriver,omitempty"`
	LogMaxSize int64  `json:"logMaxSize,omitempty"`
}

// SecurityConfig is what --cap-add, --cap-drop, --privileged, --security-opt, --read-only,
// --shm-size and --ulimit asked for.
type SecurityConfig struct {
	CapAdd     []string `json:"capAdd,omitempty"`
	CapDrop    []string `json:"capDrop,omitempty"`
	Privileged bool     `json:"privileged,omitempty"`
	// SecurityOpt are the --security-opt values as given (security.ParseSecurityOpts reads
	// them).
	SecurityOpt []string `json:"securityOpt,omitempty"`
	// ReadOnly makes the root file system read-only, with tmpfs on /tmp, /var/tmp and /run.
	ReadOnly bool `json:"readOnly,omitempty"`
	// ShmSize is /dev/shm's size in bytes, 0 for 64 MB.
	ShmSize int64               `json:"shmSize,omitempty"`
	Ulimits []specs.POSIXRlimit `json:"ulimits,omitempty"`
	// Memory (bytes), NanoCPUs (CPUs in billionths) and PidsLimit are --memory, --cpus and
	// --pids-limit: cgroup limits, which only den as root can set; 0 for none.
	Memory    int64 `json:"memory,omitempty"`
	NanoCPUs  int64 `json:"nanoCpus,omitempty"`
	PidsLimit int64 `json:"pidsLimit,omitempty"`
}

// State is the mutable part of a record.
type State struct {
	Status string `json:"status"`
	// Paused is set while a running container's processes are frozen (den pause).
	Paused bool `json:"paused,omitempty"`
	Pid    int  `json:"pid,omitempty"`
	// PidStart is the start time of Pid in clock ticks, so a recycled pid is never signalled.
	PidStart uint64 `json:"pidStart,omitempty"`
	// StoppedByUser is set by stop and kill, so the restart policy does not bring it back.
	StoppedByUser bool `json:"stoppedByUser,omitempty"`
	// RestartCount counts restarts made by the restart policy.
	RestartCount int       `json:"restartCount,omitempty"`
	ExitCode     int       `json:"exitCode"`
	StartedAt    time.Time `json:"startedAt,omitzero"`
	FinishedAt   time.Time `json:"finishedAt,omitzero"`
	// Holder is the den process that is the container's parent, and HolderStart its start
	// time in clock ticks, so a recycled pid is not mistaken for it.
	Holder      int    `json:"holder,omitempty"`
	HolderStart uint64 `json:"holderStart,omitempty"`
	BootID      string `json:"bootId,omitempty"`
	// Health is the healthcheck's view, when the container has one.
	Health *HealthState `json:"health,omitempty"`
	// Error says why a container ended without an exit code (holder died, reboot).
	Error string `json:"error,omitempty"`
}

// ShortID is the 12-character id podman shows.
func (c *Container) ShortID() string { return c.ID[:12] }

// records is the on-disk layout of container records under DataDir/containers:
// <id>/container.json, <id>/lock, and names/<name> holding the id that owns name.
type records struct{ dir string }

// recordFile is a container's record, in the directory named by its id.
const recordFile = "container.json"

func (r records) path(id string) string     { return filepath.Join(r.dir, id, recordFile) }
func (r records) lockPath(id string) string { return filepath.Join(r.dir, id, "lock") }
func (r records) namesDir() string          { return filepath.Join(r.dir, "names") }
func (r records) registryLock() string      { return filepath.Join(r.dir, "names.lock") }

func newID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b[:])
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// ValidateName checks a user-chosen container name as podman does.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) || len(name) > 253 {
		return fmt.Errorf("container name %q is invalid: use letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	return nil
}

// makeDir makes the record directory of a container with id, and its lock file, before its
// record (Runtime.MakeRecordAhead).
func (r records) makeDir(id string) error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(r.dir, id), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(r.lockPath(id), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// dropEmptyDir removes the record directory of id if it holds no record (what makeDir made
// for a create that failed, or an interrupted create's), and says whether it did. Under the
// registry lock, which every create holds while it writes its record.
func (r records) dropEmptyDir(id string) (bool, error) {
	lk, err := record.Acquire(r.registryLock())
	if err != nil {
		return false, err
	}
	defer lk.Release()
	if _, err := os.Stat(r.path(id)); !errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := os.RemoveAll(filepath.Join(r.dir, id)); err != nil {
		return false, fmt.Errorf("removing container directory: %w", err)
	}
	return true, nil
}

// create registers a new record under its name. The name registry lock makes the check and
// the claim one step, so of many concurrent creates with one name exactly one wins. With
// syncLater the record and the name are not synced: the caller syncs them (records.sync)
// before it answers. made says the record's directory was made ahead (makeDir).
func (r records) create(c *Container, syncLater, made bool) error {
	if err := os.MkdirAll(r.namesDir(), 0o700); err != nil {
		return fmt.Errorf("creating container directory: %w", err)
	}
	lk, err := record.Acquire(r.registryLock())
	if err != nil {
		return err
	}
	defer lk.Release()
	namePath := filepath.Join(r.namesDir(), c.Name)
	if b, err := os.ReadFile(namePath); err == nil {
		owner := strings.TrimSpace(string(b))
		if _, err := os.Stat(r.path(owner)); err == nil {
			return fmt.Errorf("the container name %q is already in use by %s: %w; choose another name or remove that container", c.Name, owner, ErrNameInUse)
		}
		// A create killed before writing its record left the name behind.
		os.Remove(namePath)
	}
	if err := os.Mkdir(filepath.Join(r.dir, c.ID), 0o700); err != nil && !(made && errors.Is(err, fs.ErrExist)) {
		return fmt.Errorf("creating container directory: %w", err)
	}
	writeJSON, write := record.WriteJSON, record.WriteFile
	if c.Config.Remove || syncLater {
		writeJSON, write = record.WriteJSONVolatile, record.WriteFileVolatile
	}
	if err := writeJSON(r.path(c.ID), c); err != nil {
		os.RemoveAll(filepath.Join(r.dir, c.ID))
		return err
	}
	if err := write(namePath, []byte(c.ID+"\n"), 0o600); err != nil {
		os.RemoveAll(filepath.Join(r.dir, c.ID))
		return err
	}
	if owner := joinedOwner(c); owner != "" {
		// A mark in the record directory of the container whose namespace this one joins,
		// for rm to find it without reading every record. Best effort: a container gone
		// meanwhile has no directory to mark, and rm reads each mark's record to confirm.
		// An empty file: made whole or not at all, with no temporary file to leave behind.
		if err := os.Mkdir(r.joinedDir(owner), 0o700); err == nil || errors.Is(err, fs.ErrExist) {
			if f, err := os.OpenFile(filepath.Join(r.joinedDir(owner), c.ID), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err == nil {
				f.Close()
			}
		}
	}
	return nil
}

// joinedOwner is the id of the container whose network namespace c joins, or "".
func joinedOwner(c *Container) string {
	if n := c.Config.Network; n != nil && n.Mode == netstack.ModeContainer {
		return n.Container
	}
	return ""
}

// joinedDir holds an empty file for each container that joins id's network namespace.
func (r records) joinedDir(id string) string { return filepath.Join(r.dir, id, "joined") }

// joiners are the ids of the containers marked as joining id's network namespace whose
// records still say so.
func (r records) joiners(id string) []*Container {
	ents, err := os.ReadDir(r.joinedDir(id))
	if err != nil {
		return nil
	}
	var out []*Container
	for _, e := range ents {
		if c, err := r.load(e.Name()); err == nil && joinedOwner(c) == id {
			out = append(out, c)
		}
	}
	return out
}

// sync makes c's record and name, created with syncLater, durable. The record may be a newer
// one by then, which its writer (the monitor, begin) synced before it said so. A --rm
// container's are volatile by design and left so.
func (r records) sync(c *Container) error {
	if c.Config.Remove {
		return nil
	}
	if err := record.SyncFile(r.path(c.ID)); err != nil {
		return err
	}
	return record.SyncFile(filepath.Join(r.namesDir(), c.Name))
}

// remove deletes a record and frees its name. The caller holds the container's lock.
func (r records) remove(c *Container) error {
	aside, err := r.removeAside(c)
	if aside != "" {
		if rerr := os.RemoveAll(aside); rerr != nil {
			err = errors.Join(err, fmt.Errorf("removing container record: %w", rerr))
		}
	}
	return err
}

// removedPrefix begins the name a removed record's directory is moved to (removeAside).
const removedPrefix = ".removed-"

// removeAside is remove for a caller that deletes what it returns later, once it has
// answered: the record's directory is moved aside (to removedPrefix and the id, hidden from
// listings), and its name's file and its joined mark (joinedOwner) into it, renames that
// make the removal visible at once and free nothing. Deleting a file here waited 0.1 to 0.5
// ms for the file system to free it, and rm answers once the record is gone. A directory a
// kill left aside is deleted by system check.
func (r records) removeAside(c *Container) (string, error) {
	lk, err := record.Acquire(r.registryLock())
	if err != nil {
		return "", err
	}
	defer lk.Release()
	aside := filepath.Join(r.dir, removedPrefix+c.ID)
	err = os.Rename(filepath.Join(r.dir, c.ID), aside)
	if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
		// Left aside by an earlier removal of this id that was killed: that one goes now.
		os.RemoveAll(aside)
		err = os.Rename(filepath.Join(r.dir, c.ID), aside)
	}
	if err != nil {
		if !os.IsNotExist(err) {
			return "", fmt.Errorf("removing container record: %w", err)
		}
		aside = ""
	}
	// A file moved into the directory aside goes with it; without one, it is deleted.
	drop := func(path, as string) {
		if aside == "" || os.Rename(path, filepath.Join(aside, as)) != nil {
			os.Remove(path)
		}
	}
	namePath := filepath.Join(r.namesDir(), c.Name)
	if b, err := os.ReadFile(namePath); err == nil && strings.TrimSpace(string(b)) == c.ID {
		drop(namePath, ".name")
	}
	if owner := joinedOwner(c); owner != "" {
		drop(filepath.Join(r.joinedDir(owner), c.ID), ".joined")
	}
	return aside, nil
}

func (r records) load(id string) (*Container, error) {
	var c Container
	if err := record.ReadJSON(r.path(id), &c); err != nil {
		if record.IsNotExist(err) {
			return nil, fmt.Errorf("%s: %w", id, ErrNotFound)
		}
		return nil, err
	}
	return &c, nil
}

// exists reports whether container id has a record.
func (r records) exists(id string) bool {
	_, err := os.Stat(r.path(id))
	return err == nil
}

// save writes c's record. A --rm container's is not synced: such a container is not meant to
// outlast its run, let alone a power loss, and podman's storage of it is volatile too.
func (r records) save(c *Container) error {
	if c.Config.Remove {
		return record.WriteJSONVolatile(r.path(c.ID), c)
	}
	return record.WriteJSON(r.path(c.ID), c)
}

// prepare writes c's record, synced, for a Commit that puts it in place; not for a --rm
// container, whose record is volatile (save).
func (r records) prepare(c *Container) (*record.Prepared, error) {
	return record.PrepareJSON(r.path(c.ID), c)
}

// list loads every record, newest first. Records that vanish while listing are skipped.
func (r records) list() ([]*Container, error) {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	ids := make([]string, 0, len(ents))
	for _, e := range ents {
		if len(e.Name()) == 64 && e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	dir, err := record.OpenDir(r.dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	defer dir.Close()
	// Reading and decoding a thousand records is most of `ps -a`: spread it over the CPUs.
	loaded := make([]*Container, len(ids))
	workers := min(len(ids), 2*goruntime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var buf []byte
			for i := w; i < len(ids); i += workers {
				var c Container
				if err := dir.ReadJSON(ids[i]+"/"+recordFile, &buf, &c); err == nil {
					loaded[i] = &c
				}
			}
		}(w)
	}
	wg.Wait()
	out := make([]*Container, 0, len(ids))
	for _, c := range loaded {
		if c != nil {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// named is the id of the container named name, if there is one.
func (r records) named(name string) (string, bool) {
	if !nameRE.MatchString(name) {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(r.namesDir(), name))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// resolve finds a container by full name, full id or unique id prefix.
func (r records) resolve(ref string) (*Container, error) {
	if ref == "" {
		return nil, fmt.Errorf("empty container name: %w", ErrNotFound)
	}
	if b, err := os.ReadFile(filepath.Join(r.namesDir(), filepath.Base(ref))); err == nil && nameRE.MatchString(ref) {
		if c, err := r.load(strings.TrimSpace(string(b))); err == nil {
			return c, nil
		}
	}
	if len(ref) == 64 {
		if c, err := r.load(ref); err == nil {
			return c, nil
		}
	}
	if !isHex(ref) {
		return nil, fmt.Errorf("%s: %w", ref, ErrNotFound)
	}
	ents, err := os.ReadDir(r.dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var match string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ref) && len(e.Name()) == 64 {
			if match != "" {
				return nil, fmt.Errorf("%s: %w", ref, ErrAmbiguous)
			}
			match = e.Name()
		}
	}
	if match == "" {
		return nil, fmt.Errorf("%s: %w", ref, ErrNotFound)
	}
	return r.load(match)
}

// idOf is the id of the container ref names, as resolve finds it, without decoding its
// record where ref is a name or a whole id; "" when it names none.
func (r records) idOf(ref string) string {
	if b, err := os.ReadFile(filepath.Join(r.namesDir(), filepath.Base(ref))); err == nil && nameRE.MatchString(ref) {
		// A name left by a container gone is no answer: resolve goes on to id prefixes.
		if id := strings.TrimSpace(string(b)); fileExists(r.path(id)) {
			return id
		}
	}
	if len(ref) == 64 && isHex(ref) && fileExists(r.path(ref)) {
		return ref
	}
	if c, err := r.resolve(ref); err == nil {
		return c.ID
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return s != ""
}

// procStart returns a process's start time in clock ticks, 0 if it does not exist or is a
// zombie: a holder that died but was not reaped yet is dead all the same.
func procStart(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces and parentheses; fields resume after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0
	}
	var v uint64
	fmt.Sscan(f[19], &v)
	return v
}

// holderAlive reports whether the process recorded as the container's holder still runs.
func holderAlive(s *State) bool {
	if s.Holder <= 0 {
		return false
	}
	if err := unix.Kill(s.Holder, 0); err != nil && err != unix.EPERM {
		return false
	}
	start := procStart(s.Holder)
	return start != 0 && start == s.HolderStart
}
