package initexec

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// A standard mount goes only on an ordinary directory of the root filesystem, made when
// missing; a link, wherever it points, or a file is refused, and libcontainer decides.
func TestMountpointTakesOnlyOrdinaryDirectories(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(root, "dev"), 0o755))
	must(os.Symlink(outside, filepath.Join(root, "abs")))
	must(os.Symlink("../../../../"+outside, filepath.Join(root, "rel")))
	must(os.Mkdir(filepath.Join(root, "inside"), 0o755))
	must(os.Symlink("/inside", filepath.Join(root, "within")))
	must(os.WriteFile(filepath.Join(root, "file"), nil, 0o644))
	must(os.Symlink("/nowhere", filepath.Join(root, "dangling")))
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(err)
	defer unix.Close(rfd)

	for _, name := range []string{"dev", "proc"} { // present, and missing (made)
		fd, err := mountpoint(rfd, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		unix.Close(fd)
		if got != filepath.Join(root, name) {
			t.Errorf("%s opened %s", name, got)
		}
	}
	for _, name := range []string{"abs", "rel", "within", "file", "dangling"} {
		if fd, err := mountpoint(rfd, name); err == nil {
			got, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
			unix.Close(fd)
			t.Errorf("%s: opened %s", name, got)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("something was made outside: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(root, "nowhere")); err == nil {
		t.Error("a dangling link's target was made")
	}
}

// A file of /etc that den binds over takes only a regular file as its mount point, or none
// (made then): a link or a directory is refused.
func TestFileMountpointTakesARegularFileOrMakesOne(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "resolv.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("hosts", filepath.Join(dir, "near")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	for name, ok := range map[string]bool{"hosts": true, "hostname": true, "resolv.conf": false, "near": false, "sub": false, "../x": false} {
		fd, err := fileMountpoint(d, name)
		if (err == nil) != ok {
			t.Errorf("%s: err %v, want a mount point %v", name, err, ok)
		}
		if err == nil {
			unix.Close(fd)
		}
	}
	if fi, err := os.Lstat(filepath.Join(dir, "hostname")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("want a missing mount point made a file: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(filepath.Dir(dir), "x")); err == nil {
		t.Error("a mount point made outside the directory")
	}
}
