package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// den as make builds it is its core, which hands the commands that copy images (load, pull,
// save, ...) to the whole den it carries. It keeps that den as a file of the user's cache
// directory, ~/.cache/den/bin/SUM/den, written by the first such command.

// keptInCache is the one program name that den keeps in d's cache directory, under
// ~/.cache/den/KIND/SUM/NAME (runtime/initexec's handover.c).
func keptInCache(t *testing.T, d *den, kind, name string) string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(d.home, ".cache", "den", kind, "*", name))
	if err != nil || len(found) != 1 {
		t.Fatalf("want one %s kept in the cache directory, found %v (%v)", name, found, err)
	}
	return found[0]
}

// cachedDen is the one whole den kept in d's cache directory.
func cachedDen(t *testing.T, d *den) string {
	t.Helper()
	return keptInCache(t, d, "bin", "den")
}

// loadKeepingDen loads busybox, which keeps the whole den, and returns where and what it is.
func loadKeepingDen(t *testing.T, d *den) (string, os.FileInfo) {
	t.Helper()
	d.load(t, "busybox-oci.tar")
	kept := cachedDen(t, d)
	st, err := os.Stat(kept)
	if err != nil {
		t.Fatal(err)
	}
	return kept, st
}

func TestImageCopyingRunsFromOneKeptDen(t *testing.T) {
	d := newDen(t)
	kept, st := loadKeepingDen(t, d)
	if st.Mode().Perm() != 0o500 || ownerOf(st) != d.hostUID() {
		t.Errorf("kept den: mode %v, owner %d; want 0500 and %d", st.Mode(), ownerOf(st), d.hostUID())
	}

	// A den of another build kept there is removed when this build writes its own.
	other := filepath.Join(d.home, ".cache", "den", "bin", "0123456789abcdef")
	d.chownedDir(t, other)
	if err := os.WriteFile(filepath.Join(other, "den"), []byte("#!/bin/sh\n"), 0o500); err != nil {
		t.Fatal(err)
	}
	d.chown(t, filepath.Join(other, "den"))
	if err := os.Remove(kept); err != nil {
		t.Fatal(err)
	}
	d.mustRun(t, "save", "-o", filepath.Join(d.home, "bb.tar"), "busybox")
	if got := cachedDen(t, d); got != kept {
		t.Errorf("kept den is %s, was %s", got, kept)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("the other build's den is still there: %v", err)
	}
}

// A kept den is run only when it is a regular file of the user's own, mode 0500, of the
// right size, in a directory nobody else may write: anything else could be someone else's
// program, and den then runs the whole den from memory instead, and replaces a wrong file by
// the whole den for the next command.
func TestOnlyTheUsersOwnPrivateKeptDenIsRun(t *testing.T) {
	d := newDen(t)
	kept, st := loadKeepingDen(t, d)
	marker := filepath.Join(d.home, "planted-den-ran") // where the user may write
	// planted is a program that leaves the marker, padded to size bytes: a static ELF, as
	// den is (the kept den is run by descriptor, which a script cannot be).
	planted := plantedProgram(t, d, marker)
	same := st.Size()
	cases := []plantCase{
		{"another size", func(t *testing.T) { d.replace(t, kept, planted(same-1), 0o500) }},
		{"mode 0555", func(t *testing.T) { d.replace(t, kept, planted(same), 0o555) }},
		{"a directory others may write", func(t *testing.T) {
			d.replace(t, kept, planted(same), 0o500)
			if err := os.Chmod(filepath.Dir(kept), 0o770); err != nil {
				t.Fatal(err)
			}
		}},
		{"a symbolic link", func(t *testing.T) {
			script := d.writeFile(t, "planted-link-target", planted(same))
			if err := os.Chmod(script, 0o500); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(kept); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(script, kept); err != nil {
				t.Fatal(err)
			}
		}},
	}
	if d.user != nil && d.user.switchTo {
		cases = append(cases, plantCase{"another user's file", func(t *testing.T) {
			d.replace(t, kept, planted(same), 0o500)
			if err := os.Chown(kept, 0, 0); err != nil {
				t.Fatal(err)
			}
		}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_ = os.Chmod(filepath.Dir(kept), 0o700)
			_ = os.Remove(marker)
			tc.plant(t)
			r := d.run(t, "load", "-q", "-i", filepath.Join(imagesDir, "busybox-oci.tar"))
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("den ran the planted program\n%s", r)
			}
			if r.code != 0 {
				t.Errorf("load failed instead of running the whole den from memory\n%s", r)
			}
			// What was planted under the name is den's to replace, and den did; a directory
			// others may write is left alone.
			if tc.name != "a directory others may write" {
				fi, err := os.Lstat(kept)
				if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o500 || fi.Size() != same || ownerOf(fi) != d.hostUID() {
					t.Fatalf("the planted file was not replaced by the whole den: %v %v", fi, err)
				}
				if b, _ := os.ReadFile(kept); bytes.Equal(b, planted(same)) {
					t.Fatal("the planted program is still kept as den")
				}
			}
		})
	}
	// The control: the same program as the user's own private file is run, which is what
	// shows that the cases above would have seen it run.
	_ = os.Chmod(filepath.Dir(kept), 0o700)
	d.replace(t, kept, planted(same), 0o500)
	d.run(t, "load", "-q", "-i", filepath.Join(imagesDir, "busybox-oci.tar"))
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the user's own kept den was not run: %v", err)
	}
}

// plantCase plants something where den keeps a program of its own.
type plantCase struct {
	name  string
	plant func(t *testing.T)
}

// plantedProgram compiles a static program that creates marker and exits 0, and returns its
// bytes padded with zeros to a given size (a kept program is run only at its own size).
func plantedProgram(t *testing.T, d *den, marker string) func(size int64) []byte {
	t.Helper()
	src := filepath.Join(d.dir, "planted.c")
	if err := os.WriteFile(src, []byte(`#include <fcntl.h>
int main(void) { return open("`+marker+`", O_CREAT | O_WRONLY, 0600) < 0; }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(d.dir, "planted")
	if out, err := exec.Command("cc", "-static", "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("compiling the planted program: %v\n%s", err, out)
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return func(size int64) []byte {
		return append(append([]byte(nil), prog...), make([]byte, int(size)-len(prog))...)
	}
}

func ownerOf(fi os.FileInfo) int { return int(fi.Sys().(*syscall.Stat_t).Uid) }

// replace puts data at path with mode, as the file of den's user.
func (d *den) replace(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	_ = os.Remove(path)
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	d.chown(t, path)
}

// chownedDir makes a directory of den's user, mode 0700.
func (d *den) chownedDir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	d.chown(t, path)
}
