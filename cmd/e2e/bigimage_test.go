package e2e

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// debianArchive is scripts/build-debian-image.sh's image: a debootstrap minbase with files
// owned by many uids under /srv/owners.
const debianArchive = "debian-oci.tar"

// needDebian skips a test when the Debian image could not be built (it needs root).
func needDebian(t *testing.T) string {
	t.Helper()
	p := filepath.Join(imagesDir, debianArchive)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no %s: run scripts/build-debian-image.sh (as root or with sudo) to build it", p)
	}
	return p
}

// The owners of a real distribution's files, and of files owned across the 16-bit range,
// are what the container sees, and on the host each lands on the matching subordinate id.
func TestDebianImageKeepsEveryOwnerInsideAndMapsThemOutside(t *testing.T) {
	archive := needDebian(t)
	d := newDen(t)
	d.mustRun(t, "load", "-i", archive)

	r := d.mustRun(t, "run", "--rm", "debian", "sh", "-c",
		"stat -c '%u:%g %n' /srv/owners/* && cat /etc/debian_version >/dev/null && echo debian")
	want := []string{
		"1:1 /srv/owners/file-1", "1000:1000 /srv/owners/dir-1000", "1000:1000 /srv/owners/file-1000",
		"100:100 /srv/owners/file-100", "2:2 /srv/owners/file-2", "33:33 /srv/owners/file-33",
		"4242:4242 /srv/owners/file-4242", "65534:65534 /srv/owners/file-65534", "999:999 /srv/owners/file-999",
	}
	got := lines(r.stdout)
	for _, w := range want {
		if !strings.Contains(r.stdout, w+"\n") {
			t.Errorf("want %q inside the container\n%s", w, r)
		}
	}
	if len(got) == 0 || got[len(got)-1] != "debian" {
		t.Errorf("want a working Debian userland\n%s", r)
	}

	// Permissions follow the ids: uid 1000 reads its 0750 directory, uid 4242 cannot.
	wantStdout(t, d.run(t, "run", "--rm", "-u", "1000", "debian", "cat", "/srv/owners/dir-1000/inside"), "secret\n")
	if r := d.run(t, "run", "--rm", "-u", "4242", "debian", "cat", "/srv/owners/dir-1000/inside"); r.code == 0 {
		t.Errorf("uid 4242 read a 0750 directory of uid 1000\n%s", r)
	}

	if d.user == nil {
		return
	}
	// Outside, in the layer: container id N > 0 is subordinate id start+N-1.
	start, _, ok := subIDRange("/etc/subuid", d.user)
	if !ok {
		t.Fatalf("no subuid range for %s", d.user.name)
	}
	matches, err := filepath.Glob(filepath.Join(d.graphRoot(), "overlay", "*", "diff", "srv", "owners", "file-4242"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("want one layer holding /srv/owners/file-4242, found %v (%v)", matches, err)
	}
	for _, id := range []int{1, 1000, 4242, 65534} {
		var st syscall.Stat_t
		p := filepath.Join(filepath.Dir(matches[0]), "file-"+strconv.Itoa(id))
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		if want := uint32(start + id - 1); st.Uid != want || st.Gid != uint32(start+id-1) {
			t.Errorf("%s is owned by %d:%d on the host, want %d (subordinate id of %d)", p, st.Uid, st.Gid, want, id)
		}
	}
}

// Ctrl-C while den save spools an archive stops it with the spool removed (a busybox save is
// over before it can be interrupted; Debian's takes about a second here).
func TestSaveInterruptedLeavesNoSpoolFile(t *testing.T) {
	archive := needDebian(t)
	d := newDen(t)
	d.mustRun(t, "load", "-q", "-i", archive)
	tmp := d.spoolDir(t)
	cmd := d.spoolingCommand(t, tmp, "save", "debian")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	code, left := ctrlCWhileSpooling(t, cmd, tmp, "den-save-*")
	if code == 0 {
		t.Error("den save finished instead of stopping at Ctrl-C")
	}
	if len(left) != 0 {
		t.Errorf("den save left its spool after Ctrl-C: %q", left)
	}
}
