// Package netstack owns a container's network: which namespace it gets (its own, the host's,
// or another container's), the slirp4netns process that gives its own namespace a way out,
// the host ports published into it, and the /etc/hosts and /etc/resolv.conf that describe
// it. Everything it starts lives only while the container runs: the holder of the container
// (the foreground den or its monitor) calls Attach between libcontainer's create and start,
// and Close when the container has exited. There is no daemon and nothing shared between
// containers.
//
// Containers on user-defined networks (ModeBridge) are the exception: they share the
// network's namespace, which lives while any of them runs (see netstack/bridge).
//
// Subpackages: slirp (the slirp4netns process), port (-p parsing and forwarding), etc (file
// contents), network (user-defined networks' records and addresses), bridge (a network at run
// time). This package ties them together for runtime/.
package netstack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/den-project/den/netstack/bridge"
	"github.com/den-project/den/netstack/etc"
	"github.com/den-project/den/netstack/network"
	"github.com/den-project/den/netstack/port"
	"github.com/den-project/den/netstack/slirp"
	"golang.org/x/sys/unix"
)

// Network modes, as podman names them.
const (
	ModeSlirp     = "slirp4netns"
	ModeNone      = "none"
	ModeHost      = "host"
	ModeContainer = "container"
	// ModeBridge is a container on user-defined networks (Config.Networks).
	ModeBridge = "bridge"
)

// Slirp4netns's fixed addresses in the container's namespace.
const (
	ContainerIP = slirp.ContainerIP
	GatewayIP   = slirp.GatewayIP
	DNSIP       = slirp.DNSIP
)

// Config is a container's network as the user asked for it; it is kept in the container's
// record.
type Config struct {
	// Mode is ModeSlirp, ModeNone, ModeHost or ModeContainer.
	Mode string `json:"mode"`
	// Container is the id of the container whose namespace ModeContainer joins.
	Container string `json:"container,omitempty"`
	// AllowHostLoopback lets the container reach the host's 127.0.0.1 at GatewayIP.
	AllowHostLoopback bool           `json:"allowHostLoopback,omitempty"`
	Ports             []port.Mapping `json:"ports,omitempty"`
	DNS               []string       `json:"dns,omitempty"`
	DNSSearch         []string       `json:"dnsSearch,omitempty"`
	DNSOptions        []string       `json:"dnsOptions,omitempty"`
	// AddHosts are "NAME:IP" lines for /etc/hosts.
	AddHosts []string `json:"addHosts,omitempty"`
	// NoHosts leaves the image's /etc/hosts as it is (--no-hosts).
	NoHosts bool `json:"noHosts,omitempty"`
	// Networks are the user-defined networks of a ModeBridge container, the first one
	// carrying the default route.
	Networks []Endpoint `json:"networks,omitempty"`
}

// Endpoint is a container's place on a user-defined network. The network's subnet, gateway
// and internal flag are copied in when the container joins it: a network in use cannot be
// removed, and it cannot change.
type Endpoint struct {
	Network string   `json:"network"`
	IP      string   `json:"ip,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
	// Subnet and Gateway are the network's; Bridge its bridge's name.
	Subnet   string `json:"subnet,omitempty"`
	Gateway  string `json:"gateway,omitempty"`
	Bridge   string `json:"bridge,omitempty"`
	Internal bool   `json:"internal,omitempty"`
}

// ErrUnknownMode is returned for a --network value den does not know.
var ErrUnknownMode = errors.New("unknown network mode")

// ParseMode reads a --network value into c: slirp4netns[:allow_host_loopback=true|false],
// none, host, or container:NAME (NAME is left for the caller to resolve to an id).
func ParseMode(s string) (Config, error) {
	name, opts, hasOpts := strings.Cut(s, ":")
	var c Config
	switch name {
	case ModeSlirp, "":
		c.Mode = ModeSlirp
		if !hasOpts {
			break
		}
		for _, o := range strings.Split(opts, ",") {
			k, v, _ := strings.Cut(o, "=")
			switch {
			case k == "allow_host_loopback" && (v == "true" || v == ""):
				c.AllowHostLoopback = true
			case k == "allow_host_loopback" && v == "false":
			default:
				return c, fmt.Errorf("--network %q: unknown slirp4netns option %q: den knows allow_host_loopback=true|false", s, o)
			}
		}
	case ModeNone, ModeHost, "private", "bridge":
		if hasOpts {
			return c, fmt.Errorf("--network %q: %s takes no options", s, name)
		}
		c.Mode = name
		if name == "private" || name == "bridge" {
			// podman's rootless default under either name.
			c.Mode = ModeSlirp
		}
	case ModeContainer:
		if opts == "" {
			return c, fmt.Errorf("--network %q: name the container: container:NAME", s)
		}
		c.Mode, c.Container = ModeContainer, opts
	default:
		if hasOpts || network.ValidName(name) != nil {
			return c, fmt.Errorf("--network %q: %w: use slirp4netns, none, host, container:NAME or the name of a network", s, ErrUnknownMode)
		}
		c.Mode, c.Networks = ModeBridge, []Endpoint{{Network: name}}
	}
	return c, nil
}

// String is the mode as inspect's HostConfig.NetworkMode shows it.
func (c Config) String() string {
	switch c.Mode {
	case ModeContainer:
		return "container:" + c.Container
	case "":
		return ModeNone
	case ModeBridge:
		if len(c.Networks) > 0 {
			return c.Networks[0].Network
		}
	}
	return c.Mode
}

// OwnNamespace reports whether the container gets a network namespace of its own.
func (c Config) OwnNamespace() bool {
	return c.Mode == ModeSlirp || c.Mode == ModeNone || c.Mode == ModeBridge || c.Mode == ""
}

// Validate checks a configuration before the container is created: ports need a namespace
// of the container's own (slirp4netns or user networks), and every fixed host port must be
// free now.
// Mappings without a host port get one.
func (c *Config) Validate() error {
	if len(c.Ports) > 0 && c.Mode != ModeSlirp && c.Mode != ModeBridge {
		return fmt.Errorf("ports cannot be published with --network %s: the container has no network of its own to forward them to", c)
	}
	if c.Mode == ModeSlirp {
		if _, err := slirp.Preflight(); err != nil {
			return err
		}
	}
	if err := port.CheckDuplicates(c.Ports); err != nil {
		return err
	}
	if err := port.CheckFree(c.Ports); err != nil {
		return err
	}
	return port.Allocate(c.Ports)
}

// Attachment is what a running container's network holds: its slirp4netns and its port
// forwarder, or its places on user-defined networks. Close releases them. Its methods may be
// called from several goroutines: a live connect can race the container's exit.
type Attachment struct {
	mu      sync.Mutex
	closed  bool
	slirp   *slirp.Process
	fwd     *port.Forwarder
	members []member
	// pid and who are the container's, kept for networks connected while it runs.
	pid int
	who Who
}

// member is the container's place on one user-defined network.
type member struct {
	network, ifName string
	conn            *bridge.Conn
}

// ErrDetached is returned when a network is connected to a container whose network is
// already released (it has exited).
var ErrDetached = errors.New("the container's network is released: it is not running")

// Who is the container being attached, as user-defined networks need to know it.
type Who struct {
	ID, Name string
	// NetworksDir is where networks keep their runtime files (RUNTIME/networks).
	NetworksDir string
}

// Early is a container's network made before the container exists: its namespace, and
// slirp4netns starting on it while libcontainer sets the container up, so that the two
// starts overlap instead of adding up.
type Early struct {
	ns    *os.File
	slirp *slirp.Process
}

// Prepare makes the network namespace of a slirp4netns container, with lo up, and launches
// slirp4netns on it. Other modes get a nil Early: Attach does all their work. The
// container joins the namespace at Path; Attach, or Abort when the container never
// started, releases what Prepare made.
func Prepare(c Config) (*Early, error) {
	if c.Mode != ModeSlirp {
		return nil, nil
	}
	bin, err := slirp.Preflight()
	if err != nil {
		return nil, err
	}
	ns, err := newNamespace()
	if err != nil {
		return nil, err
	}
	p, err := slirp.Launch(bin, 0, slirp.Options{AllowHostLoopback: c.AllowHostLoopback, NetNS: ns})
	if err != nil {
		ns.Close()
		return nil, err
	}
	return &Early{ns: ns, slirp: p}, nil
}

// Path is where the container's init finds the namespace: this process's descriptor of it.
func (e *Early) Path() string {
	return "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(int(e.ns.Fd()))
}

// Abort stops what Prepare started. It may be called on a nil Early and after Attach.
func (e *Early) Abort() {
	if e == nil {
		return
	}
	if e.slirp != nil {
		e.slirp.Stop()
		e.slirp = nil
	}
	if e.ns != nil {
		e.ns.Close()
		e.ns = nil
	}
}

// newNamespace makes a network namespace with lo up and returns it open. The namespace is
// made on a thread of its own that ends with it: a Go thread cannot be trusted back in
// the general pool after unshare.
func newNamespace() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine.
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("creating the container's network namespace: %w", err)}
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- result{err: fmt.Errorf("opening the container's network namespace: %w", err)}
			return
		}
		if err := loopbackUp(); err != nil {
			f.Close()
			ch <- result{err: err}
			return
		}
		ch <- result{f: f}
	}()
	r := <-ch
	return r.f, r.err
}

// loopbackUp brings up lo in the calling thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	return nil
}

// Attach gives the network namespace of pid (the container's init, created but not yet
// running the user's command) its way out and its published ports, or plugs it into its
// user-defined networks. runDir is the container's runtime directory. Modes without a
// namespace of their own need nothing. What Prepare started (early, may be nil) is taken
// over: slirp4netns is waited for here.
func Attach(c Config, early *Early, pid int, runDir string, who Who) (*Attachment, error) {
	a := &Attachment{pid: pid, who: who}
	if c.Mode == ModeBridge {
		for i, ep := range c.Networks {
			if err := a.join(ep, "eth"+strconv.Itoa(i), i == 0); err != nil {
				a.Close()
				return nil, err
			}
		}
		if err := a.forward(c, pid, runDir); err != nil {
			return nil, err
		}
		return a, nil
	}
	if c.Mode != ModeSlirp {
		return a, nil
	}
	if early != nil && early.slirp != nil {
		a.slirp, early.slirp = early.slirp, nil
		early.Abort()
		if err := a.slirp.Ready(); err != nil {
			return nil, err
		}
	} else {
		bin, err := slirp.Preflight()
		if err != nil {
			return nil, err
		}
		if a.slirp, err = slirp.Start(bin, pid, slirp.Options{AllowHostLoopback: c.AllowHostLoopback}); err != nil {
			return nil, err
		}
	}
	if err := a.forward(c, pid, runDir); err != nil {
		return nil, err
	}
	return a, nil
}

// join puts the container on one more user-defined network as interface ifName.
func (a *Attachment) join(ep Endpoint, ifName string, defaultRoute bool) error {
	n := bridge.Network{
		Name: ep.Network, Subnet: ep.Subnet, Gateway: ep.Gateway, Bridge: ep.Bridge,
		Internal: ep.Internal, Dir: filepath.Join(a.who.NetworksDir, ep.Network),
	}
	m := bridge.Member{
		ID: a.who.ID, Name: a.who.Name, Aliases: ep.Aliases, IP: ep.IP,
		IfName: ifName, DefaultRoute: defaultRoute,
	}
	conn, err := bridge.Join(n, m, a.pid)
	if err != nil {
		return err
	}
	a.members = append(a.members, member{network: ep.Network, ifName: ifName, conn: conn})
	return nil
}

// Connect puts the running container on one more user-defined network: it gets the first
// free ethN, an address and the network's DNS names, but keeps its default route.
func (a *Attachment) Connect(ep Endpoint) error {
	return a.whileAttached(func() error {
		used := map[string]bool{}
		for _, m := range a.members {
			if m.network == ep.Network {
				return fmt.Errorf("the container is already on network %s", ep.Network)
			}
			used[m.ifName] = true
		}
		i := 0
		for used["eth"+strconv.Itoa(i)] {
			i++
		}
		return a.join(ep, "eth"+strconv.Itoa(i), len(a.members) == 0)
	})
}

// Disconnect takes the running container off a user-defined network and returns once its
// interface is gone.
func (a *Attachment) Disconnect(network string) error {
	return a.whileAttached(func() error {
		for i, m := range a.members {
			if m.network == network {
				a.members = append(a.members[:i], a.members[i+1:]...)
				return m.conn.Leave()
			}
		}
		return fmt.Errorf("the container is not on network %s", network)
	})
}

// whileAttached runs f under the attachment's lock, unless the container's network is
// already released.
func (a *Attachment) whileAttached(f func() error) error {
	if a == nil {
		return ErrDetached
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrDetached
	}
	return f()
}

// forward publishes the container's ports from the host into its namespace; on failure the
// whole attachment is undone.
func (a *Attachment) forward(c Config, pid int, runDir string) error {
	if len(c.Ports) == 0 {
		return nil
	}
	var err error
	nsPath := "/proc/" + strconv.Itoa(pid) + "/ns/net"
	if a.fwd, err = port.Forward(c.Ports, nsPath, runDir); err != nil {
		a.Close()
		return err
	}
	return nil
}

// Close stops forwarding and slirp4netns. It may be called on a nil Attachment.
func (a *Attachment) Close() error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.fwd != nil {
		a.fwd.Close()
		a.fwd = nil
	}
	if a.slirp != nil {
		a.slirp.Stop()
		a.slirp = nil
	}
	for _, m := range a.members {
		m.conn.Close()
	}
	a.members = nil
	return nil
}

// FilesInput is what the container's /etc files are made from.
type FilesInput struct {
	Hostname, Name string
	// HostHosts and HostResolv are the host's /etc/hosts and /etc/resolv.conf.
	HostHosts, HostResolv string
}

// Files renders the container's /etc/hosts and /etc/resolv.conf.
func (c Config) Files(in FilesInput) (hosts, resolv string, err error) {
	hi := etc.HostsInput{}
	for _, s := range c.AddHosts {
		h, err := etc.ParseAddHost(s)
		if err != nil {
			return "", "", err
		}
		hi.Extra = append(hi.Extra, h)
	}
	names := []string{in.Hostname}
	if in.Name != "" && in.Name != in.Hostname {
		names = append(names, in.Name)
	}
	ri := etc.ResolvInput{Host: in.HostResolv, Nameservers: c.DNS, Search: c.DNSSearch, Options: c.DNSOptions}
	switch c.Mode {
	case ModeSlirp:
		hi.Self = etc.Host{IP: ContainerIP, Names: names}
		if c.AllowHostLoopback {
			hi.HostGateway = GatewayIP
		}
		ri.Fallback, ri.UseFallbackOnly = DNSIP, true
	case ModeBridge:
		// Names of the network's containers come from its DNS, at the gateway.
		hi.Self = etc.Host{IP: c.Networks[0].IP, Names: names}
		ri.Fallback, ri.UseFallbackOnly = c.Networks[0].Gateway, true
	case ModeHost:
		hi.Base = in.HostHosts
		hi.Self = etc.Host{IP: "127.0.1.1", Names: names}
	default:
		hi.Self = etc.Host{IP: "127.0.1.1", Names: names}
	}
	return etc.Hosts(hi), etc.Resolv(ri), nil
}
