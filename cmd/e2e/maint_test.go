package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// psNames lists the names `den ps ARGS...` shows, in its order.
func (d *den) psNames(t *testing.T, args ...string) string {
	t.Helper()
	r := d.mustRun(t, append(append([]string{"ps"}, args...), "--format", "{{.Names}}")...)
	return strings.Join(lines(r.stdout), " ")
}

func TestPsFiltersSelectContainersAsPodmanDoes(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.load(t, "tool-oci.tar")
	// Created in this order: ps lists the newest first.
	d.mustRun(t, "create", "--name", "web", "--label", "tier=front", "-v", "wdata:/data", "busybox", "true")
	d.mustRun(t, "run", "--name", "ok", "busybox", "true")
	if r := d.run(t, "run", "--name", "bad", "busybox", "sh", "-c", "exit 3"); r.code != 3 {
		t.Fatalf("want exit 3\n%s", r)
	}
	d.runDetached(t, "--name", "live", "--label", "tier=back", "busybox", "sleep", "100")
	tooly := strings.TrimSpace(d.mustRun(t, "create", "--name", "tooly", "--network", "none", "tool").stdout)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "live"},
		{[]string{"-a"}, "tooly live bad ok web"},
		// A status filter looks at every state, as in podman.
		{[]string{"--filter", "status=exited"}, "bad ok"},
		{[]string{"--filter", "status=running"}, "live"},
		{[]string{"--filter", "status=created", "--filter", "status=running"}, "tooly live web"},
		{[]string{"-a", "--filter", "name=^w"}, "web"},
		{[]string{"-a", "--filter", "name=o"}, "tooly ok"},
		{[]string{"-a", "--filter", "name=^ok$", "--filter", "name=^bad$"}, "bad ok"},
		{[]string{"-a", "--filter", "id=" + tooly[:6]}, "tooly"},
		{[]string{"-a", "--filter", "label=tier"}, "live web"},
		{[]string{"-a", "-f", "label=tier=front"}, "web"},
		{[]string{"-a", "--filter", "ancestor=busybox"}, "live bad ok web"},
		{[]string{"-a", "--filter", "ancestor=docker.io/library/busybox:latest"}, "live bad ok web"},
		{[]string{"-a", "--filter", "ancestor=tool"}, "tooly"},
		{[]string{"-a", "--filter", "exited=3"}, "bad"},
		{[]string{"-a", "--filter", "exited=0"}, "ok"},
		// Different keys must all match.
		{[]string{"--filter", "status=exited", "--filter", "exited=0"}, "ok"},
		{[]string{"-a", "--filter", "ancestor=busybox", "--filter", "label=tier"}, "live web"},
		{[]string{"-a", "--filter", "ancestor=nosuchimage"}, ""},
		{[]string{"-n", "2"}, "tooly live"},
		{[]string{"--last", "3", "--filter", "ancestor=busybox"}, "live bad ok"},
		{[]string{"-l"}, "tooly"},
		{[]string{"-a", "--sort", "names"}, "bad live ok tooly web"},
		// Creation order: before and since another container, until a time.
		{[]string{"-a", "--filter", "before=live"}, "bad ok web"},
		{[]string{"-a", "--filter", "since=ok"}, "tooly live bad"},
		{[]string{"-a", "--filter", "since=ok", "--filter", "before=" + tooly[:8]}, "live bad"},
		{[]string{"-a", "--filter", "until=2000-01-01"}, ""},
		{[]string{"-a", "--filter", "until=2999-01-01T00:00:00Z"}, "tooly live bad ok web"},
		{[]string{"-a", "--filter", "volume=wdata"}, "web"},
		{[]string{"-a", "--filter", "volume=wdata:/data"}, "web"},
		{[]string{"-a", "--filter", "volume=/data"}, ""},
		{[]string{"-a", "--filter", "network=none"}, "tooly"},
		{[]string{"-a", "--filter", "network=slirp4netns"}, "live bad ok web"},
		{[]string{"-a", "--filter", "health=none"}, "tooly live bad ok web"},
		{[]string{"-a", "--filter", "health=healthy"}, ""},
	} {
		if got := d.psNames(t, tc.args...); got != tc.want {
			t.Errorf("den ps %s: got %q, want %q", shellQuote(tc.args), got, tc.want)
		}
	}
	wantStdout(t, d.run(t, "ps", "-lq"), tooly[:12]+"\n")
	wantError(t, d.run(t, "ps", "--filter", "pod=x"), 125, `"pod"`)
	wantError(t, d.run(t, "ps", "--filter", "before=nosuch"), 125, "before=nosuch")
	wantError(t, d.run(t, "ps", "--filter", "health=sick"), 125, "health")
	wantError(t, d.run(t, "ps", "--filter", "until=someday"), 125, "until")
	wantError(t, d.run(t, "ps", "--filter", "status=sleeping"), 125, "status")
	wantError(t, d.run(t, "ps", "--filter", "exited=x"), 125, "exited")
	wantError(t, d.run(t, "ps", "-n", "2", "-l"), 125, "--latest")
	d.mustRun(t, "stop", "-t", "0", "live")
}

func TestRenameMovesTheNameOfARunningOrStoppedContainer(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := strings.TrimSpace(d.mustRun(t, "create", "--name", "c1", "busybox", "echo", "hi").stdout)
	d.runDetached(t, "--name", "live", "busybox", "sleep", "100")

	wantStdout(t, d.run(t, "rename", "c1", "c2"), "")
	if l := psLine(t, d, "c2"); !strings.HasPrefix(l, id[:12]) {
		t.Errorf("want c1's id listed as c2, got %q", l)
	}
	wantStdout(t, d.run(t, "start", "-a", "c2"), "hi\n")
	// The old name is free at once.
	d.mustRun(t, "create", "--name", "c1", "busybox")

	wantStdout(t, d.run(t, "container", "rename", "live", "live2"), "")
	wantStdout(t, d.run(t, "ps", "--format", "{{.Names}} {{.State}}"), "live2 running\n")
	wantStdout(t, d.run(t, "stop", "-t", "0", "live2"), "live2\n")

	wantError(t, d.run(t, "rename", "c2", "c1"), 125, "already in use", "c1")
	wantError(t, d.run(t, "rename", "nosuch", "x"), 125, "nosuch")
	wantError(t, d.run(t, "rename", "c2", "bad/name"), 125, "bad/name")
	wantError(t, d.run(t, "rename", "c2"), 125, "NEWNAME")
	wantStdout(t, d.run(t, "ps", "-a", "--sort", "names", "--format", "{{.Names}}"), "c1\nc2\nlive2\n")
	wantStdout(t, d.run(t, "system", "check"), "")
}

func TestSystemCheckOfAHealthyStoreIsSilent(t *testing.T) {
	d := newDen(t)
	r := d.run(t, "system", "check")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("want a silent success before anything is stored\n%s", r)
	}
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "c1", "busybox")
	d.mustRun(t, "run", "--name", "done", "busybox", "true")
	d.runDetached(t, "--name", "live", "busybox", "sleep", "100")
	r = d.run(t, "system", "check")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("want a silent success\n%s", r)
	}
	d.mustRun(t, "stop", "-t", "0", "live")
}

func TestSystemCheckFindsDamageAndRepairConverges(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	recs := filepath.Join(d.data, "den", "containers")

	// A record lost: its storage, its directory and its name are left over.
	lost := strings.TrimSpace(d.mustRun(t, "create", "--name", "lost", "busybox").stdout)
	if err := os.Remove(filepath.Join(recs, lost, "container.json")); err != nil {
		t.Fatal(err)
	}
	// Long ago: a young directory without a record is a create in progress.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(recs, lost), old, old); err != nil {
		t.Fatal(err)
	}
	// A name pointing nowhere.
	ghost := strings.Repeat("ab", 32)
	d.writeFile(t, filepath.Join("data", "den", "containers", "names", "ghost"), []byte(ghost+"\n"))
	// A running container whose monitor is killed: its record still says running.
	victim := d.runDetached(t, "--name", "victim", "busybox", "sleep", "100")
	pid := d.pidOf(t, "victim")
	mons := d.monitorPids(t, victim[:12])
	if len(mons) != 1 {
		t.Fatalf("want one den-monitor process for %s, found %v", victim[:12], mons)
	}
	if err := syscall.Kill(mons[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(10*time.Second, func() bool { return processGone(pid) }) {
		t.Fatalf("want the container's process %d to die with its monitor", pid)
	}
	// A healthy container, which no repair may touch.
	d.mustRun(t, "create", "--name", "healthy", "busybox")

	r := d.run(t, "system", "check")
	wantError(t, r, 1, "--repair")
	for _, want := range []string{
		"container directory " + lost[:12] + " holds no record",
		"storage container " + lost[:12] + " has no den record",
		`name "lost" points to container ` + lost[:12],
		`name "ghost" points to container ` + ghost[:12],
		"container " + victim[:12] + " (victim) is recorded running",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("want a finding %q\n%s", want, r)
		}
	}
	if n := len(lines(r.stdout)); n != 5 {
		t.Errorf("want 5 findings, got %d\n%s", n, r)
	}

	r = d.run(t, "system", "check", "--repair")
	if r.code != 0 || len(lines(r.stdout)) != 5 || r.stderr != "" {
		t.Errorf("want the 5 findings repaired\n%s", r)
	}
	for _, l := range lines(r.stdout) {
		if !strings.Contains(l, ": removed") && !strings.Contains(l, ": deleted") && !strings.Contains(l, ": recorded it exited") {
			t.Errorf("want each line to say what was repaired, got %q", l)
		}
	}
	wantStdout(t, d.run(t, "system", "check"), "")

	if l := psLine(t, d, "victim"); !strings.Contains(l, "Exited (-1)") {
		t.Errorf("want victim exited, got %q", l)
	}
	wantStdout(t, d.run(t, "ps", "-a", "--sort", "names", "--format", "{{.Names}}"), "healthy\nvictim\n")
	if b, err := os.ReadFile(filepath.Join(d.graphRoot(), "overlay-containers", "containers.json")); err != nil || strings.Contains(string(b), lost) {
		t.Errorf("want the lost container's storage gone (%v)\n%s", err, b)
	}
	d.mustRun(t, "create", "--name", "lost", "busybox")
	d.mustRun(t, "create", "--name", "ghost", "busybox")
	wantStdout(t, d.run(t, "rm", "victim"), "victim\n")
}

func TestSystemPruneRemovesStoppedContainersAndKeepsRunningOnes(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	created := strings.TrimSpace(d.mustRun(t, "create", "--name", "c1", "busybox").stdout)
	d.mustRun(t, "run", "--name", "done", "busybox", "true")
	exited := strings.TrimSpace(d.mustRun(t, "ps", "-aq", "--no-trunc", "--filter", "name=^done$").stdout)
	live := d.runDetached(t, "--name", "live", "busybox", "sleep", "100")

	// Without --force it asks; no answer and "n" are no.
	for _, in := range []string{"", "n\n"} {
		r := d.runWith(t, execOpts{stdin: strings.NewReader(in)}, "system", "prune")
		if r.code != 0 || !strings.Contains(r.stdout, "WARNING! This command removes:") || !strings.Contains(r.stdout, "Are you sure you want to continue? [y/N]") {
			t.Errorf("want the warning and the question\n%s", r)
		}
		if got := d.psNames(t, "-a"); got != "live done c1" {
			t.Errorf("want nothing removed without a yes, got %q", got)
		}
	}

	r := d.mustRun(t, "system", "prune", "-f")
	ls := lines(r.stdout)
	if len(ls) != 4 || ls[0] != "Deleted Containers" || !strings.HasPrefix(ls[3], "Total reclaimed space: ") ||
		!(ls[1] == exited && ls[2] == created || ls[1] == created && ls[2] == exited) {
		t.Errorf("want the ids of done and c1 under \"Deleted Containers\" and the space reclaimed\n%s", r)
	}
	wantStdout(t, d.run(t, "ps", "-a", "--format", "{{.Names}}"), "live\n")
	// busybox has a name, so it is not dangling, and live uses it.
	if r := d.mustRun(t, "images", "-q"); len(lines(r.stdout)) != 1 {
		t.Errorf("want busybox kept\n%s", r)
	}

	again := strings.TrimSpace(d.mustRun(t, "create", "busybox").stdout)
	r = d.runWith(t, execOpts{stdin: strings.NewReader("y\n")}, "container", "prune")
	if r.code != 0 || !strings.HasSuffix(r.stdout, "[y/N] "+again+"\n") {
		t.Errorf("want the question answered and the id of the pruned container\n%s", r)
	}
	wantStdout(t, d.run(t, "container", "prune", "-f"), "")

	// --filter: only those it selects; label!= those without the label.
	keep := strings.TrimSpace(d.mustRun(t, "create", "--label", "keep=1", "busybox").stdout)
	gone := strings.TrimSpace(d.mustRun(t, "create", "--label", "keep=0", "busybox").stdout)
	wantStdout(t, d.run(t, "container", "prune", "-f", "--filter", "until=2000-01-01"), "")
	wantStdout(t, d.run(t, "container", "prune", "-f", "--filter", "label!=keep=1"), gone+"\n")
	wantError(t, d.run(t, "container", "prune", "-f", "--filter", "nosuch=1"), 125, "nosuch")
	wantStdout(t, d.run(t, "container", "prune", "-f", "--filter", "label=keep"), keep+"\n")

	// -a prunes images no container uses.
	r = d.mustRun(t, "system", "prune", "-af")
	if strings.Contains(r.stdout, "Deleted Images") {
		t.Errorf("want busybox kept while live uses it\n%s", r)
	}
	d.mustRun(t, "stop", "-t", "0", "live")
	r = d.mustRun(t, "system", "prune", "-af")
	if ls := lines(r.stdout); len(ls) != 5 || ls[1] != live || ls[2] != "Deleted Images" {
		t.Errorf("want live and then busybox deleted\n%s", r)
	}
	wantStdout(t, d.run(t, "images", "-q"), "")
	d.wantNoContainers(t)
}

// As podman's, system prune also removes the networks no container is on, and with --volumes
// the unused volumes; what a running container uses stays.
func TestSystemPruneRemovesUnusedNetworksAndWithVolumesVolumes(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	for _, args := range [][]string{
		{"network", "create", "idle"}, {"network", "create", "busy"}, {"volume", "create", "spare"}, {"volume", "create", "held"},
		{"run", "-d", "--name", "c", "--network", "busy", "-v", "held:/h", "busybox", "sleep", "1000"},
	} {
		d.mustRun(t, args...)
	}
	r := d.mustRun(t, "system", "prune", "-f")
	if !strings.Contains(r.stdout, "Deleted Networks\nidle\n") || strings.Contains(r.stdout, "Volumes") || strings.Contains(r.stdout, "busy") {
		t.Errorf("want the idle network pruned, the busy one and the volumes kept\n%s", r)
	}
	r = d.mustRun(t, "system", "prune", "-f", "--volumes")
	if !strings.Contains(r.stdout, "Deleted Volumes\nspare\n") || strings.Contains(r.stdout, "held") || strings.Contains(r.stdout, "busy") {
		t.Errorf("want spare pruned, held and busy kept for c\n%s", r)
	}
	wantStdout(t, d.run(t, "volume", "ls", "-q"), "held\n")
	d.mustRun(t, "rm", "-f", "-t", "0", "c")
}

func TestSystemResetLeavesNothingBehind(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.load(t, "tool-oci.tar")
	d.mustRun(t, "create", "--name", "c1", "busybox")
	d.mustRun(t, "run", "--name", "done", "busybox", "true")
	live := d.runDetached(t, "--name", "live", "busybox", "sleep", "100")
	pid := d.pidOf(t, "live")
	// What reset must remove from the cache directory: the whole den (load), den-monitor (run -d).
	keptInCache(t, d, "bin", "den")
	keptInCache(t, d, "monitor", "den-monitor")

	r := d.runWith(t, execOpts{stdin: strings.NewReader("")}, "system", "reset")
	if r.code != 0 || !strings.Contains(r.stdout, "WARNING! This will remove:") ||
		!strings.Contains(r.stdout, filepath.Join(d.home, ".cache", "den")) {
		t.Errorf("want the warning, naming den's cache directory\n%s", r)
	}
	if got := d.psNames(t, "-a"); got != "live done c1" {
		t.Fatalf("want nothing removed without a yes, got %q", got)
	}

	wantStdout(t, d.run(t, "system", "reset", "-f"), "")
	if !processGone(pid) {
		t.Errorf("want the running container's process %d killed", pid)
	}
	d.wantMonitorGone(t, live[:12])
	for _, args := range [][]string{{"ps", "-a"}, {"images"}} {
		if r := d.mustRun(t, args...); len(lines(r.stdout)) != 1 {
			t.Errorf("want only the header\n%s", r)
		}
	}
	for _, dir := range []string{filepath.Join(d.data, "den"), filepath.Join(d.runDir, "den", "containers"), filepath.Join(d.runDir, "den", "runc")} {
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("want %s empty, it holds %d entries", dir, len(ents))
		}
	}
	// The whole den (kept by load) and den-monitor (kept by run -d) go too.
	if _, err := os.Stat(filepath.Join(d.home, ".cache", "den")); !os.IsNotExist(err) {
		t.Errorf("want den's cache directory gone: %v", err)
	}
	// den starts afresh.
	d.load(t, "busybox-oci.tar")
	wantStdout(t, d.run(t, "run", "--rm", "busybox", "echo", "again"), "again\n")
}

// Rootless den gives containers no cgroup of its own: pause says so in one line.
func TestPauseAndUnpauseSayWhyTheyCannotInOneLine(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "c1", "busybox")
	wantError(t, d.run(t, "pause", "c1"), 125, "pausing containers needs a cgroup freezer", "den stop and den start")
	wantError(t, d.run(t, "unpause", "c1"), 125, "unpausing containers needs a cgroup freezer")
	wantError(t, d.run(t, "container", "pause", "c1"), 125, "cgroup freezer")
	wantError(t, d.run(t, "pause"), 125, "no container given")
}

// As root, pause freezes a container's processes with the cgroup freezer and unpause thaws
// them, as podman's do: the status shows paused, the log stops growing, exec is refused,
// stop thaws before it stops, and the events say pause and unpause.
func TestPauseFreezesAndUnpauseThawsAsRoot(t *testing.T) {
	d := newRootDen(t)
	b, _ := os.ReadFile("/proc/self/cgroup")
	if !strings.Contains(string(b), "freezer") && !strings.HasPrefix(string(b), "0::") {
		t.Skip("no cgroup freezer on this host")
	}
	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--name", "p", "--network", "none", "busybox", "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done")
	d.waitForLog(t, "p", "3\n")
	logLines := func() int { return len(lines(d.mustRun(t, "logs", "p").stdout)) }

	wantStdout(t, d.run(t, "pause", "p"), "p\n")
	wantStdout(t, d.run(t, "inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", "p"), "paused true false\n")
	wantStdout(t, d.run(t, "ps", "--format", "{{.Names}} {{.Status}}", "--filter", "status=paused"), "p Paused\n")
	n := logLines()
	time.Sleep(500 * time.Millisecond)
	if m := logLines(); m != n {
		t.Errorf("paused: want the log still, it grew from %d to %d lines", n, m)
	}
	wantError(t, d.run(t, "exec", "p", "true"), 125, "paused")
	wantError(t, d.run(t, "pause", "p"), 125, "paused already")

	wantStdout(t, d.run(t, "unpause", "p"), "p\n")
	if !waitUntil(5*time.Second, func() bool { return logLines() > n+2 }) {
		t.Errorf("unpaused: want the log growing again past %d lines", n)
	}
	wantError(t, d.run(t, "unpause", "p"), 125, "not paused")

	d.mustRun(t, "pause", "-a")
	d.mustRun(t, "stop", "-t", "1", "p")
	wantStdout(t, d.run(t, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "p"), "exited false\n")
	ev := d.mustRun(t, "events", "--stream=false", "--filter", "event=pause", "--filter", "event=unpause", "--format", "{{.Status}}").stdout
	if got := strings.Join(lines(ev), " "); got != "pause unpause pause unpause" {
		t.Errorf("want the events pause, unpause, pause and the stop's unpause, got %q", got)
	}
	d.mustRun(t, "rm", "p")
}

// ps --size and inspect --size measure a container's writable layer and, with its image, its
// root filesystem, inside den's user namespace, as podman's do.
func TestPsAndInspectSizeMeasureTheContainer(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--name", "sz", "--network", "none", "busybox", "dd", "if=/dev/zero", "of=/big", "bs=1024", "count=100")
	f := strings.Fields(d.mustRun(t, "inspect", "--size", "--format", "{{.SizeRw}} {{.SizeRootFs}}", "sz").stdout)
	if len(f) != 2 {
		t.Fatalf("want SizeRw and SizeRootFs, got %q", f)
	}
	rw, _ := strconv.ParseInt(f[0], 10, 64)
	root, _ := strconv.ParseInt(f[1], 10, 64)
	if rw < 100<<10 || root <= rw {
		t.Errorf("want the 100 KiB written in SizeRw (%d) and the image on top in SizeRootFs (%d)", rw, root)
	}
	if r := d.mustRun(t, "inspect", "sz"); strings.Contains(r.stdout, "SizeRw") {
		t.Errorf("want no sizes without --size\n%s", r)
	}
	r := d.mustRun(t, "ps", "-as")
	if ls := lines(r.stdout); len(ls) != 2 || !strings.HasSuffix(strings.TrimSpace(ls[0]), "SIZE") || !strings.Contains(ls[1], "(virtual ") {
		t.Errorf("want a SIZE column with the virtual size\n%s", r)
	}
	var js []struct {
		Size struct{ RootFsSize, RwSize int64 }
	}
	if err := json.Unmarshal([]byte(d.mustRun(t, "ps", "-a", "--size", "--format", "json").stdout), &js); err != nil || len(js) != 1 || js[0].Size.RwSize != rw || js[0].Size.RootFsSize != root {
		t.Errorf("want ps's JSON Size to match inspect's sizes %d %d, got %+v, %v", rw, root, js, err)
	}
}
