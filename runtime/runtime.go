// Package runtime owns the lifecycle of containers: their records on disk, their root
// filesystems, and running their processes through runc's libcontainer, which only this
// package imports. It never prints: callers in cmd/ turn its results and errors into output.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/den-project/den/config"
	"github.com/den-project/den/netstack"
	"github.com/den-project/den/runtime/userns"
	"github.com/den-project/den/store"
	"github.com/den-project/den/store/events"
	"github.com/den-project/den/store/image"
	"github.com/den-project/den/store/record"
	"github.com/sirupsen/logrus"
	"go.podman.io/storage"
	"golang.org/x/sys/unix"
)

// Runtime is den's handle on its state for one invocation. Storage is opened lazily, so
// read-only commands never pay for it.
type Runtime struct {
	Paths  *config.Paths
	Config *config.Config
	recs   records
	// stMu guards st: commands remove or stop several containers at once (cmd's inParallel).
	stMu sync.Mutex
	st   *store.Store
	// Report receives progress lines of image operations; nil discards them.
	Report interface{ Write([]byte) (int, error) }
	// pending are the storage deletions left for after the answer (removals.go).
	pending pendingRemovals
	// deferred are the containers this invocation created without storage (DeferStorage),
	// with the store's driver: their start knows they are new without opening storage.
	deferred sync.Map
	// rootfsGiven, when not nil, opens once the container StartHeld starts has its root
	// filesystem, or will not get it from this start.
	rootfsGiven *gate
	// recordAhead is the record directory MakeRecordAhead began, until a create takes it.
	recordAhead *recordDir
	// storageAhead is the storage CreateStorageAhead began for recordAhead's container,
	// until a create takes it.
	storageAhead *storageAhead
	// createUnpublished is the container whose create left its create event to its start
	// (a held run -d's), until that start publishes it.
	createUnpublished string
	// kept are files this invocation replaced or removed on its way to its answer, kept
	// (linked, or moved aside) so that it did not wait for the file system to free them
	// (record.CommitKeepingOld, records.removeAside); Close deletes them.
	keptMu sync.Mutex
	kept   []string
}

// removeLater has Close (dropKept) delete the files or directories at paths ("" for none).
func (r *Runtime) removeLater(paths ...string) {
	r.keptMu.Lock()
	defer r.keptMu.Unlock()
	for _, p := range paths {
		if p != "" {
			r.kept = append(r.kept, p)
		}
	}
}

// recordDir is the record directory of a container not created yet: its id, and once done
// is closed, how making it went.
type recordDir struct {
	id   string
	done chan struct{}
	err  error
}

// makeRecordDir begins making the record directory and lock file of a container with id
// on another goroutine.
func (r *Runtime) makeRecordDir(id string) *recordDir {
	a := &recordDir{id: id, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.err = r.recs.makeDir(id)
	}()
	return a
}

// MakeRecordAhead draws the id of the container this command is about to create and begins
// making its record directory and lock file, for a detached run that starts its container
// with an init started ahead: two file creations on the start's path (some 0.3 ms each
// here) that the create then finds done. The next create given no id takes it. Until the
// record is written, system check takes such a directory for a create in progress
// (checkGrace); a create that fails before its record removes it.
func (r *Runtime) MakeRecordAhead() { r.recordAhead = r.makeRecordDir(newID()) }

// DropRecordAhead removes the record directory MakeRecordAhead made if no create took it (the
// command failed before its create), and the storage CreateStorageAhead made first.
func (r *Runtime) DropRecordAhead() {
	if s := r.storageAhead; s != nil {
		r.storageAhead = nil
		r.dropStorageAhead(s)
	}
	if a := r.recordAhead; a != nil {
		r.recordAhead = nil
		<-a.done
		if a.err == nil {
			_, _ = r.recs.dropEmptyDir(a.id)
		}
	}
}

// gate is a channel closed once.
type gate struct {
	once sync.Once
	ch   chan struct{}
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

// open opens g; nothing on a nil gate.
func (g *gate) open() {
	if g != nil {
		g.once.Do(func() { close(g.ch) })
	}
}

// deferredStorage is a container this invocation created without its storage.
type deferredStorage struct {
	driver string
	// ahead, when not nil, is closed once the creation of the storage that create began
	// (createAhead) is over; err is how it went.
	ahead chan struct{}
	err   error
}

// deferStorage notes that this invocation created container id without its storage.
func (r *Runtime) deferStorage(id, driver string) *deferredStorage {
	d := &deferredStorage{driver: driver}
	r.deferred.Store(id, d)
	return d
}

// deferredDriver is the store's driver if this invocation created container id without its
// storage.
func (r *Runtime) deferredDriver(id string) (string, bool) {
	v, ok := r.deferred.Load(id)
	if !ok {
		return "", false
	}
	return v.(*deferredStorage).driver, true
}

// createAhead begins creating the storage of c, which create defers, at once and beside the
// rest of the command. For a detached run with an init started ahead (userns.Zygote):
// the init is ready long before the root filesystem then, and the creation of the
// container's layer, some 7 ms of directories and records written here, would otherwise
// begin only with the start (early.go).
func (r *Runtime) createAhead(d *deferredStorage, c *Container) {
	r.beginStorage(d, nil, c.ID, c.ImageID, c.Config.Remove)
}

// beginStorage begins creating the storage of container id from image (remove: --rm) on a
// goroutine, once the record directory rec is made when given, and reports in d.
func (r *Runtime) beginStorage(d *deferredStorage, rec *recordDir, id, image string, remove bool) {
	d.ahead = make(chan struct{})
	go func() {
		defer close(d.ahead)
		// The record directory comes first, as in create.
		if rec != nil {
			if <-rec.done; rec.err != nil {
				d.err = rec.err
				return
			}
		}
		st, err := r.Store()
		if err == nil {
			_, err = st.CreateContainer(id, nil, image, "", "", storageOptionsOf(remove))
		}
		d.err = err
	}()
}

// storageAhead is the storage of the container whose record directory MakeRecordAhead
// made, begun from the image and --rm that enter.c read off the command line
// (CreateStorageAhead), until a create takes it or finds that the command line says
// otherwise.
type storageAhead struct {
	id     string
	ref    string
	remove bool
	// kept is ref's resolution as den keeps it, d the creation, begun at began.
	kept  *imageRef
	d     *deferredStorage
	began time.Time
}

// CreateStorageAhead begins creating the storage of the container that MakeRecordAhead drew
// the id of, from image ref (remove: --rm), for a held run -d whose command line enter.c
// read them from (userns.HeldImage). The creation (some 7 ms of directories and lists
// written, three of them synced) then begins with the command, beside the parsing of its
// command line and its create's checks, instead of after them (createAhead). Only from a
// resolution den keeps, read here, which the create then uses (keptAhead): a first run of
// an image creates as before. The create takes the storage if its container is the one
// guessed (takeStorageAhead); otherwise, or when no create comes, it is deleted before
// anything else is made with its id.
func (r *Runtime) CreateStorageAhead(ref string, remove bool) {
	rec := r.recordAhead
	if rec == nil || r.storageAhead != nil {
		return
	}
	e := r.keptImageRef(ref)
	if e == nil {
		return
	}
	s := &storageAhead{id: rec.id, ref: ref, remove: remove, kept: e, began: time.Now(),
		d: &deferredStorage{driver: e.Driver}}
	r.storageAhead = s
	r.beginStorage(s.d, rec, s.id, e.ID, remove)
}

// keptAhead is the resolution of ref that CreateStorageAhead read, while the image list is
// the one it was read from; nil otherwise.
func (r *Runtime) keptAhead(ref string) *imageRef {
	s := r.storageAhead
	if s == nil || s.ref != ref {
		return nil
	}
	if st, ok := stampOf(s.kept.Images); !ok || st != s.kept.Stamp {
		return nil
	}
	return s.kept
}

// takeStorageAhead returns the creation of s if it is that of c's storage: c's id, image and
// --rm, in a record directory that was made, and young enough that system check still
// takes it for a create in progress (a --pull always can take minutes before the create).
// Otherwise s is deleted (dropStorageAhead) and nil returned.
func (r *Runtime) takeStorageAhead(s *storageAhead, c *Container, made *recordDir) *deferredStorage {
	if made != nil && made.err == nil && s.id == c.ID && s.kept.ID == c.ImageID && s.remove == c.Config.Remove &&
		time.Since(s.began) < checkGrace/2 {
		return s.d
	}
	r.dropStorageAhead(s)
	return nil
}

// dropStorageAhead deletes the storage s made, once its creation is over.
func (r *Runtime) dropStorageAhead(s *storageAhead) { r.dropAhead(s.d, s.id) }

// dropAhead deletes the storage createAhead or CreateStorageAhead made for container id,
// whose record could not be claimed or who turned out another container.
func (r *Runtime) dropAhead(d *deferredStorage, id string) {
	<-d.ahead
	if d.err != nil {
		return
	}
	if st, err := r.Store(); err == nil {
		_ = st.DeleteContainer(id)
	}
}

// createStorage creates the storage of c, which this invocation created without it, in st;
// or waits for the creation createAhead began.
func (r *Runtime) createStorage(st *store.Store, c *Container) error {
	if v, ok := r.deferred.Load(c.ID); ok {
		if d := v.(*deferredStorage); d.ahead != nil {
			<-d.ahead
			return d.err
		}
	}
	_, err := st.CreateContainer(c.ID, nil, c.ImageID, "", "", storageOptions(c))
	return err
}

// New returns a Runtime over paths. It creates nothing on disk.
func New(p *config.Paths, c *config.Config) *Runtime {
	return &Runtime{Paths: p, Config: c, recs: records{dir: filepath.Join(p.DataDir, "containers")}}
}

// Store opens containers/storage on first use.
func (r *Runtime) Store() (*store.Store, error) {
	r.stMu.Lock()
	defer r.stMu.Unlock()
	if r.st != nil {
		return r.st, nil
	}
	if _, err := r.Paths.EnsureRuntimeDir(); err != nil {
		return nil, err
	}
	st, err := store.Open(r.Paths, r.Config)
	if err != nil {
		return nil, err
	}
	r.st = st
	return st, nil
}

// OpenStoreAhead starts opening the store on another goroutine, for a command that will
// need it later on a path of its own: a detached run that mounts its container's root
// filesystem while the container starts (early.go). There, after the container's record is
// made and at a lower priority, the opening took 3 to 4 ms of the root filesystem's path
// (ftrace), which the container's init, when it came first, waited for. Started with the
// command, it has the other CPU while den starts up. An error is met again, and reported,
// where the store is needed.
func (r *Runtime) OpenStoreAhead() {
	go func() { _, _ = r.Store() }()
}

// Images returns the image manager over the opened store.
func (r *Runtime) Images() (*image.Manager, error) {
	st, err := r.Store()
	if err != nil {
		return nil, err
	}
	return &image.Manager{Store: st, Report: r.Report}, nil
}

// Close releases the store.
func (r *Runtime) Close() {
	// Storage made ahead that no create took goes first: its creation uses the store.
	if s := r.storageAhead; s != nil {
		r.storageAhead = nil
		r.dropStorageAhead(s)
	}
	r.stMu.Lock()
	defer r.stMu.Unlock()
	r.st.Close()
	r.st = nil
	r.dropKept()
}

// dropKept deletes what removeLater was given: at Close, or once a container in the
// foreground runs (RunAttached), whose command answers only when it ends.
func (r *Runtime) dropKept() {
	r.keptMu.Lock()
	defer r.keptMu.Unlock()
	for _, p := range r.kept {
		_ = os.RemoveAll(p)
	}
	r.kept = nil
}

// CreateOptions are the user's choices for a new container.
type CreateOptions struct {
	// ID, when set, is the new container's id (a monitor started ahead waits for it).
	ID          string
	Name        string
	Image       string
	Args        []string
	Entrypoint  *[]string
	Env         []string
	EnvFiles    []string
	WorkingDir  string
	User        string
	Hostname    string
	Tty         bool
	Interactive bool
	Remove      bool
	Labels      map[string]string
	StopSignal  string
	// StopTimeout is --stop-timeout in seconds, nil for the default (DefaultStopTimeout).
	StopTimeout *uint
	// Security is nil for den's defaults.
	Security *SecurityConfig
	// GroupAdd are supplementary groups of the container's processes (--group-add).
	GroupAdd []string
	// Devices are host devices given to the container (--device HOST[:CONTAINER][:PERMS]).
	Devices []string
	// InitPath is --init's program (FindInit), "" for none.
	InitPath string
	// Restart is a policy name ("no", "on-failure", "always", "unless-stopped").
	Restart           string
	RestartMaxRetries int
	Health            *HealthConfig
	// Mounts are -v, --mount and --tmpfs; VolumesFrom are --volumes-from CTR[:ro|rw].
	Mounts      []Mount
	VolumesFrom []string
	// Network is the --network mode with its ports and DNS settings; the zero value is
	// slirp4netns.
	Network netstack.Config
	// PublishAll publishes the image's EXPOSE ports and Expose on random host ports (-P).
	PublishAll bool
	// Expose adds ports to the image's EXPOSE ones, in its form ("80/tcp"): --expose.
	Expose []string
	// CIDFile, an absolute path, is a file Create makes and writes the container's ID to
	// (--cidfile); it must not exist.
	CIDFile string
	// Replace removes the container named Name first, if there is one, as rm -f does
	// (--replace).
	Replace bool
	// EnvHost gives the container den's own environment, over the image's and under
	// --env-file's and --env's (--env-host).
	EnvHost bool
	// Umask, Sysctls, Timezone and Annotations are ContainerConfig's.
	Umask       *uint32
	Sysctls     map[string]string
	Timezone    string
	Annotations map[string]string
	// LogDriver and LogMaxSize are ContainerConfig's (--log-driver, --log-opt max-size).
	LogDriver  string
	LogMaxSize int64
	// SyncLater leaves the new record and name unsynced: the caller syncs them with
	// SyncRecord before it answers. run -d does that while the monitor starts the container,
	// when it would otherwise wait for the disk first (1 to 2 ms here).
	SyncLater bool
	// EventWithStart leaves the create event to the start that follows at once (StartHeld),
	// which appends it with its own in one write.
	EventWithStart bool
	// DeferStorage leaves the container's storage to its start (run -d): a start that creates
	// it can mount the root filesystem while the container's init starts up (early.go). A
	// start that fails with ErrCreatingStorage then leaves a container a create would not
	// have made, which run removes.
	DeferStorage bool
}

// ErrCreatingStorage is the error of a start that could not create its container's storage.
var ErrCreatingStorage = errors.New("creating container storage")

// CheckLimits refuses the cgroup limits of s (--memory, --cpus, --pids-limit) where den cannot
// set them: rootless. Create checks it; callers that pull first check it before the pull.
func (r *Runtime) CheckLimits(s *SecurityConfig) error {
	if s != nil && r.Paths.Rootless && (s.Memory > 0 || s.NanoCPUs > 0 || s.PidsLimit > 0) {
		return errors.New("--memory, --cpus and --pids-limit need a cgroup of the container's own, which rootless den does not give it: leave them out, or run den as root")
	}
	return nil
}

// Create makes a container record and its storage from an image. A failure leaves nothing
// behind, its --cidfile included.
func (r *Runtime) Create(ctx context.Context, o CreateOptions) (*Container, error) {
	if o.CIDFile == "" {
		return r.create(ctx, o)
	}
	if o.ID == "" {
		o.ID = newID()
	}
	if err := writeCIDFile(o.CIDFile, o.ID); err != nil {
		return nil, err
	}
	c, err := r.create(ctx, o)
	if err != nil {
		os.Remove(o.CIDFile)
		return nil, err
	}
	return c, nil
}

// hostEnv is den's environment for --env-host, without the variables den and its libraries
// set for their own stages (_DEN_..., _CONTAINERS_..., _LIBCONTAINER_...), which would mislead
// a container engine run inside.
func hostEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "_DEN_") || strings.HasPrefix(kv, "_CONTAINERS_") || strings.HasPrefix(kv, "_LIBCONTAINER_")
	})
}

// writeCIDFile writes id to path, a file that must not exist yet: two containers never share
// one, as in podman.
func writeCIDFile(path, id string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("--cidfile %s exists: another container may use it; remove it or give another file", path)
	}
	if err != nil {
		return fmt.Errorf("--cidfile: %w", err)
	}
	_, err = f.WriteString(id)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing --cidfile %s: %w", path, err)
	}
	return nil
}

// removeCIDFile removes the file create --cidfile wrote for c, while it holds c's ID: a file
// another container has since taken is left alone.
func removeCIDFile(c *Container) {
	if c.Config.CIDFile == "" {
		return
	}
	if b, err := os.ReadFile(c.Config.CIDFile); err == nil && strings.TrimSpace(string(b)) == c.ID {
		os.Remove(c.Config.CIDFile)
	}
}

// replace removes the container named name, when there is one, for create --replace: a
// running one is stopped as rm -f stops it. Only a name counts, never an id prefix.
func (r *Runtime) replace(ctx context.Context, name string) error {
	id, ok := r.recs.named(name)
	if !ok {
		return nil
	}
	if _, err := r.Remove(ctx, id, true); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("--replace: %w", err)
	}
	return nil
}

// checkReplaced refuses a --replace whose new container would take something of the one it
// replaces (its network namespace, its volumes), which goes before the new one is made.
func (r *Runtime) checkReplaced(o CreateOptions) error {
	id, ok := r.recs.named(o.Name)
	if !ok {
		return nil
	}
	takes := func(ref string) bool {
		c, err := r.recs.resolve(ref)
		return err == nil && c.ID == id
	}
	if o.Network.Mode == netstack.ModeContainer && takes(o.Network.Container) {
		return fmt.Errorf("--replace --name %s --network container:%s: the container replaced is removed first, and its network namespace with it", o.Name, o.Network.Container)
	}
	for _, v := range o.VolumesFrom {
		if ref, _, _ := strings.Cut(v, ":"); takes(ref) {
			return fmt.Errorf("--replace --name %s --volumes-from %s: the container replaced is removed first; name its volumes with -v instead", o.Name, v)
		}
	}
	return nil
}

func (r *Runtime) create(ctx context.Context, o CreateOptions) (*Container, error) {
	warmUp()
	if err := r.CheckLimits(o.Security); err != nil {
		return nil, err
	}
	if o.Name != "" {
		if err := ValidateName(o.Name); err != nil {
			return nil, err
		}
	}
	files, err := ReadEnvFiles(o.EnvFiles)
	if err != nil {
		return nil, err
	}
	img, err := r.resolveImage(o.Image, o.DeferStorage)
	if err != nil {
		return nil, err
	}
	icfg := img.config
	args, err := Command(icfg.Config, o.Entrypoint, o.Args)
	if err != nil {
		return nil, err
	}
	if o.EnvHost {
		files = append([][]string{hostEnv()}, files...)
	}
	env, err := Env(icfg.Config.Env, files, o.Env, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	exposed := withExposed(icfg.Config.ExposedPorts, o.Expose)
	workDir := firstNonEmpty(o.WorkingDir, icfg.Config.WorkingDir, "/")
	if !filepath.IsAbs(workDir) {
		return nil, fmt.Errorf("working directory %q must be an absolute path", workDir)
	}
	// --replace removes the old container before the new one takes its name. What would
	// refuse the new one (its network, its mounts) is checked first, so that a refused
	// create leaves the old one as it was; and before any users' lock is taken: removing
	// takes the old container's lock, which comes first, and may wait out its stop timeout.
	if o.Replace && o.Name != "" {
		if err := r.checkReplaced(o); err != nil {
			return nil, err
		}
		if _, err := r.prepareNetwork(o, exposed); err != nil {
			return nil, err
		}
		if _, err := r.mergedMounts(o.Mounts, o.VolumesFrom, icfg.Config.Volumes); err != nil {
			return nil, err
		}
		if err := r.replace(ctx, o.Name); err != nil {
			return nil, err
		}
	}
	// The networks the container joins must not be removed before its record names them.
	var netUsers *record.Lock
	if o.Network.Mode == netstack.ModeBridge && len(o.Network.Networks) > 0 {
		if netUsers, err = r.Networks().LockUsers(); err != nil {
			return nil, err
		}
		defer netUsers.Release()
	}
	network, err := r.prepareNetwork(o, exposed)
	if err != nil {
		return nil, err
	}
	// The record directory comes first when the storage does (createAhead): a directory
	// without a record is a create in progress to system check, storage without either is
	// not. One made ahead goes with its id.
	var made *recordDir
	var sa *storageAhead
	if o.ID == "" && r.recordAhead != nil {
		made, r.recordAhead = r.recordAhead, nil
		sa, r.storageAhead = r.storageAhead, nil
		o.ID = made.id
	}
	deferAhead := o.DeferStorage && userns.HasZygote()
	if deferAhead && made == nil {
		o.ID = firstNonEmpty(o.ID, newID())
		made = r.makeRecordDir(o.ID)
	}
	claimed := false
	if made != nil {
		defer func() {
			if !claimed {
				if sa != nil {
					r.dropStorageAhead(sa)
				}
				// Only a directory this create made: one that existed already is another's.
				if <-made.done; made.err == nil {
					_, _ = r.recs.dropEmptyDir(made.id)
				}
			}
		}()
	}
	c := &Container{
		ID:      firstNonEmpty(o.ID, newID()),
		Name:    o.Name,
		Image:   o.Image,
		ImageID: img.id,
		Created: time.Now(),
		Labels:  o.Labels,
		State:   State{Status: StatusCreated},
	}
	if len(img.names) > 0 {
		c.ImageName = img.names[0]
	} else {
		c.ImageName = img.id
	}
	generatedName := c.Name == ""
	if generatedName {
		c.Name = drawName()
	}
	c.Config = ContainerConfig{
		Args: args, Env: env, Tty: o.Tty, Interactive: o.Interactive, Remove: o.Remove,
		WorkingDir:  workDir,
		User:        firstNonEmpty(o.User, icfg.Config.User),
		Hostname:    firstNonEmpty(o.Hostname, c.ID[:12]),
		Entrypoint:  icfg.Config.Entrypoint,
		Cmd:         icfg.Config.Cmd,
		StopSignal:  firstNonEmpty(o.StopSignal, icfg.Config.StopSignal),
		StopTimeout: o.StopTimeout, Security: o.Security, GroupAdd: o.GroupAdd, Devices: o.Devices,
		InitPath: o.InitPath, Expose: slices.Sorted(maps.Keys(exposed)), CIDFile: o.CIDFile,
		Umask: o.Umask, Sysctls: o.Sysctls, Timezone: o.Timezone, Annotations: o.Annotations,
		LogDriver: o.LogDriver, LogMaxSize: o.LogMaxSize,
		Restart: o.Restart, RestartMaxRetries: o.RestartMaxRetries,
		Health: o.Health, Network: network,
	}
	// Volumes the container takes must not be removed before its record names them.
	var users *record.Lock
	if needsVolumes(o.Mounts, o.VolumesFrom, icfg.Config.Volumes) {
		if users, err = r.Volumes().LockUsers(); err != nil {
			return nil, err
		}
		defer users.Release()
	}
	mounts, newVolumes, err := r.resolveMounts(o.Mounts, o.VolumesFrom, icfg.Config.Volumes)
	if err != nil {
		return nil, err
	}
	c.Config.Mounts = mounts
	undoVolumes := func() {
		for _, v := range newVolumes {
			_ = r.Volumes().Remove(v)
		}
	}
	// A detached run with an init started ahead has its storage begun by now (storage made
	// ahead of the command line, taken if it is this container's) or begins it here
	// (createAhead), beside the record's writing.
	var ahead *deferredStorage
	if made != nil {
		<-made.done
	}
	if sa != nil && deferAhead {
		ahead = r.takeStorageAhead(sa, c, made)
	} else if sa != nil {
		r.dropStorageAhead(sa)
	}
	sa = nil
	if deferAhead && ahead == nil {
		ahead = &deferredStorage{driver: img.driver}
		r.createAhead(ahead, c)
	}
	if err := r.claimRecord(c, generatedName, o.SyncLater, made != nil && made.err == nil); err != nil {
		if ahead != nil {
			r.dropAhead(ahead, c.ID)
		}
		undoVolumes()
		return nil, err
	}
	claimed = true
	users.Release()
	netUsers.Release()
	if ahead != nil {
		r.deferred.Store(c.ID, ahead)
	} else if o.DeferStorage {
		r.deferStorage(c.ID, img.driver)
	} else {
		logrus.Debugf("creating storage container")
		st, err := r.Store()
		if err == nil {
			_, err = st.CreateContainer(c.ID, nil, img.id, "", "", storageOptions(c))
		}
		if err != nil {
			_ = r.recs.remove(c)
			r.releaseAddresses(c)
			undoVolumes()
			return nil, fmt.Errorf("creating container storage: %w", err)
		}
	}
	if o.EventWithStart {
		r.createUnpublished = c.ID
	} else {
		r.publish(c, events.StatusCreate)
	}
	return c, nil
}

// publishCreate appends the create event of c if its create left it to the start, and
// gives the start's own statuses to append with it, the create first.
func (r *Runtime) publishCreate(c *Container, more ...string) {
	if r.createUnpublished == c.ID {
		r.createUnpublished = ""
		r.publishSteps(c, events.StatusCreate, more...)
	} else if len(more) > 0 {
		r.publishSteps(c, more[0], more[1:]...)
	}
}

// storageOptions says how containers/storage keeps c: a --rm container's layer and entry go
// to its volatile lists, written without a sync, as podman's --rm containers do.
func storageOptions(c *Container) *storage.ContainerOptions { return storageOptionsOf(c.Config.Remove) }

// storageOptionsOf says how containers/storage keeps a container with --rm (remove) or
// without.
func storageOptionsOf(remove bool) *storage.ContainerOptions {
	return &storage.ContainerOptions{Volatile: remove}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// Lookup finds a container by name, id or id prefix, with its state reconciled.
func (r *Runtime) Lookup(ref string) (*Container, error) {
	c, err := r.recs.resolve(ref)
	if err != nil {
		return nil, err
	}
	r.reconcile(c)
	return c, nil
}

// List returns containers, newest first, with states reconciled: a container whose holding
// den process died, or that ran before a reboot, is reported exited.
func (r *Runtime) List() ([]*Container, error) {
	cs, err := r.recs.list()
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		r.reconcile(c)
	}
	return cs, nil
}

// reconcile makes c, as a read found it, say what is true (the package's reconcile), and
// writes down the state of a container found ended when its holder died in this boot, so
// that the end it reports, FinishedAt, is the one first seen and not the time of each read.
// The write happens once per such container, and not while another den holds the
// container's lock: that one writes the state itself. Errors leave c as reconcile made it.
// (A container of an earlier boot needs no write: its end is that boot's.)
func (r *Runtime) reconcile(c *Container) {
	if !reconcile(c) || c.State.BootID != bootID() {
		return
	}
	lk, ok, err := record.TryAcquire(r.recs.lockPath(c.ID))
	if err != nil || !ok {
		return
	}
	defer lk.Release()
	cur, err := r.recs.load(c.ID)
	if err != nil {
		return
	}
	if reconcile(cur) && r.recs.save(cur) != nil {
		return
	}
	*c = *cur
}

// bootTime is when this boot began: btime of /proc/stat, the same for every process, or
// else the time less the uptime. Read once, from whichever goroutine asks first.
var bootTime = sync.OnceValue(func() time.Time {
	b, _ := os.ReadFile("/proc/stat")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(n, 0)
			}
		}
	}
	var info unix.Sysinfo_t
	if err := unix.Sysinfo(&info); err != nil {
		return time.Now()
	}
	return time.Now().Add(-time.Duration(info.Uptime) * time.Second)
})

var bootID = func() func() string {
	var id string
	return func() string {
		if id == "" {
			id, _ = config.BootID()
		}
		return id
	}
}()

// reconcile corrects a record in memory when its holder is gone. Mutating commands persist
// the correction and clean up what the dead holder left.
func reconcile(c *Container) bool {
	if c.State.Status != StatusRunning {
		return false
	}
	if c.State.BootID == bootID() && holderAlive(&c.State) {
		return false
	}
	c.State.Status, c.State.Paused = StatusExited, false
	c.State.ExitCode = -1
	c.State.Pid = 0
	if c.State.BootID != bootID() {
		c.State.Error = "the machine rebooted while the container ran; exit code unknown"
		// It ended by this boot at the latest: the same answer from every read.
		if c.State.FinishedAt.IsZero() {
			c.State.FinishedAt = bootTime()
		}
	} else {
		c.State.Error = "the den process holding the container died; exit code unknown"
	}
	if c.State.FinishedAt.IsZero() {
		c.State.FinishedAt = time.Now()
	}
	return true
}

// claimRecord takes c's addresses and writes its record under its name. A generated name
// can meet another one (one in some thousands in a busy store): the user asked for no name
// in particular, so another is drawn, as podman does.
func (r *Runtime) claimRecord(c *Container, generatedName, syncLater, made bool) error {
	for attempt := 1; ; attempt++ {
		if err := r.allocateAddresses(c); err != nil {
			return err
		}
		logrus.Debugf("writing record")
		err := r.recs.create(c, syncLater, made)
		if err == nil {
			return nil
		}
		r.releaseAddresses(c)
		if !generatedName || !errors.Is(err, ErrNameInUse) || attempt == 10 {
			return err
		}
		c.Name = drawName()
	}
}

// withExposed is an image's EXPOSE ports with more, in their form ("80/tcp"); the image's
// map itself is left as it is.
func withExposed(image map[string]struct{}, more []string) map[string]struct{} {
	if len(more) == 0 {
		return image
	}
	out := maps.Clone(image)
	if out == nil {
		out = map[string]struct{}{}
	}
	for _, p := range more {
		out[p] = struct{}{}
	}
	return out
}

// SyncRecord makes the record and name of c, created with CreateOptions.SyncLater, durable.
func (r *Runtime) SyncRecord(c *Container) error { return r.recs.sync(c) }

// Remove deletes a container: its record, name, storage and runtime files. A running
// container needs force, which stops it first through its holder, waiting as long as its own
// stop timeout.
func (r *Runtime) Remove(ctx context.Context, ref string, force bool) (*Container, error) {
	return r.RemoveWithVolumes(ctx, ref, force, false, OwnStopTimeout)
}

// RemoveWithVolumes is Remove that, with volumes (rm -v), also deletes the container's
// anonymous volumes that no other container uses, and stops a running one with stopTimeout
// (rm -t; OwnStopTimeout: the container's).
func (r *Runtime) RemoveWithVolumes(ctx context.Context, ref string, force, volumes bool, stopTimeout time.Duration) (*Container, error) {
	c, err := r.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Status == StatusRunning {
		if !force {
			return nil, fmt.Errorf("container %s: %w: stop it first or use --force", c.Name, ErrRunning)
		}
		// Not under the lock: the holder takes it to record the exit.
		if _, err := r.Stop(ctx, c.ID, stopTimeout); err != nil {
			return nil, err
		}
	}
	cur, lk, err := r.lockedRecord(c.ID)
	if errors.Is(err, ErrNotFound) {
		// A --rm container removed itself when it was killed.
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	c = cur
	reconcile(c)
	if c.State.Status == StatusRunning {
		return nil, fmt.Errorf("container %s: %w", c.Name, ErrRunning)
	}
	// A holder killed before it cleaned up leaves libcontainer's state behind.
	clearStaleState(r.stateRoot(), c.ID)
	if _, err := r.drop(c, r.deferDeletion(c.ID)); err != nil {
		return nil, err
	}
	r.releaseAddresses(c)
	r.publish(c, events.StatusRemove)
	if volumes {
		r.removeAnonymousVolumes(ctx, c)
	}
	return c, nil
}

func (r *Runtime) deleteStorage(id string) error {
	st, err := r.Store()
	if err != nil {
		return err
	}
	// DeleteContainer unmounts the layer first, as often as it was mounted: an Unmount of its
	// own here only wrote the mount list once more.
	err = st.DeleteContainer(id)
	if err != nil && !errors.Is(err, storage.ErrNotAContainer) && !strings.Contains(err.Error(), "not known") {
		return fmt.Errorf("removing container storage: %w", err)
	}
	return nil
}

// runDir holds a container's runtime files: hosts, hostname, resolv.conf.
func (r *Runtime) runDir(id string) string {
	return filepath.Join(r.Paths.RuntimeDir, "containers", id)
}

// Dependents are the ids of the containers that depend on those refs name and are not among
// them: those on their network namespace (--network container:), and theirs in turn, as
// rm --depend removes them. A ref that names no container has none.
func (r *Runtime) Dependents(refs []string) ([]string, error) {
	cs, err := r.List()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var queue []string
	for _, ref := range refs {
		if c, err := r.recs.resolve(ref); err == nil && !seen[c.ID] {
			seen[c.ID] = true
			queue = append(queue, c.ID)
		}
	}
	var out []string
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, c := range cs {
			if n := c.Config.Network; n != nil && n.Mode == netstack.ModeContainer && n.Container == id && !seen[c.ID] {
				seen[c.ID] = true
				queue = append(queue, c.ID)
				out = append(out, c.ID)
			}
		}
	}
	return out, nil
}

// CheckNoDependents refuses the removal of containers that others, not among refs, have
// joined (--network container:), as podman's rm does without --depend: those would be left
// on the namespace of a container that is gone. Each container keeps a mark of those that
// join it (records.create), so rm reads one directory per container, not every record.
func (r *Runtime) CheckNoDependents(refs []string) error {
	ids := map[string]bool{}
	var named []string
	for _, ref := range refs {
		if id := r.recs.idOf(ref); id != "" && !ids[id] {
			ids[id] = true
			named = append(named, id)
		}
	}
	for _, id := range named {
		var deps []string
		for _, j := range r.recs.joiners(id) {
			if !ids[j.ID] {
				deps = append(deps, j.Name)
			}
		}
		if len(deps) > 0 {
			slices.Sort(deps)
			name := id[:12]
			if c, err := r.recs.load(id); err == nil {
				name = c.Name
			}
			return fmt.Errorf("container %s has dependent containers which must be removed before it: %s: remove those first, or use --depend", name, strings.Join(deps, ", "))
		}
	}
	return nil
}

// ImageInUse reports whether any container uses the image.
func (r *Runtime) ImageInUse(imageID string) bool {
	cs, _ := r.recs.list()
	for _, c := range cs {
		if c.ImageID == imageID {
			return true
		}
	}
	return false
}

// RemoveContainersOfImage force-removes every container made from an image (rmi --force).
func (r *Runtime) RemoveContainersOfImage(ctx context.Context, imageID string) error {
	cs, err := r.recs.list()
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.ImageID == imageID {
			if _, err := r.Remove(ctx, c.ID, true); err != nil {
				return err
			}
		}
	}
	return nil
}
