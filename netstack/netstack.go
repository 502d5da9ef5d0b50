// Package netstack owns a container's network: which namespace it gets (its own, the host's,
// or another container's), the slirp4netns process that gives its own namespace a way out,
// the host ports published into it, and the /etc/hosts and /etc/resolv.conf that describe
// it. Everything it starts lives only while the container runs: the holder of the container
// (the foreground den or its monitor) calls Attach between libcontainer's create and start,
// and Close when the container has exited. There is no daemon and nothing shared between
// containers.
//
// Subpackages: slirp (the slirp4netns process), port (-p parsing and forwarding), etc (file
// contents). This package ties them together for runtime/.
package netstack

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/den-project/den/netstack/etc"
	"github.com/den-project/den/netstack/port"
	"github.com/den-project/den/netstack/slirp"
)

// Network modes, as podman names them.
const (
	ModeSlirp     = "slirp4netns"
	ModeNone      = "none"
	ModeHost      = "host"
	ModeContainer = "container"
)

// Slirp4netns's fixed addresses in the container's namespace.
const (
	ContainerIP = "10.0.2.100"
	GatewayIP   = "10.0.2.2"
	DNSIP       = "10.0.2.3"
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
		return c, fmt.Errorf("--network %q: %w: use slirp4netns, none, host or container:NAME", s, ErrUnknownMode)
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
	}
	return c.Mode
}

// OwnNamespace reports whether the container gets a network namespace of its own.
func (c Config) OwnNamespace() bool { return c.Mode == ModeSlirp || c.Mode == ModeNone || c.Mode == "" }

// Validate checks a configuration before the container is created: ports need a namespace
// of the container's own with slirp4netns, and every fixed host port must be free now.
// Mappings without a host port get one.
func (c *Config) Validate() error {
	if len(c.Ports) > 0 && c.Mode != ModeSlirp {
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
// forwarder. Close releases them.
type Attachment struct {
	slirp *slirp.Process
	fwd   *port.Forwarder
}

// Attach gives the network namespace of pid (the container's init, created but not yet
// running the user's command) its way out and its published ports. runDir is the
// container's runtime directory. Modes without a namespace of their own need nothing.
func Attach(c Config, pid int, runDir string) (*Attachment, error) {
	a := &Attachment{}
	if c.Mode != ModeSlirp {
		return a, nil
	}
	bin, err := slirp.Preflight()
	if err != nil {
		return nil, err
	}
	if a.slirp, err = slirp.Start(bin, pid, slirp.Options{AllowHostLoopback: c.AllowHostLoopback}); err != nil {
		return nil, err
	}
	if len(c.Ports) > 0 {
		nsPath := "/proc/" + strconv.Itoa(pid) + "/ns/net"
		if a.fwd, err = port.Forward(c.Ports, nsPath, runDir); err != nil {
			a.Close()
			return nil, err
		}
	}
	return a, nil
}

// Close stops forwarding and slirp4netns. It may be called on a nil Attachment.
func (a *Attachment) Close() error {
	if a == nil {
		return nil
	}
	if a.fwd != nil {
		a.fwd.Close()
		a.fwd = nil
	}
	if a.slirp != nil {
		a.slirp.Stop()
		a.slirp = nil
	}
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
	case ModeHost:
		hi.Base = in.HostHosts
		hi.Self = etc.Host{IP: "127.0.1.1", Names: names}
	default:
		hi.Self = etc.Host{IP: "127.0.1.1", Names: names}
	}
	return etc.Hosts(hi), etc.Resolv(ri), nil
}
