package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/den-project/den/netstack"
	"github.com/den-project/den/netstack/network"
	"github.com/den-project/den/netstack/port"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// networkOf is a container's network configuration; records written before den had
// networking mean a loopback interface only.
func networkOf(c *Container) netstack.Config {
	if c.Config.Network == nil {
		return netstack.Config{Mode: netstack.ModeNone}
	}
	return *c.Config.Network
}

// prepareNetwork completes the user's network choice at create time: the joined container
// by id, the image's EXPOSE ports with -P, free host ports checked and chosen.
func (r *Runtime) prepareNetwork(o CreateOptions, exposed map[string]struct{}) (*netstack.Config, error) {
	n := o.Network
	if n.Mode == "" {
		n.Mode = netstack.ModeSlirp
	}
	if n.Mode == netstack.ModeBridge {
		n.Networks = append([]netstack.Endpoint(nil), n.Networks...)
		for i := range n.Networks {
			if err := r.completeEndpoint(&n.Networks[i]); err != nil {
				return nil, err
			}
		}
	}
	if n.Mode == netstack.ModeContainer {
		other, err := r.recs.resolve(n.Container)
		if err != nil {
			return nil, fmt.Errorf("--network container:%s: %w", n.Container, err)
		}
		// A container on another's namespace has none of its own, nor its /etc files: the
		// one that owns them is joined.
		for seen := 0; other.Config.Network != nil && other.Config.Network.Mode == netstack.ModeContainer && seen < 16; seen++ {
			if other, err = r.recs.load(other.Config.Network.Container); err != nil {
				return nil, fmt.Errorf("--network container:%s: %w", n.Container, err)
			}
		}
		n.Container = other.ID
		return &n, nil
	}
	n.Ports = append([]port.Mapping(nil), n.Ports...)
	if o.PublishAll {
		keys := make([]string, 0, len(exposed))
		for k := range exposed {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			num, proto, _ := strings.Cut(k, "/")
			p, err := strconv.Atoi(num)
			if err != nil || p < 1 || p > 65535 {
				continue
			}
			if proto == "" {
				proto = "tcp"
			}
			if proto != "tcp" && proto != "udp" {
				continue
			}
			published := false
			for _, m := range n.Ports {
				if int(m.ContainerPort) == p && m.Protocol == proto {
					published = true
				}
			}
			if !published {
				n.Ports = append(n.Ports, port.Mapping{ContainerPort: uint16(p), Protocol: proto})
			}
		}
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return &n, nil
}

// Networks is the store of user-defined networks.
func (r *Runtime) Networks() *network.Store { return network.Open(r.Paths.DataDir) }

// completeEndpoint copies what a container needs of its network into its endpoint.
func (r *Runtime) completeEndpoint(ep *netstack.Endpoint) error {
	nw, err := r.Networks().Get(ep.Network)
	if err != nil {
		return err
	}
	ep.Network, ep.Subnet, ep.Gateway = nw.Name, nw.Subnets[0].Subnet, nw.Subnets[0].Gateway
	ep.Bridge, ep.Internal = nw.Interface, nw.Internal
	return nil
}

// allocateAddresses gives a new container its addresses on its networks (the --ip asked
// for, or the next free one). On error nothing stays allocated.
func (r *Runtime) allocateAddresses(c *Container) error {
	n := c.Config.Network
	if n == nil || n.Mode != netstack.ModeBridge {
		return nil
	}
	for i := range n.Networks {
		ep := &n.Networks[i]
		a, err := r.Networks().Allocate(ep.Network, c.ID, ep.IP, r.recs.exists)
		if err != nil {
			r.releaseAddresses(c)
			return err
		}
		ep.IP = a.String()
	}
	return nil
}

// releaseAddresses frees a container's addresses on its networks.
func (r *Runtime) releaseAddresses(c *Container) {
	n := c.Config.Network
	if n == nil || n.Mode != netstack.ModeBridge {
		return
	}
	names := make([]string, 0, len(n.Networks))
	for _, ep := range n.Networks {
		names = append(names, ep.Network)
	}
	_ = r.Networks().Release(c.ID, names)
}

// joinedNetNS is the network namespace a container:ID container joins: that of the
// other container's process, which must be running.
func (r *Runtime) joinedNetNS(n netstack.Config) (string, *Container, error) {
	other, err := r.recs.load(n.Container)
	if err != nil {
		return "", nil, fmt.Errorf("--network container:%s: %w", n.Container, err)
	}
	reconcile(other)
	if other.State.Status != StatusRunning || other.State.Pid == 0 {
		return "", nil, fmt.Errorf("--network container:%s: %w: start it first", other.Name, ErrNotRunning)
	}
	// den processes share one user namespace while any of them lives (runtime/userns); a
	// container whose holder is in another one (started by a den without that registry) has
	// a network namespace this process may not enter.
	if !sameUserNS(other.State.Holder) {
		return "", nil, fmt.Errorf("--network container:%s: the container was started in another user namespace that den cannot enter: restart it with `den restart %s` and try again", other.Name, other.Name)
	}
	return "/proc/" + strconv.Itoa(other.State.Pid) + "/ns/net", other, nil
}

// sameUserNS reports whether process pid is in this process's user namespace.
func sameUserNS(pid int) bool {
	theirs, err1 := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/user")
	ours, err2 := os.Readlink("/proc/self/ns/user")
	return err1 == nil && err2 == nil && theirs == ours
}

// writeEtcFiles writes the container's /etc/hostname, /etc/hosts and /etc/resolv.conf and
// returns the bind mounts that put them in place. A container that joins another's network
// shares that one's hosts and resolv.conf.
func (r *Runtime) writeEtcFiles(c *Container, joined *Container) ([]specs.Mount, error) {
	dir := r.runDir(c.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating container runtime directory: %w", err)
	}
	n := networkOf(c)
	hostHosts, _ := os.ReadFile("/etc/hosts")
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	hosts, resolv, err := n.Files(netstack.FilesInput{
		Hostname: c.Config.Hostname, Name: c.Name, HostHosts: string(hostHosts), HostResolv: string(hostResolv),
	})
	if err != nil {
		return nil, err
	}
	files := []struct{ name, data string }{
		{"hostname", c.Config.Hostname + "\n"}, {"hosts", hosts}, {"resolv.conf", resolv},
	}
	var mounts []specs.Mount
	for _, f := range files {
		// --no-hosts leaves the image's; a container joining another's network shares that
		// one's files, which has none with --no-hosts.
		if f.name == "hosts" && (n.NoHosts || joined != nil && networkOf(joined).NoHosts) {
			continue
		}
		p := filepath.Join(dir, f.name)
		if joined != nil && f.name != "hostname" {
			p = filepath.Join(r.runDir(joined.ID), f.name)
		} else if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
			return nil, fmt.Errorf("writing container %s: %w", f.name, err)
		}
		mounts = append(mounts, specs.Mount{Destination: "/etc/" + f.name, Type: "bind", Source: p, Options: []string{"rbind", "rprivate"}})
	}
	return mounts, nil
}

// Ports lists a container's published ports, in the order they were given.
func (c *Container) Ports() []port.Mapping {
	if c.Config.Network == nil {
		return nil
	}
	return c.Config.Network.Ports
}
