package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// treeOf lists the files under dir with their modes and contents, for comparing copies.
func treeOf(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := rel + " " + fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += " " + string(b)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// hostTree makes a small tree in the test user's home: a file, an executable, a subdirectory.
func hostTree(t *testing.T, d *den, name string) string {
	t.Helper()
	root := filepath.Join(d.home, name)
	if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{"a": 0o640, "run.sh": 0o755, "sub/b": 0o600} {
		if err := os.WriteFile(filepath.Join(root, p), []byte("content of "+p+"\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(root, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{root, filepath.Join(root, "sub"), filepath.Join(root, "a"), filepath.Join(root, "run.sh"), filepath.Join(root, "sub/b")} {
		d.chown(t, p)
	}
	return root
}

func TestCpCopiesTreesBothWaysForRunningAndStoppedContainers(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	src := hostTree(t, d, "tree")
	d.mustRun(t, "create", "--name", "stopped", "busybox", "true")
	d.runDetached(t, "--name", "running", "busybox", "sleep", "1000")
	for _, ctr := range []string{"stopped", "running"} {
		t.Run(ctr, func(t *testing.T) {
			d.mustRun(t, "cp", src, ctr+":/copied")
			d.mustRun(t, "cp", src+"/sub/b", ctr+":/tmp/")
			d.mustRun(t, "cp", src+"/a", ctr+":/tmp/renamed")
			out := filepath.Join(d.home, "back-"+ctr)
			d.mustRun(t, "cp", ctr+":/copied", out)
			if got, want := treeOf(t, out), treeOf(t, src); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("round trip through %s changed the tree:\n got %q\nwant %q", ctr, got, want)
			}
			// An existing directory receives the copy; /. copies the content.
			into := filepath.Join(d.home, "into-"+ctr)
			if err := os.Mkdir(into, 0o755); err != nil {
				t.Fatal(err)
			}
			d.chown(t, into)
			d.mustRun(t, "cp", ctr+":/copied", into)
			d.mustRun(t, "cp", ctr+":/copied/.", into)
			for _, p := range []string{"copied/a", "copied/sub/b", "a", "sub/b"} {
				if _, err := os.Stat(filepath.Join(into, p)); err != nil {
					t.Errorf("want %s in the destination: %v", p, err)
				}
			}
			d.mustRun(t, "cp", ctr+":/tmp/renamed", filepath.Join(d.home, "renamed-"+ctr))
			if b, err := os.ReadFile(filepath.Join(d.home, "renamed-"+ctr)); err != nil || string(b) != "content of a\n" {
				t.Errorf("file copied under a new name: %q, %v", b, err)
			}
		})
	}
	// Inside, copies belong to the container's user (root here), modes kept.
	r := d.mustRun(t, "exec", "running", "stat", "-c", "%u %a %n", "/copied/run.sh", "/tmp/b")
	if r.stdout != "0 755 /copied/run.sh\n0 600 /tmp/b\n" {
		t.Errorf("owners and modes inside\n%s", r)
	}
}

func TestCpStreamsTarThroughDash(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--name", "s", "busybox", "sleep", "1000")
	r := d.mustRun(t, "cp", "s:/etc/passwd", "-")
	tarball := d.writeFile(t, "passwd.tar", []byte(r.stdout))
	f, err := os.Open(tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d.mustRun(t, "exec", "s", "mkdir", "/in")
	if r := d.runWith(t, execOpts{stdin: f}, "cp", "-", "s:/in"); r.code != 0 {
		t.Fatalf("cp - s:/in\n%s", r)
	}
	wantStdout(t, d.run(t, "exec", "s", "head", "-1", "/in/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
}

// Paths in the container resolve inside it, whatever its symlinks point at.
func TestCpOutThroughSymlinksNeverReadsTheHost(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--name", "evil", "busybox", "sh", "-c",
		"ln -s / /rootlink && ln -s ../../../../../../.. /up && echo container > /etc/marker && echo ready && sleep 1000")
	// run -d answers once the command runs, not once it has made its links.
	d.waitForLog(t, "evil", "ready")
	for _, p := range []string{"/up/etc/marker", "/rootlink/etc/marker"} {
		out := filepath.Join(d.home, "m"+strings.ReplaceAll(p, "/", "_"))
		d.mustRun(t, "cp", "evil:"+p, out)
		if b, err := os.ReadFile(out); err != nil || string(b) != "container\n" {
			t.Errorf("cp evil:%s read %q, %v: want the container's file", p, b, err)
		}
	}
	// The symlink itself is copied, not what it points at.
	link := filepath.Join(d.home, "rootlink-copy")
	d.mustRun(t, "cp", "evil:/rootlink", link)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("want the symlink copied as a symlink: %v, %v", fi, err)
	}
	// The host's passwd names the test user; the container's does not.
	out := filepath.Join(d.home, "pw")
	d.mustRun(t, "cp", "evil:/up/etc/passwd", out)
	if b, _ := os.ReadFile(out); d.user != nil && strings.Contains(string(b), d.user.name+":") {
		t.Errorf("cp read the host's /etc/passwd through ../ links")
	}
}

func TestCpIntoASymlinkToAHostPathStaysInTheContainer(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	out := outside(t, d)
	d.runDetached(t, "--name", "evil", "busybox", "sh", "-c",
		"mkdir -p "+out+" && ln -s "+out+" /dst && ln -s "+strings.Repeat("../", 20)+strings.TrimPrefix(out, "/")+" /rel && echo ready && sleep 1000")
	// Copies made before the links would take /dst for a name of their own, and the links
	// would then fail and end the container.
	d.waitForLog(t, "evil", "ready")
	src := hostTree(t, d, "payload")
	for _, dst := range []string{"evil:/dst", "evil:/dst/", "evil:/rel/", "evil:/dst/new"} {
		d.run(t, "cp", src+"/a", dst)
	}
	wantEmptyDir(t, out)
	// It landed in the container's own directory of that name.
	if r := d.mustRun(t, "exec", "evil", "ls", out); !strings.Contains(r.stdout, "a") {
		t.Errorf("want the copy inside the container at %s\n%s", out, r)
	}
}

// A container that keeps swapping a directory for a symlink to the host while files are
// copied into it cannot make the copy write on the host.
func TestCpRacingASymlinkSwapWritesNothingOutside(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	out := outside(t, d)
	d.runDetached(t, "--name", "racer", "busybox", "sh", "-c",
		"while true; do rm -rf /swap; mkdir /swap; rm -rf /swap; ln -s "+out+" /swap; done")
	src := hostTree(t, d, "payload")
	for i := 0; i < 25; i++ {
		d.run(t, "cp", src+"/a", "racer:/swap/")
		d.run(t, "cp", src, "racer:/swap/tree")
	}
	wantEmptyDir(t, out)
}

func TestCpRefusesBadInput(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "c", "busybox", "true")
	src := hostTree(t, d, "t")
	for _, tc := range []struct {
		args     []string
		mentions string
	}{
		{[]string{"cp", src, "/tmp/x"}, "CONTAINER:PATH"},
		{[]string{"cp", "c:/a", "c:/b"}, "between containers"},
		{[]string{"cp", "nosuch:/etc", d.home}, "nosuch"},
		{[]string{"cp", "c:/no/such/file", d.home}, "/no/such/file"},
		{[]string{"cp", filepath.Join(src, "missing"), "c:/tmp"}, "missing"},
		{[]string{"cp", src + "/a", "c:/no/such/dir/"}, "/no/such/dir"},
		{[]string{"cp", "c:/etc", filepath.Join(d.home, "no", "parent")}, "does not exist"},
	} {
		wantError(t, d.run(t, tc.args...), 125, tc.mentions)
	}
}
