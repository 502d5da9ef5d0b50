package port

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Mapping publishes one container port on the host.
type Mapping struct {
	// HostIP is the host address listened on; empty means every address.
	HostIP string `json:"hostIP,omitempty"`
	// HostPort is 0 until Allocate picks a free one.
	HostPort      uint16 `json:"hostPort"`
	ContainerPort uint16 `json:"containerPort"`
	// Protocol is "tcp" or "udp".
	Protocol string `json:"protocol"`
}

// String is podman's ps form: 0.0.0.0:8080->80/tcp.
func (m Mapping) String() string {
	return m.HostAddr() + "->" + strconv.Itoa(int(m.ContainerPort)) + "/" + m.Protocol
}

// HostAddr is the address listened on, as podman shows it: 0.0.0.0:8080 or [::1]:8080.
func (m Mapping) HostAddr() string {
	ip := m.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	if strings.Contains(ip, ":") {
		ip = "[" + ip + "]"
	}
	return ip + ":" + strconv.Itoa(int(m.HostPort))
}

// portutil of rootlesskit parses its own syntax (protocol required, no ranges, no random host
// port), not podman's; this parser reads podman's.

// Parse reads one -p value: [[IP:][HOSTPORT]:]CTRPORT[/PROTO], where a port may be a range
// (8000-8002) and PROTO is tcp, udp or both ("tcp,udp"). An IPv6 address is written in
// brackets. A missing host port is chosen at random by Allocate (HostPort 0).
func Parse(spec string) ([]Mapping, error) {
	bad := func(why string, args ...any) error {
		return fmt.Errorf("-p %q: %s: use [[IP:][HOSTPORT]:]CONTAINERPORT[/tcp|/udp]", spec, fmt.Sprintf(why, args...))
	}
	rest, protos := spec, "tcp"
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		rest, protos = rest[:i], rest[i+1:]
	}
	var hostIP string
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 || end+1 >= len(rest) || rest[end+1] != ':' {
			return nil, bad("unclosed IPv6 address")
		}
		hostIP, rest = rest[1:end], rest[end+2:]
		if a, err := netip.ParseAddr(hostIP); err != nil || !a.Is6() {
			return nil, bad("%q is not an IPv6 address", hostIP)
		}
		if !strings.Contains(rest, ":") {
			rest = ":" + rest
		}
	}
	parts := strings.Split(rest, ":")
	var hostPorts, ctrPorts string
	switch len(parts) {
	case 1:
		ctrPorts = parts[0]
	case 2:
		hostPorts, ctrPorts = parts[0], parts[1]
	case 3:
		if hostIP != "" {
			return nil, bad("too many colons")
		}
		hostIP, hostPorts, ctrPorts = parts[0], parts[1], parts[2]
		a, err := netip.ParseAddr(hostIP)
		if err != nil || !a.Is4() {
			return nil, bad("%q is not an IPv4 address (write IPv6 in brackets)", hostIP)
		}
	default:
		return nil, bad("too many colons")
	}
	cFirst, cLast, err := parseRange(ctrPorts)
	if err != nil {
		return nil, bad("container port %v", err)
	}
	hFirst, hLast := 0, 0
	if hostPorts != "" {
		if hFirst, hLast, err = parseRange(hostPorts); err != nil {
			return nil, bad("host port %v", err)
		}
		if hLast-hFirst != cLast-cFirst {
			return nil, bad("host range %s and container range %s differ in length", hostPorts, ctrPorts)
		}
	}
	var out []Mapping
	seen := map[string]bool{}
	for _, p := range strings.Split(protos, ",") {
		if p != "tcp" && p != "udp" {
			return nil, bad("protocol %q is not tcp or udp", p)
		}
		if seen[p] {
			return nil, bad("protocol %s given twice", p)
		}
		seen[p] = true
		for i := 0; i <= cLast-cFirst; i++ {
			m := Mapping{HostIP: hostIP, ContainerPort: uint16(cFirst + i), Protocol: p}
			if hFirst != 0 {
				m.HostPort = uint16(hFirst + i)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// ParseExpose reads one --expose value, PORT[-END][/PROTO] with PROTO tcp or udp (tcp when
// left out), into the image config's form of each port: "80/tcp". --publish-all publishes
// them as it does the image's EXPOSE ports.
func ParseExpose(spec string) ([]string, error) {
	ports, proto, hasProto := strings.Cut(spec, "/")
	if !hasProto {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return nil, fmt.Errorf("--expose %q: protocol %q is not tcp or udp: use PORT[-END][/tcp|/udp]", spec, proto)
	}
	first, last, err := parseRange(ports)
	if err != nil {
		return nil, fmt.Errorf("--expose %q: port %v: use PORT[-END][/tcp|/udp]", spec, err)
	}
	out := make([]string, 0, last-first+1)
	for p := first; p <= last; p++ {
		out = append(out, strconv.Itoa(p)+"/"+proto)
	}
	return out, nil
}

// parseRange reads "80" or "8000-8002" into the first and last port, each 1..65535.
func parseRange(s string) (int, int, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	first, err := parsePort(lo)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return first, first, nil
	}
	last, err := parsePort(hi)
	if err != nil {
		return 0, 0, err
	}
	if last < first {
		return 0, 0, fmt.Errorf("range %q ends before it starts", s)
	}
	return first, last, nil
}

func parsePort(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("is missing")
	}
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%d is out of range 1-65535", n)
	}
	return n, nil
}

// ParseAll parses every -p value and rejects a host port published twice.
func ParseAll(specs []string) ([]Mapping, error) {
	var all []Mapping
	for _, s := range specs {
		ms, err := Parse(s)
		if err != nil {
			return nil, err
		}
		all = append(all, ms...)
	}
	return all, CheckDuplicates(all)
}

// CheckDuplicates rejects two mappings of one host port and protocol on overlapping
// addresses (an empty address overlaps every address).
func CheckDuplicates(ms []Mapping) error {
	for i, a := range ms {
		for _, b := range ms[:i] {
			if a.HostPort == 0 || a.HostPort != b.HostPort || a.Protocol != b.Protocol {
				continue
			}
			if a.HostIP == b.HostIP || a.HostIP == "" || b.HostIP == "" {
				return fmt.Errorf("host port %d/%s is published twice: give each mapping its own host port", a.HostPort, a.Protocol)
			}
		}
	}
	return nil
}
