// Package etc writes what a container's /etc/hosts and /etc/resolv.conf say, as podman
// writes them. It only builds contents; runtime/ puts the files in place.
package etc

import (
	"fmt"
	"net/netip"
	"strings"
)

// Host is one /etc/hosts line.
type Host struct {
	IP    string
	Names []string
}

// ParseAddHost reads an --add-host value, NAME:IP (an IPv6 address may be in brackets).
func ParseAddHost(s string) (Host, error) {
	name, ip, ok := strings.Cut(s, ":")
	ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return Host{}, fmt.Errorf("--add-host %q: use NAME:IP", s)
	}
	if _, err := netip.ParseAddr(ip); err != nil {
		return Host{}, fmt.Errorf("--add-host %q: %q is not an IP address", s, ip)
	}
	return Host{IP: ip, Names: []string{name}}, nil
}

// HostsInput is what a container's /etc/hosts lists.
type HostsInput struct {
	// Base is the start of the file: the host's /etc/hosts with --network host, else empty
	// for the localhost lines.
	Base string
	// Extra are the --add-host entries, first after the base, as podman orders them.
	Extra []Host
	// Self is the container's own address and names (hostname, name); no line if IP is empty.
	Self Host
	// HostGateway is the address of host.containers.internal; no line if empty.
	HostGateway string
}

// Hosts renders /etc/hosts.
func Hosts(in HostsInput) string {
	var b strings.Builder
	if in.Base != "" {
		b.WriteString(in.Base)
		if !strings.HasSuffix(in.Base, "\n") {
			b.WriteByte('\n')
		}
	} else {
		b.WriteString("127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n")
		b.WriteString("::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n")
	}
	line := func(h Host) {
		if h.IP != "" && len(h.Names) > 0 {
			b.WriteString(h.IP + "\t" + strings.Join(h.Names, " ") + "\n")
		}
	}
	for _, h := range in.Extra {
		line(h)
	}
	line(in.Self)
	if in.HostGateway != "" {
		line(Host{IP: in.HostGateway, Names: []string{"host.containers.internal", "host.docker.internal"}})
	}
	return b.String()
}

// ResolvInput is what a container's /etc/resolv.conf says.
type ResolvInput struct {
	// Host is the host's /etc/resolv.conf.
	Host string
	// Nameservers replace the host's; empty keeps them (with LocalNameservers dropped
	// when Fallback is set).
	Nameservers []string
	// Fallback is used when no nameserver is left: slirp4netns's DNS forwarder.
	Fallback string
	// UseFallbackOnly replaces the host's nameservers with Fallback (slirp4netns: the
	// host's may be on its loopback, which the container cannot reach).
	UseFallbackOnly bool
	// Search replaces the host's search domains; "." alone clears them.
	Search []string
	// Options replace the host's options.
	Options []string
}

// Resolv renders /etc/resolv.conf: search, then nameservers, then options.
func Resolv(in ResolvInput) string {
	var hostNS, hostSearch, hostOpts []string
	for _, l := range strings.Split(in.Host, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			hostNS = append(hostNS, f[1])
		case "search", "domain":
			hostSearch = f[1:]
		case "options":
			hostOpts = append(hostOpts, f[1:]...)
		}
	}
	ns := hostNS
	switch {
	case len(in.Nameservers) > 0:
		ns = in.Nameservers
	case in.UseFallbackOnly:
		ns = []string{in.Fallback}
	case len(ns) == 0 && in.Fallback != "":
		ns = []string{in.Fallback}
	}
	search := hostSearch
	if len(in.Search) > 0 {
		search = in.Search
		if len(search) == 1 && search[0] == "." {
			search = nil
		}
	}
	opts := hostOpts
	if len(in.Options) > 0 {
		opts = in.Options
	}
	var b strings.Builder
	if len(search) > 0 {
		b.WriteString("search " + strings.Join(search, " ") + "\n")
	}
	for _, n := range ns {
		b.WriteString("nameserver " + n + "\n")
	}
	if len(opts) > 0 {
		b.WriteString("options " + strings.Join(opts, " ") + "\n")
	}
	return b.String()
}
