package bridge

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// names is the network's DNS table: container names, aliases and short ids to addresses.
type names struct {
	mu     sync.RWMutex
	byName map[string][]netip.Addr
	owner  map[string][]string // container id -> its names
}

func newNames() *names {
	return &names{byName: map[string][]netip.Addr{}, owner: map[string][]string{}}
}

func (t *names) add(m *Member, ip netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := append([]string{m.Name, m.ID[:12]}, m.Aliases...)
	for _, n := range list {
		n = strings.ToLower(n)
		t.byName[n] = append(t.byName[n], ip)
		t.owner[m.ID] = append(t.owner[m.ID], n+"="+ip.String())
	}
}

func (t *names) remove(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.owner[id] {
		n, ip, _ := strings.Cut(e, "=")
		addrs := t.byName[n][:0]
		for _, a := range t.byName[n] {
			if a.String() != ip {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			delete(t.byName, n)
		} else {
			t.byName[n] = addrs
		}
	}
	delete(t.owner, id)
}

// lookup answers for a name of the network; with the search domain dns.podman too.
func (t *names) lookup(qname string) ([]netip.Addr, bool) {
	n := strings.ToLower(strings.TrimSuffix(qname, "."))
	n = strings.TrimSuffix(n, ".dns.podman")
	t.mu.RLock()
	defer t.mu.RUnlock()
	a, ok := t.byName[n]
	return a, ok
}

// serveDNS answers on the gateway's port 53: the network's names from the table, anything
// else from the host's resolvers (none on an internal network). It runs on the namespace's
// thread, so that the socket is made there.
func (h *holder) serveDNS() error {
	addr := net.JoinHostPort(h.gw.String(), "53")
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("network %s: serving DNS on %s: %w", h.n.Name, addr, err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(h.answerDNS)}
	go func() { _ = srv.ActivateAndServe() }()
	return nil
}

func (h *holder) answerDNS(w dns.ResponseWriter, q *dns.Msg) {
	defer w.Close()
	if len(q.Question) != 1 {
		r := new(dns.Msg)
		r.SetRcode(q, dns.RcodeFormatError)
		_ = w.WriteMsg(r)
		return
	}
	qs := q.Question[0]
	if addrs, ok := h.names.lookup(qs.Name); ok {
		r := new(dns.Msg)
		r.SetReply(q)
		r.Authoritative = true
		if qs.Qtype == dns.TypeA || qs.Qtype == dns.TypeANY {
			for _, a := range addrs {
				r.Answer = append(r.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: qs.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
					A:   a.AsSlice(),
				})
			}
		}
		_ = w.WriteMsg(r)
		return
	}
	if h.n.Internal {
		r := new(dns.Msg)
		r.SetRcode(q, dns.RcodeNameError)
		_ = w.WriteMsg(r)
		return
	}
	// From the host's namespace, where this goroutine's sockets are made.
	c := &dns.Client{Timeout: 4 * time.Second}
	for _, up := range h.upstream {
		if r, _, err := c.Exchange(q, up); err == nil {
			_ = w.WriteMsg(r)
			return
		}
	}
	r := new(dns.Msg)
	r.SetRcode(q, dns.RcodeServerFailure)
	_ = w.WriteMsg(r)
}
