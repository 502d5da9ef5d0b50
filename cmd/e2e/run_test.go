package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRunPrintsHelloAsRootlessUser(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	r := d.run(t, "run", "--rm", "busybox", "echo", "hello")
	wantStdout(t, r, "hello\n")
	if r.stderr != "" {
		t.Errorf("want nothing on stderr\n%s", r)
	}
}

func TestRunMakesCommandRootOfUserNamespaceMappedToHostUser(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	wantStdout(t, d.run(t, "run", "--rm", "busybox", "id", "-u"), "0\n")

	r := d.mustRun(t, "run", "--rm", "busybox", "cat", "/proc/self/uid_map")
	ls := lines(r.stdout)
	want := []string{"0", fmt.Sprint(d.hostUID()), "1"}
	if len(ls) == 0 || !slices.Equal(strings.Fields(ls[0]), want) {
		t.Errorf("want the first uid_map line to map 0 to host uid %d only\n%s", d.hostUID(), r)
	}
	if start, count, ok := subIDRange("/etc/subuid", d.user); ok {
		want := []string{"1", fmt.Sprint(start), fmt.Sprint(count)}
		if len(ls) < 2 || !slices.Equal(strings.Fields(ls[1]), want) {
			t.Errorf("want the second uid_map line to map 1 to the subuid range %d+%d\n%s", start, count, r)
		}
	}
}

func TestRunKeepsImageFileOwnersInsideContainer(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	r := d.run(t, "run", "--rm", "busybox", "sh", "-c", "cd /srv/multi && stat -c '%n %u %g' *")
	wantStdout(t, r, "u0 0 0\nu1000 1000 1000\nu2000 2000 2000\nu65534 65534 65534\n")
}

func TestRunCommandIsPIDOne(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	wantStdout(t, d.run(t, "run", "--rm", "busybox", "sh", "-c", "echo $$"), "1\n")
}

func TestRunHostnameIsShortContainerID(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	r := d.mustRun(t, "run", "--name", "h", "busybox", "sh", "-c", "hostname; cat /etc/hostname")
	ls := lines(r.stdout)
	if len(ls) != 2 || !hex12.MatchString(ls[0]) || ls[1] != ls[0] {
		t.Fatalf("want a 12-digit hex host name, the same in /etc/hostname\n%s", r)
	}
	id := strings.TrimSpace(d.mustRun(t, "ps", "-a", "-q", "--no-trunc").stdout)
	if !strings.HasPrefix(id, ls[0]) {
		t.Errorf("want host name %s to begin container id %s", ls[0], id)
	}
}

func TestRunHostnameFlagSetsHostname(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	r := d.run(t, "run", "--rm", "--hostname", "foo", "busybox", "sh", "-c", `hostname; cat /etc/hostname; echo "$HOSTNAME"`)
	wantStdout(t, r, "foo\nfoo\nfoo\n")
	// -h is --hostname, as in podman's run and create, not help.
	wantStdout(t, d.run(t, "run", "--rm", "-h", "bar", "busybox", "hostname"), "bar\n")
	d.mustRun(t, "create", "--name", "hc", "-hbaz", "busybox", "hostname")
	wantStdout(t, d.run(t, "start", "-a", "hc"), "baz\n")
	d.mustRun(t, "rm", "hc")
}

func TestRunShowsNoHostFiles(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	source, _ := os.Getwd()
	for _, tc := range []struct{ name, path string }{
		{"den's source tree", source},
		{"the test's directory", d.dir},
		{"the user's home", d.user.home},
		{"den's binary", denBinary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.run(t, "run", "--rm", "busybox", "test", "!", "-e", tc.path)
			if r.code != 0 {
				t.Errorf("want host path %s absent in the container\n%s", tc.path, r)
			}
		})
	}
	t.Run("the image's passwd, not the host's", func(t *testing.T) {
		wantStdout(t, d.run(t, "run", "--rm", "busybox", "cut", "-d:", "-f1", "/etc/passwd"), "root\ndaemon\nuser\nnobody\n")
	})
}

func TestRunExitsWithCommandStatus(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"exit 3", []string{"sh", "-c", "exit 3"}, 3},
		{"false", []string{"false"}, 1},
		{"true", []string{"true"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.run(t, append([]string{"run", "--rm", "busybox"}, tc.args...)...)
			if r.code != tc.code || r.stderr != "" {
				t.Errorf("want exit %d and nothing on stderr\n%s", tc.code, r)
			}
			d.wantNoContainers(t)
		})
	}
}

func TestRunCommandThatCannotRunExits126Or127(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	t.Run("not found", func(t *testing.T) {
		wantError(t, d.run(t, "run", "--rm", "busybox", "nosuchcmd"), 127, "nosuchcmd")
		d.wantNoContainers(t)
	})
	t.Run("not executable", func(t *testing.T) {
		wantError(t, d.run(t, "run", "--rm", "busybox", "/etc/passwd"), 126, "/etc/passwd")
		d.wantNoContainers(t)
	})
	t.Run("not found keeps the container without --rm", func(t *testing.T) {
		wantError(t, d.run(t, "run", "--name", "gone", "busybox", "nosuchcmd"), 127, "nosuchcmd")
		if r := d.mustRun(t, "ps", "-a", "--format", "{{.Names}}"); r.stdout != "gone\n" {
			t.Errorf("want the container listed\n%s", r)
		}
		d.mustRun(t, "rm", "gone")
	})
	// A bind source removed since create fails the start as den's own error, naming the
	// path: it is no missing command, though its errno is the same.
	t.Run("a bind source gone is no missing command", func(t *testing.T) {
		src := filepath.Join(d.home, "bind-src")
		d.chownedDir(t, src)
		d.mustRun(t, "create", "--name", "bound", "-v", src+":/x", "busybox", "true")
		if err := os.Remove(src); err != nil {
			t.Fatal(err)
		}
		r := d.run(t, "start", "-a", "bound")
		wantError(t, r, 125, src)
		if strings.Contains(r.stderr, "command not found") {
			t.Errorf("a missing bind source reported as a missing command\n%s", r)
		}
		d.mustRun(t, "rm", "bound")
	})
}

func TestRunPassesStdinOnlyWithInteractive(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	t.Run("with -i", func(t *testing.T) {
		wantStdout(t, d.runWith(t, execOpts{stdin: strings.NewReader("hi\n")}, "run", "-i", "--rm", "busybox", "cat"), "hi\n")
	})
	t.Run("without -i", func(t *testing.T) {
		// A pipe that stays open: if den passed it on, cat would print hi and never end.
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		defer pw.Close()
		if _, err := pw.WriteString("hi\n"); err != nil {
			t.Fatal(err)
		}
		wantStdout(t, d.runWith(t, execOpts{stdin: pr, timeout: 20 * time.Second}, "run", "--rm", "busybox", "cat"), "")
	})
}

func TestRunAppliesImageConfigUnlessOverridden(t *testing.T) {
	d := newDen(t)
	d.load(t, "tool-oci.tar")
	envFile := d.writeFile(t, "env.list", []byte("# a comment\nFOO=file\nOTHER=x\n"))
	sh := []string{"--entrypoint", `["/bin/sh","-c"]`}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"entrypoint and cmd of the image", []string{"tool"}, "entry default-arg\n"},
		{"arguments replace cmd", []string{"tool", "x", "y"}, "entry x y\n"},
		{"entrypoint flag drops cmd", []string{"--entrypoint", "/bin/pwd", "tool"}, "/srv\n"},
		{"JSON entrypoint", append(sh, "tool", "echo $FOO"), "from-image\n"},
		{"-e overrides image env", append(append([]string{"-e", "FOO=cli"}, sh...), "tool", "echo $FOO"), "cli\n"},
		{"--env-file overrides image env", append(append([]string{"--env-file", envFile}, sh...), "tool", "echo $FOO $OTHER"), "file x\n"},
		{"-e value with commas", append(append([]string{"-e", "FOO=a,b,c"}, sh...), "tool", "echo $FOO"), "a,b,c\n"},
		{"-e overrides --env-file", append(append([]string{"--env-file", envFile, "-e", "FOO=cli"}, sh...), "tool", "echo $FOO"), "cli\n"},
		{"-e and --env together", append(append([]string{"-e", "FOO=short", "--env", "OTHER=long"}, sh...), "tool", "echo $FOO $OTHER"), "short long\n"},
		{"-w overrides image workdir", []string{"-w", "/tmp", "--entrypoint", "/bin/pwd", "tool"}, "/tmp\n"},
		{"-w creates a missing directory", []string{"-w", "/new/dir", "--entrypoint", "/bin/pwd", "tool"}, "/new/dir\n"},
		{"image user by name", append(sh, "tool", "id -u; id -g"), "1000\n1000\n"},
		{"-u 0", append(append([]string{"-u", "0"}, sh...), "tool", "id -u; id -g"), "0\n0\n"},
		{"-u uid:gid", append(append([]string{"-u", "2000:2000"}, sh...), "tool", "id -u; id -g"), "2000\n2000\n"},
		{"-u name of the image", append(append([]string{"-u", "daemon"}, sh...), "tool", "id -u; id -g"), "1\n1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStdout(t, d.run(t, append([]string{"run", "--rm"}, tc.args...)...), tc.want)
		})
	}
	t.Run("-u unknown user", func(t *testing.T) {
		wantError(t, d.run(t, "run", "--rm", "-u", "nosuchuser", "tool"), 125, "nosuchuser")
		d.wantNoContainers(t)
	})
}

func TestRunSetsDefaultEnvironment(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	r := d.mustRun(t, "run", "--rm", "busybox", "sh", "-c", "hostname; env")
	ls := lines(r.stdout)
	if len(ls) == 0 {
		t.Fatalf("want output\n%s", r)
	}
	for _, want := range []string{
		"IMAGE_VAR=from-image", "HOME=/root", "container=den", "HOSTNAME=" + ls[0],
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	} {
		if !slices.Contains(ls[1:], want) {
			t.Errorf("want %s in the environment\n%s", want, r)
		}
	}
	for _, leak := range []string{"XDG_DATA_HOME=", "XDG_RUNTIME_DIR=", "_DEN_"} {
		for _, l := range ls[1:] {
			if strings.HasPrefix(l, leak) {
				t.Errorf("want den's own environment kept out, found %s\n%s", l, r)
			}
		}
	}
}

func TestRunEnvWithoutValueCopiesDensEnvironment(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	r := d.runWith(t, execOpts{env: []string{"A=copied from den"}}, "run", "--rm", "-e", "A", "-e", "UNSET_IN_DEN", "busybox", "env")
	if r.code != 0 || !slices.Contains(lines(r.stdout), "A=copied from den") {
		t.Errorf("want A=copied from den in the environment\n%s", r)
	}
	for _, l := range lines(r.stdout) {
		if strings.HasPrefix(l, "UNSET_IN_DEN") {
			t.Errorf("want a variable unset in den's environment left out, as podman does\n%s", r)
		}
		// den-init's own settings stay den-init's.
		if strings.HasPrefix(l, "GOMAXPROCS") || strings.HasPrefix(l, "_LIBCONTAINER") {
			t.Errorf("want nothing of the container's init in its command's environment\n%s", r)
		}
	}
}

func TestRunRmLeavesNoContainerOrMount(t *testing.T) {
	t.Run("rootless", func(t *testing.T) { wantRunRmLeavesNothing(t, newDen(t)) })
	t.Run("root", func(t *testing.T) { wantRunRmLeavesNothing(t, newRootDen(t)) })
}

func wantRunRmLeavesNothing(t *testing.T, d *den) {
	d.load(t, "busybox-oci.tar")
	wantStdout(t, d.run(t, "run", "--rm", "busybox", "true"), "")
	d.wantNoContainers(t)
	d.removalsSettled(t)
	if mps := mountsUnder(t, d.dir); len(mps) > 0 {
		t.Errorf("want nothing of den mounted on the host, found %q", mps)
	}
	// Storage forgets the container too, not only den's records.
	for _, list := range []string{"containers.json", "volatile-containers.json"} {
		if ids := storageContainers(t, d, list); len(ids) != 0 {
			t.Errorf("want no containers in containers/storage's %s, got %q", list, ids)
		}
	}
}

// storageContainers lists the ids in one of containers/storage's container lists.
func storageContainers(t *testing.T, d *den, list string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.graphRoot(), "overlay-containers", list))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("reading containers/storage's %s: %v", list, err)
	}
	var cs []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatalf("decoding containers/storage's %s: %v\n%s", list, err, b)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// A --rm container is kept in containers/storage's volatile lists, written without a sync,
// as podman keeps its --rm containers; any other goes to the lists that survive a crash. So
// also where a detached run with --network none creates its storage before it reads its
// command line (runtime.CreateStorageAhead, from the second run of an image on, rootless).
func TestRunRmContainerIsVolatileInStorage(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	for _, network := range [][]string{nil, {"--network", "none"}} {
		var ids []string
		if network != nil {
			ids = append(ids, d.runDetached(t, append(network, "busybox", "sleep", "1000")...))
		}
		rm := d.runDetached(t, append(network, "--rm", "busybox", "sleep", "1000")...)
		kept := d.runDetached(t, append(network, "busybox", "sleep", "1000")...)
		volatile := storageContainers(t, d, "volatile-containers.json")
		durable := storageContainers(t, d, "containers.json")
		if !slices.Contains(volatile, rm) || slices.Contains(durable, rm) {
			t.Errorf("%q: want the --rm container %s in volatile-containers.json only; volatile %q, durable %q", network, rm[:12], volatile, durable)
		}
		if !slices.Contains(durable, kept) || slices.Contains(volatile, kept) {
			t.Errorf("%q: want the other container %s in containers.json only; volatile %q, durable %q", network, kept[:12], volatile, durable)
		}
		d.mustRun(t, append([]string{"rm", "-f", "-t", "0", rm, kept}, ids...)...)
		d.removalsSettled(t)
		if left := append(storageContainers(t, d, "volatile-containers.json"), storageContainers(t, d, "containers.json")...); len(left) != 0 {
			t.Errorf("%q: want the containers gone from storage after rm -f, found %q", network, left)
		}
	}
}

// rm -f of a running --rm container succeeds, as podman's does, although the container's
// monitor removes it too when it dies: before, den answered that the container's lock could
// not be opened, with 125.
func TestRmForceOfARunningRmContainerSucceeds(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--rm", "--name", "gone", "busybox", "sleep", "1000")
	wantStdout(t, d.run(t, "rm", "-f", "-t", "0", "gone"), "gone\n")
	d.wantNoContainers(t)
}

// podman's run options for the process and its namespaces: --env-host, --label-file,
// --annotation, --umask, --sysctl, --tz and --no-hosts.
func TestRunTakesEnvHostLabelFileUmaskSysctlTzAnnotationAndNoHosts(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	run := func(args ...string) result {
		t.Helper()
		return d.mustRun(t, append([]string{"run", "--rm", "--network", "none"}, args...)...)
	}
	r := d.runWith(t, execOpts{env: []string{"DEN_E2E_HOSTVAR=from-host"}}, "run", "--rm", "--network", "none", "--env-host", "-e", "PINNED=flag", "busybox", "sh", "-c", "echo $DEN_E2E_HOSTVAR $PINNED")
	wantStdout(t, r, "from-host flag\n")
	wantStdout(t, d.runWith(t, execOpts{env: []string{"DEN_E2E_HOSTVAR=from-host"}}, "run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo x$DEN_E2E_HOSTVAR"), "x\n")

	d.writeFile(t, "home/labels", []byte("# the team\nteam=core\n\ntier=back\nflag\n"))
	d.mustRun(t, "create", "--name", "l", "--label-file", "home/labels", "--label", "team=ops", "--annotation", "org.example/owner=den", "--umask", "027", "--tz", "UTC", "busybox", "true")
	wantStdout(t, d.run(t, "inspect", "--format", "{{json .Config.Labels}} {{json .Config.Annotations}} {{.Config.Umask}} {{.Config.Timezone}}", "l"),
		`{"flag":"","team":"ops","tier":"back"} {"org.example/owner":"den"} 0027 UTC`+"\n")
	wantError(t, d.run(t, "create", "--label-file", "home/nosuch", "busybox", "true"), 125, "nosuch")

	wantStdout(t, run("--umask", "077", "busybox", "sh", "-c", "umask"), "0077\n")
	wantStdout(t, run("busybox", "sh", "-c", "umask"), "0022\n")
	wantStdout(t, run("--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "--sysctl", "kernel.msgmax=4096", "busybox", "cat",
		"/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/msgmax"), "80\n4096\n")
	if _, err := os.Stat("/usr/share/zoneinfo/Asia/Tokyo"); err == nil {
		wantStdout(t, run("--tz", "Asia/Tokyo", "busybox", "date", "+%Z"), "JST\n")
	} else {
		t.Errorf("want the host's time zones (Debian's tzdata, which scripts/setup-host.sh installs): %v", err)
	}
	// An image whose /etc/localtime is a link, dangling here as in a Debian image without
	// tzdata: the zone takes its place.
	d.mustRun(t, "run", "--name", "tzlink", "--network", "none", "busybox", "ln", "-s", "/usr/share/zoneinfo/Etc/UTC", "/etc/localtime")
	d.mustRun(t, "commit", "tzlink", "tzlink-image")
	d.mustRun(t, "rm", "tzlink")
	wantStdout(t, run("--tz", "Asia/Tokyo", "tzlink-image", "date", "+%Z"), "JST\n")
	wantStdout(t, run("tzlink-image", "readlink", "/etc/localtime"), "/usr/share/zoneinfo/Etc/UTC\n")
	// den's own variables stay out of --env-host's environment.
	wantStdout(t, run("--env-host", "busybox", "sh", "-c", "env | grep -c -e ^_DEN_ -e ^_CONTAINERS_ -e ^_LIBCONTAINER_; true"), "0\n")
	wantStdout(t, run("--no-hosts", "--hostname", "nohosts", "busybox", "sh", "-c", "cat /etc/hosts 2>/dev/null | grep -c nohosts; true"), "0\n")
	wantStdout(t, run("--hostname", "withhosts", "busybox", "sh", "-c", "grep -c withhosts /etc/hosts"), "1\n")
	// A container joining the network of one made with --no-hosts shares its choice.
	d.runDetached(t, "--name", "nh", "--no-hosts", "busybox", "sleep", "1000")
	wantStdout(t, d.run(t, "run", "--rm", "--network", "container:nh", "busybox", "sh", "-c", "cat /etc/hosts 2>/dev/null | grep -c nh; true"), "0\n")
	d.mustRun(t, "rm", "-f", "-t", "0", "nh")

	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{[]string{"--umask", "0888"}, "0888"},
		{[]string{"--sysctl", "kernel.hostname=x"}, "kernel.hostname"},
		{[]string{"--network", "host", "--sysctl", "net.ipv4.ip_forward=1"}, "net.ipv4.ip_forward"},
		{[]string{"--sysctl", "novalue"}, "novalue"},
		{[]string{"--tz", "../../etc/passwd"}, "passwd"},
		{[]string{"--tz", "Nowhere/Place"}, "Nowhere/Place"},
		{[]string{"--annotation", "=x"}, "=x"},
		{[]string{"--no-hosts", "--add-host", "h:10.0.0.1"}, "--no-hosts"},
	} {
		wantError(t, d.run(t, append(append([]string{"run", "--rm"}, tc.args...), "busybox", "true")...), 125, tc.mention)
	}
	d.mustRun(t, "rm", "l")
	d.wantNoContainers(t)
}
