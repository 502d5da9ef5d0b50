package record_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/den-project/den/store/record"
)

// The helper process: tests re-execute this test binary with helperEnv set to an action, so
// that locks are contended by real processes, as concurrent den commands contend them.
const (
	helperEnv = "DEN_RECORD_TEST_HELPER"
	helperDir = "DEN_RECORD_TEST_DIR"
)

const incrementsPerProcess = 50

func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDir)
	switch os.Getenv(helperEnv) {
	case "":
		return
	case "increment":
		if err := increment(dir, incrementsPerProcess); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "hold":
		lk, err := record.Acquire(filepath.Join(dir, "lock"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute) // until killed
		lk.Release()
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "unknown helper action", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// increment adds one to dir/counter n times, each a read-modify-write under dir/lock.
func increment(dir string, n int) error {
	counter := filepath.Join(dir, "counter")
	for i := 0; i < n; i++ {
		lk, err := record.Acquire(filepath.Join(dir, "lock"))
		if err != nil {
			return err
		}
		v := 0
		b, err := os.ReadFile(counter)
		if err == nil {
			v, err = strconv.Atoi(strings.TrimSpace(string(b)))
		} else if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		if err != nil {
			lk.Release()
			return err
		}
		err = record.WriteFile(counter, []byte(strconv.Itoa(v+1)+"\n"), 0o600)
		lk.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

func helperCommand(action, dir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+action, helperDir+"="+dir)
	return cmd
}

type sample struct {
	Name   string            `json:"name"`
	Count  int               `json:"count"`
	Labels map[string]string `json:"labels"`
	Tags   []string          `json:"tags"`
}

func TestWriteJSONThenReadJSONRoundTrips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec.json")
	in := sample{Name: "web \"quoted\" ü", Count: 42, Labels: map[string]string{"a": "b"}, Tags: []string{"x", "y"}}
	if err := record.WriteJSON(path, in); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	var out sample
	if err := record.ReadJSON(path, &out); err != nil {
		t.Fatalf("ReadJSON: %v", err)
	}
	if out.Name != in.Name || out.Count != in.Count || out.Labels["a"] != "b" || strings.Join(out.Tags, ",") != "x,y" {
		t.Errorf("read back %+v, want %+v", out, in)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %o, want 600: records may hold secrets from the environment", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if !strings.HasSuffix(string(b), "}\n") {
		t.Errorf("file does not end in a newline: %q", b)
	}
}

// Both writers replace a file whole, with its permissions: the volatile one only leaves out
// the sync.
func TestWriteFileReplacesContentsAndSetsThePermissions(t *testing.T) {
	for name, write := range map[string]func(string, []byte, os.FileMode) error{
		"WriteFile": record.WriteFile, "WriteFileVolatile": record.WriteFileVolatile,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			steps := []struct {
				data string
				perm os.FileMode
			}{
				{"first version, rather long\n", 0o600},
				{"second\n", 0o644},
				{"", 0o640},
			}
			for _, s := range steps {
				if err := write(path, []byte(s.data), s.perm); err != nil {
					t.Fatalf("%s(%q): %v", name, s.data, err)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if string(b) != s.data {
					t.Errorf("contents = %q, want %q", b, s.data)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != s.perm {
					t.Errorf("mode = %o, want %o", fi.Mode().Perm(), s.perm)
				}
			}
			assertNoTempFiles(t, filepath.Dir(path))
		})
	}
}

// CommitKeepingOld puts the new contents in place and leaves the replaced ones, the same
// file (one inode, so that the rename freed nothing), at the name it returns.
func TestCommitKeepingOldKeepsTheReplacedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	p, err := record.PrepareJSON(path, "first")
	if err != nil {
		t.Fatal(err)
	}
	if old, err := p.CommitKeepingOld(); err != nil || old != "" {
		t.Fatalf("a first commit: kept %q, %v; want nothing kept", old, err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err = record.PrepareJSON(path, "second")
	if err != nil {
		t.Fatal(err)
	}
	old, err := p.CommitKeepingOld()
	if err != nil || old == "" {
		t.Fatalf("a second commit: kept %q, %v; want the first kept", old, err)
	}
	var now, was string
	if err := record.ReadJSON(path, &now); err != nil || now != "second" {
		t.Errorf("after the commit: %q, %v; want the new contents", now, err)
	}
	if err := record.ReadJSON(old, &was); err != nil || was != "first" {
		t.Errorf("kept: %q, %v; want the replaced contents", was, err)
	}
	if kept, err := os.Stat(old); err != nil || !os.SameFile(kept, before) {
		t.Errorf("kept %s is not the replaced file: %v", old, err)
	}
	if base := filepath.Base(old); !strings.HasPrefix(base, ".") || !strings.Contains(base, ".tmp") {
		t.Errorf("kept %s is not named as a temporary file, which system check removes", old)
	}
	if err := os.Remove(old); err != nil {
		t.Fatal(err)
	}
	assertNoTempFiles(t, dir)
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func TestWriteFileThatFailsLeavesNoTemporaryFile(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T) (dir, path string)
	}{
		{"when the directory does not exist", func(t *testing.T) (string, string) {
			dir := t.TempDir()
			return dir, filepath.Join(dir, "missing", "f")
		}},
		{"when the target is a directory and the rename fails", func(t *testing.T) (string, string) {
			dir := t.TempDir()
			target := filepath.Join(dir, "f")
			if err := os.MkdirAll(filepath.Join(target, "child"), 0o700); err != nil {
				t.Fatal(err)
			}
			return dir, target
		}},
		{"when the directory is not writable", func(t *testing.T) (string, string) {
			if os.Geteuid() == 0 {
				t.Skip("root writes to read-only directories")
			}
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o500); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			return dir, filepath.Join(dir, "f")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, path := c.setup(t)
			err := record.WriteFile(path, []byte("data"), 0o600)
			if err == nil {
				t.Fatal("WriteFile succeeded, want an error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			assertNoTempFiles(t, dir)
		})
	}
}

func TestWriteJSONOfAnUnencodableValueWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rec.json")
	if err := record.WriteJSON(path, map[string]any{"f": func() {}}); err == nil {
		t.Fatal("WriteJSON of a func succeeded")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a file was written (stat: %v)", err)
	}
	assertNoTempFiles(t, dir)
}

func TestReadJSON(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("reports a missing record as not existing", func(t *testing.T) {
		var v sample
		err := record.ReadJSON(filepath.Join(dir, "missing.json"), &v)
		if !record.IsNotExist(err) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want os.ErrNotExist", err)
		}
	})
	t.Run("reports a corrupt record as a decoding error naming the file", func(t *testing.T) {
		var v sample
		err := record.ReadJSON(bad, &v)
		if err == nil || record.IsNotExist(err) {
			t.Fatalf("err = %v, want a decoding error", err)
		}
		if !strings.Contains(err.Error(), bad) {
			t.Errorf("error %q does not name the file", err)
		}
	})
}

func TestAcquireExcludesOtherHoldersInTheSameProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, err := record.Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *record.Lock, 1)
	go func() {
		lk, err := record.Acquire(path)
		if err != nil {
			t.Error(err)
		}
		got <- lk
	}()
	select {
	case <-got:
		t.Fatal("a second Acquire succeeded while the first was held")
	case <-time.After(200 * time.Millisecond):
	}
	first.Release()
	select {
	case lk := <-got:
		lk.Release()
	case <-time.After(5 * time.Second):
		t.Fatal("the second Acquire did not get the lock after Release")
	}
}

func TestSharedLocksCoexistButExcludeAnExclusiveOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, err := record.AcquireShared(path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *record.Lock, 1)
	go func() {
		lk, err := record.AcquireShared(path)
		if err != nil {
			t.Error(err)
		}
		done <- lk
	}()
	var b *record.Lock
	select {
	case b = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a second shared lock waited for the first")
	}
	excl := make(chan *record.Lock, 1)
	go func() {
		lk, err := record.Acquire(path)
		if err != nil {
			t.Error(err)
		}
		excl <- lk
	}()
	select {
	case <-excl:
		t.Fatal("an exclusive lock was granted while shared locks were held")
	case <-time.After(200 * time.Millisecond):
	}
	a.Release()
	b.Release()
	select {
	case lk := <-excl:
		lk.Release()
	case <-time.After(5 * time.Second):
		t.Fatal("the exclusive lock was not granted after the shared ones were released")
	}
}

func TestReleaseIsSafeOnNilAndTwice(t *testing.T) {
	var nilLock *record.Lock
	nilLock.Release()
	lk, err := record.Acquire(filepath.Join(t.TempDir(), "lock"))
	if err != nil {
		t.Fatal(err)
	}
	lk.Release()
	lk.Release()
}

func TestAcquireReportsAnUnopenableLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "lock")
	if _, err := record.Acquire(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want an error naming %s", err, path)
	}
}

func TestAcquireExcludesAcrossProcesses(t *testing.T) {
	const procs = 8
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for i := 0; i < procs; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out, err := helperCommand("increment", dir).CombinedOutput()
			if err != nil {
				errs <- fmt.Errorf("helper %d: %v: %s", i, err, out)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "counter"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(b)), strconv.Itoa(procs*incrementsPerProcess); got != want {
		t.Errorf("counter = %s, want %s: increments were lost, so the lock did not exclude", got, want)
	}
	assertNoTempFiles(t, dir)
}

func TestALockHeldByAKilledProcessCanBeAcquired(t *testing.T) {
	dir := t.TempDir()
	cmd := helperCommand("hold", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper said %q, %v; want locked", line, err)
	}

	got := make(chan *record.Lock, 1)
	go func() {
		lk, err := record.Acquire(filepath.Join(dir, "lock"))
		if err != nil {
			t.Error(err)
		}
		got <- lk
	}()
	select {
	case <-got:
		t.Fatal("acquired the lock while another process held it")
	case <-time.After(300 * time.Millisecond):
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true
	select {
	case lk := <-got:
		lk.Release()
	case <-time.After(5 * time.Second):
		t.Fatal("the lock of a killed process was not released")
	}
}

func TestDirReadsRecordsOfAnySizeThroughOneBuffer(t *testing.T) {
	root := t.TempDir()
	big := sample{Name: strings.Repeat("x", 20000), Count: 7}
	small := sample{Name: "s", Count: 1}
	for name, v := range map[string]sample{"big": big, "small": small} {
		if err := os.Mkdir(filepath.Join(root, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := record.WriteJSON(filepath.Join(root, name, "r.json"), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bad.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "small", "r.json"), filepath.Join(root, "link.json")); err != nil {
		t.Fatal(err)
	}
	d, err := record.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var buf []byte
	for _, tc := range []struct {
		rel  string
		want sample
	}{{"small/r.json", small}, {"big/r.json", big}, {"small/r.json", small}} {
		var got sample
		if err := d.ReadJSON(tc.rel, &buf, &got); err != nil {
			t.Fatalf("%s: %v", tc.rel, err)
		}
		if got.Name != tc.want.Name || got.Count != tc.want.Count {
			t.Errorf("%s: read %d-byte name, n=%d; want %d-byte name, n=%d", tc.rel, len(got.Name), got.Count, len(tc.want.Name), tc.want.Count)
		}
	}
	var v sample
	if err := d.ReadJSON("missing/r.json", &buf, &v); !record.IsNotExist(err) {
		t.Errorf("missing record: err = %v, want not-exist", err)
	}
	if err := d.ReadJSON("bad.json", &buf, &v); err == nil || !strings.Contains(err.Error(), filepath.Join(root, "bad.json")) {
		t.Errorf("corrupt record: err = %v, want a decoding error naming the file", err)
	}
	if err := d.ReadJSON("link.json", &buf, &v); err == nil {
		t.Error("a record that is a symlink was followed")
	}
	if _, err := record.OpenDir(filepath.Join(root, "nope")); !record.IsNotExist(err) {
		t.Errorf("missing directory: err = %v, want not-exist", err)
	}
}

// A prepared replacement leaves the file as it was until Commit; Abort leaves no trace.
func TestPrepareJSONReplacesOnlyOnCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rec.json")
	if err := record.WriteJSON(path, map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	read := func() int {
		var m map[string]int
		if err := record.ReadJSON(path, &m); err != nil {
			t.Fatal(err)
		}
		return m["v"]
	}
	p, err := record.PrepareJSON(path, map[string]int{"v": 2})
	if err != nil {
		t.Fatal(err)
	}
	if v := read(); v != 1 {
		t.Fatalf("before Commit: v=%d, want 1", v)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	if v := read(); v != 2 {
		t.Fatalf("after Commit: v=%d, want 2", v)
	}
	q, err := record.PrepareJSON(path, map[string]int{"v": 3})
	if err != nil {
		t.Fatal(err)
	}
	q.Abort()
	var nilPrepared *record.Prepared
	nilPrepared.Abort()
	if v := read(); v != 2 {
		t.Errorf("after Abort: v=%d, want 2", v)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("files left: %v, want rec.json alone", ents)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v: want 0600", fi.Mode(), err)
	}
}
