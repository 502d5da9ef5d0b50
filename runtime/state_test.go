package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/den-project/den/config"
	"github.com/den-project/den/netstack"
)

// The helper process: tests re-execute this test binary with helperEnv set to an action, so
// that records are exercised by several real processes, as concurrent den commands would.
const (
	helperEnv  = "DEN_RUNTIME_TEST_HELPER"
	helperDir  = "DEN_RUNTIME_TEST_DIR"
	helperName = "DEN_RUNTIME_TEST_NAME"
)

func TestHelperProcess(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "":
		return
	case "create":
		r := records{dir: os.Getenv(helperDir)}
		// Wait for the starting gun so the creates overlap as much as possible.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if _, err := os.Stat(filepath.Join(r.dir, "go")); err == nil {
				break
			}
		}
		c := &Container{ID: newID(), Name: os.Getenv(helperName), Created: time.Now(), State: State{Status: StatusCreated}}
		err := r.create(c, false, false)
		switch {
		case err == nil:
			fmt.Println("created", c.ID)
		case errors.Is(err, ErrNameInUse):
			fmt.Println("in-use")
		default:
			fmt.Println("error", err)
		}
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "unknown helper action", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

func helperCommand(t *testing.T, action string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + action}, env...)...)
	return cmd
}

func testRecords(t *testing.T) records {
	t.Helper()
	return records{dir: filepath.Join(t.TempDir(), "containers")}
}

// idWithPrefix makes a valid 64-hex id that starts with prefix.
func idWithPrefix(prefix string) string {
	return prefix + newID()[len(prefix):]
}

func newContainer(name string, created time.Time) *Container {
	return &Container{ID: newID(), Name: name, Created: created, State: State{Status: StatusCreated}}
}

func mustCreate(t *testing.T, r records, c *Container) *Container {
	t.Helper()
	if err := r.create(c, false, false); err != nil {
		t.Fatalf("create %s (%s): %v", c.Name, c.ID, err)
	}
	return c
}

// A record created to be synced later (run -d) is whole and named at once, and sync makes
// both files durable; a --rm container's stay volatile, and a name gone since is an error that
// says which file.
func TestRecordsCreatedToSyncLater(t *testing.T) {
	r := testRecords(t)
	c := newContainer("later", time.Now().Round(0))
	if err := r.create(c, true, false); err != nil {
		t.Fatal(err)
	}
	got, err := r.load(c.ID)
	if err != nil || got.Name != "later" {
		t.Fatalf("load: %+v, %v", got, err)
	}
	if byName, err := r.resolve("later"); err != nil || byName.ID != c.ID {
		t.Fatalf("resolve later: %+v, %v", byName, err)
	}
	if err := r.sync(c); err != nil {
		t.Fatalf("sync: %v", err)
	}
	gone := newContainer("gone", time.Now())
	if err := r.create(gone, true, false); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(r.namesDir(), "gone")); err != nil {
		t.Fatal(err)
	}
	if err := r.sync(gone); err == nil || !strings.Contains(err.Error(), filepath.Join("names", "gone")) {
		t.Errorf("sync with the name file gone: %v, want an error naming it", err)
	}
	gone.Config.Remove = true
	if err := r.sync(gone); err != nil {
		t.Errorf("sync of a --rm container's volatile record: %v, want nothing done", err)
	}
}

func TestRecordsCreateThenLoadRoundTrips(t *testing.T) {
	r := testRecords(t)
	c := newContainer("web", time.Now().Round(0))
	c.Image = "busybox"
	c.Config = ContainerConfig{Args: strs("sh"), Env: strs("A=1"), WorkingDir: "/", Hostname: "h"}
	c.Labels = map[string]string{"k": "v"}
	mustCreate(t, r, c)
	got, err := r.load(c.ID)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if got.ID != c.ID || got.Name != "web" || got.Image != "busybox" || !got.Created.Equal(c.Created) ||
		got.Config.Hostname != "h" || got.Labels["k"] != "v" || got.State.Status != StatusCreated {
		t.Errorf("loaded %+v, want %+v", got, c)
	}
	fi, err := os.Stat(filepath.Join(r.dir, c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("record directory mode %o, want 700", fi.Mode().Perm())
	}
}

func TestRecordsCreateRefusesANameInUse(t *testing.T) {
	r := testRecords(t)
	first := mustCreate(t, r, newContainer("web", time.Now()))
	second := newContainer("web", time.Now())
	err := r.create(second, false, false)
	if !errors.Is(err, ErrNameInUse) {
		t.Fatalf("second create err = %v, want ErrNameInUse", err)
	}
	if !strings.Contains(err.Error(), "web") || !strings.Contains(err.Error(), first.ID) {
		t.Errorf("error %q does not name the name and its owner", err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, second.ID)); !os.IsNotExist(err) {
		t.Errorf("the refused create left its directory behind (stat: %v)", err)
	}
	got, err := r.resolve("web")
	if err != nil || got.ID != first.ID {
		t.Errorf("resolve(web) = %v, %v; want the first container", got, err)
	}
}

func TestRecordsCreateReclaimsAStaleName(t *testing.T) {
	cases := []struct {
		name  string
		stale func(t *testing.T, r records) string
	}{
		{"whose owner never wrote a record", func(t *testing.T, r records) string {
			return newID()
		}},
		{"whose owner's directory lacks its record", func(t *testing.T, r records) string {
			id := newID()
			if err := os.MkdirAll(filepath.Join(r.dir, id), 0o700); err != nil {
				t.Fatal(err)
			}
			return id
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := testRecords(t)
			if err := os.MkdirAll(r.namesDir(), 0o700); err != nil {
				t.Fatal(err)
			}
			owner := c.stale(t, r)
			if err := os.WriteFile(filepath.Join(r.namesDir(), "web"), []byte(owner+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			fresh := mustCreate(t, r, newContainer("web", time.Now()))
			b, err := os.ReadFile(filepath.Join(r.namesDir(), "web"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(b)) != fresh.ID {
				t.Errorf("name file holds %q, want the new owner %s", b, fresh.ID)
			}
		})
	}
}

func TestRecordsResolve(t *testing.T) {
	r := testRecords(t)
	web := mustCreate(t, r, &Container{ID: idWithPrefix("abc1"), Name: "web", Created: time.Now()})
	db := mustCreate(t, r, &Container{ID: idWithPrefix("abc2"), Name: "db", Created: time.Now()})
	// A name that is also an id prefix: the name wins, as in podman.
	named := mustCreate(t, r, &Container{ID: idWithPrefix("fff"), Name: "abc1", Created: time.Now()})

	cases := []struct {
		name    string
		ref     string
		want    *Container
		wantErr error
	}{
		{"finds a container by name", "db", db, nil},
		{"finds a container by full id", web.ID, web, nil},
		{"finds a container by a unique id prefix", "abc2", db, nil},
		{"finds a container by a 12-character short id", web.ID[:12], web, nil},
		{"prefers a name over an id prefix", "abc1", named, nil},
		{"reports an id prefix matching several containers as ambiguous", "abc", nil, ErrAmbiguous},
		{"reports an unknown name as not found", "nope", nil, ErrNotFound},
		{"reports an unknown id prefix as not found", "0123", nil, ErrNotFound},
		{"reports an empty reference as not found", "", nil, ErrNotFound},
		{"does not follow a path out of the names directory", "../" + web.ID[:4], nil, ErrNotFound},
		{"does not treat a path as a name", "x/db", nil, ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := r.resolve(c.ref)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("resolve(%q) err = %v, want %v", c.ref, err, c.wantErr)
			}
			if c.want != nil && (got == nil || got.ID != c.want.ID) {
				t.Errorf("resolve(%q) = %+v, want %s", c.ref, got, c.want.ID)
			}
		})
	}
}

func TestRecordsResolveInAnEmptyStoreFindsNothing(t *testing.T) {
	r := testRecords(t)
	for _, ref := range []string{"web", "abc", newID()} {
		if _, err := r.resolve(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("resolve(%q) err = %v, want ErrNotFound", ref, err)
		}
	}
}

func TestRecordsListIsNewestFirst(t *testing.T) {
	r := testRecords(t)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mid := mustCreate(t, r, newContainer("mid", base.Add(time.Hour)))
	old := mustCreate(t, r, newContainer("old", base))
	nw := mustCreate(t, r, newContainer("new", base.Add(2*time.Hour)))
	// A half-made record directory is skipped, not an error.
	if err := os.Mkdir(filepath.Join(r.dir, newID()), 0o700); err != nil {
		t.Fatal(err)
	}
	got, err := r.list()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var ids []string
	for _, c := range got {
		ids = append(ids, c.Name)
	}
	if strings.Join(ids, ",") != "new,mid,old" {
		t.Errorf("list order = %v, want new,mid,old", ids)
	}
	_, _, _ = mid, old, nw
}

func TestRecordsListOfAMissingDirectoryIsEmpty(t *testing.T) {
	got, err := testRecords(t).list()
	if err != nil || len(got) != 0 {
		t.Errorf("list = %v, %v; want nothing and no error", got, err)
	}
}

func TestRecordsRemoveFreesTheName(t *testing.T) {
	r := testRecords(t)
	c := mustCreate(t, r, newContainer("web", time.Now()))
	if err := r.remove(c); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.dir, c.ID)); !os.IsNotExist(err) {
		t.Errorf("record directory still there (stat: %v)", err)
	}
	if _, err := os.Stat(filepath.Join(r.namesDir(), "web")); !os.IsNotExist(err) {
		t.Errorf("name file still there (stat: %v)", err)
	}
	if _, err := r.resolve("web"); !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve after remove err = %v, want ErrNotFound", err)
	}
	if _, err := r.load(c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("load after remove err = %v, want ErrNotFound", err)
	}
	mustCreate(t, r, newContainer("web", time.Now()))
}

func TestRecordsRemoveLeavesANameOwnedByAnother(t *testing.T) {
	r := testRecords(t)
	c := mustCreate(t, r, newContainer("web", time.Now()))
	// Simulate a reclaimed name now owned by another record.
	other := mustCreate(t, r, newContainer("other", time.Now()))
	if err := os.WriteFile(filepath.Join(r.namesDir(), "web"), []byte(other.ID+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.remove(c); err != nil {
		t.Fatalf("remove: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(r.namesDir(), "web"))
	if err != nil || strings.TrimSpace(string(b)) != other.ID {
		t.Errorf("name file = %q, %v; want it kept for %s", b, err, other.ID)
	}
}

func TestRecordsSavePersistsState(t *testing.T) {
	r := testRecords(t)
	c := mustCreate(t, r, newContainer("web", time.Now()))
	c.State = State{Status: StatusExited, ExitCode: 3}
	if err := r.save(c); err != nil {
		t.Fatal(err)
	}
	got, err := r.load(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Status != StatusExited || got.State.ExitCode != 3 {
		t.Errorf("state = %+v, want exited 3", got.State)
	}
}

func TestValidateName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"web", true},
		{"a", true},
		{"9lives", true},
		{"my_app.v2-blue", true},
		{"UPPER", true},
		{strings.Repeat("a", 253), true},
		{strings.Repeat("a", 254), false},
		{"", false},
		{"-dash", false},
		{"_under", false},
		{".dot", false},
		{"has space", false},
		{"slash/name", false},
		{"..", false},
		{"colon:name", false},
		{"née", false},
		{"tab\tname", false},
		{"line\n", false},
	}
	for _, c := range cases {
		err := ValidateName(c.name)
		if (err == nil) != c.ok {
			t.Errorf("ValidateName(%q) = %v, want ok %v", c.name, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "letters, digits") {
			t.Errorf("ValidateName(%q) error %q does not say what is allowed", c.name, err)
		}
	}
}

func TestRecordsCreateOfOneNameByManyProcessesHasOneWinner(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 20 processes")
	}
	const n = 20
	dir := filepath.Join(t.TempDir(), "containers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	outs := make([]string, n)
	var started, done sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		cmd := helperCommand(t, "create", helperDir+"="+dir, helperName+"=shared")
		started.Add(1)
		done.Add(1)
		go func(i int) {
			defer done.Done()
			out, err := cmd.StdoutPipe()
			if err != nil {
				started.Done()
				errs <- err
				return
			}
			err = cmd.Start()
			started.Done()
			if err != nil {
				errs <- err
				return
			}
			line, _ := bufio.NewReader(out).ReadString('\n')
			outs[i] = strings.TrimSpace(line)
			if err := cmd.Wait(); err != nil {
				errs <- fmt.Errorf("helper %d: %w", i, err)
			}
		}(i)
	}
	started.Wait()
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	done.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var winners []string
	inUse := 0
	for i, o := range outs {
		switch {
		case strings.HasPrefix(o, "created "):
			winners = append(winners, strings.TrimPrefix(o, "created "))
		case o == "in-use":
			inUse++
		default:
			t.Errorf("helper %d said %q", i, o)
		}
	}
	if len(winners) != 1 || inUse != n-1 {
		t.Fatalf("%d creates won and %d were refused, want 1 and %d", len(winners), inUse, n-1)
	}
	r := records{dir: dir}
	got, err := r.resolve("shared")
	if err != nil || got.ID != winners[0] {
		t.Errorf("resolve(shared) = %v, %v; want the winner %s", got, err, winners[0])
	}
	all, err := r.list()
	if err != nil || len(all) != 1 {
		t.Errorf("list = %d records, %v; want only the winner's", len(all), err)
	}
}

// deadPid returns the pid of a child that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatalf("running a short-lived child: %v", err)
	}
	return cmd.Process.Pid
}

func TestReconcile(t *testing.T) {
	boot := bootID()
	if boot == "" {
		t.Skip("no boot id on this system")
	}
	self := os.Getpid()
	selfStart := procStart(self)
	if selfStart == 0 {
		t.Fatal("procStart of the test process is 0")
	}
	dead := deadPid(t)
	finished := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

	cases := []struct {
		name        string
		state       State
		wantChanged bool
		wantStatus  string
		wantError   string
	}{
		{
			name:       "keeps a running container whose holder is alive",
			state:      State{Status: StatusRunning, Pid: 4242, Holder: self, HolderStart: selfStart, BootID: boot},
			wantStatus: StatusRunning,
		},
		{
			name:        "ends a running container whose holder died",
			state:       State{Status: StatusRunning, Pid: 4242, Holder: dead, HolderStart: selfStart, BootID: boot},
			wantChanged: true, wantStatus: StatusExited, wantError: "died",
		},
		{
			name:        "ends a running container whose holder pid was reused by another process",
			state:       State{Status: StatusRunning, Pid: 4242, Holder: self, HolderStart: selfStart + 1, BootID: boot},
			wantChanged: true, wantStatus: StatusExited, wantError: "died",
		},
		{
			name:        "ends a running container without a recorded holder",
			state:       State{Status: StatusRunning, Pid: 4242, BootID: boot},
			wantChanged: true, wantStatus: StatusExited, wantError: "died",
		},
		{
			name:        "ends a running container from before a reboot even if its holder pid is alive",
			state:       State{Status: StatusRunning, Pid: 4242, Holder: self, HolderStart: selfStart, BootID: "another-boot"},
			wantChanged: true, wantStatus: StatusExited, wantError: "rebooted",
		},
		{
			name:       "leaves a created container alone",
			state:      State{Status: StatusCreated},
			wantStatus: StatusCreated,
		},
		{
			name:       "leaves an exited container alone",
			state:      State{Status: StatusExited, ExitCode: 7, FinishedAt: finished},
			wantStatus: StatusExited,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctr := &Container{ID: newID(), Name: "x", State: c.state}
			before := ctr.State
			changed := reconcile(ctr)
			if changed != c.wantChanged {
				t.Errorf("reconcile = %v, want %v", changed, c.wantChanged)
			}
			s := ctr.State
			if s.Status != c.wantStatus {
				t.Errorf("status = %q, want %q", s.Status, c.wantStatus)
			}
			if !c.wantChanged {
				if s != before {
					t.Errorf("state changed from %+v to %+v", before, s)
				}
				return
			}
			if s.ExitCode != -1 {
				t.Errorf("exit code = %d, want -1", s.ExitCode)
			}
			if s.Pid != 0 {
				t.Errorf("pid = %d, want 0", s.Pid)
			}
			if !strings.Contains(s.Error, c.wantError) {
				t.Errorf("error %q does not say %q", s.Error, c.wantError)
			}
			if s.FinishedAt.IsZero() {
				t.Error("FinishedAt not set")
			}
		})
	}
}

func TestReconcileKeepsARecordedFinishTime(t *testing.T) {
	finished := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	c := &Container{ID: newID(), State: State{Status: StatusRunning, Holder: deadPid(t), BootID: bootID(), FinishedAt: finished}}
	if !reconcile(c) {
		t.Fatal("reconcile did not end the container")
	}
	if !c.State.FinishedAt.Equal(finished) {
		t.Errorf("FinishedAt = %v, want the recorded %v", c.State.FinishedAt, finished)
	}
}

func TestProcStart(t *testing.T) {
	if procStart(os.Getpid()) == 0 {
		t.Error("procStart(self) = 0, want the start time")
	}
	if procStart(os.Getpid()) != procStart(os.Getpid()) {
		t.Error("procStart(self) is not stable")
	}
	for _, pid := range []int{0, -1, deadPid(t)} {
		if got := procStart(pid); got != 0 {
			t.Errorf("procStart(%d) = %d, want 0", pid, got)
		}
	}
}

// A generated name that meets a taken one is drawn again; a name the user chose is not.
func TestAGeneratedNameThatIsTakenIsDrawnAgain(t *testing.T) {
	r := New(&config.Paths{DataDir: t.TempDir(), RuntimeDir: t.TempDir()}, nil)
	id := func(b byte) string { return strings.Repeat(string(b), 64) }
	taken := &Container{ID: id('a'), Name: "bold_owl_0001", State: State{Status: StatusCreated}}
	if err := r.claimRecord(taken, false, false, false); err != nil {
		t.Fatal(err)
	}
	draws := []string{"bold_owl_0001", "bold_owl_0001", "calm_yak_0002"}
	old := drawName
	t.Cleanup(func() { drawName = old })
	drawName = func() string { n := draws[0]; draws = draws[1:]; return n }

	c := &Container{ID: id('b'), Name: drawName(), State: State{Status: StatusCreated}}
	if err := r.claimRecord(c, true, false, false); err != nil {
		t.Fatalf("generated name: %v", err)
	}
	if c.Name != "calm_yak_0002" {
		t.Fatalf("generated name is %q, want the third draw", c.Name)
	}
	if got, err := r.recs.resolve("calm_yak_0002"); err != nil || got.ID != c.ID {
		t.Fatalf("resolve(calm_yak_0002) = %v, %v", got, err)
	}

	chosen := &Container{ID: id('c'), Name: "bold_owl_0001", State: State{Status: StatusCreated}}
	if err := r.claimRecord(chosen, false, false, false); !errors.Is(err, ErrNameInUse) {
		t.Fatalf("chosen name in use: err = %v, want ErrNameInUse", err)
	}
	if r.recs.exists(chosen.ID) {
		t.Fatal("a refused create left a record")
	}
}

// The lock of a container whose directory is gone (removed by another command, or by its own
// --rm when its monitor saw it die) is "no such container", which rm takes as removed; it was
// an error about the lock file before, and rm -f of a running --rm container failed with it.
func TestLockOfARemovedContainerIsNotFound(t *testing.T) {
	r := New(&config.Paths{DataDir: t.TempDir(), RuntimeDir: t.TempDir()}, nil)
	c := &Container{ID: strings.Repeat("d", 64), Name: "gone", State: State{Status: StatusExited}}
	if err := r.claimRecord(c, false, false, false); err != nil {
		t.Fatal(err)
	}
	lk, err := r.lockContainer(c.ID)
	if err != nil {
		t.Fatalf("lock of a container that exists: %v", err)
	}
	lk.Release()
	if err := r.recs.remove(c); err != nil {
		t.Fatal(err)
	}
	if _, err := r.lockContainer(c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lock of a removed container: %v, want ErrNotFound", err)
	}
	if _, err := r.RemoveWithVolumes(context.Background(), c.ID, true, false, 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rm of a removed container: %v, want ErrNotFound", err)
	}
}

// A read that finds a container's holder dead writes the ending down once: every later read
// reports the same FinishedAt. One that finds a container of an earlier boot writes nothing
// and reports the boot's start, the same from every read.
func TestReadsReportOneEndForAContainerFoundEnded(t *testing.T) {
	r := &Runtime{recs: testRecords(t)}
	dead := mustCreate(t, r.recs, newContainer("dead", time.Now().Round(0)))
	dead.State = State{Status: StatusRunning, Pid: 4242, Holder: deadPid(t), HolderStart: 1, BootID: bootID()}
	if err := r.recs.save(dead); err != nil {
		t.Fatal(err)
	}
	earlier := mustCreate(t, r.recs, newContainer("earlier", time.Now().Round(0)))
	earlier.State = State{Status: StatusRunning, Pid: 4242, Holder: os.Getpid(), HolderStart: procStart(os.Getpid()), BootID: "another-boot"}
	if err := r.recs.save(earlier); err != nil {
		t.Fatal(err)
	}
	first, err := r.Lookup("dead")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	cs, err := r.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		switch c.Name {
		case "dead":
			if c.State.Status != StatusExited || !c.State.FinishedAt.Equal(first.State.FinishedAt) {
				t.Errorf("dead: %s at %v, first read %v", c.State.Status, c.State.FinishedAt, first.State.FinishedAt)
			}
		case "earlier":
			if c.State.Status != StatusExited || !c.State.FinishedAt.Equal(bootTime()) {
				t.Errorf("earlier boot: %s at %v, want exited at the boot, %v", c.State.Status, c.State.FinishedAt, bootTime())
			}
		}
	}
	onDisk, err := r.recs.load(dead.ID)
	if err != nil {
		t.Fatal(err)
	}
	if onDisk.State.Status != StatusExited || !onDisk.State.FinishedAt.Equal(first.State.FinishedAt) {
		t.Errorf("the record of dead says %s at %v, want exited at %v", onDisk.State.Status, onDisk.State.FinishedAt, first.State.FinishedAt)
	}
	if onDisk, _ := r.recs.load(earlier.ID); onDisk.State.Status != StatusRunning {
		t.Errorf("the record of earlier was written (%s): a read needs no write for it", onDisk.State.Status)
	}
	// Under another den's lock, the read leaves the writing to that one.
	held := mustCreate(t, r.recs, newContainer("held", time.Now().Round(0)))
	held.State = dead.State
	if err := r.recs.save(held); err != nil {
		t.Fatal(err)
	}
	lk, err := r.lockContainer(held.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := r.Lookup("held"); err != nil || c.State.Status != StatusExited {
		t.Errorf("held: %v, %v", c, err)
	}
	lk.Release()
	if onDisk, _ := r.recs.load(held.ID); onDisk.State.Status != StatusRunning {
		t.Errorf("a read wrote the record of a locked container")
	}
}

// A container that joins another's network namespace leaves a mark in the other's record
// directory, gone with it; a mark whose record is gone, or no longer joins, counts for nothing.
func TestRecordsMarkWhoJoinsANetworkNamespace(t *testing.T) {
	r := testRecords(t)
	base := mustCreate(t, r, newContainer("base", time.Now()))
	joining := func(name string) *Container {
		c := newContainer(name, time.Now())
		c.Config.Network = &netstack.Config{Mode: netstack.ModeContainer, Container: base.ID}
		return mustCreate(t, r, c)
	}
	side, third := joining("side"), joining("third")
	mustCreate(t, r, newContainer("other", time.Now()))
	names := func() []string {
		var out []string
		for _, c := range r.joiners(base.ID) {
			out = append(out, c.Name)
		}
		sort.Strings(out)
		return out
	}
	if got := names(); strings.Join(got, ",") != "side,third" {
		t.Fatalf("joiners of base: %q, want side and third", got)
	}
	if err := r.remove(side); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.joinedDir(base.ID), side.ID)); !os.IsNotExist(err) {
		t.Errorf("side's mark outlived its removal (stat: %v)", err)
	}
	// A stale mark (a record removed by an older den, say) and a record that no longer
	// joins base are left out.
	if err := os.WriteFile(filepath.Join(r.joinedDir(base.ID), newID()), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	third.Config.Network = nil
	if err := r.save(third); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 0 {
		t.Errorf("joiners of base: %q, want none", got)
	}
	if got := r.joiners(third.ID); len(got) != 0 {
		t.Errorf("joiners of a container nobody joined: %v", got)
	}
}

// idOf finds what resolve finds: a name, a whole id, a prefix; a name left by a container
// gone names nothing.
func TestRecordsIdOf(t *testing.T) {
	r := testRecords(t)
	c := mustCreate(t, r, newContainer("web", time.Now()))
	if err := os.WriteFile(filepath.Join(r.namesDir(), "ghost"), []byte(newID()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{"web": c.ID, c.ID: c.ID, c.ID[:8]: c.ID, "ghost": "", newID(): "", "nosuch": ""} {
		if got := r.idOf(ref); got != want {
			t.Errorf("idOf(%q) = %q, want %q", ref, got, want)
		}
	}
}

// removeAside moves a record's directory aside with its name's file in it: the record is
// gone and its name free at once, and nothing is deleted until the caller deletes the
// directory.
func TestRemoveAsideMovesTheRecordAndItsNameAside(t *testing.T) {
	r := New(&config.Paths{DataDir: t.TempDir(), RuntimeDir: t.TempDir()}, nil)
	c := &Container{ID: strings.Repeat("e", 64), Name: "aside", State: State{Status: StatusExited}}
	if err := r.claimRecord(c, false, false, false); err != nil {
		t.Fatal(err)
	}
	aside, err := r.recs.removeAside(c)
	if err != nil {
		t.Fatal(err)
	}
	if aside != filepath.Join(r.recs.dir, removedPrefix+c.ID) {
		t.Fatalf("moved aside to %q", aside)
	}
	for _, f := range []string{"container.json", ".name"} {
		if _, err := os.Stat(filepath.Join(aside, f)); err != nil {
			t.Errorf("want %s in the directory aside: %v", f, err)
		}
	}
	if _, err := r.recs.resolve("aside"); !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve of the removed record: %v, want ErrNotFound", err)
	}
	if cs, err := r.recs.list(); err != nil || len(cs) != 0 {
		t.Errorf("list after the removal: %d records, %v; want none", len(cs), err)
	}
	again := &Container{ID: strings.Repeat("f", 64), Name: "aside", State: State{Status: StatusCreated}}
	if err := r.claimRecord(again, false, false, false); err != nil {
		t.Errorf("the name of a removed record is not free: %v", err)
	}
	// A directory an earlier removal of the same id left aside (killed) does not stop it.
	if err := r.claimRecord(c, false, false, false); err == nil {
		t.Fatal("claimed a second record with the name of one just claimed")
	}
	c.Name = "aside-again"
	if err := r.claimRecord(c, false, false, false); err != nil {
		t.Fatal(err)
	}
	if aside, err := r.recs.removeAside(c); err != nil || aside == "" {
		t.Fatalf("removal over a directory left aside: %q, %v", aside, err)
	}
	if _, err := os.Stat(filepath.Join(aside, ".name")); err != nil {
		t.Errorf("want the second removal's name file aside: %v", err)
	}
	os.RemoveAll(aside)
	// Moving aside a record that is gone already moves nothing.
	if aside, err := r.recs.removeAside(c); err != nil || aside != "" {
		t.Errorf("a second removal: %q, %v; want nothing", aside, err)
	}
}
