package e2e

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A detached run creates its container's storage when it starts it, and where the container's user is
// known from an earlier new container of the image, it creates and mounts the root
// filesystem while the container's init starts up, and hands the mount to the init
// (runtime/early.go). The debug log says which way a start went.

const earlyMark = "while its init starts"

// runToEnd runs a detached container with den's debug log, waits for it to end, and returns
// what it wrote and the run's result (the debug log on stderr).
func runToEnd(t *testing.T, d *den, args ...string) (string, result) {
	t.Helper()
	r := d.mustRun(t, append([]string{"--log-level", "debug", "run", "-d", "--network", "none"}, args...)...)
	id := strings.TrimSpace(r.stdout)
	if !hex64.MatchString(id) {
		t.Fatalf("want a 64-digit id on stdout\n%s", r)
	}
	wantStdout(t, d.run(t, "wait", id), "0\n")
	out := d.mustRun(t, "logs", id).stdout
	// The container's monitor may still be cleaning up after the exit wait reported:
	// storage is left alone until it is gone.
	d.wantMonitorGone(t, id[:12])
	d.mustRun(t, "rm", id)
	return out, r
}

// imageUsers are the user resolutions den keeps, by file name.
func imageUsers(t *testing.T, d *den) []string {
	t.Helper()
	return keptEntries(t, d, "image-users")
}

func TestRunMountsTheRootfsWhileTheInitStarts(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// The image's user and groups, from its /etc/passwd and /etc/group.
	script := `id; echo "$HOME"; ls /bin/busybox; head -n 1 /proc/self/mountinfo | cut -d' ' -f5,9`
	want := "uid=1000(user) gid=1000(user) groups=1000(user),2000(extra)\n/home/user\n/bin/busybox\n/ overlay\n"
	out, first := runToEnd(t, d, "--user", "user", "busybox", "sh", "-c", script)
	if out != want {
		t.Errorf("first run: output %q, want %q", out, want)
	}
	if strings.Contains(first.stderr, earlyMark) {
		t.Errorf("the first container of the image started before its rootfs was mounted\n%s", first)
	}
	if kept := imageUsers(t, d); len(kept) != 1 {
		t.Fatalf("kept user resolutions after one run: %q, want one", kept)
	}
	out, second := runToEnd(t, d, "--user", "user", "busybox", "sh", "-c", script)
	if out != want {
		t.Errorf("second run: output %q, want %q", out, want)
	}
	if !strings.Contains(second.stderr, earlyMark) {
		t.Errorf("the second container of the image waited for its rootfs\n%s", second)
	}
	// Another user is another resolution, made the first time with the rootfs mounted.
	for i := 0; i < 2; i++ {
		if out, r := runToEnd(t, d, "--user", "nobody", "busybox", "id", "-u"); out != "65534\n" {
			t.Errorf("run %d as nobody: output %q\n%s", i+1, out, r)
		}
	}
	if kept := imageUsers(t, d); len(kept) != 2 {
		t.Errorf("kept user resolutions after two users: %q, want two", kept)
	}

	// Detached, held: exec, the container's files and its removal work as before, and
	// nothing of the hand-over is left in the container or its runtime directory.
	id := d.runDetached(t, "--name", "early", "--network", "none", "busybox", "sleep", "300")
	wantStdout(t, d.run(t, "exec", "early", "cat", "/etc/hostname"), id[:12]+"\n")
	d.mustRun(t, "exec", "early", "sh", "-c", "echo written > /file")
	if _, err := os.Stat(filepath.Join(d.runDir, "den", "containers", id, "rootfs.sock")); !os.IsNotExist(err) {
		t.Errorf("the hand-over's socket is left after the start: %v", err)
	}
	// The record, written while the init set the container up, names the init's process,
	// and its writing leaves nothing beside it.
	pid := strings.TrimSpace(d.mustRun(t, "inspect", "--format", "{{.State.Status}} {{.State.Pid}}", "early").stdout)
	status, pidText, _ := strings.Cut(pid, " ")
	if cmdline, err := os.ReadFile("/proc/" + pidText + "/cmdline"); status != "running" || err != nil || string(cmdline) != "sleep\x00300\x00" {
		t.Errorf("state %q: /proc/PID/cmdline %q, %v; want running, sleep 300", pid, cmdline, err)
	}
	ents, err := os.ReadDir(filepath.Join(d.dataDir(), "containers", id))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("left in the record's directory: %s", e.Name())
		}
	}
	d.mustRun(t, "stop", "-t", "0", "early")
	d.mustRun(t, "start", "early") // its storage exists now: mounted first, as before
	wantStdout(t, d.run(t, "exec", "early", "cat", "/file"), "written\n")
	d.mustRun(t, "rm", "-f", "-t", "0", "early")
	d.wantNoContainers(t)

	// A volume gets the image's content copied up, which needs the rootfs: mounted first.
	out, r := runToEnd(t, d, "-v", "etcvol:/etc", "busybox", "cat", "/etc/group")
	if strings.Contains(r.stderr, earlyMark) || !strings.Contains(out, "extra:x:2000:user") {
		t.Errorf("run with a new volume: output %q\n%s", out, r)
	}
	// So does --tz, which replaces the image's /etc/localtime.
	if _, r = runToEnd(t, d, "--tz", "UTC", "busybox", "true"); strings.Contains(r.stderr, earlyMark) {
		t.Errorf("run --tz started before its rootfs was mounted\n%s", r)
	}

	// A kept resolution that cannot be read is not used, and is written again.
	for _, name := range imageUsers(t, d) {
		if err := os.WriteFile(filepath.Join(d.dataDir(), "image-users", name), []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if out, r = runToEnd(t, d, "--user", "user", "busybox", "sh", "-c", script); out != want || strings.Contains(r.stderr, earlyMark) {
		t.Errorf("run over a damaged resolution: output %q\n%s", out, r)
	}
	if out, r = runToEnd(t, d, "--user", "user", "busybox", "sh", "-c", script); out != want || !strings.Contains(r.stderr, earlyMark) {
		t.Errorf("run after the resolution was written again: output %q\n%s", out, r)
	}
	// A run in the foreground creates the storage first, as before.
	if r = d.mustRun(t, "--log-level", "debug", "run", "--rm", "--user", "user", "busybox", "true"); strings.Contains(r.stderr, earlyMark) {
		t.Errorf("a run in the foreground started before its rootfs was mounted\n%s", r)
	}

	// A kernel that refused the hand-over once is not asked again.
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	refused := filepath.Join(d.dataDir(), "early-refused")
	if err := os.WriteFile(refused, []byte(strings.TrimSpace(string(release))+"\nmove_mount: operation not permitted\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.chown(t, refused)
	if out, r = runToEnd(t, d, "--user", "user", "busybox", "sh", "-c", script); out != want || strings.Contains(r.stderr, earlyMark) {
		t.Errorf("run after a refusal of the hand-over: output %q\n%s", out, r)
	}
}

// A detached run keeps what an image reference resolved to while the store's image list is unchanged,
// and opens storage only where it creates the container's; a change of the list (a tag, a
// removal) makes the next run look the image up again.
func TestRunResolvesAnImageAgainAfterTheImageListChanges(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	const lookup = "looking up image"
	run := func(wantLookup bool) {
		t.Helper()
		if _, r := runToEnd(t, d, "busybox", "true"); strings.Contains(r.stderr, lookup) != wantLookup {
			t.Errorf("looked the image up: %v, want %v\n%s", !wantLookup, wantLookup, r)
		}
	}
	run(true)
	run(false)
	d.mustRun(t, "tag", "busybox", "other:1")
	run(true)
	run(false)
	d.mustRun(t, "rmi", "other:1")
	run(true)
	d.mustRun(t, "rmi", "-f", "busybox")
	// --network none: no monitor is started ahead, which the failed run would abandon while
	// it opens storage, racing the test's cleanup.
	wantError(t, d.run(t, "run", "-d", "--network", "none", "--pull", "never", "busybox", "true"), 125, "busybox")
}

// fsImmutable is the inode flag of chattr +i (FS_IMMUTABLE_FL, linux/fs.h).
const fsImmutable = 0x10

// setImmutable sets or clears the immutable attribute of dir (as chattr +i does): not even
// root can then create anything in it. It reports whether the file system has the attribute.
func setImmutable(t *testing.T, dir string, on bool) bool {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) {
		return false
	}
	if err != nil {
		t.Fatalf("reading the attributes of %s: %v", dir, err)
	}
	if on {
		flags |= fsImmutable
	} else {
		flags &^= fsImmutable
	}
	err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) {
		return false
	}
	if err != nil {
		t.Fatalf("setting the attributes of %s: %v", dir, err)
	}
	return true
}

// A detached run creates its container's storage when it starts it (runtime's DeferStorage):
// a start that cannot leaves a container that create would not have made, and run removes
// it, whether den starts the container itself (--network none) or a monitor started ahead
// of it does (a network that needs helpers).
func TestRunDetachedThatCannotMakeItsStorageLeavesNoContainer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making storage fail takes root: an immutable directory")
	}
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// Each run is made to know its image and user without storage, as a second run does.
	runToEnd(t, d, "busybox", "true")
	d.removalsSettled(t) // its storage deleted, before storage can no longer change
	layers := filepath.Join(d.graphRoot(), "overlay")
	if _, err := os.Stat(layers); err != nil {
		t.Skipf("storage has no overlay layers here: %v", err)
	}
	if !setImmutable(t, layers, true) {
		t.Skipf("the file system of %s has no immutable attribute", layers)
	}
	t.Cleanup(func() { setImmutable(t, layers, false) }) // before the den's own cleanup
	for _, network := range []string{"none", "slirp4netns"} {
		r := d.run(t, "run", "-d", "--network", network, "busybox", "sleep", "1000")
		if r.code != 125 || !strings.Contains(r.stderr, "creating container storage") {
			t.Errorf("--network %s: want exit 125 and the storage's error\n%s", network, r)
		}
		if left := d.mustRun(t, "ps", "-a", "-q").stdout; left != "" {
			t.Errorf("--network %s: containers left after the failed run: %q", network, left)
		}
	}
	setImmutable(t, layers, false)
	// The storage is usable again, and the names of the failed runs are free.
	d.mustRun(t, "run", "-d", "--network", "none", "busybox", "true")
}

// keptEntries are the entries den keeps under its data directory's dir (image-refs,
// image-users), by file name.
func keptEntries(t *testing.T, d *den, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(d.dataDir(), dir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names
}

// What a run keeps of its image (the reference's resolution, the user's) goes with the image,
// at the next image prune.
func TestImagePruneForgetsWhatRunsKeptOfRemovedImages(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	runToEnd(t, d, "busybox", "true")
	d.removalsSettled(t)
	refs, users := keptEntries(t, d, "image-refs"), keptEntries(t, d, "image-users")
	if len(refs) == 0 || len(users) == 0 {
		t.Fatalf("after a run, kept resolutions %q and users %q: the test cannot tell", refs, users)
	}
	// The image is still there: what is kept of it stays.
	d.mustRun(t, "image", "prune", "-f")
	if now := keptEntries(t, d, "image-refs"); len(now) != len(refs) {
		t.Errorf("image prune with the image there: kept resolutions %q, want %q", now, refs)
	}
	if now := keptEntries(t, d, "image-users"); len(now) != len(users) {
		t.Errorf("image prune with the image there: kept users %q, want %q", now, users)
	}
	d.mustRun(t, "rmi", "busybox")
	d.mustRun(t, "image", "prune", "-f")
	if now := keptEntries(t, d, "image-refs"); len(now) != 0 {
		t.Errorf("image prune after rmi: kept resolutions %q, want none", now)
	}
	if now := keptEntries(t, d, "image-users"); len(now) != 0 {
		t.Errorf("image prune after rmi: kept users %q, want none", now)
	}
	// A run after the image is back keeps them again.
	d.load(t, "busybox-oci.tar")
	runToEnd(t, d, "busybox", "true")
	if len(keptEntries(t, d, "image-refs")) == 0 || len(keptEntries(t, d, "image-users")) == 0 {
		t.Error("nothing kept after a run of the image loaded again")
	}
}

// A container's init that waits for its root filesystem brings its loopback interface up
// itself, meanwhile, instead of libcontainer's: either way the container sees lo up.
func TestLoopbackIsUpWhetherTheRootfsCameEarlyOrNot(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// The client sends and the listener prints what it read to its end. busybox's nc shuts
	// its side of a connection when its input ends (the listener's at once) and exits when
	// the peer's side ends; its input is read first, so the client's is a file, ready when
	// it connects: from a pipe, a client could read the listener's end first and exit
	// without sending (seen in CI).
	script := `cat /sys/class/net/lo/flags; echo reached >/msg; nc -l -p 5000 >/got & for i in $(seq 50); do nc 127.0.0.1 5000 </msg && break; sleep 0.1; done; wait; cat /got`
	for i, early := range []bool{false, true} {
		out, r := runToEnd(t, d, "busybox", "sh", "-c", script)
		if got := strings.Contains(r.stderr, earlyMark); got != early {
			t.Fatalf("run %d: started before its rootfs was mounted %v, want %v\n%s", i+1, got, early, r)
		}
		if out != "0x9\nreached\n" {
			t.Errorf("run %d (rootfs early %v): lo flags and a connection to 127.0.0.1: %q, want up (0x9) and reached", i+1, early, out)
		}
	}
}

// A start keeps its record's last contents linked beside the record until it is done, and
// rm moves a record aside before it answers, so that neither waits for the file system to
// free files. Once den is done nothing of it is left: no temporary file or record moved
// aside under den's data.
func TestStartsAndRemovalsLeaveNothingTheyKeptBehind(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	held := d.runDetached(t, "--name", "held", "--network", "none", "busybox", "sleep", "100")
	out, _ := runToEnd(t, d, "busybox", "echo", "ran")
	if out != "ran\n" {
		t.Fatalf("want the container's output, got %q", out)
	}
	d.mustRun(t, "run", "--rm", "--network", "none", "busybox", "true")
	d.mustRun(t, "create", "--name", "later", "--network", "none", "busybox", "sleep", "100")
	d.mustRun(t, "start", "later")
	d.mustRun(t, "create", "--name", "gone", "busybox", "true")
	d.mustRun(t, "rm", "gone")
	// The held run's den removes its kept files after its answer, before it becomes the
	// container's monitor.
	var left []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = left[:0]
		err := filepath.WalkDir(d.dataDir(), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			name := e.Name()
			if e.IsDir() {
				if strings.HasPrefix(name, ".removed-") {
					left = append(left, p)
				}
				return nil
			}
			if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp") {
				left = append(left, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("left behind under den's data: %q", left)
	}
	wantStdout(t, d.run(t, "inspect", "--format", "{{.State.Status}}", held, "later"), "running\nrunning\n")
}
