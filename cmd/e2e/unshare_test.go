package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestUnshareRunsTheCommandAsRootOfDensNamespace(t *testing.T) {
	d := newDen(t)
	wantStdout(t, d.run(t, "unshare", "id", "-u"), "0\n")
	start, count, ok := subIDRange("/etc/subuid", d.user)
	if !ok {
		t.Fatalf("no subuid range for %s", d.user.name)
	}
	r := d.mustRun(t, "unshare", "cat", "/proc/self/uid_map")
	var maps []string
	for _, l := range lines(r.stdout) {
		maps = append(maps, strings.Join(strings.Fields(l), " "))
	}
	want := []string{fmt.Sprintf("0 %d 1", d.user.uid), fmt.Sprintf("1 %d %d", start, count)}
	if len(maps) < 2 || maps[0] != want[0] || maps[1] != want[1] {
		t.Errorf("uid_map %q, want it to begin with %q\n%s", maps, want, r)
	}
	// podman's two variables name den's storage.
	r = d.mustRun(t, "unshare", "sh", "-c", `echo "$CONTAINERS_GRAPHROOT"; echo "$CONTAINERS_RUNROOT"`)
	if ls := lines(r.stdout); len(ls) != 2 || ls[0] != d.graphRoot() || !strings.HasPrefix(ls[1], d.runDir+"/") {
		t.Errorf("want CONTAINERS_GRAPHROOT=%s and CONTAINERS_RUNROOT under %s\n%s", d.graphRoot(), d.runDir, r)
	}
}

func TestUnshareReturnsTheCommandsExitCodeAndPassesStdin(t *testing.T) {
	d := newDen(t)
	if r := d.run(t, "unshare", "sh", "-c", "exit 7"); r.code != 7 {
		t.Errorf("want exit 7\n%s", r)
	}
	wantError(t, d.run(t, "unshare", "no-such-command"), 127, "no-such-command")
	wantStdout(t, d.runWith(t, execOpts{stdin: strings.NewReader("piped\n")}, "unshare", "cat"), "piped\n")
	// Without a command, the shell: $SHELL, reading its commands from stdin here.
	wantStdout(t, d.runWith(t, execOpts{stdin: strings.NewReader("id -u\n"), env: []string{"SHELL=/bin/sh"}}, "unshare"), "0\n")
}

func TestUnshareCreatesFilesAsTheSubordinateIDs(t *testing.T) {
	d := newDen(t)
	start, _, ok := subIDRange("/etc/subuid", d.user)
	if !ok {
		t.Fatalf("no subuid range for %s", d.user.name)
	}
	f := filepath.Join(d.dir, "home", "owned")
	d.mustRun(t, "unshare", "sh", "-c", "touch "+f+" && chown 1000:1000 "+f)
	st, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != start+999 {
		t.Errorf("uid 1000 in den unshare is host uid %d, want %d (subuid start %d + 999)", uid, start+999, start)
	}
	// Cleaned up from inside, where the file is the session's.
	d.mustRun(t, "unshare", "rm", f)
}

func TestUnshareAsRootRunsTheCommand(t *testing.T) {
	d := newRootDen(t)
	wantStdout(t, d.run(t, "unshare", "id", "-u"), "0\n")
	r := d.mustRun(t, "unshare", "sh", "-c", `echo "$CONTAINERS_GRAPHROOT"`)
	wantStdout(t, r, d.graphRoot()+"\n")
	if r := d.run(t, "unshare", "sh", "-c", "exit 3"); r.code != 3 {
		t.Errorf("want exit 3\n%s", r)
	}
}

func TestMountOutsideUnshareIsRefusedForANormalUser(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "c", "busybox", "true")
	for _, args := range [][]string{{"mount", "c"}, {"mount"}, {"umount", "c"}} {
		wantError(t, d.run(t, args...), 125, `"den `+args[0]+`" in rootless mode`, "den unshare")
	}
}

func TestMountInsideUnshareSharesFilesWithTheContainer(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := strings.TrimSpace(d.mustRun(t, "create", "--name", "c", "busybox", "cat", "/hello").stdout)
	// One session: every den in it mounts in the session's namespace.
	script := `set -e
p=$(den mount c)
test -f "$p/bin/busybox"
echo written-through-mount > "$p/hello"
den mount
den mount c >/dev/null
den mount --format '{{.Name}}'
den umount c
echo "after umount: $(den mount)"
test ! -e "$p/bin/busybox"
den start -a c
`
	r := d.runWith(t, execOpts{env: []string{"PATH=" + filepath.Dir(denBinary) + ":" + hostPath}}, "unshare", "sh", "-c", script)
	ls := lines(r.stdout)
	if r.code != 0 || len(ls) != 5 {
		t.Fatalf("want 5 lines and exit 0\n%s", r)
	}
	if f := strings.Fields(ls[0]); len(f) != 2 || f[0] != id[:12] || !strings.HasPrefix(f[1], d.graphRoot()+"/") {
		t.Errorf("den mount lists %q, want %s and a path in the graph root\n%s", ls[0], id[:12], r)
	}
	if ls[1] != "c" || ls[2] != id || ls[3] != "after umount: " || ls[4] != "written-through-mount" {
		t.Errorf("want the container listed once by name, umount printing its ID, nothing mounted after, and the file seen by the container\n%s", r)
	}
	// The session's mounts went with it.
	wantStdout(t, d.run(t, "unshare", denBinary, "mount"), "")
	wantError(t, d.run(t, "unshare", denBinary, "umount", "c"), 125, "not mounted")
}

func TestMountAsRootMountsOnTheHost(t *testing.T) {
	d := newRootDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "c", "busybox", "cat", "/hello")
	p := strings.TrimSpace(d.mustRun(t, "mount", "c").stdout)
	if err := os.WriteFile(filepath.Join(p, "hello"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatalf("writing into the mounted rootfs: %v", err)
	}
	if r := d.mustRun(t, "mount"); !strings.Contains(r.stdout, p) {
		t.Errorf("want %s listed\n%s", p, r)
	}
	d.mustRun(t, "umount", "c")
	if _, err := os.Stat(filepath.Join(p, "bin")); err == nil {
		t.Errorf("%s still mounted after umount", p)
	}
	wantStdout(t, d.run(t, "start", "-a", "c"), "from the host\n")
}
