package bridge

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/den-project/den/netstack/slirp"
	"github.com/den-project/den/runtime/userns"
	"github.com/den-project/den/store/record"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// holder is the running network: its bridge, members and DNS names.
type holder struct {
	n      Network
	prefix netip.Prefix
	gw     netip.Addr
	br     netlink.Link
	ln     *net.UnixListener
	slirp  *slirp.Process
	// work runs functions on the thread that is in the network's namespace.
	work chan func()
	// nl is a netlink handle whose socket is in the network's namespace.
	nl *netlink.Handle
	// upstream are the host's resolvers, for names the network does not know.
	upstream []string

	mu    sync.Mutex
	count int
	names *names
}

// HolderMain is the network holder stage; it returns the exit code.
func HolderMain() int {
	var n Network
	ready := os.NewFile(3, "ready")
	report := func(err error) {
		a := answer{}
		if err != nil {
			a.Error = err.Error()
		}
		b, _ := json.Marshal(a)
		_, _ = ready.Write(append(b, '\n'))
		ready.Close()
	}
	if err := json.Unmarshal([]byte(os.Getenv(envHolder)), &n); err != nil {
		report(fmt.Errorf("network holder: bad arguments: %w", err))
		return 125
	}
	os.Unsetenv(envHolder)
	userns.AdoptEnv()
	userns.Register()
	h, err := setUp(n)
	if err != nil {
		report(err)
		return 125
	}
	report(nil)
	h.serve()
	return 0
}

// inNetNS runs f on the network namespace's thread and returns its error.
func (h *holder) inNetNS(f func() error) error {
	errc := make(chan error, 1)
	h.work <- func() { errc <- f() }
	return <-errc
}

// startNetNS makes the network's namespace on a thread of its own that never leaves it:
// setns back to the host's namespace is not allowed from den's user namespace.
func (h *holder) startNetNS() error {
	h.work = make(chan func())
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the process
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("network %s: creating its network namespace: %w", h.n.Name, err)
			return
		}
		errc <- nil
		for f := range h.work {
			f()
		}
	}()
	return <-errc
}

func setUp(n Network) (*holder, error) {
	h := &holder{n: n, names: newNames(), upstream: hostResolvers()}
	if err := h.startNetNS(); err != nil {
		return nil, err
	}
	var err error
	if err := h.inNetNS(func() (err error) {
		h.nl, err = netlink.NewHandle()
		return err
	}); err != nil {
		return nil, fmt.Errorf("network %s: netlink: %w", n.Name, err)
	}
	if h.prefix, err = netip.ParsePrefix(n.Subnet); err != nil {
		return nil, fmt.Errorf("network %s: bad subnet %q", n.Name, n.Subnet)
	}
	if h.gw, err = netip.ParseAddr(n.Gateway); err != nil {
		return nil, fmt.Errorf("network %s: bad gateway %q", n.Name, n.Gateway)
	}
	lo, err := h.nl.LinkByName("lo")
	if err == nil {
		err = h.nl.LinkSetUp(lo)
	}
	if err != nil {
		return nil, fmt.Errorf("network %s: bringing up lo: %w", n.Name, err)
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge}}
	if err := h.nl.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("network %s: creating bridge %s: %w", n.Name, n.Bridge, err)
	}
	if h.br, err = h.nl.LinkByName(n.Bridge); err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: h.gw.AsSlice(), Mask: net.CIDRMask(h.prefix.Bits(), 32)}}
	if err := h.nl.AddrAdd(h.br, addr); err != nil {
		return nil, fmt.Errorf("network %s: adding %s to the bridge: %w", n.Name, n.Gateway, err)
	}
	if err := h.nl.LinkSetUp(h.br); err != nil {
		return nil, fmt.Errorf("network %s: bringing up the bridge: %w", n.Name, err)
	}
	if !n.Internal {
		if err := h.egress(); err != nil {
			return nil, err
		}
	}
	if err := h.inNetNS(h.serveDNS); err != nil {
		return nil, err
	}
	sock := filepath.Join(n.Dir, "sock")
	h.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("network %s: listening on %s: %w", n.Name, sock, err)
	}
	return h, nil
}

// egress starts slirp4netns on this namespace and routes the subnet out through it.
func (h *holder) egress() error {
	bin, err := slirp.Preflight()
	if err != nil {
		return err
	}
	// The namespace's path through the thread that holds it; slirp4netns runs from here,
	// the host's namespace, and puts only its tap device in the network's.
	var tid int
	_ = h.inNetNS(func() error { tid = unix.Gettid(); return nil })
	nsPath := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), tid)
	if h.slirp, err = slirp.Start(bin, os.Getpid(), slirp.Options{NetNSPath: nsPath}); err != nil {
		return err
	}
	// /proc/sys/net is the namespace of the thread that opens it.
	if err := h.inNetNS(func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
	}); err != nil {
		return fmt.Errorf("network %s: enabling forwarding: %w", h.n.Name, err)
	}
	ipt := ""
	for _, p := range []string{"iptables", "/usr/sbin/iptables", "/sbin/iptables"} {
		if path, err := exec.LookPath(p); err == nil {
			ipt = path
			break
		}
	}
	if ipt == "" {
		return fmt.Errorf("network %s: iptables is not installed, and networks with egress need it: install it (`sudo apt-get install iptables`) or create the network with --internal", h.n.Name)
	}
	var out []byte
	err = h.inNetNS(func() (err error) {
		// Forked from this thread, iptables starts in the network's namespace.
		out, err = exec.Command(ipt, "-t", "nat", "-A", "POSTROUTING", "-s", h.prefix.String(), "!", "-d", h.prefix.String(), "-j", "MASQUERADE").CombinedOutput()
		return err
	})
	if err != nil {
		return fmt.Errorf("network %s: iptables masquerade: %s", h.n.Name, strings.TrimSpace(string(out)))
	}
	return nil
}

// hostResolvers are the nameservers of the host's /etc/resolv.conf.
func hostResolvers() []string {
	b, _ := os.ReadFile("/etc/resolv.conf")
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				out = append(out, net.JoinHostPort(a.String(), "53"))
			}
		}
	}
	return out
}

// serve accepts members until the last one has left.
func (h *holder) serve() {
	for {
		conn, err := h.ln.AcceptUnix()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.count++
		h.mu.Unlock()
		go h.member(conn)
	}
}

// member wires one container and waits for it to leave.
func (h *holder) member(conn *net.UnixConn) {
	var m Member
	var hostIf string
	err := h.inNetNS(func() (err error) {
		hostIf, err = h.attach(conn, &m)
		return err
	})
	a := answer{}
	if err != nil {
		a.Error = err.Error()
	}
	b, _ := json.Marshal(a)
	_, _ = conn.Write(append(b, '\n'))
	if err == nil {
		// Nothing more is said: EOF is the container leaving.
		_, _ = conn.Read(make([]byte, 1))
		h.names.remove(m.ID)
		if l, err := h.nl.LinkByName(hostIf); err == nil {
			_ = h.nl.LinkDel(l)
		}
	}
	conn.Close()
	h.leave()
}

// leave counts a member out and ends the network when it was the last.
func (h *holder) leave() {
	h.mu.Lock()
	h.count--
	last := h.count == 0
	h.mu.Unlock()
	if !last {
		return
	}
	lk, err := record.Acquire(filepath.Join(h.n.Dir, "lock"))
	if err != nil {
		return
	}
	h.mu.Lock()
	if h.count != 0 {
		h.mu.Unlock()
		lk.Release()
		return
	}
	// Joiners now find no socket and start a new holder.
	os.Remove(filepath.Join(h.n.Dir, "sock"))
	if h.slirp != nil {
		// Reaped here: nothing may be left of the network once its last container is gone.
		h.slirp.Stop()
		h.slirp.Wait()
	}
	lk.Release()
	os.Exit(0)
}

// attach reads a member's request and its namespace fd, and plugs it into the bridge. It
// returns the name of the bridge's end of the veth pair. It runs on the namespace's thread:
// NewHandleAt below goes into the container's namespace and back to this one.
func (h *holder) attach(conn *net.UnixConn, m *Member) (string, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	nb, noob, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return "", fmt.Errorf("reading the request: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:noob])
	if err != nil || len(msgs) != 1 {
		return "", fmt.Errorf("no namespace fd in the request")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return "", fmt.Errorf("no namespace fd in the request")
	}
	nsfd := fds[0]
	defer unix.Close(nsfd)
	if err := json.Unmarshal(buf[:nb], m); err != nil {
		return "", fmt.Errorf("bad request: %w", err)
	}
	ip, err := netip.ParseAddr(m.IP)
	if err != nil || !h.prefix.Contains(ip) {
		return "", fmt.Errorf("address %q is not in %s", m.IP, h.prefix)
	}
	if len(m.ID) < 12 || m.IfName == "" {
		return "", fmt.Errorf("bad request for %q", m.Name)
	}
	hostIf := "v" + m.ID[:12]
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: hostIf, MasterIndex: h.br.Attrs().Index},
		PeerName:      m.IfName,
		PeerNamespace: netlink.NsFd(nsfd),
	}
	if err := h.nl.LinkAdd(veth); err != nil {
		return "", fmt.Errorf("creating the veth pair of %s: %w", m.Name, err)
	}
	fail := func(err error) (string, error) {
		if l, e := h.nl.LinkByName(hostIf); e == nil {
			_ = h.nl.LinkDel(l)
		}
		return "", err
	}
	if l, err := h.nl.LinkByName(hostIf); err != nil {
		return fail(err)
	} else if err := h.nl.LinkSetUp(l); err != nil {
		return fail(fmt.Errorf("bringing up %s: %w", hostIf, err))
	}
	ch, err := netlink.NewHandleAt(netns.NsHandle(nsfd))
	if err != nil {
		return fail(fmt.Errorf("entering the container's network namespace: %w", err))
	}
	defer ch.Close()
	l, err := ch.LinkByName(m.IfName)
	if err != nil {
		return fail(fmt.Errorf("finding %s in the container: %w", m.IfName, err))
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(h.prefix.Bits(), 32)}}
	if err := ch.AddrAdd(l, addr); err != nil {
		return fail(fmt.Errorf("adding %s to %s: %w", m.IP, m.IfName, err))
	}
	if err := ch.LinkSetUp(l); err != nil {
		return fail(fmt.Errorf("bringing up %s: %w", m.IfName, err))
	}
	if m.DefaultRoute && !h.n.Internal {
		if err := ch.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: h.gw.AsSlice()}); err != nil {
			return fail(fmt.Errorf("adding the default route via %s: %w", h.gw, err))
		}
	}
	h.names.add(m, ip)
	return hostIf, nil
}
