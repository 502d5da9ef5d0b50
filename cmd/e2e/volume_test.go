package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// volumeNames lists den's volumes.
func volumeNames(t *testing.T, d *den) []string {
	t.Helper()
	return lines(d.mustRun(t, "volume", "ls", "-q").stdout)
}

func TestNamedVolumeKeepsDataAcrossContainers(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	wantStdout(t, d.run(t, "volume", "create", "--label", "app=db", "data"), "data\n")
	d.mustRun(t, "run", "--name", "w", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
	d.mustRun(t, "rm", "w")
	wantStdout(t, d.run(t, "run", "--rm", "-v", "data:/srv", "busybox", "cat", "/srv/f"), "kept\n")

	var vols []struct {
		Name, Driver, Mountpoint, Scope string
		Labels                          map[string]string
	}
	if err := json.Unmarshal([]byte(d.mustRun(t, "volume", "inspect", "data").stdout), &vols); err != nil {
		t.Fatal(err)
	}
	if len(vols) != 1 || vols[0].Name != "data" || vols[0].Driver != "local" || vols[0].Scope != "local" ||
		vols[0].Labels["app"] != "db" || !strings.HasSuffix(vols[0].Mountpoint, "/volumes/data/_data") {
		t.Errorf("volume inspect: %+v", vols)
	}
	wantStdout(t, d.run(t, "volume", "ls", "--filter", "label=app=db", "--format", "{{.Name}} {{.Driver}}"), "data local\n")
	wantStdout(t, d.run(t, "volume", "ls", "--filter", "label=app=web", "-q"), "")
	wantStdout(t, d.run(t, "volume", "ls"), "DRIVER  VOLUME NAME\nlocal   data\n")
	if r := d.run(t, "volume", "exists", "data"); r.code != 0 {
		t.Errorf("volume exists data\n%s", r)
	}
	if r := d.run(t, "volume", "exists", "nope"); r.code != 1 {
		t.Errorf("want exit 1 for a missing volume\n%s", r)
	}
	// A named volume created by -v on first use.
	d.mustRun(t, "run", "--rm", "-v", "auto:/x", "busybox", "true")
	if got := volumeNames(t, d); strings.Join(got, " ") != "auto data" {
		t.Errorf("volumes: %v, want auto and data", got)
	}
}

func TestVolumeCopiesTheImageContentOnFirstUseUnlessNocopy(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// busybox's /etc holds passwd and group: the empty volume gets them, owner and mode too.
	r := d.mustRun(t, "run", "--rm", "-v", "etc:/etc", "busybox", "sh", "-c", "ls /etc && stat -c '%a %u' /etc/passwd")
	if !strings.Contains(r.stdout, "passwd") || !strings.Contains(r.stdout, "group") {
		t.Errorf("want the image's /etc copied into the volume\n%s", r)
	}
	// Later containers see the volume as it is, wherever they mount it.
	if r := d.mustRun(t, "run", "--rm", "-v", "etc:/mnt", "busybox", "ls", "/mnt"); !strings.Contains(r.stdout, "passwd") {
		t.Errorf("want the copied files in the volume\n%s", r)
	}
	wantStdout(t, d.run(t, "run", "--rm", "-v", "bare:/etc:nocopy", "busybox", "ls", "-A", "/etc"), "")
}

func TestReadOnlyMountsCannotBeWritten(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	host := filepath.Join(d.dir, "ro-src")
	if err := os.Mkdir(host, 0o755); err != nil {
		t.Fatal(err)
	}
	d.chown(t, host)
	for _, v := range []string{"vol:/data:ro", host + ":/data:ro"} {
		r := d.run(t, "run", "--rm", "-v", v, "busybox", "sh", "-c", "echo x > /data/f")
		if r.code == 0 || !strings.Contains(r.stderr, "Read-only file system") {
			t.Errorf("-v %s: want a read-only mount\n%s", v, r)
		}
	}
	r := d.run(t, "run", "--rm", "--mount", "type=bind,source="+host+",target=/data,readonly", "busybox", "touch", "/data/f")
	if r.code == 0 {
		t.Errorf("--mount readonly: the container wrote\n%s", r)
	}
}

func TestBindMountsShareFilesBothWaysWithTheRightOwners(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	host := filepath.Join(d.dir, "src")
	if err := os.Mkdir(host, 0o777); err != nil {
		t.Fatal(err)
	}
	d.chown(t, host)
	hostFile := d.writeFile(t, "src/from-host", []byte("hello from the host\n"))
	_ = hostFile
	d.mustRun(t, "run", "--rm", "-v", host+":/src", "busybox", "sh", "-c",
		"cat /src/from-host > /src/copied && echo root > /src/by-root && echo u > /src/by-1000 && chown 1000:1000 /src/by-1000")
	b, err := os.ReadFile(filepath.Join(host, "copied"))
	if err != nil || string(b) != "hello from the host\n" {
		t.Errorf("the container did not read the host's file: %q, %v", b, err)
	}
	start, _, ok := subIDRange("/etc/subuid", d.user)
	if d.user != nil && !ok {
		t.Fatal("no subuid range for the test user")
	}
	want := map[string]int{"by-root": d.hostUID()}
	if d.user != nil {
		want["by-1000"] = start + 999
	}
	for name, uid := range want {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(host, name), &st); err != nil {
			t.Fatal(err)
		}
		if int(st.Uid) != uid {
			t.Errorf("%s written in the container is owned by host uid %d, want %d", name, st.Uid, uid)
		}
	}
}

func TestChownOptionGivesTheSourceToTheContainersUser(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	host := filepath.Join(d.dir, "mine")
	if err := os.Mkdir(host, 0o755); err != nil {
		t.Fatal(err)
	}
	d.chown(t, host)
	d.writeFile(t, "mine/f", []byte("x"))
	r := d.mustRun(t, "run", "--rm", "-u", "1000:1000", "-v", host+":/mine:U", "busybox", "sh", "-c", "stat -c '%u:%g' /mine /mine/f && touch /mine/new")
	if r.stdout != "1000:1000\n1000:1000\n" {
		t.Errorf("want the source owned by the container's user\n%s", r)
	}
	if d.user == nil {
		return
	}
	start, _, _ := subIDRange("/etc/subuid", d.user)
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(host, "f"), &st); err != nil {
		t.Fatal(err)
	}
	if int(st.Uid) != start+999 {
		t.Errorf("on the host the file is owned by %d, want %d", st.Uid, start+999)
	}
}

func TestTmpfsMountsAreFreshMemoryFilesystems(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	for _, args := range [][]string{
		{"--tmpfs", "/scratch:size=2m,mode=1777"},
		{"--mount", "type=tmpfs,target=/scratch,tmpfs-size=2m"},
	} {
		r := d.mustRun(t, append(append([]string{"run", "--rm"}, args...), "busybox", "sh", "-c",
			"grep ' /scratch ' /proc/mounts | cut -d' ' -f3 && echo x > /scratch/f && cat /scratch/f && df -k /scratch | tail -1 | awk '{print $2}'")...)
		if r.stdout != "tmpfs\nx\n2048\n" {
			t.Errorf("%v: want a 2 MiB writable tmpfs\n%s", args, r)
		}
	}
}

func TestVolumesFromMountsAnotherContainersVolumes(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "src", "-v", "shared:/shared", "-v", "/anon", "busybox", "true")
	d.mustRun(t, "run", "--rm", "--volumes-from", "src", "busybox", "sh", "-c", "echo hi > /shared/f && echo a > /anon/f")
	wantStdout(t, d.run(t, "run", "--rm", "-v", "shared:/x", "busybox", "cat", "/x/f"), "hi\n")
	r := d.run(t, "run", "--rm", "--volumes-from", "src:ro", "busybox", "touch", "/shared/g")
	if r.code == 0 {
		t.Errorf("--volumes-from src:ro mounted read-write\n%s", r)
	}
	wantError(t, d.run(t, "run", "--rm", "--volumes-from", "nosuch", "busybox", "true"), 125, "nosuch")
}

func TestAnonymousVolumesGoWithRmVAndRunRm(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--rm", "-v", "/tmpdata", "busybox", "touch", "/tmpdata/f")
	if got := volumeNames(t, d); len(got) != 0 {
		t.Errorf("run --rm left anonymous volumes %v", got)
	}
	d.mustRun(t, "create", "--name", "keep", "-v", "/a", "-v", "named:/n", "busybox", "true")
	if got := volumeNames(t, d); len(got) != 2 {
		t.Fatalf("want an anonymous and a named volume, got %v", got)
	}
	d.mustRun(t, "rm", "-v", "keep")
	if got := volumeNames(t, d); strings.Join(got, " ") != "named" {
		t.Errorf("rm -v: want only the named volume kept, got %v", got)
	}
	d.mustRun(t, "create", "--name", "plain", "-v", "/b", "busybox", "true")
	d.mustRun(t, "rm", "plain")
	if got := volumeNames(t, d); len(got) != 2 {
		t.Errorf("rm without -v must keep the anonymous volume, got %v", got)
	}
}

func TestVolumesInUseAreNeitherRemovedNorPruned(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "volume", "create", "used")
	d.mustRun(t, "volume", "create", "free")
	d.mustRun(t, "create", "--name", "user", "-v", "used:/u", "busybox", "true")
	wantError(t, d.run(t, "volume", "rm", "used"), 2, "used", "user")
	wantStdout(t, d.run(t, "volume", "prune", "-f"), "free\n")
	if got := volumeNames(t, d); strings.Join(got, " ") != "used" {
		t.Errorf("prune: want the volume in use kept, got %v", got)
	}
	wantError(t, d.run(t, "volume", "rm", "nosuch"), 1, "nosuch")
	wantStdout(t, d.run(t, "volume", "rm", "-f", "-t", "0", "used"), "used\n")
	d.wantNoContainers(t)
}

func TestVolumeExportAndImportRoundTrip(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--rm", "-v", "a:/a", "busybox", "sh", "-c", "mkdir /a/d && echo 1 > /a/d/f && chown 1000 /a/d/f && chmod 600 /a/d/f")
	archive := filepath.Join(d.home, "a.tar")
	d.mustRun(t, "volume", "export", "-o", archive, "a")
	d.mustRun(t, "volume", "create", "b")
	d.mustRun(t, "volume", "import", "b", archive)
	wantStdout(t, d.run(t, "run", "--rm", "-v", "b:/b", "busybox", "stat", "-c", "%u %a %n", "/b/d/f"), "1000 600 /b/d/f\n")
}

// Images can declare VOLUMEs den must not honour: empty ones and den's own mounts.
func TestImageVolumesBecomeAnonymousVolumesExceptHostileOnes(t *testing.T) {
	d := newDen(t)
	base, err := os.ReadFile(filepath.Join(imagesDir, "rootfs.tar"))
	if err != nil {
		t.Fatal(err)
	}
	img := ociArchiveConfig(t, "localhost/vols:latest", map[string]any{
		"Cmd":     []string{"sh"},
		"Volumes": map[string]any{"": map[string]any{}, "/proc": map[string]any{}, "/data": map[string]any{}, "/": map[string]any{}},
	}, base)
	d.mustRun(t, "load", "-i", d.writeFile(t, "vols.tar", img))
	r := d.mustRun(t, "run", "--name", "v", "localhost/vols", "sh", "-c", "grep -c 'proc /proc proc' /proc/mounts; touch /data/ok")
	if r.stdout != "1\n" {
		t.Errorf("want the real /proc\n%s", r)
	}
	if got := volumeNames(t, d); len(got) != 1 || len(got[0]) != 64 {
		t.Errorf("want one anonymous volume, for /data, got %v", got)
	}
	d.mustRun(t, "rm", "-v", "v")
	if got := volumeNames(t, d); len(got) != 0 {
		t.Errorf("rm -v left %v", got)
	}
}

func TestBadMountsAreRefusedAndLeaveNothing(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	for _, tc := range []struct {
		args     []string
		mentions string
	}{
		{[]string{"-v", "a/../b:/x"}, "a/../b"},
		{[]string{"-v", "bad/name:/x"}, "bad/name"},
		{[]string{"-v", "data:relative"}, "relative"},
		{[]string{"-v", "data:/x:bogus"}, "bogus"},
		{[]string{"-v", "/no/such/dir:/x"}, "/no/such/dir"},
		{[]string{"-v", "data:/proc"}, "/proc"},
		{[]string{"--mount", "type=nfs,target=/x"}, "nfs"},
		{[]string{"--mount", "type=bind,target=/x"}, "source"},
		{[]string{"--tmpfs", "/t:size=lots"}, "lots"},
		{[]string{"-v", "ok1:/same", "-v", "ok2:/same"}, "/same"},
		{[]string{"-v", "okvol:/ok", "-v", "/missing/host:/h"}, "/missing/host"},
	} {
		args := append(append([]string{"run", "--rm"}, tc.args...), "busybox", "true")
		r := d.run(t, args...)
		if !strings.Contains(r.stderr, tc.mentions) {
			t.Errorf("want the error to name %q", tc.mentions)
		}
		wantError(t, r, 125)
	}
	d.wantNoContainers(t)
	if got := volumeNames(t, d); len(got) != 0 {
		t.Errorf("refused runs left volumes %v", got)
	}
	wantError(t, d.run(t, "volume", "create", "../escape"), 125, "../escape")
	wantError(t, d.run(t, "volume", "create", "--opt", "type=nfs", "v"), 125, "type")
	if got := volumeNames(t, d); len(got) != 0 {
		t.Errorf("refused creates left volumes %v", got)
	}
	if _, err := os.Stat(filepath.Join(d.data, "escape")); !os.IsNotExist(err) {
		t.Errorf("a volume name with ../ made a directory outside the volumes: %v", err)
	}
}
