package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testPaths(t *testing.T) *Paths {
	t.Helper()
	return &Paths{
		Rootless:   true,
		UID:        os.Getuid(),
		GID:        os.Getgid(),
		DataDir:    filepath.Join(t.TempDir(), "data"),
		RuntimeDir: filepath.Join(t.TempDir(), "run", "den"),
	}
}

func currentBootID(t *testing.T) string {
	t.Helper()
	id, err := BootID()
	if err != nil {
		t.Skipf("no boot id on this system: %v", err)
	}
	if id == "" {
		t.Fatal("BootID returned an empty id")
	}
	return id
}

func TestEnsureRuntimeDirCreatesAPrivateDirectory(t *testing.T) {
	currentBootID(t)
	p := testPaths(t)
	if _, err := p.EnsureRuntimeDir(); err != nil {
		t.Fatalf("EnsureRuntimeDir: %v", err)
	}
	fi, err := os.Lstat(p.RuntimeDir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		t.Fatalf("%s is %v, want a directory", p.RuntimeDir, fi.Mode())
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("mode = %o, want 700", fi.Mode().Perm())
	}
}

func TestEnsureRuntimeDirTightensAnExistingOpenDirectory(t *testing.T) {
	currentBootID(t)
	p := testPaths(t)
	if err := os.MkdirAll(p.RuntimeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p.RuntimeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := p.EnsureRuntimeDir(); err != nil {
		t.Fatalf("EnsureRuntimeDir: %v", err)
	}
	fi, err := os.Stat(p.RuntimeDir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("mode = %o, want 700", fi.Mode().Perm())
	}
}

func TestEnsureRuntimeDirRefusesASymlink(t *testing.T) {
	currentBootID(t)
	p := testPaths(t)
	target := filepath.Join(t.TempDir(), "attacker")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p.RuntimeDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p.RuntimeDir); err != nil {
		t.Fatal(err)
	}
	_, err := p.EnsureRuntimeDir()
	if err == nil {
		t.Fatal("EnsureRuntimeDir accepted a symlink")
	}
	if !strings.Contains(err.Error(), p.RuntimeDir) {
		t.Errorf("error %q does not name the directory", err)
	}
	if _, err := os.Stat(filepath.Join(target, "boot-id")); !os.IsNotExist(err) {
		t.Errorf("EnsureRuntimeDir wrote through the symlink (stat boot-id: %v)", err)
	}
}

func TestEnsureRuntimeDirRefusesAPlainFile(t *testing.T) {
	currentBootID(t)
	p := testPaths(t)
	if err := os.MkdirAll(filepath.Dir(p.RuntimeDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.RuntimeDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := p.EnsureRuntimeDir(); err == nil {
		t.Fatal("EnsureRuntimeDir accepted a regular file")
	}
}

func TestEnsureRuntimeDirRefusesADirectoryOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	currentBootID(t)
	p := testPaths(t)
	p.UID = 1000
	if err := os.MkdirAll(p.RuntimeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p.RuntimeDir, 4321, 4321); err != nil {
		t.Fatal(err)
	}
	if _, err := p.EnsureRuntimeDir(); err == nil {
		t.Fatal("EnsureRuntimeDir accepted a directory owned by uid 4321 for uid 1000")
	}
}

func TestEnsureRuntimeDirReportsReboots(t *testing.T) {
	boot := currentBootID(t)
	p := testPaths(t)
	rec := filepath.Join(p.RuntimeDir, "boot-id")

	steps := []struct {
		name   string
		before func()
		want   bool
	}{
		{"first use is not a reboot", func() {}, false},
		{"a second use in the same boot is not a reboot", func() {}, false},
		{"a recorded id from another boot is a reboot", func() {
			if err := os.WriteFile(rec, []byte("00000000-0000-0000-0000-000000000000\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"the use after a reboot is recorded, so the next is not a reboot", func() {}, false},
		{"a recorded id without its newline still matches", func() {
			if err := os.WriteFile(rec, []byte(boot), 0o600); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, s := range steps {
		s.before()
		got, err := p.EnsureRuntimeDir()
		if err != nil {
			t.Fatalf("%s: EnsureRuntimeDir: %v", s.name, err)
		}
		if got != s.want {
			t.Errorf("%s: rebooted = %v, want %v", s.name, got, s.want)
		}
		b, err := os.ReadFile(rec)
		if err != nil {
			t.Fatalf("%s: boot id not recorded: %v", s.name, err)
		}
		if strings.TrimSpace(string(b)) != boot {
			t.Errorf("%s: recorded boot id %q, want %q", s.name, b, boot)
		}
	}
	if _, err := os.Stat(rec + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary boot-id file left behind (stat: %v)", err)
	}
}

func TestEnsureRuntimeDirCalledConcurrentlyNeverFails(t *testing.T) {
	// Several den commands start at once after a reboot: each finds a stale boot id and
	// records the new one. None may fail because another is recording it too.
	currentBootID(t)
	p := testPaths(t)
	if _, err := p.EnsureRuntimeDir(); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(p.RuntimeDir, "boot-id")
	const workers, rounds = 8, 100
	for round := 0; round < rounds; round++ {
		if err := os.WriteFile(rec, []byte("stale-boot\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			go func() {
				<-start
				q := *p
				_, err := q.EnsureRuntimeDir()
				errs <- err
			}()
		}
		close(start)
		for w := 0; w < workers; w++ {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: concurrent EnsureRuntimeDir failed: %v", round, err)
			}
		}
	}
}
