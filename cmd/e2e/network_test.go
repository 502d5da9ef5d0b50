package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostIP is the host's primary IPv4 address (not loopback): the "outside" the tests reach,
// as there is no internet here.
func hostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	t.Skip("the host has no IPv4 address but loopback")
	return ""
}

// freePort is a TCP and UDP port free on the host right now.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		p := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if u, err := net.ListenPacket("udp", ":"+strconv.Itoa(p)); err == nil {
			u.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// slirpFor lists the slirp4netns processes serving the container whose init is pid: those
// whose parent is the container's holder (its monitor), which is also the init's parent.
func slirpFor(t *testing.T, pid string) []string {
	t.Helper()
	holder := parentOf(pid)
	out, _ := exec.Command("pgrep", "slirp4netns").Output()
	var found []string
	for _, l := range lines(string(out)) {
		if holder != "" && parentOf(l) == holder && livingProcess(l) {
			found = append(found, l)
		}
	}
	return found
}

// parentOf is the parent pid of process pid, or "" when it is gone.
func parentOf(pid string) string {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+1:])
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// slirpGone waits for the slirp4netns processes slirps to end (killed when their container
// exits, they may take a moment to die) and returns those still alive.
func slirpGone(t *testing.T, slirps []string) []string {
	t.Helper()
	var left []string
	for range 20 {
		left = left[:0]
		for _, p := range slirps {
			if livingProcess(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return left
}

// webScript makes a page and a CGI script printing the client's address, then serves them.
const webScript = `mkdir -p /www/cgi-bin && echo hello > /www/index.html &&
printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho "$REMOTE_ADDR"\n' > /www/cgi-bin/peer &&
chmod +x /www/cgi-bin/peer && exec httpd -f -p 80 -h /www`

func getRetry(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 3 * time.Second}
	var last error
	for range 50 {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b)
			}
			last = fmt.Errorf("status %s: %s", resp.Status, b)
		} else {
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

func TestNetPublishedPortServesHTTPAndServerSeesClientAddress(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	ip, hp := hostIP(t), freePort(t)
	d.mustRun(t, "run", "-d", "--name", "web", "-p", fmt.Sprintf("%d:80", hp), "busybox", "sh", "-c", webScript)
	if got := getRetry(t, fmt.Sprintf("http://%s:%d/", ip, hp)); got != "hello\n" {
		t.Errorf("want the page, got %q", got)
	}
	if got := getRetry(t, fmt.Sprintf("http://%s:%d/cgi-bin/peer", ip, hp)); !strings.Contains(got, ip) {
		t.Errorf("want the server to see the client's address %s, got %q", ip, got)
	}
	wantStdout(t, d.run(t, "port", "web"), fmt.Sprintf("80/tcp -> 0.0.0.0:%d\n", hp))
	wantStdout(t, d.run(t, "port", "web", "80"), fmt.Sprintf("0.0.0.0:%d\n", hp))
	// --latest, the container created last, as in podman; its arguments are the port alone.
	wantStdout(t, d.run(t, "port", "-l"), fmt.Sprintf("80/tcp -> 0.0.0.0:%d\n", hp))
	wantStdout(t, d.run(t, "port", "--latest", "80/tcp"), fmt.Sprintf("0.0.0.0:%d\n", hp))
	wantError(t, d.run(t, "port", "-l", "web", "80"), 125, "only a private port")
	wantError(t, d.run(t, "port", "-a", "-l"), 125, "--all and --latest")
	wantStdout(t, d.run(t, "ps", "--format", "{{.Names}} {{.Ports}}"), fmt.Sprintf("web 0.0.0.0:%d->80/tcp\n", hp))
	if r := d.mustRun(t, "ps"); !strings.Contains(r.stdout, fmt.Sprintf("0.0.0.0:%d->80/tcp", hp)) {
		t.Errorf("want the PORTS column in ps\n%s", r)
	}
	wantStdout(t, d.run(t, "inspect", "-f", "{{json .NetworkSettings.Ports}} {{json .HostConfig.PortBindings}}", "web"),
		fmt.Sprintf(`{"80/tcp":[{"HostIp":"","HostPort":"%d"}]} {"80/tcp":[{"HostIp":"","HostPort":"%d"}]}`+"\n", hp, hp))
	pid := strings.TrimSpace(d.mustRun(t, "inspect", "-f", "{{.State.Pid}}", "web").stdout)
	slirps := slirpFor(t, pid)
	if len(slirps) != 1 {
		t.Errorf("want one slirp4netns for the running container %s, found %q", pid, slirps)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "web")
	if left := slirpGone(t, slirps); len(left) > 0 {
		t.Errorf("want no slirp4netns left after rm: %q", left)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(hp)), time.Second); err == nil {
		c.Close()
		t.Errorf("want host port %d closed after rm", hp)
	}
}

// udpEchoImage builds a static UDP echo server and imports it as the image udpecho:
// busybox's nc here has no UDP mode.
func udpEchoImage(t *testing.T, d *den) {
	t.Helper()
	src := t.TempDir()
	prog := `package main

import (
	"net"
	"os"
)

func main() {
	c, err := net.ListenPacket("udp", ":"+os.Args[1])
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 65536)
	for {
		n, a, err := c.ReadFrom(buf)
		if err != nil {
			panic(err)
		}
		c.WriteTo(append([]byte("echo "+a.String()+" "), buf[:n]...), a)
	}
}
`
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	bin := filepath.Join(src, "udpecho")
	cmd := exec.Command(goTool, "build", "-o", bin, "main.go")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the UDP echo server: %v\n%s", err, out)
	}
	tarPath := filepath.Join(d.dir, "udpecho.tar")
	if out, err := exec.Command("tar", "-cf", tarPath, "-C", src, "udpecho").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	d.chown(t, tarPath)
	d.mustRun(t, "import", tarPath, "udpecho")
}

func TestNetPublishedUDPPortEchoes(t *testing.T) {
	d := newDen(t)
	udpEchoImage(t, d)
	ip, hp := hostIP(t), freePort(t)
	d.mustRun(t, "run", "-d", "--name", "echo", "-p", fmt.Sprintf("%d:5353/udp", hp), "udpecho", "/udpecho", "5353")
	c, err := net.Dial("udp", net.JoinHostPort(ip, strconv.Itoa(hp)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 512)
	var got string
	for range 30 {
		_, _ = c.Write([]byte("ping"))
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			got = string(buf[:n])
			break
		}
	}
	if !strings.HasPrefix(got, "echo ") || !strings.HasSuffix(got, " ping") {
		t.Errorf("want the datagram echoed back, got %q", got)
	}
	wantStdout(t, d.run(t, "port", "echo", "5353/udp"), fmt.Sprintf("0.0.0.0:%d\n", hp))
}

// hostListener accepts connections on addr and reports the first line each sends.
func hostListener(t *testing.T, addr string) (port int, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			l, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			ch <- strings.TrimSpace(l)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, ch
}

func received(ch <-chan string) string {
	select {
	case s := <-ch:
		return s
	case <-time.After(3 * time.Second):
		return ""
	}
}

func TestNetContainerReachesOutsideButNotHostLoopbackUnlessAllowed(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	ip := hostIP(t)
	outPort, outside := hostListener(t, ip+":0")
	loPort, loopback := hostListener(t, "127.0.0.1:0")

	d.mustRun(t, "run", "--rm", "busybox", "sh", "-c", fmt.Sprintf("echo from-container | nc -w 3 %s %d", ip, outPort))
	if got := received(outside); got != "from-container" {
		t.Errorf("want the container to reach %s:%d, got %q", ip, outPort, got)
	}
	r := d.run(t, "run", "--rm", "busybox", "sh", "-c", fmt.Sprintf("echo sneaky | nc -w 2 10.0.2.2 %d", loPort))
	if got := received(loopback); got != "" || r.code == 0 {
		t.Errorf("want the host's loopback unreachable by default, got %q\n%s", got, r)
	}
	r = d.mustRun(t, "run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", "busybox", "sh", "-c",
		fmt.Sprintf("echo allowed | nc -w 3 10.0.2.2 %d; grep host.containers.internal /etc/hosts", loPort))
	if got := received(loopback); got != "allowed" {
		t.Errorf("want the host's loopback reachable at 10.0.2.2 when allowed, got %q", got)
	}
	if !strings.HasPrefix(r.stdout, "10.0.2.2\thost.containers.internal") {
		t.Errorf("want host.containers.internal in /etc/hosts\n%s", r)
	}
}

func TestNetModesShowTheirInterfaces(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	ifaces := func(args ...string) string {
		r := d.mustRun(t, append(append([]string{"run", "--rm"}, args...), "busybox", "sh", "-c", "ls /sys/class/net | sort | tr '\\n' ' '")...)
		return strings.TrimSpace(r.stdout)
	}
	if got := ifaces(); got != "lo tap0" {
		t.Errorf("want lo and tap0 by default, got %q", got)
	}
	if got := ifaces("--network", "none"); got != "lo" {
		t.Errorf("want only lo with --network none, got %q", got)
	}
	hostIfaces, _ := os.ReadDir("/sys/class/net")
	var want []string
	for _, e := range hostIfaces {
		want = append(want, e.Name())
	}
	if got := ifaces("--network", "host"); got != strings.Join(want, " ") {
		t.Errorf("want the host's interfaces %q with --network host, got %q", want, got)
	}
	r := d.mustRun(t, "run", "--rm", "busybox", "ip", "-4", "-o", "addr", "show", "tap0")
	if !strings.Contains(r.stdout, "10.0.2.100/24") {
		t.Errorf("want tap0 at 10.0.2.100/24\n%s", r)
	}
	// den makes the namespace ahead of the container, and the container still gets a sysfs
	// of its own: its interfaces, not the host's.
	wantStdout(t, d.run(t, "run", "--rm", "busybox", "ls", "/sys/class/net"), "lo\ntap0\n")
	wantStdout(t, d.run(t, "run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"), "lo\n")
}

func TestNetDNSHostsAndHostnameFlagsEndUpInFiles(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	r := d.mustRun(t, "run", "--rm", "--name", "named", "--hostname", "box", "--dns", "192.0.2.53", "--dns-search", "example.test",
		"--dns-option", "ndots:3", "--add-host", "db:192.0.2.10", "busybox", "sh", "-c", "cat /etc/resolv.conf; echo --; cat /etc/hosts; echo --; hostname")
	want := "search example.test\nnameserver 192.0.2.53\noptions ndots:3\n--\n" +
		"127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n" +
		"::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n" +
		"192.0.2.10\tdb\n10.0.2.100\tbox named\n--\nbox\n"
	wantStdout(t, r, want)
	r = d.mustRun(t, "run", "--rm", "busybox", "cat", "/etc/resolv.conf")
	if !strings.Contains(r.stdout, "nameserver 10.0.2.3\n") || strings.Count(r.stdout, "nameserver") != 1 {
		t.Errorf("want slirp4netns's DNS only by default\n%s", r)
	}
}

func TestNetRunRmLeavesNoSlirp(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// While run --rm runs, find its slirp4netns: a child of den (or of den's namespace child).
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := d.command(ctx, "run", "--rm", "-p", fmt.Sprintf("%d:80", freePort(t)), "busybox", "sh", "-c", "grep -c tap0 /proc/net/dev; sleep 1")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var slirps []string
	for range 40 {
		ps, _ := exec.Command("ps", "-eo", "pid=,ppid=,comm=").Output()
		parents := map[string]string{}
		var candidates []string
		for _, l := range lines(string(ps)) {
			f := strings.Fields(l)
			if len(f) == 3 {
				parents[f[0]] = f[1]
				if f[2] == "slirp4netns" {
					candidates = append(candidates, f[0])
				}
			}
		}
		den := strconv.Itoa(cmd.Process.Pid)
		for _, c := range candidates {
			if pp := parents[c]; pp == den || parents[pp] == den {
				slirps = append(slirps, c)
			}
		}
		if len(slirps) > 0 {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil || strings.TrimSpace(stdout.String()) != "1" {
		t.Errorf("want run --rm to succeed with tap0 in the container: %v, %q", err, stdout.String())
	}
	if len(slirps) != 1 {
		t.Fatalf("want one slirp4netns under den run --rm, found %q", slirps)
	}
	// Killed as the container exits. Once den has gone, a reaping init removes it; a zombie
	// left to an init that does not reap (this machine's) is gone as well.
	gone := false
	for range 80 {
		if !livingProcess(slirps[0]) {
			gone = true
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if !gone {
		t.Errorf("want slirp4netns %s gone when run --rm has ended", slirps[0])
	}
	monitors := len(monitorsOf(d))
	d.mustRun(t, "run", "-d", "--name", "gone", "busybox", "sleep", "100")
	pid := strings.TrimSpace(d.mustRun(t, "inspect", "-f", "{{.State.Pid}}", "gone").stdout)
	slirps = slirpFor(t, pid)
	if len(slirps) != 1 {
		t.Fatalf("want a slirp4netns for container pid %s, found %q", pid, slirps)
	}
	d.mustRun(t, "stop", "-t", "0", "gone")
	if left := slirpGone(t, slirps); len(left) > 0 {
		t.Errorf("want no slirp4netns left after stop: %q", left)
	}
	d.mustRun(t, "rm", "gone")
	if after := len(monitorsOf(d)); after > monitors {
		t.Errorf("want no monitor left: %d before, %d after", monitors, after)
	}
	d.wantNoContainers(t)
}

func TestNetPublishAllUsesImageExposePorts(t *testing.T) {
	d := newDen(t)
	d.mustRun(t, "import", "--change", "EXPOSE 80 53/udp", filepath.Join(imagesDir, "rootfs.tar"), "exposed")
	d.mustRun(t, "create", "--name", "pa", "-P", "exposed", "true")
	r := d.mustRun(t, "port", "pa")
	ls := lines(r.stdout)
	if len(ls) != 2 || !strings.HasPrefix(ls[0], "53/udp -> 0.0.0.0:") || !strings.HasPrefix(ls[1], "80/tcp -> 0.0.0.0:") {
		t.Errorf("want both EXPOSE ports on random host ports\n%s", r)
	}

	// --expose adds to the image's ports (80 again is one port), which only -P publishes.
	d.mustRun(t, "create", "--name", "pe", "-P", "--expose", "8080", "--expose", "9000-9001/udp", "--expose", "80", "exposed", "true")
	r = d.mustRun(t, "port", "pe")
	ls = lines(r.stdout)
	want := []string{"53/udp", "80/tcp", "8080/tcp", "9000/udp", "9001/udp"}
	if len(ls) != len(want) {
		t.Fatalf("want the ports %q published\n%s", want, r)
	}
	for i, w := range want {
		if !strings.HasPrefix(ls[i], w+" -> 0.0.0.0:") {
			t.Errorf("want line %d to publish %s\n%s", i+1, w, r)
		}
	}
	d.mustRun(t, "create", "--name", "ne", "--expose", "8080", "exposed", "true")
	wantStdout(t, d.run(t, "port", "ne"), "")
	// inspect shows the ports exposed and not published as null, as podman does.
	wantStdout(t, d.run(t, "inspect", "--format", "{{json .NetworkSettings.Ports}}", "ne"), `{"53/udp":null,"80/tcp":null,"8080/tcp":null}`+"\n")
	d.mustRun(t, "create", "--name", "np", "-p", "127.0.0.1:8081:80", "exposed", "true")
	wantStdout(t, d.run(t, "inspect", "--format", "{{json .NetworkSettings.Ports}}", "np"), `{"53/udp":null,"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8081"}]}`+"\n")
	wantStdout(t, d.run(t, "inspect", "--format", "{{json .HostConfig.PortBindings}}", "np"), `{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8081"}]}`+"\n")
	// commit keeps them, as EXPOSE ports of the new image.
	d.mustRun(t, "commit", "pe", "exposed-more")
	d.mustRun(t, "create", "--name", "pc", "-P", "exposed-more", "true")
	r = d.mustRun(t, "port", "pc")
	if ls = lines(r.stdout); len(ls) != len(want) {
		t.Fatalf("want the committed image to expose %q\n%s", want, r)
	}
	for i, w := range want {
		if !strings.HasPrefix(ls[i], w+" -> 0.0.0.0:") {
			t.Errorf("want line %d of the committed image's ports to publish %s\n%s", i+1, w, r)
		}
	}
	// run -d reads --expose as a flag with a value before Go starts (runtime/userns).
	d.mustRun(t, "run", "-d", "--name", "rx", "--expose=7000", "-P", "exposed", "sleep", "100")
	r = d.mustRun(t, "port", "rx", "7000")
	if !strings.HasPrefix(r.stdout, "0.0.0.0:") {
		t.Errorf("want 7000/tcp of run -d published\n%s", r)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "rx")
}

func TestNetBadInputIsOneLineExit125AndLeavesNothing(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	busy, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	inUse := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{[]string{"-p", "bad"}, `"bad"`},
		{[]string{"-p", "70000:80"}, "out of range"},
		{[]string{"-p", "8080:0"}, "out of range"},
		{[]string{"-p", "8000-8001:80"}, "differ in length"},
		{[]string{"-p", "80/sctp"}, "sctp"},
		{[]string{"--expose", "web"}, `"web"`},
		{[]string{"--expose", "80/sctp", "-P"}, "sctp"},
		{[]string{"-p", "18080:80", "-p", "18080:81"}, "published twice"},
		{[]string{"-p", inUse + ":80"}, "already in use"},
		{[]string{"--network", "pasta"}, `"pasta"`},
		{[]string{"--network", "none", "-p", "18081:80"}, "--network none"},
		{[]string{"--dns", "not-an-ip"}, "not-an-ip"},
		{[]string{"--add-host", "nocolon"}, "nocolon"},
		{[]string{"--network", "container:nosuch"}, "nosuch"},
	} {
		for _, verb := range []string{"run", "create"} {
			r := d.run(t, append(append([]string{verb, "--rm"}, tc.args...), "busybox", "true")...)
			if verb == "create" {
				r = d.run(t, append(append([]string{verb}, tc.args...), "busybox", "true")...)
			}
			wantError(t, r, 125, tc.mention)
		}
	}
	d.wantNoContainers(t)
}

func TestNetContainerModeSharesTheOtherContainersNetworkAcrossInvocations(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// x is held by its monitor; the joining run is a later, separate den invocation.
	d.mustRun(t, "run", "-d", "--name", "x", "busybox", "sh", "-c", "while true; do echo from-x | nc -l -p 7070; done")
	r := d.mustRun(t, "run", "--rm", "--network", "container:x", "busybox", "sh", "-c",
		"for i in 1 2 3 4 5 6 7 8 9 10; do nc 127.0.0.1 7070 </dev/null && break; sleep 0.2; done; ip -o -4 addr show tap0")
	if !strings.Contains(r.stdout, "from-x") || !strings.Contains(r.stdout, "10.0.2.100/24") {
		t.Errorf("want x's loopback server and x's tap0 from the joining container\n%s", r)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "x")
	wantError(t, d.run(t, "run", "--rm", "--network", "container:x", "busybox", "true"), 125, "container:x")
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// livingProcess reports whether pid exists and is neither a zombie nor dead.
func livingProcess(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}
