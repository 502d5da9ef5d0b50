//go:build den_initbin

package initexec

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// These tests need den-init linked in: `make test` runs them with the den_initbin tag.

// Keep writes this build's den-init once, as a private file of its exact bytes, and removes
// what other builds kept over an hour ago; another build's written since stays, for the
// monitors of its containers.
func TestKeepWritesDenInitOnceAndRemovesOtherBuilds(t *testing.T) {
	data := t.TempDir()
	old := filepath.Join(data, "init", "0123456789abcdef", "bin")
	recent := filepath.Join(data, "init", "fedcba9876543210", "bin")
	must(t, os.MkdirAll(old, 0o700))
	must(t, os.MkdirAll(recent, 0o700))
	hoursAgo := time.Now().Add(-2 * time.Hour)
	must(t, os.Chtimes(filepath.Dir(old), hoursAgo, hoursAgo))
	dir := Keep(data)
	if dir == "" {
		t.Fatal("Keep kept nothing")
	}
	file := filepath.Join(dir, "bin", "den-init")
	fi, err := os.Lstat(file)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o500 || fi.Size() != int64(Size()) {
		t.Fatalf("kept %s: mode %v, size %d; want a regular file, 0500, %d bytes", file, fi.Mode(), fi.Size(), Size())
	}
	if b, err := os.ReadFile(file); err != nil || !bytes.HasPrefix(b, []byte("\x7fELF")) {
		t.Fatalf("kept den-init is not a program: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "empty")); err != nil {
		t.Errorf("no empty directory beside bin: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(old)); !os.IsNotExist(err) {
		t.Errorf("another build's den-init, unused for two hours, is still kept: %v", err)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("another build's den-init written just now was removed: %v", err)
	}
	// A file written again would have a new modification time (its inode number may be
	// reused).
	marked := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(file, marked, marked))
	if again := Keep(data); again != dir {
		t.Fatalf("second Keep: %q, want %q", again, dir)
	}
	if fi2, err := os.Lstat(file); err != nil || !fi2.ModTime().Equal(marked) {
		t.Errorf("the second Keep wrote den-init again (%v)", err)
	}
	// Something else in its place (here a shorter file) is replaced by den-init.
	must(t, os.Chmod(file, 0o700))
	must(t, os.Truncate(file, 100))
	if again := Keep(data); again != dir {
		t.Fatalf("Keep over a wrong file: %q, want %q", again, dir)
	}
	if fi3, err := os.Lstat(file); err != nil || fi3.Size() != int64(Size()) || fi3.Mode().Perm() != 0o500 {
		t.Errorf("the wrong file was not replaced by den-init: %v", err)
	}
	// Directories the init would refuse are mended, each on its own (with the file in place,
	// as the next container start finds it).
	// den-init found where others could have put it (dir or bin open to them) is written
	// again rather than trusted.
	for _, d := range []string{dir, filepath.Join(dir, "bin"), filepath.Join(dir, "empty")} {
		// A rewritten file has a new modification time (a new inode may reuse the number).
		old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		must(t, os.Chtimes(file, old, old))
		must(t, os.Chmod(d, 0o770))
		if again := Keep(data); again != dir {
			t.Fatalf("Keep over %s open to the group: %q, want %q", d, again, dir)
		}
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s was not made private again: %v", d, err)
		}
		after, err := os.Lstat(file)
		must(t, err)
		if rewritten := !after.ModTime().Equal(old); rewritten != (filepath.Base(d) != "empty") {
			t.Errorf("with %s open to the group, den-init written again: %v", d, rewritten)
		}
	}
	must(t, os.Remove(filepath.Join(dir, "empty")))
	if again := Keep(data); again != dir {
		t.Fatalf("Keep without the empty directory: %q, want %q", again, dir)
	}
	if fi, err := os.Stat(filepath.Join(dir, "empty")); err != nil || !fi.IsDir() {
		t.Errorf("the empty directory was not made again: %v", err)
	}
}

// The init execs only a kept den-init it can trust, through an overlay nobody can write.
func TestSealedDenInitIsReadOnlyAndOnlyTheRightFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sealing mounts an overlay: needs root, as den has in its user namespace")
	}
	keep := func(t *testing.T) (string, string) {
		dir := Keep(t.TempDir())
		if dir == "" {
			t.Fatal("Keep kept nothing")
		}
		return dir, filepath.Join(dir, "bin", "den-init")
	}
	t.Run("kept as written: sealed, read-only, den-init's bytes", func(t *testing.T) {
		dir, file := keep(t)
		f, ok := Sealed(dir)
		if !ok {
			t.Fatal("the kept den-init was refused")
		}
		defer f.Close()
		w, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY, 0)
		if err == nil {
			w.Close()
			t.Fatal("the sealed den-init could be opened for writing")
		}
		if !errors.Is(err, unix.EROFS) {
			t.Errorf("opening the sealed den-init for writing: %v, want EROFS", err)
		}
		got, err := io.ReadAll(f)
		want, _ := os.ReadFile(file)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("the sealed file is not the kept den-init (%v)", err)
		}
	})
	refused := []struct {
		name  string
		spoil func(t *testing.T, dir, file string)
	}{
		{"another mode", func(t *testing.T, dir, file string) { must(t, os.Chmod(file, 0o555)) }},
		{"another size", func(t *testing.T, dir, file string) {
			must(t, os.Chmod(file, 0o700))
			f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
			must(t, err)
			_, err = f.Write([]byte{0})
			must(t, err)
			must(t, f.Close())
			must(t, os.Chmod(file, 0o500))
		}},
		{"another owner", func(t *testing.T, dir, file string) { must(t, os.Lchown(file, 4242, 4242)) }},
		{"a symlink", func(t *testing.T, dir, file string) {
			must(t, os.Rename(file, filepath.Join(dir, "elsewhere")))
			must(t, os.Symlink(filepath.Join(dir, "elsewhere"), file))
		}},
		{"bin writable by the group", func(t *testing.T, dir, file string) { must(t, os.Chmod(filepath.Join(dir, "bin"), 0o770)) }},
		{"bin a symlink", func(t *testing.T, dir, file string) {
			must(t, os.Rename(filepath.Join(dir, "bin"), filepath.Join(dir, "real")))
			must(t, os.Symlink(filepath.Join(dir, "real"), filepath.Join(dir, "bin")))
		}},
		{"no empty directory", func(t *testing.T, dir, file string) { must(t, os.Remove(filepath.Join(dir, "empty"))) }},
	}
	for _, tc := range refused {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			dir, file := keep(t)
			tc.spoil(t, dir, file)
			if f, ok := Sealed(dir); ok {
				f.Close()
				t.Fatal("sealed, want refused")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
