package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/den-project/den/config"
	"github.com/den-project/den/netstack"
)

func TestParseContainerFilters(t *testing.T) {
	for _, tc := range []struct {
		specs   []string
		wantErr string // empty: valid
	}{
		{specs: nil},
		{specs: []string{"status=running", "status=exited", "status=created", "status=paused"}},
		{specs: []string{"name=^web", "id=3f57", "label=tier", "label=tier=front", "label=k=v=w"}},
		{specs: []string{"ancestor=busybox", "ancestor=docker.io/library/busybox:latest", "ancestor=3f57d9401f8d"}},
		{specs: []string{"exited=0", "exited=137", "STATUS=running"}},
		{specs: []string{"status"}, wantErr: "KEY=VALUE"},
		{specs: []string{"=x"}, wantErr: "KEY=VALUE"},
		{specs: []string{"status=dead"}, wantErr: "created, running, paused or exited"},
		{specs: []string{"name=("}, wantErr: "regular expression"},
		{specs: []string{"label="}, wantErr: "label=KEY"},
		{specs: []string{"label==v"}, wantErr: "label=KEY"},
		{specs: []string{"exited=x"}, wantErr: "not a number"},
		{specs: []string{"ancestor="}, wantErr: "name an image"},
		{specs: []string{"health=healthy", "health=none", "before=web", "since=aa", "until=10m", "until=2024-01-02", "volume=data", "volume=/data", "network=none", "network=web-net"}},
		{specs: []string{"pod=x"}, wantErr: `unknown filter "pod"`},
		{specs: []string{"label!="}, wantErr: "label!=KEY"},
		{specs: []string{"health=sick"}, wantErr: "healthy, unhealthy, starting or none"},
		{specs: []string{"before="}, wantErr: "name a container"},
		{specs: []string{"until=someday"}, wantErr: "until"},
		{specs: []string{"volume="}, wantErr: "name a mount's source"},
		{specs: []string{"network="}, wantErr: "name a network"},
	} {
		_, err := ParseContainerFilters(tc.specs)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.specs, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: want an error mentioning %q, got %v", tc.specs, tc.wantErr, err)
		}
	}
}

func TestContainerFilterMatch(t *testing.T) {
	busybox := "5b0f6c8b3a1e7a0b1d1c4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b"
	tool := "c0ffee0000000000000000000000000000000000000000000000000000000000"
	cs := []*Container{
		{ID: idWithPrefix("aaaa"), Name: "web", Image: "busybox", ImageName: "docker.io/library/busybox:latest", ImageID: busybox,
			Labels: map[string]string{"tier": "front", "team": "a"}, State: State{Status: StatusRunning, Health: &HealthState{Status: HealthHealthy}},
			Created: time.Unix(400, 0), Config: ContainerConfig{Health: &HealthConfig{}, Network: &netstack.Config{Mode: netstack.ModeBridge, Networks: []netstack.Endpoint{{Network: "web-net"}}},
				Mounts: []Mount{{Type: "volume", Source: "data", Destination: "/data"}}}},
		{ID: idWithPrefix("aabb"), Name: "web-old", Image: "docker.io/library/busybox:1.36", ImageName: "docker.io/library/busybox:1.36", ImageID: busybox,
			Labels: map[string]string{"tier": "back"}, State: State{Status: StatusExited, ExitCode: 0, Health: &HealthState{Status: HealthHealthy}},
			Created: time.Unix(300, 0), Config: ContainerConfig{Health: &HealthConfig{}, Mounts: []Mount{{Type: "bind", Source: "/data", Destination: "/srv"}},
				Network: &netstack.Config{Mode: netstack.ModeSlirp}}},
		{ID: idWithPrefix("bbbb"), Name: "job", Image: "localhost/tool", ImageName: "localhost/tool:latest", ImageID: tool,
			State: State{Status: StatusExited, ExitCode: 3}, Created: time.Unix(200, 0), Config: ContainerConfig{Network: &netstack.Config{Mode: netstack.ModeNone}}},
		{ID: idWithPrefix("cccc"), Name: "box", Image: "tool", ImageName: "localhost/tool:latest", ImageID: tool,
			Labels: map[string]string{"team": "a"}, State: State{Status: StatusCreated}, Created: time.Unix(100, 0)},
	}
	for _, tc := range []struct {
		specs []string
		want  []string
	}{
		{nil, []string{"web", "web-old", "job", "box"}},
		{[]string{"status=exited"}, []string{"web-old", "job"}},
		{[]string{"status=exited", "status=created"}, []string{"web-old", "job", "box"}},
		{[]string{"status=paused"}, nil},
		{[]string{"name=web"}, []string{"web", "web-old"}},
		{[]string{"name=^web$"}, []string{"web"}},
		{[]string{"name=^web$", "name=job"}, []string{"web", "job"}},
		{[]string{"id=aa"}, []string{"web", "web-old"}},
		{[]string{"id=aabb", "id=cc"}, []string{"web-old", "box"}},
		{[]string{"label=tier"}, []string{"web", "web-old"}},
		{[]string{"label=tier=front"}, []string{"web"}},
		// Labels are the exception: all must match.
		{[]string{"label=tier", "label=team=a"}, []string{"web"}},
		// label! takes those without the label, or without that value; all must hold too.
		{[]string{"label!=tier"}, []string{"job", "box"}},
		{[]string{"label!=tier=front"}, []string{"web-old", "job", "box"}},
		{[]string{"label!=tier", "label!=team"}, []string{"job"}},
		{[]string{"ancestor=busybox"}, []string{"web", "web-old"}},
		{[]string{"ancestor=busybox:latest"}, []string{"web"}},
		{[]string{"ancestor=busybox:1.36"}, []string{"web-old"}},
		{[]string{"ancestor=docker.io/library/busybox:1.36"}, []string{"web-old"}},
		{[]string{"ancestor=tool"}, []string{"job", "box"}},
		{[]string{"ancestor=c0ffee"}, []string{"job", "box"}},
		{[]string{"ancestor=sha256:" + busybox}, []string{"web", "web-old"}},
		{[]string{"ancestor=alpine"}, nil},
		{[]string{"exited=3"}, []string{"job"}},
		{[]string{"exited=0"}, []string{"web-old"}},
		{[]string{"exited=0", "exited=3"}, []string{"web-old", "job"}},
		// Different keys must all match.
		{[]string{"status=exited", "ancestor=busybox"}, []string{"web-old"}},
		{[]string{"label=team=a", "status=created"}, []string{"box"}},
		// Health counts while the container runs; none is no healthcheck.
		{[]string{"health=healthy"}, []string{"web"}},
		{[]string{"health=none"}, []string{"job", "box"}},
		{[]string{"before=web-old"}, []string{"job", "box"}},
		{[]string{"since=job"}, []string{"web", "web-old"}},
		{[]string{"since=cccc", "before=aaaa"}, []string{"web-old", "job"}},
		{[]string{"until=1970-01-01T00:04:10Z"}, []string{"job", "box"}},
		// A mount's source, as podman has it: a volume's name, a bind's host path, or either
		// with its destination; a destination alone names nothing.
		{[]string{"volume=data"}, []string{"web"}},
		{[]string{"volume=/data"}, []string{"web-old"}},
		{[]string{"volume=data:/data"}, []string{"web"}},
		{[]string{"volume=/data:/srv"}, []string{"web-old"}},
		{[]string{"volume=/srv"}, nil},
		{[]string{"network=web-net"}, []string{"web"}},
		// A record without a network (made before den had networking) has none.
		{[]string{"network=none"}, []string{"job", "box"}},
		{[]string{"network=slirp4netns"}, []string{"web-old"}},
	} {
		f, err := ParseContainerFilters(tc.specs)
		if err != nil {
			t.Fatalf("%q: %v", tc.specs, err)
		}
		if err := f.Resolve(cs); err != nil {
			t.Fatalf("%q: %v", tc.specs, err)
		}
		var got []string
		for _, c := range cs {
			if f.Match(c) {
				got = append(got, c.Name)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: matched %q, want %q", tc.specs, got, tc.want)
		}
	}
}

func TestOnlyAStatusFilterSelectsContainersInEveryState(t *testing.T) {
	for specs, want := range map[string]bool{"": false, "name=web": false, "status=running": true, "exited=0": false} {
		var list []string
		if specs != "" {
			list = []string{specs}
		}
		f, err := ParseContainerFilters(list)
		if err != nil {
			t.Fatal(err)
		}
		if f.SelectsByStatus() != want {
			t.Errorf("%q: SelectsByStatus() = %v, want %v", specs, !want, want)
		}
	}
}

func TestSortContainers(t *testing.T) {
	now := time.Now()
	mk := func(name, id string, age time.Duration) *Container {
		return &Container{ID: id, Name: name, Created: now.Add(-age), Config: ContainerConfig{Args: []string{name}}}
	}
	cs := []*Container{mk("b", "3", 2*time.Minute), mk("c", "1", time.Minute), mk("a", "2", 3*time.Minute)}
	for key, want := range map[string]string{"created": "cba", "": "cba", "names": "abc", "id": "cab", "command": "abc"} {
		if err := SortContainers(cs, key); err != nil {
			t.Fatalf("%q: %v", key, err)
		}
		got := ""
		for _, c := range cs {
			got += c.Name
		}
		if got != want {
			t.Errorf("sort by %q: %s, want %s", key, got, want)
		}
	}
	if err := SortContainers(cs, "size"); err == nil {
		t.Error("want an error for an unknown sort key")
	}
}

func TestCgroupSetup(t *testing.T) {
	for _, tc := range []struct {
		name          string
		procCgroup    string
		v2, v1Freezer bool
	}{
		{"unified", "0::/user.slice/user-1000.slice/session-2.scope\n", true, false},
		{"hybrid", "6:freezer:/\n5:devices:/\n1:name=systemd:/\n0::/\n", false, true},
		{"legacy without freezer", "5:devices:/\n4:cpu,cpuacct:/\n", false, false},
		{"legacy with joined controllers", "3:cpuset,freezer:/\n", false, true},
		{"empty", "", false, false},
	} {
		v2, fr := cgroupSetup(tc.procCgroup)
		if v2 != tc.v2 || fr != tc.v1Freezer {
			t.Errorf("%s: v2=%v freezer=%v, want %v %v", tc.name, v2, fr, tc.v2, tc.v1Freezer)
		}
	}
}

func TestPauseIsRefusedRootlessWithAReasonAndAWayOut(t *testing.T) {
	err := freezerMissing("pausing", true)
	if err == nil || !strings.Contains(err.Error(), "den stop and den start") {
		t.Errorf("rootless: want an error pointing to stop and start, got %v", err)
	}
	b, _ := os.ReadFile("/proc/self/cgroup")
	if v2, v1Freezer := cgroupSetup(string(b)); v2 || v1Freezer {
		if err := freezerMissing("pausing", false); err != nil {
			t.Errorf("as root on a host with a freezer: want pausing possible, got %v", err)
		}
	}
}

// fakeStorage stands in for containers/storage in system check.
type fakeStorage struct {
	ids       map[string]bool
	unmounted []string
}

func (f *fakeStorage) containerIDs() (map[string]bool, error) {
	out := map[string]bool{}
	for id := range f.ids {
		out[id] = true
	}
	return out, nil
}

func (f *fakeStorage) deleteContainer(id string) error { delete(f.ids, id); return nil }
func (f *fakeStorage) unmount(id string)               { f.unmounted = append(f.unmounted, id) }

// checkWorld is a runtime over temporary directories with a fake storage, holding a
// consistent set of containers: a created one, an exited one (with the /etc files its last
// run left) and a running one held by this test process.
type checkWorld struct {
	r                        *Runtime
	st                       *fakeStorage
	created, exited, running *Container
	// ahead sets the checks' clock ahead of the time (agedAndWantedGone).
	ahead time.Duration
}

func newCheckWorld(t *testing.T) *checkWorld {
	t.Helper()
	if bootID() == "" {
		t.Skip("no boot id on this system")
	}
	dir := t.TempDir()
	w := &checkWorld{
		r:  New(&config.Paths{DataDir: filepath.Join(dir, "data"), RuntimeDir: filepath.Join(dir, "run")}, nil),
		st: &fakeStorage{ids: map[string]bool{}},
	}
	old := time.Now().Add(-time.Hour)
	w.created = w.add(t, newContainer("created", old))
	w.exited = newContainer("exited", old)
	w.exited.State = State{Status: StatusExited, ExitCode: 1, FinishedAt: old}
	w.add(t, w.exited)
	w.writeRunFile(t, w.exited.ID, "hosts")
	w.running = newContainer("running", old)
	w.running.State = State{Status: StatusRunning, Pid: os.Getpid(), Holder: os.Getpid(), HolderStart: procStart(os.Getpid()), BootID: bootID()}
	w.add(t, w.running)
	w.writeRunFile(t, w.running.ID, controlSocket)
	if err := os.MkdirAll(filepath.Join(w.r.stateRoot(), w.running.ID), 0o700); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *checkWorld) add(t *testing.T, c *Container) *Container {
	t.Helper()
	mustCreate(t, w.r.recs, c)
	w.st.ids[c.ID] = true
	return c
}

func (w *checkWorld) writeRunFile(t *testing.T, id, name string) {
	t.Helper()
	if err := os.MkdirAll(w.r.runDir(id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.r.runDir(id), name), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (w *checkWorld) check(t *testing.T, repair bool) []Finding {
	t.Helper()
	fs, err := w.r.check(w.st, repair, time.Now().Add(w.ahead))
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	return fs
}

// agedAndWantedGone makes w's checks see p an hour old, past system check's grace (by the
// clock: its change time cannot be set back), and returns a check that the repair removed p.
func agedAndWantedGone(w *checkWorld, p string) func(*testing.T, *checkWorld) {
	w.ahead = time.Hour
	return func(t *testing.T, w *checkWorld) {
		if pathExists(p) {
			t.Error("want it removed")
		}
	}
}

func pathExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestCheckOfAConsistentStoreFindsNothing(t *testing.T) {
	w := newCheckWorld(t)
	if fs := w.check(t, false); len(fs) != 0 {
		t.Fatalf("want no findings, got %q", fs)
	}
	if fs := w.check(t, true); len(fs) != 0 {
		t.Fatalf("want no findings to repair, got %q", fs)
	}
}

func TestCheckOfAnEmptyDataDirectoryFindsNothing(t *testing.T) {
	r := New(&config.Paths{DataDir: t.TempDir(), RuntimeDir: t.TempDir()}, nil)
	fs, err := r.check(&fakeStorage{}, false, time.Now())
	if err != nil || len(fs) != 0 {
		t.Fatalf("want no findings and no error, got %q, %v", fs, err)
	}
}

// A detached run makes its record's directory and its storage before its record
// (MakeRecordAhead, createAhead): check leaves such a create alone while it is young, and
// judges it once it is older than checkGrace.
func TestCheckLeavesACreateInProgressAlone(t *testing.T) {
	w := newCheckWorld(t)
	a := w.r.makeRecordDir(newID())
	<-a.done
	if a.err != nil {
		t.Fatal(a.err)
	}
	if _, err := os.Stat(w.r.recs.lockPath(a.id)); err != nil {
		t.Fatalf("want the lock file made with the directory: %v", err)
	}
	w.st.ids[a.id] = true
	for _, repair := range []bool{false, true} {
		if fs := w.check(t, repair); len(fs) != 0 {
			t.Fatalf("want a create in progress left alone (repair %v), got %q", repair, fs)
		}
	}
	if !pathExists(filepath.Join(w.r.recs.dir, a.id)) || !w.st.ids[a.id] {
		t.Fatal("want the directory and the storage of a create in progress kept")
	}
	old := time.Now().Add(-2 * checkGrace)
	if err := os.Chtimes(filepath.Join(w.r.recs.dir, a.id), old, old); err != nil {
		t.Fatal(err)
	}
	fs := w.check(t, false)
	if len(fs) != 2 || !strings.Contains(fs[0].String()+fs[1].String(), "holds no record") ||
		!strings.Contains(fs[0].String()+fs[1].String(), "has no den record") {
		t.Fatalf("want an abandoned create's directory and storage found, got %q", fs)
	}
	w.check(t, true)
	if pathExists(filepath.Join(w.r.recs.dir, a.id)) || w.st.ids[a.id] {
		t.Fatal("want an abandoned create's directory and storage removed")
	}
}

// The record made ahead is the one a create claims; one that no create took goes with
// DropAhead.
func TestRecordMadeAheadIsClaimedOrDropped(t *testing.T) {
	w := newCheckWorld(t)
	w.r.MakeRecordAhead()
	a := w.r.recordAhead
	<-a.done
	c := newContainer("ahead", time.Now())
	c.ID = a.id
	if err := w.r.claimRecord(c, false, false, true); err != nil {
		t.Fatalf("want the record claimed in the directory made ahead: %v", err)
	}
	if got, err := w.r.recs.resolve("ahead"); err != nil || got.ID != a.id {
		t.Fatalf("want the claimed record found: %v", err)
	}
	w.r.MakeRecordAhead()
	id := w.r.recordAhead.id
	w.r.DropRecordAhead()
	if pathExists(filepath.Join(w.r.recs.dir, id)) || w.r.recordAhead != nil {
		t.Error("want DropAhead to remove a directory no create took")
	}
	w.r.DropRecordAhead() // nothing left to drop
	if !pathExists(filepath.Join(w.r.recs.dir, a.id)) {
		t.Error("want DropAhead to leave a claimed record alone")
	}
}

// The storage a held run -d begins before its command line is read (CreateStorageAhead) is
// its container's only when the create confirms the guess: the id drawn ahead, in a record
// directory that was made, the image and --rm. Any other is deleted, not taken. (The
// creations here failed: none leaves storage to delete.)
func TestStorageMadeAheadIsTakenOnlyForTheContainerGuessed(t *testing.T) {
	w := newCheckWorld(t)
	closed := make(chan struct{})
	close(closed)
	made := &recordDir{id: newID(), done: closed}
	guess := func() *storageAhead {
		return &storageAhead{id: made.id, ref: "busybox", remove: true, kept: &imageRef{ID: "image1"}, began: time.Now(),
			d: &deferredStorage{ahead: closed, err: errors.New("not created")}}
	}
	guessed := func() *Container {
		c := newContainer("guessed", time.Now())
		c.ID, c.ImageID, c.Config.Remove = made.id, "image1", true
		return c
	}
	if s := guess(); w.r.takeStorageAhead(s, guessed(), made) != s.d {
		t.Error("want the storage made ahead taken by the container guessed")
	}
	for name, change := range map[string]func(c *Container){
		"another id":    func(c *Container) { c.ID = newID() },
		"another image": func(c *Container) { c.ImageID = "image2" },
		"without --rm":  func(c *Container) { c.Config.Remove = false },
	} {
		c := guessed()
		change(c)
		if w.r.takeStorageAhead(guess(), c, made) != nil {
			t.Errorf("%s: want the storage made ahead dropped, not taken", name)
		}
	}
	if w.r.takeStorageAhead(guess(), guessed(), &recordDir{id: made.id, done: closed, err: errors.New("no directory")}) != nil {
		t.Error("want no storage taken for a record directory that was not made")
	}
	old := guess()
	old.began = time.Now().Add(-checkGrace)
	if w.r.takeStorageAhead(old, guessed(), made) != nil {
		t.Error("want no storage taken that system check may have judged abandoned")
	}
}

// A create resolves its image from what CreateStorageAhead read only while the image list is
// the one it was read from: a pull in between (--pull always) makes it read again.
func TestImageResolvedAheadIsUsedWhileTheImageListStands(t *testing.T) {
	w := newCheckWorld(t)
	list := filepath.Join(t.TempDir(), "images.json")
	if err := os.WriteFile(list, []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}
	stamp, ok := stampOf(list)
	if !ok {
		t.Fatal("no stamp of the image list")
	}
	kept := &imageRef{Ref: "busybox", Images: list, Stamp: stamp, ID: "image1"}
	w.r.storageAhead = &storageAhead{ref: "busybox", kept: kept}
	if w.r.keptAhead("busybox") != kept {
		t.Error("want the resolution read ahead used")
	}
	if w.r.keptAhead("alpine") != nil {
		t.Error("want no resolution read ahead for another image")
	}
	if err := os.WriteFile(list, []byte(`[{"id":"image2"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if w.r.keptAhead("busybox") != nil {
		t.Error("want the resolution read ahead dropped once the image list changed")
	}
}

func TestCheckFindsEachInconsistencyAndRepairConvergesOnIt(t *testing.T) {
	orphan := newID()
	for _, tc := range []struct {
		name string
		// damage breaks the world; it returns a check of the repaired world beyond the
		// finding's disappearance, or nil.
		damage  func(t *testing.T, w *checkWorld) func(t *testing.T, w *checkWorld)
		mention string
	}{
		{"storage container without a record", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			w.st.ids[orphan] = true
			return func(t *testing.T, w *checkWorld) {
				if w.st.ids[orphan] {
					t.Error("want the orphan deleted from storage")
				}
			}
		}, "storage container " + orphan[:12] + " has no den record"},
		{"record without storage", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			delete(w.st.ids, w.exited.ID)
			return func(t *testing.T, w *checkWorld) {
				if _, err := w.r.recs.resolve("exited"); !errors.Is(err, ErrNotFound) {
					t.Errorf("want the record and its name gone, resolve says %v", err)
				}
			}
		}, "(exited) has no storage"},
		{"record directory without a record", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			if err := os.Remove(w.r.recs.path(w.created.ID)); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(filepath.Join(w.r.recs.dir, w.created.ID), old, old); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T, w *checkWorld) {
				if pathExists(filepath.Join(w.r.recs.dir, w.created.ID)) || w.st.ids[w.created.ID] {
					t.Error("want the directory and the storage it left removed")
				}
			}
		}, "holds no record"},
		{"unreadable record", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			if err := os.WriteFile(w.r.recs.path(w.exited.ID), []byte("{garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T, w *checkWorld) {
				if pathExists(filepath.Join(w.r.recs.dir, w.exited.ID)) || pathExists(filepath.Join(w.r.recs.namesDir(), "exited")) || w.st.ids[w.exited.ID] {
					t.Error("want its directory, name and storage removed")
				}
			}
		}, "record cannot be read"},
		{"name of a missing container", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			if err := os.WriteFile(filepath.Join(w.r.recs.namesDir(), "ghost"), []byte(orphan+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T, w *checkWorld) {
				if pathExists(filepath.Join(w.r.recs.namesDir(), "ghost")) {
					t.Error("want the entry removed")
				}
			}
		}, `name "ghost" points to container ` + orphan[:12] + ", which does not exist"},
		{"name left by an interrupted rename", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			if err := os.WriteFile(filepath.Join(w.r.recs.namesDir(), "newname"), []byte(w.created.ID+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T, w *checkWorld) {
				if pathExists(filepath.Join(w.r.recs.namesDir(), "newname")) || !pathExists(filepath.Join(w.r.recs.namesDir(), "created")) {
					t.Error("want the extra entry removed and the record's own kept")
				}
			}
		}, "which has another name (an interrupted rename)"},
		{"record missing from the name registry", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			if err := os.Remove(filepath.Join(w.r.recs.namesDir(), "created")); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T, w *checkWorld) {
				if c, err := w.r.recs.resolve("created"); err != nil || c.ID != w.created.ID {
					t.Errorf("want the name registered again: %v", err)
				}
			}
		}, "(created) is missing from the name registry"},
		{"running record whose holder died", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			w.running.State.Holder = deadPid(t)
			if err := w.r.recs.save(w.running); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T, w *checkWorld) {
				c, err := w.r.recs.load(w.running.ID)
				if err != nil || c.State.Status != StatusExited || c.State.ExitCode != -1 {
					t.Errorf("want the exit persisted: %+v, %v", c, err)
				}
				if pathExists(w.r.runDir(w.running.ID)) || pathExists(filepath.Join(w.r.stateRoot(), w.running.ID)) {
					t.Error("want its runtime directory and libcontainer state removed")
				}
				if !reflect.DeepEqual(w.st.unmounted, []string{w.running.ID}) {
					t.Errorf("want its rootfs unmounted, unmounted %q", w.st.unmounted)
				}
			}
		}, "(running) is recorded running, but the den process holding it"},
		{"--rm container whose holder died", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			w.running.State.Holder = deadPid(t)
			w.running.Config.Remove = true
			if err := w.r.recs.save(w.running); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T, w *checkWorld) {
				if _, err := w.r.recs.load(w.running.ID); !errors.Is(err, ErrNotFound) || w.st.ids[w.running.ID] {
					t.Errorf("want it removed with its storage: %v", err)
				}
			}
		}, "is recorded running"},
		{"runtime state of unknown containers", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			w.writeRunFile(t, orphan, "hosts")
			if err := os.MkdirAll(filepath.Join(w.r.stateRoot(), orphan), 0o700); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T, w *checkWorld) {
				if pathExists(w.r.runDir(orphan)) || pathExists(filepath.Join(w.r.stateRoot(), orphan)) {
					t.Error("want both removed")
				}
			}
		}, "leftover runtime state"},
		{"libcontainer state and a control socket of an exited container", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			w.writeRunFile(t, w.exited.ID, controlSocket)
			if err := os.MkdirAll(filepath.Join(w.r.stateRoot(), w.exited.ID), 0o700); err != nil {
				t.Fatal(err)
			}
			return func(t *testing.T, w *checkWorld) {
				if pathExists(w.r.runDir(w.exited.ID)) || pathExists(filepath.Join(w.r.stateRoot(), w.exited.ID)) {
					t.Error("want both removed")
				}
			}
		}, "leftover runtime state"},
		{"temporary file of an interrupted write", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			p := filepath.Join(w.r.recs.dir, w.created.ID, ".container.json.tmp123")
			if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
			return agedAndWantedGone(w, p)
		}, "leftover temporary file"},
		{"directory of a removed record left aside", func(t *testing.T, w *checkWorld) func(*testing.T, *checkWorld) {
			p := filepath.Join(w.r.recs.dir, removedPrefix+orphan)
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(p, "container.json"), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
			return agedAndWantedGone(w, p)
		}, "leftover directory of a removed container"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newCheckWorld(t)
			after := tc.damage(t, w)
			fs := w.check(t, false)
			found := false
			for _, f := range fs {
				if f.Repair != "" || f.Resolved() {
					t.Errorf("a check without --repair repaired %q", f)
				}
				found = found || strings.Contains(f.String(), tc.mention)
			}
			if !found {
				t.Fatalf("want a finding mentioning %q, got %q", tc.mention, fs)
			}
			for _, f := range w.check(t, true) {
				if !f.Resolved() {
					t.Errorf("not repaired: %q", f)
				}
			}
			if fs := w.check(t, false); len(fs) != 0 {
				t.Errorf("want a clean check after the repair, got %q", fs)
			}
			if after != nil {
				after(t, w)
			}
			for _, c := range []*Container{w.created, w.exited, w.running} {
				if c.Name == "created" && tc.name == "record directory without a record" ||
					c.Name == "exited" && (tc.name == "record without storage" || tc.name == "unreadable record") ||
					c.Name == "running" && tc.name == "--rm container whose holder died" {
					continue
				}
				if got, err := w.r.recs.resolve(c.Name); err != nil || got.ID != c.ID {
					t.Errorf("repair lost the healthy container %s: %v", c.Name, err)
				}
			}
		})
	}
}

// What a command keeps past its answer is its own to delete, and no finding while young: a
// record's last contents a start keeps linked (their modification time is the replaced
// file's, an hour old here: the age counts from the link), and a removed record's directory
// that rm moved aside.
func TestCheckLeavesWhatACommandKeepsAlone(t *testing.T) {
	for name, keep := range map[string]func(t *testing.T, w *checkWorld) string{
		"a record's last contents kept linked": func(t *testing.T, w *checkWorld) string {
			rec := filepath.Join(w.r.recs.dir, w.created.ID, "container.json")
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(rec, old, old); err != nil {
				t.Fatal(err)
			}
			kept := filepath.Join(w.r.recs.dir, w.created.ID, ".container.json.tmp123.old")
			if err := os.Link(rec, kept); err != nil {
				t.Fatal(err)
			}
			return kept
		},
		"a removed record's directory moved aside": func(t *testing.T, w *checkWorld) string {
			p := filepath.Join(w.r.recs.dir, removedPrefix+newID())
			if err := os.MkdirAll(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := newCheckWorld(t)
			p := keep(t, w)
			if fs := w.check(t, true); len(fs) != 0 {
				t.Errorf("want no finding, got %q", fs)
			}
			if !pathExists(p) {
				t.Error("want it left alone")
			}
		})
	}
}

func TestCheckLeavesAYoungRecordWithoutStorageAlone(t *testing.T) {
	w := newCheckWorld(t)
	// A create in progress: its record is written, its storage comes next.
	c := mustCreate(t, w.r.recs, newContainer("creating", time.Now()))
	if fs := w.check(t, true); len(fs) != 0 {
		t.Fatalf("want no findings, got %q", fs)
	}
	if _, err := w.r.recs.load(c.ID); err != nil {
		t.Fatalf("want the record kept: %v", err)
	}
}

func TestCheckReportsTwoContainersOfOneNameWithoutGuessingWhichToKeep(t *testing.T) {
	w := newCheckWorld(t)
	twin := newContainer("twin", time.Now().Add(-time.Hour))
	w.add(t, twin)
	// A second record claiming the name, as no create or rename would write.
	dup := *w.created
	dup.ID, dup.Name = newID(), "twin"
	if err := os.Mkdir(filepath.Join(w.r.recs.dir, dup.ID), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := w.r.recs.save(&dup); err != nil {
		t.Fatal(err)
	}
	w.st.ids[dup.ID] = true
	fs := w.check(t, true)
	if len(fs) != 1 || fs[0].Resolved() || !strings.Contains(fs[0].Problem, "have the same name") {
		t.Fatalf("want one unrepaired finding about the name, got %q", fs)
	}
}

func TestRenameMovesTheNameAndFreesTheOld(t *testing.T) {
	w := newCheckWorld(t)
	for _, c := range []*Container{w.created, w.running} {
		got, err := w.r.Rename(c.Name, c.Name+"2")
		if err != nil {
			t.Fatalf("rename %s: %v", c.Name, err)
		}
		if got.Name != c.Name+"2" {
			t.Errorf("returned name %q", got.Name)
		}
		if r, err := w.r.recs.resolve(c.Name + "2"); err != nil || r.ID != c.ID || r.Name != c.Name+"2" {
			t.Errorf("the new name does not resolve to the renamed record: %+v, %v", r, err)
		}
		if _, err := w.r.recs.resolve(c.Name); !errors.Is(err, ErrNotFound) {
			t.Errorf("the old name still resolves: %v", err)
		}
		mustCreate(t, w.r.recs, newContainer(c.Name, time.Now()))
	}
	// The running container keeps its state.
	if r, _ := w.r.recs.load(w.running.ID); r.State.Status != StatusRunning {
		t.Errorf("rename changed the state: %+v", r.State)
	}
}

func TestRenameRefusesANameInUseAndAnInvalidOne(t *testing.T) {
	w := newCheckWorld(t)
	for name, want := range map[string]error{"exited": ErrNameInUse, "created": ErrNameInUse, "bad/name": nil, "": nil} {
		_, err := w.r.Rename("created", name)
		if err == nil || (want != nil && !errors.Is(err, want)) {
			t.Errorf("rename to %q: want an error (%v), got %v", name, want, err)
		}
	}
	if _, err := w.r.Rename("nosuch", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("want ErrNotFound, got %v", err)
	}
	var names []string
	ents, _ := os.ReadDir(w.r.recs.namesDir())
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"created", "exited", "running"}) {
		t.Errorf("failed renames changed the registry: %q", names)
	}
}

func TestRenameTakesANameLeftByAnInterruptedRename(t *testing.T) {
	w := newCheckWorld(t)
	if err := os.WriteFile(filepath.Join(w.r.recs.namesDir(), "web"), []byte(w.exited.ID+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := w.r.Rename("created", "web"); err != nil {
		t.Fatalf("want the stale entry taken over: %v", err)
	}
	if fs := w.check(t, false); len(fs) != 0 {
		t.Errorf("want a consistent store after the rename, got %q", fs)
	}
}

func TestContainerFilterResolveNamesItsAnchors(t *testing.T) {
	full := idWithPrefix("aa22")
	cs := []*Container{{ID: idWithPrefix("aa11"), Name: "a"}, {ID: full, Name: "aa"}}
	for ref, want := range map[string]error{"a": nil, "aa": nil, "aa1": nil, full: nil, "a2": ErrNotFound, "nosuch": ErrNotFound} {
		f, err := ParseContainerFilters([]string{"since=" + ref})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Resolve(cs); !errors.Is(err, want) || (err != nil && !strings.Contains(err.Error(), "since="+ref)) {
			t.Errorf("since=%s: Resolve = %v, want %v", ref, err, want)
		}
	}
	// A name comes before an id prefix; a prefix of two ids is ambiguous.
	f, _ := ParseContainerFilters([]string{"before=aa"})
	if err := f.Resolve(cs); err != nil {
		t.Errorf("before=aa, the name of one and a prefix of both: want the named one, got %v", err)
	}
	if err := f.Resolve([]*Container{cs[0], {ID: idWithPrefix("aa33"), Name: "x"}}); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("before=aa over two ids starting aa: want ambiguous, got %v", err)
	}
}

func FuzzParseContainerFilters(f *testing.F) {
	for _, s := range []string{"status=running", "name=^w", "label=a=b", "before=web", "until=10m", "volume=/data", "network=none", "health=none", "exited=1", "x"} {
		f.Add(s)
	}
	c := &Container{ID: idWithPrefix("ab"), Name: "web", Created: time.Unix(100, 0), State: State{Status: StatusRunning}}
	f.Fuzz(func(t *testing.T, spec string) {
		flt, err := ParseContainerFilters([]string{spec})
		if err != nil {
			if !strings.Contains(err.Error(), "--filter") {
				t.Errorf("%q: want the error to name --filter, got %v", spec, err)
			}
			return
		}
		if err := flt.Resolve([]*Container{c}); err == nil {
			flt.Match(c)
		}
	})
}
