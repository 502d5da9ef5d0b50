package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// netProcs lists the processes of this test's den that networks run: network holders (found
// by their argv[0] and the test's runtime directory) and any slirp4netns under them.
func netProcs(d *den) []string {
	holders := d.procsNamed("den-network")
	out := append([]string(nil), holders...)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil || !strings.Contains(string(stat), "(slirp4netns)") {
			continue
		}
		f := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+1:])
		for _, h := range holders {
			if len(f) > 1 && f[1] == h {
				out = append(out, e.Name()+" (slirp4netns)")
			}
		}
	}
	return out
}

// waitNoNetProcs fails unless the network's processes are gone within a few seconds.
func waitNoNetProcs(t *testing.T, d *den) {
	t.Helper()
	var left []string
	for range 50 {
		if left = netProcs(d); len(left) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("want no network holder or slirp4netns left, found %q", left)
}

// wantNothingLeft fails if a container, a network holder or its slirp4netns is left.
func wantNothingLeft(t *testing.T, d *den) {
	t.Helper()
	d.wantNoContainers(t)
	waitNoNetProcs(t, d)
}

func TestNetUserNetworkContainersReachEachOtherByNameAliasAndIP(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	wantStdout(t, d.run(t, "network", "create", "--subnet", "10.89.40.0/24", "--label", "app=web", "front"), "front\n")
	hostPort := freePort(t)
	d.mustRun(t, "run", "-d", "--name", "srv", "--network", "front", "--network-alias", "web", "--ip", "10.89.40.50",
		"-p", fmt.Sprintf("%d:8080", hostPort), "busybox", "sh", "-c", "while true; do echo from-srv | nc -l -p 8080; done")
	if len(netProcs(d)) != 2 {
		t.Errorf("want one network holder and its slirp4netns while srv runs, found %q", netProcs(d))
	}
	r := d.mustRun(t, "run", "--rm", "--name", "cli", "--network", "front", "busybox", "sh", "-c", `
		ip -o -4 addr show eth0 | awk '{print $4}'
		nslookup srv | grep -A1 'Name:' | tail -1
		nslookup web | grep -A1 'Name:' | tail -1
		for n in srv web 10.89.40.50; do
			for i in 1 2 3 4 5 6 7 8 9 10; do nc $n 8080 </dev/null && break; sleep 0.2; done
		done
		cat /etc/resolv.conf`)
	for _, want := range []string{"10.89.40.2/24\n", "Address: 10.89.40.50\nAddress: 10.89.40.50\n", "from-srv\nfrom-srv\nfrom-srv\n", "nameserver 10.89.40.1\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("want %q in the client's output\n%s", want, r)
		}
	}
	// Published ports reach a container on a user network too.
	if got := readFromPort(t, hostPort); got != "from-srv\n" {
		t.Errorf("through -p %d the host read %q, want from-srv", hostPort, got)
	}
	wantError(t, d.run(t, "network", "rm", "front"), 2, "front", "in use", "srv")
	wantError(t, d.run(t, "run", "--rm", "--network", "front", "--ip", "10.89.40.50", "busybox", "true"), 125, "10.89.40.50", "in use")
	d.mustRun(t, "rm", "-f", "-t", "0", "srv")
	waitNoNetProcs(t, d)
	if _, err := os.Stat(filepath.Join(d.runDir, "den", "networks", "front", "sock")); err == nil {
		t.Errorf("want the network's socket gone with its last container")
	}
	// The address is free again once srv is gone.
	d.mustRun(t, "run", "--rm", "--network", "front", "--ip", "10.89.40.50", "busybox", "true")
	wantStdout(t, d.run(t, "network", "rm", "front"), "front\n")
	wantNothingLeft(t, d)
}

func TestNetInternalNetworkHasNoEgressAndNetworksAreIsolated(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "network", "create", "a")
	d.mustRun(t, "network", "create", "--internal", "b")
	d.mustRun(t, "run", "-d", "--name", "onA", "--network", "a", "busybox", "sh", "-c", "while true; do echo from-a | nc -l -p 8080; done")
	host := hostIP(t)
	port, outside := hostListener(t, host+":0")
	// On a: egress works. On b: no route out, and a's container is unreachable.
	d.mustRun(t, "run", "--rm", "--network", "a", "busybox", "sh", "-c", fmt.Sprintf("echo via-a | nc -w 3 %s %d", host, port))
	if got := received(outside); got != "via-a" {
		t.Errorf("want egress from network a, the host got %q", got)
	}
	r := d.run(t, "run", "--rm", "--network", "b", "busybox", "sh", "-c",
		fmt.Sprintf("echo via-b | nc -w 2 %s %d; echo out=$?; nc -w 2 10.89.0.2 8080 </dev/null; echo cross=$?; nslookup onA >/dev/null; echo dns=$?", host, port))
	if !strings.Contains(r.stdout, "out=1") || !strings.Contains(r.stdout, "cross=1") || !strings.Contains(r.stdout, "dns=1") || strings.Contains(r.stdout, "from-a") {
		t.Errorf("want no egress, no route to network a and no name of it from internal network b\n%s", r)
	}
	if got := received(outside); got != "" {
		t.Errorf("want nothing from internal network b to reach the host, got %q", got)
	}
	var nets []map[string]any
	if err := json.Unmarshal([]byte(d.mustRun(t, "network", "inspect", "a", "b").stdout), &nets); err != nil || len(nets) != 2 {
		t.Fatalf("network inspect: %v", err)
	}
	if nets[0]["internal"] != false || nets[1]["internal"] != true || nets[0]["driver"] != "bridge" || nets[0]["dns_enabled"] != true {
		t.Errorf("want podman's fields in network inspect, got %v", nets)
	}
	subnets, _ := nets[1]["subnets"].([]any)
	if len(subnets) != 1 || subnets[0].(map[string]any)["subnet"] != "10.89.1.0/24" || subnets[0].(map[string]any)["gateway"] != "10.89.1.1" {
		t.Errorf("want b on the next free 10.89.N.0/24, got %v", nets[1]["subnets"])
	}
	wantStdout(t, d.run(t, "network", "ls", "-q", "--filter", "name=^b$"), "b\n")
	if ls := d.mustRun(t, "network", "ls"); !strings.HasPrefix(ls.stdout, "NETWORK ID") || len(lines(ls.stdout)) != 3 {
		t.Errorf("want a header and two networks\n%s", ls)
	}
	d.mustRun(t, "network", "exists", "a")
	if r := d.run(t, "network", "exists", "nosuch"); r.code != 1 {
		t.Errorf("want exit 1 for a network that does not exist\n%s", r)
	}
	// rm -f takes the containers with it; prune removes the unused one.
	wantStdout(t, d.run(t, "network", "rm", "-f", "-t", "0", "a"), "a\n")
	wantStdout(t, d.run(t, "network", "prune", "-f"), "b\n")
	wantNothingLeft(t, d)
}

func TestNetNetworkBadInputIsOneLineExit125AndCreatesNothing(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "network", "create", "--subnet", "10.90.0.0/16", "big")
	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{[]string{"network", "create", "--subnet", "10.90.5.0/24", "inner"}, "overlaps"},
		{[]string{"network", "create", "--subnet", "10.0.2.0/24", "slirpy"}, "10.0.2.0/24"},
		{[]string{"network", "create", "--subnet", "10.1.2.300/24", "badcidr"}, "10.1.2.300/24"},
		{[]string{"network", "create", "--subnet", "10.91.0.0/24", "--gateway", "10.92.0.1", "badgw"}, "10.92.0.1"},
		{[]string{"network", "create", "big"}, "already exists"},
		{[]string{"network", "create", "host"}, "reserved"},
		{[]string{"network", "create", "-d", "macvlan", "mv"}, "macvlan"},
		{[]string{"run", "--rm", "--network", "nosuch", "busybox", "true"}, "nosuch"},
		{[]string{"run", "--rm", "--network", "big", "--ip", "10.91.0.5", "busybox", "true"}, "10.91.0.5"},
		{[]string{"run", "--rm", "--ip", "10.90.0.5", "busybox", "true"}, "--network NAME"},
	} {
		wantError(t, d.run(t, tc.args...), 125, tc.mention)
	}
	wantStdout(t, d.run(t, "network", "ls", "-q"), "big\n")
	wantNothingLeft(t, d)
}

// readFromPort connects to 127.0.0.1:port, retrying for a few seconds, and returns what the
// server sends before it closes.
func readFromPort(t *testing.T, port int) string {
	t.Helper()
	var last error
	for i := 0; i < 50; i++ {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(conn)
			conn.Close()
			if len(b) > 0 {
				return string(b)
			}
		} else {
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("reading from port %d: %v", port, last)
	return ""
}

func TestNetConnectAndDisconnectWorkOnRunningAndStoppedContainers(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "network", "create", "--subnet", "10.89.50.0/24", "one")
	d.mustRun(t, "network", "create", "--subnet", "10.89.51.0/24", "two")
	d.mustRun(t, "run", "-d", "--name", "srv", "--network", "one", "busybox", "sh", "-c", "while true; do echo from-srv | nc -l -p 8080; done")
	// reach asks srv for a line from a fresh container on network two.
	reach := func(target string) string {
		return d.mustRun(t, "run", "--rm", "--network", "two", "busybox", "sh", "-c",
			"nc -w 2 "+target+" 8080 </dev/null; nslookup srv >/dev/null 2>&1; echo dns=$?").stdout
	}
	if got := reach("10.89.51.9"); strings.Contains(got, "from-srv") || !strings.Contains(got, "dns=1") {
		t.Fatalf("before connect, want srv unreachable from network two, got %q", got)
	}

	// Live: srv gets eth1 on two at once, keeps its default route through one, and is found
	// by name and alias there.
	d.mustRun(t, "network", "connect", "--ip", "10.89.51.9", "--alias", "api", "two", "srv")
	addrs := d.mustRun(t, "exec", "srv", "sh", "-c", "ip -o -4 addr show | awk '{print $2, $4}'; ip route show default").stdout
	for _, want := range []string{"eth0 10.89.50.2/24\n", "eth1 10.89.51.9/24\n", "default via 10.89.50.1 dev eth0"} {
		if !strings.Contains(addrs, want) {
			t.Errorf("after a live connect want %q in srv's interfaces\n%s", want, addrs)
		}
	}
	for _, target := range []string{"10.89.51.9", "srv", "api"} {
		if got := reach(target); !strings.Contains(got, "from-srv") || !strings.Contains(got, "dns=0") {
			t.Errorf("after connect, want srv to answer at %s from network two, got %q", target, got)
		}
	}
	wantStdout(t, d.run(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}", "srv"),
		"one=10.89.50.2 two=10.89.51.9 \n")
	wantError(t, d.run(t, "network", "connect", "two", "srv"), 125, "already connected")

	// Live disconnect: eth1 is gone when the command returns, and so are srv's names on two.
	d.mustRun(t, "network", "disconnect", "two", "srv")
	if got := d.mustRun(t, "exec", "srv", "sh", "-c", "ip -o link show | grep -c eth1; true").stdout; got != "0\n" {
		t.Errorf("after a live disconnect want no eth1 in srv, got %q", got)
	}
	if got := reach("10.89.51.9"); strings.Contains(got, "from-srv") || !strings.Contains(got, "dns=1") {
		t.Errorf("after disconnect, want srv unreachable from network two, got %q", got)
	}
	wantError(t, d.run(t, "network", "disconnect", "two", "srv"), 125, "not connected")
	wantError(t, d.run(t, "network", "disconnect", "one", "srv"), 125, "last network")
	wantError(t, d.run(t, "network", "connect", "nosuch", "srv"), 125, "nosuch")
	d.mustRun(t, "run", "-d", "--name", "plain", "busybox", "sleep", "60")
	wantError(t, d.run(t, "network", "connect", "two", "plain"), 125, "plain", "--network NAME")

	// The address freed by the disconnect can be taken again; a stopped container gets its
	// new network at its next start, and a later disconnect of the first one leaves eth1.
	d.mustRun(t, "network", "connect", "--ip", "10.89.51.9", "two", "srv")
	d.mustRun(t, "stop", "-t", "0", "srv")
	d.mustRun(t, "network", "disconnect", "two", "srv")
	d.mustRun(t, "network", "connect", "--ip", "10.89.51.7", "two", "srv")
	d.mustRun(t, "network", "disconnect", "one", "srv")
	d.mustRun(t, "start", "srv")
	if got := reach("srv"); !strings.Contains(got, "from-srv") {
		t.Errorf("after connect while stopped and start, want srv reachable by name from two, got %q", got)
	}
	if got := d.mustRun(t, "exec", "srv", "sh", "-c", "ip -o -4 addr show | awk '{print $2, $4}'").stdout; !strings.Contains(got, "eth0 10.89.51.7/24") || strings.Contains(got, "10.89.50.") {
		t.Errorf("want srv only on two after its restart, got %q", got)
	}
	// Every step is on the event bus, as podman's network events.
	evs := d.mustRun(t, "events", "--stream=false", "--filter", "type=network", "--format", "{{.Status}} {{.Name}}").stdout
	want := "create one\ncreate two\nconnect two\ndisconnect two\nconnect two\ndisconnect two\nconnect two\ndisconnect one\n"
	if evs != want {
		t.Errorf("network events: got\n%swant\n%s", evs, want)
	}
	d.mustRun(t, "rm", "-f", "-t", "0", "srv", "plain")
	wantStdout(t, d.run(t, "network", "prune", "-f"), "one\ntwo\n")
	if got := d.mustRun(t, "events", "--stream=false", "--filter", "event=remove", "--filter", "type=network", "--format", "{{.Name}}").stdout; got != "one\ntwo\n" {
		t.Errorf("want remove events of the pruned networks, got %q", got)
	}
	wantNothingLeft(t, d)
}
