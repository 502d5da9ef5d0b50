package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Files a container writes land in its upper directory owned by the host ids its user
// namespace maps them to: root of the container is the user who ran den, uid 1000 is the
// 1000th id of the user's subordinate range.
func TestFilesWrittenInContainerAreOwnedByMappedHostIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading the upper directory needs root")
	}
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--name", "owner", "busybox", "sh", "-c",
		"echo a > /made-by-root && echo b > /made-by-1000 && chown 1000:1000 /made-by-1000")
	start, _, ok := subIDRange("/etc/subuid", d.user)
	if !ok {
		t.Fatal("no subuid range for the test user")
	}
	want := map[string]int{"made-by-root": d.hostUID(), "made-by-1000": start + 999}
	for name, uid := range want {
		matches, _ := filepath.Glob(filepath.Join(d.graphRoot(), "overlay", "*", "diff", name))
		if len(matches) != 1 {
			t.Fatalf("%s: found %d copies in upper directories, want 1", name, len(matches))
		}
		fi, err := os.Stat(matches[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := int(fi.Sys().(*syscall.Stat_t).Uid); got != uid {
			t.Errorf("%s is owned by host uid %d, want %d", name, got, uid)
		}
	}
}

// The default isolation: podman's capabilities, seccomp on, masked and read-only paths.
func TestContainerCannotReachTheKernelBehindItsDefaults(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	cases := []struct {
		name, script, want string
	}{
		{"capabilities are podman's eleven", "grep CapEff /proc/self/status", "CapEff:\t00000000800405fb"},
		{"seccomp filters syscalls", "grep Seccomp: /proc/self/status", "Seccomp:\t2"},
		// timer_list has content on the host (this kernel has no kcore).
		{"timer_list is masked", "wc -c < /proc/timer_list", "0"},
		{"keys are masked", "wc -c < /proc/keys", "0"},
		{"proc/sys is read-only", "echo x 2>/dev/null > /proc/sys/kernel/hostname && echo wrote || echo refused", "refused"},
		{"sysrq-trigger is read-only", "echo h 2>/dev/null > /proc/sysrq-trigger && echo wrote || echo refused", "refused"},
		{"mount is refused", "mount -t tmpfs t /mnt 2>/dev/null && echo mounted || echo refused", "refused"},
		{"no raw sockets", "ping -c1 -W1 127.0.0.1 >/dev/null 2>&1 && echo pinged || echo refused", "refused"},
		{"no device nodes", "mknod /tmp/sda b 8 0 2>/dev/null && echo made || echo refused", "refused"},
		{"only lo and slirp4netns's tap0 in the network namespace", "ls /sys/class/net | tr '\\n' ' '", "lo tap0 "},
		// den's and runc's descriptors (the seccomp cache's directory among them) end
		// with the init: the command has its stdio and nothing else (3 is ls's own).
		{"no descriptor but stdio is inherited", "ls /proc/self/fd | tr '\\n' ' '", "0 1 2 3 "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := d.run(t, "run", "--rm", "busybox", "sh", "-c", c.script)
			if r.code != 0 || strings.TrimRight(r.stdout, "\n") != c.want {
				t.Fatalf("got %s, want stdout %q", r, c.want)
			}
		})
	}
}

// podman's isolation flags change the defaults as podman's do, each seen from inside the
// container: --cap-add, --cap-drop, --privileged, --security-opt, --read-only, --shm-size and
// --ulimit; inspect shows them; bad values are one line, 125, and create nothing.
func TestSecurityFlagsChangeTheDefaultsAsPodmansDo(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	every := fmt.Sprintf("%016x", uint64(1)<<(last+1)-1)
	for _, c := range []struct {
		name         string
		args         []string
		script, want string
	}{
		{"cap-add", []string{"--cap-add", "net_admin"}, "grep CapEff /proc/self/status", "CapEff:\t00000000800415fb"},
		{"cap-add for a user other than root", []string{"--user", "1000", "--cap-add", "NET_BIND_SERVICE"}, "grep CapEff /proc/self/status", "CapEff:\t0000000000000400"},
		{"no capability for a user other than root", []string{"--user", "1000"}, "grep CapEff /proc/self/status", "CapEff:\t0000000000000000"},
		{"cap-drop", []string{"--cap-drop", "CAP_CHOWN"}, "chown 1 /tmp 2>/dev/null && echo chowned || echo refused", "refused"},
		{"cap-drop ALL keeps what is added", []string{"--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"}, "grep CapEff /proc/self/status", "CapEff:\t0000000000000400"},
		{"privileged", []string{"--privileged"}, "grep -E '^(CapEff|Seccomp):' /proc/self/status | tr '\\n' ' '", "CapEff:\t" + every + " Seccomp:\t0 "},
		{"no-new-privileges", []string{"--security-opt", "no-new-privileges"}, "grep NoNewPrivs /proc/self/status", "NoNewPrivs:\t1"},
		{"seccomp=unconfined", []string{"--security-opt", "seccomp=unconfined"}, "grep Seccomp: /proc/self/status", "Seccomp:\t0"},
		{"read-only", []string{"--read-only"}, "touch /x 2>/dev/null && echo wrote || echo refused; touch /tmp/x /var/tmp/x /run/x && echo scratch", "refused\nscratch"},
		{"shm-size", []string{"--shm-size", "2m"}, "df -k /dev/shm | tail -n 1 | awk '{print $2}'", "2048"},
		{"ulimit", []string{"--ulimit", "nofile=100:200"}, "ulimit -n; ulimit -Hn", "100\n200"},
		{"group-add", []string{"--group-add", "daemon", "--group-add", "4321"}, "id -G", "0 1 4321"},
		{"device", []string{"--device", "/dev/null:/dev/mynull", "--device", "/dev/zero"}, "test -c /dev/mynull && echo x > /dev/mynull && head -c 3 /dev/zero | wc -c", "3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string{"run", "--rm", "--network", "none"}, c.args...), "busybox", "sh", "-c", c.script)
			r := d.run(t, args...)
			if r.code != 0 || strings.TrimRight(r.stdout, "\n") != c.want {
				t.Fatalf("got %s, want stdout %q", r, c.want)
			}
		})
	}
	d.mustRun(t, "create", "--name", "c", "--cap-add", "net_admin", "--cap-drop", "chown", "--read-only",
		"--security-opt", "no-new-privileges", "--shm-size", "1m", "--ulimit", "nproc=50", "busybox")
	wantStdout(t, d.run(t, "inspect", "-f", "{{.HostConfig.CapAdd}} {{.HostConfig.CapDrop}} {{.HostConfig.ReadonlyRootfs}} "+
		"{{.HostConfig.SecurityOpt}} {{.HostConfig.ShmSize}} {{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}}{{end}}", "c"),
		"[CAP_NET_ADMIN] [CAP_CHOWN] true [no-new-privileges] 1048576 RLIMIT_NPROC=50:50\n")
	d.mustRun(t, "rm", "c")
	// --group-add holds for execs too; a group the image does not have is a one-line 125.
	d.runDetached(t, "--name", "ga", "--network", "none", "--group-add", "extra", "busybox", "sleep", "1000")
	wantStdout(t, d.run(t, "exec", "ga", "id", "-G"), "0 2000\n")
	wantStdout(t, d.run(t, "inspect", "-f", "{{.HostConfig.GroupAdd}}", "ga"), "[extra]\n")
	d.mustRun(t, "rm", "-f", "-t", "0", "ga")
	wantError(t, d.run(t, "run", "--rm", "--network", "none", "--group-add", "nosuchgroup", "busybox", "true"), 125, "nosuchgroup")
	for _, bad := range [][]string{
		{"--cap-add", "NOPE"}, {"--cap-add", "NET_ADMIN", "--cap-drop", "net_admin"}, {"--cap-add", "ALL", "--cap-drop", "ALL"},
		{"--ulimit", "nofile=abc"}, {"--ulimit", "bogus=1"}, {"--ulimit", "nofile=10:5"},
		{"--security-opt", "seccomp=/profile.json"}, {"--shm-size", "lots"}, {"--group-add", "keep-groups"},
		{"--device", "/etc/passwd"}, {"--device", "/nosuch"}, {"--device", "/dev/null:/dev/x:q"}, {"--device", "dev/null"},
	} {
		wantError(t, d.run(t, append(append([]string{"create"}, bad...), "busybox")...), 125, bad[1])
	}
	d.wantNoContainers(t)
}

// --memory, --cpus and --pids-limit are cgroup limits: rootless den, which gives containers
// no cgroup of their own, refuses them in one line and creates nothing; den as root sets them
// on the container's cgroup, and inspect shows them.
// --init runs catatonit as the first process, as podman's does, with the command below it;
// inspect says so; a missing --init-path is a one-line 125.
func TestInitRunsCatatonitFirst(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	if _, err := os.Stat("/usr/bin/catatonit"); err != nil {
		wantError(t, d.run(t, "run", "--rm", "--init", "busybox", "true"), 125, "catatonit")
		t.Skip("catatonit is not installed (scripts/setup-host.sh installs it)")
	}
	r := d.mustRun(t, "run", "--rm", "--init", "--network", "none", "busybox", "sh", "-c", "cat /proc/1/comm; echo $$")
	if ls := lines(r.stdout); len(ls) != 2 || ls[0] != "den-init" || ls[1] == "1" {
		t.Errorf("want den-init (catatonit) as process 1 and the command below it\n%s", r)
	}
	d.mustRun(t, "create", "--name", "i", "--init", "busybox")
	wantStdout(t, d.run(t, "inspect", "-f", "{{.HostConfig.Init}}", "i"), "true\n")
	d.mustRun(t, "rm", "i")
	wantError(t, d.run(t, "create", "--init", "--init-path", "/nosuch", "busybox"), 125, "/nosuch")
	wantError(t, d.run(t, "create", "--init", "--init-path", "catatonit", "busybox"), 125, "absolute")
	d.wantNoContainers(t)
}

// As root, --device makes the device node in the container and lets its cgroup reach it.
func TestDeviceAsRoot(t *testing.T) {
	d := newRootDen(t)
	d.load(t, "busybox-oci.tar")
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no /dev/loop-control, a device outside the container's default set")
	}
	// Outside the default device set: the cgroup lets it be opened with r, not with m only.
	for perms, want := range map[string]string{"rw": "opened", "m": "refused"} {
		wantStdout(t, d.run(t, "run", "--rm", "--network", "none", "--device", "/dev/loop-control:/dev/lc:"+perms, "busybox", "sh", "-c",
			"test -c /dev/lc || { echo missing; exit; }; (exec 3</dev/lc) 2>/dev/null && echo opened || echo refused"), want+"\n")
	}
}

func TestResourceLimitsAreCgroupLimitsAsRootAndRefusedRootless(t *testing.T) {
	t.Run("rootless", func(t *testing.T) {
		d := newDen(t)
		d.load(t, "busybox-oci.tar")
		wantError(t, d.run(t, "run", "--rm", "-m", "64m", "busybox", "true"), 125, "--memory", "rootless")
		wantError(t, d.run(t, "create", "--cpus", "0", "busybox"), 125, "--cpus")
		// Under the kernel's smallest CFS quota.
		wantError(t, d.run(t, "create", "--cpus", "0.001", "busybox"), 125, "--cpus", "0.01")
		// Refused before a pull, not after it: no registry is asked for this image.
		wantError(t, d.run(t, "create", "--pull", "always", "-m", "64m", "localhost:1/nosuch"), 125, "--memory", "rootless")
		wantError(t, d.run(t, "create", "--memory", "lots", "busybox"), 125, "lots")
		wantError(t, d.run(t, "create", "--pids-limit", "0", "busybox"), 125, "--pids-limit 0", "-1")
		d.wantNoContainers(t)
		// -1 is podman's "no limit": nothing for a cgroup to do, so rootless runs it.
		wantStdout(t, d.run(t, "run", "--rm", "--network", "none", "--pids-limit", "-1", "busybox", "echo", "unlimited"), "unlimited\n")
	})
	t.Run("root", func(t *testing.T) {
		d := newRootDen(t)
		d.load(t, "busybox-oci.tar")
		id := d.runDetached(t, "--name", "lim", "--network", "none", "-m", "64m", "--cpus", "0.5", "--pids-limit", "50", "busybox", "sleep", "1000")
		wantStdout(t, d.run(t, "inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", "lim"), "67108864 500000000 50\n")
		pid := d.pidOf(t, "lim")
		cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err != nil {
			t.Fatal(err)
		}
		read := func(ctl, file string) string {
			for _, l := range strings.Split(string(cg), "\n") {
				f := strings.SplitN(l, ":", 3)
				if len(f) == 3 && (slices.Contains(strings.Split(f[1], ","), ctl) || f[1] == "" && f[0] == "0") {
					if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", map[bool]string{true: ctl, false: ""}[f[1] != ""], f[2], file)); err == nil {
						return strings.TrimSpace(string(b))
					}
				}
			}
			return ""
		}
		if !strings.Contains(string(cg), id) {
			t.Fatalf("want the container in a cgroup of its own, got %s", cg)
		}
		got := []string{read("memory", "memory.limit_in_bytes") + read("memory", "memory.max"),
			read("cpu", "cpu.cfs_quota_us") + read("cpu", "cpu.max"), read("pids", "pids.max")}
		if got[0] != "67108864" || (got[1] != "50000" && got[1] != "50000 100000") || got[2] != "50" {
			t.Errorf("want memory 64m, a half CPU and 50 pids in the container's cgroup, got %q", got)
		}
		d.mustRun(t, "rm", "-f", "-t", "0", "lim")
	})
}

// A container's seccomp filter is compiled once per profile and loaded from den's cache after
// that (runtime/seccompcache). The filter from the cache still filters: a new user namespace,
// which needs no capability, only the seccomp profile refuses. A damaged cache file is not
// loaded: the filter is compiled again and the file written anew.
func TestSeccompFilterFromTheCacheFiltersAsTheCompiledOne(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	refused := func(t *testing.T, when string) {
		t.Helper()
		r := d.run(t, "run", "--rm", "busybox", "sh", "-c", "unshare -U true 2>/dev/null && echo made || echo refused")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "refused" {
			t.Fatalf("%s: got %s, want the user namespace refused", when, r)
		}
	}
	cacheDir := filepath.Join(filepath.Dir(d.graphRoot()), "seccomp")
	programs := func() []string {
		files, err := filepath.Glob(filepath.Join(cacheDir, "*"))
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	refused(t, "first container (compiles)")
	files := programs()
	if len(files) != 1 {
		t.Fatalf("cache after one container holds %v, want one program", files)
	}
	stored, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	refused(t, "second container (from the cache)")
	if got := programs(); len(got) != 1 || got[0] != files[0] {
		t.Fatalf("the same profile stored again: %v", got)
	}

	damaged := append([]byte(nil), stored...)
	for i := len(damaged) - 64; i < len(damaged); i++ {
		damaged[i] = 0 // the last eight instructions: the program no longer matches its sum
	}
	if err := os.WriteFile(files[0], damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	refused(t, "container after the cache file was damaged")
	again, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(stored) {
		t.Fatal("the damaged cache file was not written anew with the compiled program")
	}

	// An exec's init uses the cache too, and leaves no descriptor of it to the command.
	d.mustRun(t, "run", "-d", "--name", "sc", "busybox", "sleep", "1000")
	r := d.run(t, "exec", "sc", "sh", "-c", "unshare -U true 2>/dev/null && echo made || echo refused; ls /proc/self/fd | tr '\\n' ' '")
	if r.code != 0 || r.stdout != "refused\n0 1 2 3 " {
		t.Fatalf("exec: got %s, want the user namespace refused and only stdio open", r)
	}
	if got := programs(); len(got) != 1 {
		t.Fatalf("exec stored another program for the same profile: %v", got)
	}
}
