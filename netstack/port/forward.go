// Package port publishes a container's ports on the host: parsing podman's -p syntax, checking
// host ports are free, and forwarding connections into the container's network namespace.
//
// Both halves run in the container's holder (the foreground den or its monitor), so
// publishing ports starts no process:
//
//   - the host half listens on the host's addresses, in the holder's own namespace;
//   - the container half needs sockets in the container's network namespace. A socket keeps
//     the namespace it was created in, so one OS thread of the holder is moved into that
//     namespace with setns and only creates sockets there (nsThread); connect, copy and close
//     happen on any thread. The thread dies with the forwarder.
//
// TCP is forwarded by this package so that the server sees the client's real address: the
// socket made in the container's namespace is IP_TRANSPARENT and bound to the client's
// address and port before it connects to 127.0.0.1:CONTAINERPORT, and a policy route in that
// namespace (from 127.0.0.0/8, table 2130: local 0.0.0.0/0 dev lo) brings the server's
// replies back to it over lo instead of out through slirp4netns. rootlesskit's builtin TCP
// driver cannot do this: its child dials a plain socket, so every client looks like
// 127.0.0.1. Clients over IPv6 fall back to that plain dial.
//
// UDP goes through rootlesskit's builtin port driver (pkg/port/builtin), both its parent and
// child driver in the holder: the child driver runs with the container's namespace as its
// "detached" namespace, where rootlesskit itself enters it per request. Its control socket
// and ready pipe live in the container's runtime directory.
package port

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"

	rkport "github.com/rootless-containers/rootlesskit/v2/pkg/port"
	"github.com/rootless-containers/rootlesskit/v2/pkg/port/builtin"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// replyTable is the routing table, in the container's namespace, that delivers replies to
// transparent sockets locally.
const replyTable = 2130

// ErrPortInUse is returned when a host port is taken.
var ErrPortInUse = errors.New("host port is already in use")

// CheckFree binds each mapping's host port and lets it go: a port in use is an error that
// names it. Mappings without a host port are skipped.
func CheckFree(ms []Mapping) error {
	for _, m := range ms {
		if m.HostPort == 0 {
			continue
		}
		c, err := listen(m)
		if err != nil {
			return err
		}
		c.Close()
	}
	return nil
}

// Allocate gives every mapping without a host port a free one, chosen by the kernel.
func Allocate(ms []Mapping) error {
	for i := range ms {
		if ms[i].HostPort != 0 {
			continue
		}
		m := ms[i]
		c, err := listen(m)
		if err != nil {
			return err
		}
		switch a := c.(type) {
		case net.Listener:
			ms[i].HostPort = uint16(a.Addr().(*net.TCPAddr).Port)
		case net.PacketConn:
			ms[i].HostPort = uint16(a.LocalAddr().(*net.UDPAddr).Port)
		}
		c.Close()
	}
	return nil
}

func listen(m Mapping) (io.Closer, error) {
	addr := net.JoinHostPort(m.HostIP, strconv.Itoa(int(m.HostPort)))
	var c io.Closer
	var err error
	if m.Protocol == "udp" {
		c, err = net.ListenPacket("udp", addr)
	} else {
		c, err = net.Listen("tcp", addr)
	}
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("publishing %s: %w: choose another host port or stop what listens there", m, ErrPortInUse)
		}
		if errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("publishing %s: host ports below net.ipv4.ip_unprivileged_port_start need root: choose a port of 1024 or more", m)
		}
		return nil, fmt.Errorf("publishing %s: %w", m, err)
	}
	return c, nil
}

// Forwarder forwards the published ports of one container. Close stops it.
type Forwarder struct {
	ns      *nsThread
	tcp     []net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
	udpQuit chan struct{}
	udpDone chan error
}

// Forward listens on the host ports of ms and forwards them into the network namespace
// at nsPath (/proc/PID/ns/net). runDir holds rootlesskit's socket and pipe for UDP.
func Forward(ms []Mapping, nsPath, runDir string) (*Forwarder, error) {
	f := &Forwarder{conns: map[net.Conn]struct{}{}}
	var udp []Mapping
	for _, m := range ms {
		if m.Protocol == "udp" {
			udp = append(udp, m)
			continue
		}
		if f.ns == nil {
			ns, err := startNSThread(nsPath)
			if err != nil {
				return nil, err
			}
			f.ns = ns
			if err := f.ns.do(replyRoute); err != nil {
				f.Close()
				return nil, fmt.Errorf("routing replies of published ports: %w", err)
			}
		}
		c, err := listen(m)
		if err != nil {
			f.Close()
			return nil, err
		}
		ln := c.(net.Listener)
		f.tcp = append(f.tcp, ln)
		f.wg.Add(1)
		go f.serveTCP(ln, m.ContainerPort)
	}
	if len(udp) > 0 {
		if err := f.forwardUDP(udp, nsPath, runDir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// Close stops listening, ends open connections and waits for the forwarding goroutines.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	for _, ln := range f.tcp {
		ln.Close()
	}
	f.wg.Wait()
	if f.udpQuit != nil {
		close(f.udpQuit)
		<-f.udpDone
	}
	if f.ns != nil {
		f.ns.stop()
	}
	return nil
}

func (f *Forwarder) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		c.Close()
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *Forwarder) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

func (f *Forwarder) serveTCP(ln net.Listener, ctrPort uint16) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.relayTCP(c, ctrPort)
		}()
	}
}

func (f *Forwarder) relayTCP(client net.Conn, ctrPort uint16) {
	if !f.track(client) {
		return
	}
	defer f.untrack(client)
	peer, _ := netip.ParseAddrPort(client.RemoteAddr().String())
	server, err := f.dialContainer(peer, ctrPort)
	if err != nil {
		return
	}
	if !f.track(server) {
		return
	}
	defer f.untrack(server)
	var wg sync.WaitGroup
	wg.Add(2)
	half := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if t, ok := dst.(*net.TCPConn); ok {
			_ = t.CloseWrite()
		}
	}
	go half(server, client)
	go half(client, server)
	wg.Wait()
}

// dialContainer connects to 127.0.0.1:port in the container's namespace, from the client's
// own address when it is IPv4.
func (f *Forwarder) dialContainer(peer netip.AddrPort, port uint16) (net.Conn, error) {
	var fd int
	err := f.ns.do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	if a := peer.Addr().Unmap(); a.Is4() {
		if unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_TRANSPARENT, 1) == nil {
			sa := &unix.SockaddrInet4{Addr: a.As4(), Port: int(peer.Port())}
			if unix.Bind(fd, sa) != nil {
				// The client's port is taken in the container: keep its address at least.
				sa.Port = 0
				_ = unix.Bind(fd, sa)
			}
		}
	}
	err = unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: int(port)})
	for errors.Is(err, unix.EINTR) {
		err = unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: int(port)})
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	file := os.NewFile(uintptr(fd), "container-conn")
	defer file.Close()
	return net.FileConn(file)
}

// replyRoute runs in the container's namespace: replies from 127.0.0.0/8 to addresses that
// are not the container's own go to lo, where the transparent socket waiting for them is.
func replyRoute() error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return err
	}
	_, all, _ := net.ParseCIDR("0.0.0.0/0")
	rt := &netlink.Route{LinkIndex: lo.Attrs().Index, Dst: all, Table: replyTable, Type: unix.RTN_LOCAL, Scope: netlink.SCOPE_HOST}
	if err := h.RouteReplace(rt); err != nil {
		return fmt.Errorf("adding the local route: %w", err)
	}
	_, loNet, _ := net.ParseCIDR("127.0.0.0/8")
	rule := netlink.NewRule()
	rule.Src, rule.Table, rule.Priority = loNet, replyTable, 100
	if err := h.RuleAdd(rule); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("adding the rule: %w", err)
	}
	return nil
}

// forwardUDP runs rootlesskit's builtin driver, both halves in this process.
func (f *Forwarder) forwardUDP(ms []Mapping, nsPath, runDir string) error {
	dir := filepath.Join(runDir, "port")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// Its socket path must fit a socket address: reach the directory through a descriptor.
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	stateDir := "/proc/self/fd/" + strconv.Itoa(dfd)
	parent, err := builtin.NewParentDriver(io.Discard, stateDir)
	if err != nil {
		unix.Close(dfd)
		return fmt.Errorf("starting the port driver: %w", err)
	}
	child := builtin.NewChildDriver(io.Discard)
	quit := make(chan struct{})
	childQuit := make(chan struct{})
	childDone := make(chan error, 1)
	go func() { childDone <- child.RunChildDriver(parent.OpaqueForChild(), childQuit, nsPath) }()
	ready := make(chan struct{}, 1)
	parentDone := make(chan error, 1)
	go func() { parentDone <- parent.RunParentDriver(ready, quit, nil) }()
	stopAll := func() error {
		close(quit)
		close(childQuit)
		perr := <-parentDone
		<-childDone
		unix.Close(dfd)
		return perr
	}
	select {
	case <-ready:
	case err := <-parentDone:
		close(childQuit)
		<-childDone
		unix.Close(dfd)
		return fmt.Errorf("starting the port driver: %w", err)
	case err := <-childDone:
		close(quit)
		<-parentDone
		unix.Close(dfd)
		return fmt.Errorf("starting the port driver's container half: %w", err)
	}
	for _, m := range ms {
		_, err := parent.AddPort(context.Background(), rkport.Spec{
			Proto: "udp", ParentIP: m.HostIP, ParentPort: int(m.HostPort), ChildIP: "127.0.0.1", ChildPort: int(m.ContainerPort),
		})
		if err != nil {
			_ = stopAll()
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("publishing %s: %w: choose another host port or stop what listens there", m, ErrPortInUse)
			}
			return fmt.Errorf("publishing %s: %w", m, err)
		}
	}
	f.udpQuit = make(chan struct{})
	f.udpDone = make(chan error, 1)
	go func() {
		<-f.udpQuit
		ports, _ := parent.ListPorts(context.Background())
		for _, p := range ports {
			_ = parent.RemovePort(context.Background(), p.ID)
		}
		f.udpDone <- stopAll()
	}()
	return nil
}

// nsThread is an OS thread moved into a network namespace for good: functions given to do
// run on it. It is never returned to Go's pool; it ends with stop.
type nsThread struct {
	reqs chan func()
	done chan struct{}
}

func startNSThread(path string) (*nsThread, error) {
	t := &nsThread{reqs: make(chan func()), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		defer close(t.done)
		// Never unlocked: when this goroutine returns, Go ends the thread with it.
		goruntime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		errc <- err
		if err != nil {
			return
		}
		for fn := range t.reqs {
			fn()
		}
	}()
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("entering the container's network namespace: %w", err)
	}
	return t, nil
}

func (t *nsThread) do(fn func() error) error {
	errc := make(chan error, 1)
	t.reqs <- func() { errc <- fn() }
	return <-errc
}

func (t *nsThread) stop() {
	close(t.reqs)
	<-t.done
}
