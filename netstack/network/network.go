// Package network keeps den's user-defined networks: one JSON record per network in
// DataDir/networks (podman's shape, so `network inspect` prints it as is), and beside it the
// addresses handed out to containers. Every change happens under one lock,
// DataDir/networks/lock, so that subnets never overlap and an address is never given twice.
// What a network needs at run time (a namespace with a bridge, DNS, egress) is
// netstack/bridge's.
package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/den-project/den/store/record"
)

// Driver is the only network driver den has.
const Driver = "bridge"

// SlirpSubnet is the network slirp4netns gives the namespace of a network with egress; a
// user network must not overlap it.
var SlirpSubnet = netip.MustParsePrefix("10.0.2.0/24")

var (
	ErrNotFound = errors.New("network not found")
	ErrExists   = errors.New("network already exists")
)

// Subnet is one subnet of a network and its gateway, the bridge's address.
type Subnet struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
}

// Network is a network's record, in the JSON shape of podman's `network inspect`.
type Network struct {
	Name        string            `json:"name"`
	ID          string            `json:"id"`
	Driver      string            `json:"driver"`
	Interface   string            `json:"network_interface"`
	Created     time.Time         `json:"created"`
	Subnets     []Subnet          `json:"subnets"`
	IPv6        bool              `json:"ipv6_enabled"`
	Internal    bool              `json:"internal"`
	DNS         bool              `json:"dns_enabled"`
	Labels      map[string]string `json:"labels"`
	IPAMOptions map[string]string `json:"ipam_options"`
}

// Prefix is the network's (first) subnet.
func (n *Network) Prefix() netip.Prefix {
	p, _ := netip.ParsePrefix(n.Subnets[0].Subnet)
	return p
}

// Gateway is the bridge's address in the network.
func (n *Network) Gateway() netip.Addr {
	a, _ := netip.ParseAddr(n.Subnets[0].Gateway)
	return a
}

// CreateOptions are `network create`'s flags.
type CreateOptions struct {
	Name, Driver, Subnet, Gateway string
	Internal                      bool
	Labels                        map[string]string
}

// Store is the directory of network records.
type Store struct{ dir string }

// Open returns the store of dataDir.
func Open(dataDir string) *Store { return &Store{dir: filepath.Join(dataDir, "networks")} }

func (s *Store) lock() (*record.Lock, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the networks directory: %w", err)
	}
	return record.Acquire(filepath.Join(s.dir, "lock"))
}

// LockUsers takes the lock that orders containers joining networks against networks going:
// a create (or connect) holds it from finding its networks to writing its record, a removal
// from checking a network's users to deleting it. Without it a network could be removed
// between a create's finding it and its record naming it. ".users.lock" is no network's
// record, which List reads from NAME.json files.
func (s *Store) LockUsers() (*record.Lock, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the networks directory: %w", err)
	}
	return record.Acquire(filepath.Join(s.dir, ".users.lock"))
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// reserved are --network values that are modes, not networks.
var reserved = map[string]bool{"none": true, "host": true, "bridge": true, "private": true, "slirp4netns": true, "container": true, "ns": true, "pasta": true}

// ValidName checks a network name.
func ValidName(name string) error {
	if !nameRE.MatchString(name) || len(name) > 200 {
		return fmt.Errorf("network name %q is invalid: use letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	if reserved[name] {
		return fmt.Errorf("network name %q is reserved for a network mode: choose another name", name)
	}
	return nil
}

// ParseSubnet reads --subnet and --gateway: an IPv4 CIDR (normalized to its network address,
// at most /30) and a gateway inside it, by default its first address.
func ParseSubnet(subnet, gateway string) (Subnet, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return Subnet{}, fmt.Errorf("subnet %q is not a CIDR: write it as 10.89.5.0/24", subnet)
	}
	if !p.Addr().Is4() {
		return Subnet{}, fmt.Errorf("subnet %q: den networks are IPv4 only: use an IPv4 CIDR such as 10.89.5.0/24", subnet)
	}
	if p.Bits() > 30 || p.Bits() < 8 {
		return Subnet{}, fmt.Errorf("subnet %q: the prefix must be between /8 and /30", subnet)
	}
	p = p.Masked()
	gw := p.Addr().Next()
	if gateway != "" {
		if gw, err = netip.ParseAddr(gateway); err != nil || !gw.Is4() {
			return Subnet{}, fmt.Errorf("gateway %q is not an IPv4 address", gateway)
		}
		if !usable(p, gw) {
			return Subnet{}, fmt.Errorf("gateway %s is not a host address of subnet %s", gw, p)
		}
	}
	return Subnet{Subnet: p.String(), Gateway: gw.String()}, nil
}

// usable reports whether a is a host address of p: inside, neither the network nor the
// broadcast address.
func usable(p netip.Prefix, a netip.Addr) bool {
	return p.Contains(a) && a != p.Addr() && a != broadcast(p)
}

func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Create records a new network. Without a subnet it takes the first 10.89.N.0/24 that no
// other network uses.
func (s *Store) Create(o CreateOptions) (*Network, error) {
	if err := ValidName(o.Name); err != nil {
		return nil, err
	}
	if o.Driver != "" && o.Driver != Driver {
		return nil, fmt.Errorf("network driver %q is not supported: den has only %q", o.Driver, Driver)
	}
	if o.Gateway != "" && o.Subnet == "" {
		return nil, errors.New("--gateway needs --subnet: give the subnet it belongs to")
	}
	var sub Subnet
	var err error
	if o.Subnet != "" {
		if sub, err = ParseSubnet(o.Subnet, o.Gateway); err != nil {
			return nil, err
		}
	}
	lk, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	used := make([]netip.Prefix, 0, len(all)+1)
	used = append(used, SlirpSubnet)
	indexes := map[int]bool{}
	for _, n := range all {
		if n.Name == o.Name {
			return nil, fmt.Errorf("network %s: %w: remove it first or choose another name", o.Name, ErrExists)
		}
		used = append(used, n.Prefix())
		if i, err := strconv.Atoi(strings.TrimPrefix(n.Interface, "den")); err == nil {
			indexes[i] = true
		}
	}
	if sub.Subnet == "" {
		for i := 0; i < 256 && sub.Subnet == ""; i++ {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 89, byte(i), 0}), 24)
			if !overlapsAny(p, used) {
				sub = Subnet{Subnet: p.String(), Gateway: p.Addr().Next().String()}
			}
		}
		if sub.Subnet == "" {
			return nil, errors.New("no free subnet left in 10.89.0.0/16: give one with --subnet")
		}
	} else {
		p := netip.MustParsePrefix(sub.Subnet)
		for _, n := range all {
			if p.Overlaps(n.Prefix()) {
				return nil, fmt.Errorf("subnet %s overlaps %s of network %s: choose a subnet no network uses", p, n.Prefix(), n.Name)
			}
		}
		if p.Overlaps(SlirpSubnet) {
			return nil, fmt.Errorf("subnet %s overlaps %s, which slirp4netns uses for egress: choose another subnet", p, SlirpSubnet)
		}
	}
	idx := 0
	for indexes[idx] {
		idx++
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	labels := o.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	n := &Network{
		Name: o.Name, ID: hex.EncodeToString(id), Driver: Driver, Interface: "den" + strconv.Itoa(idx),
		Created: time.Now(), Subnets: []Subnet{sub}, Internal: o.Internal, DNS: true, Labels: labels,
		IPAMOptions: map[string]string{"driver": "host-local"},
	}
	if err := record.WriteJSON(s.path(n.Name), n); err != nil {
		return nil, fmt.Errorf("writing network %s: %w", n.Name, err)
	}
	return n, nil
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}

func (s *Store) path(name string) string       { return filepath.Join(s.dir, name+".json") }
func (s *Store) leasesPath(name string) string { return filepath.Join(s.dir, name+".leases") }

// Get finds a network by name, full id or unique id prefix.
func (s *Store) Get(ref string) (*Network, error) {
	var n Network
	if nameRE.MatchString(ref) {
		if err := record.ReadJSON(s.path(ref), &n); err == nil {
			return &n, nil
		} else if !record.IsNotExist(err) {
			return nil, fmt.Errorf("reading network %s: %w", ref, err)
		}
	}
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	var found *Network
	for _, c := range all {
		if len(ref) >= 3 && strings.HasPrefix(c.ID, ref) {
			if found != nil {
				return nil, fmt.Errorf("network id prefix %s is ambiguous: give more of the id", ref)
			}
			found = c
		}
	}
	if found == nil {
		return nil, fmt.Errorf("network %s: %w: create it with `den network create %s`", ref, ErrNotFound, ref)
	}
	return found, nil
}

// List returns every network, by name.
func (s *Store) List() ([]*Network, error) { return s.list() }

func (s *Store) list() ([]*Network, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		if record.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing networks: %w", err)
	}
	var out []*Network
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		var n Network
		if err := record.ReadJSON(filepath.Join(s.dir, e.Name()), &n); err != nil {
			if record.IsNotExist(err) {
				continue
			}
			return nil, fmt.Errorf("reading network %s: %w", name, err)
		}
		out = append(out, &n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a network's record and leases. Whether containers still use it is the
// caller's question.
func (s *Store) Remove(name string) error {
	lk, err := s.lock()
	if err != nil {
		return err
	}
	defer lk.Release()
	if err := os.Remove(s.path(name)); err != nil {
		if record.IsNotExist(err) {
			return fmt.Errorf("network %s: %w", name, ErrNotFound)
		}
		return fmt.Errorf("removing network %s: %w", name, err)
	}
	os.Remove(s.leasesPath(name))
	return nil
}

// leases maps an address of a network to the container holding it.
type leases map[string]lease

type lease struct {
	ID string `json:"id"`
	// Since is when the lease was made: a lease younger than a minute may belong to a
	// container whose record is still being written.
	Since time.Time `json:"since"`
}

// Allocate gives container id an address on network name: want if it is valid and free,
// else the lowest free one after the gateway. Leases of containers for which exists says
// false are dropped first, so a crash never loses addresses for good.
func (s *Store) Allocate(name, id string, want string, exists func(id string) bool) (netip.Addr, error) {
	lk, err := s.lock()
	if err != nil {
		return netip.Addr{}, err
	}
	defer lk.Release()
	var n Network
	if err := record.ReadJSON(s.path(name), &n); err != nil {
		return netip.Addr{}, fmt.Errorf("network %s: %w", name, ErrNotFound)
	}
	l := leases{}
	if err := record.ReadJSON(s.leasesPath(name), &l); err != nil && !record.IsNotExist(err) {
		return netip.Addr{}, fmt.Errorf("reading the leases of network %s: %w", name, err)
	}
	for ip, holder := range l {
		if holder.ID != id && time.Since(holder.Since) > time.Minute && !exists(holder.ID) {
			delete(l, ip)
		}
	}
	p, gw := n.Prefix(), n.Gateway()
	var addr netip.Addr
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !a.Is4() {
			return netip.Addr{}, fmt.Errorf("--ip %q is not an IPv4 address", want)
		}
		if !usable(p, a) || a == gw {
			return netip.Addr{}, fmt.Errorf("--ip %s is not a free host address of network %s (%s, gateway %s)", a, name, p, gw)
		}
		if holder, ok := l[a.String()]; ok && holder.ID != id {
			return netip.Addr{}, fmt.Errorf("--ip %s is already in use on network %s: choose another address", a, name)
		}
		addr = a
	} else {
		for a := p.Addr().Next(); usable(p, a); a = a.Next() {
			if _, taken := l[a.String()]; !taken && a != gw {
				addr = a
				break
			}
		}
		if !addr.IsValid() {
			return netip.Addr{}, fmt.Errorf("network %s has no free address left in %s: remove containers or create a larger network", name, p)
		}
	}
	l[addr.String()] = lease{ID: id, Since: time.Now()}
	if err := record.WriteJSON(s.leasesPath(name), l); err != nil {
		return netip.Addr{}, fmt.Errorf("writing the leases of network %s: %w", name, err)
	}
	return addr, nil
}

// Release frees the addresses container id holds on the given networks.
func (s *Store) Release(id string, names []string) error {
	lk, err := s.lock()
	if err != nil {
		return err
	}
	defer lk.Release()
	for _, name := range names {
		l := leases{}
		if err := record.ReadJSON(s.leasesPath(name), &l); err != nil {
			continue
		}
		changed := false
		for ip, holder := range l {
			if holder.ID == id {
				delete(l, ip)
				changed = true
			}
		}
		if changed {
			if err := record.WriteJSON(s.leasesPath(name), l); err != nil {
				return fmt.Errorf("writing the leases of network %s: %w", name, err)
			}
		}
	}
	return nil
}

// Filter is `network ls --filter`: every key must match (values of one key: any).
type Filter map[string][]string

// ParseFilters reads KEY=VALUE filters; the keys are name, id, label and driver.
func ParseFilters(in []string) (Filter, error) {
	f := Filter{}
	for _, s := range in {
		k, v, ok := strings.Cut(s, "=")
		switch {
		case !ok || v == "":
			return nil, fmt.Errorf("filter %q is not KEY=VALUE: use name=, id=, label= or driver=", s)
		case k != "name" && k != "id" && k != "label" && k != "driver":
			return nil, fmt.Errorf("filter %q: unknown key %q: use name, id, label or driver", s, k)
		}
		if k == "name" {
			if _, err := regexp.Compile(v); err != nil {
				return nil, fmt.Errorf("filter %q: the name is a regular expression: %v", s, err)
			}
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// Match reports whether n passes the filter.
func (f Filter) Match(n *Network) bool {
	for k, vals := range f {
		ok := false
		for _, v := range vals {
			switch k {
			case "name":
				ok = ok || regexp.MustCompile(v).MatchString(n.Name)
			case "id":
				ok = ok || strings.HasPrefix(n.ID, v)
			case "driver":
				ok = ok || n.Driver == v
			case "label":
				lk, lv, hasValue := strings.Cut(v, "=")
				got, present := n.Labels[lk]
				ok = ok || (present && (!hasValue || got == lv))
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
