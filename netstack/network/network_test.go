package network

import (
	"strings"
	"testing"
)

func TestParseSubnet(t *testing.T) {
	for _, tc := range []struct {
		subnet, gateway string
		want            Subnet
		err             string
	}{
		{"10.89.5.0/24", "", Subnet{"10.89.5.0/24", "10.89.5.1"}, ""},
		{"10.89.5.7/24", "", Subnet{"10.89.5.0/24", "10.89.5.1"}, ""},
		{"192.168.50.0/24", "192.168.50.254", Subnet{"192.168.50.0/24", "192.168.50.254"}, ""},
		{"10.1.0.0/30", "", Subnet{"10.1.0.0/30", "10.1.0.1"}, ""},
		{"10.1.0.0/31", "", Subnet{}, "between /8 and /30"},
		{"10.0.0.0/7", "", Subnet{}, "between /8 and /30"},
		{"10.1.2.300/24", "", Subnet{}, "not a CIDR"},
		{"10.1.2.0", "", Subnet{}, "not a CIDR"},
		{"fd00::/64", "", Subnet{}, "IPv4 only"},
		{"10.1.2.0/24", "10.1.3.1", Subnet{}, "not a host address"},
		{"10.1.2.0/24", "10.1.2.0", Subnet{}, "not a host address"},
		{"10.1.2.0/24", "10.1.2.255", Subnet{}, "not a host address"},
		{"10.1.2.0/24", "bogus", Subnet{}, "not an IPv4 address"},
	} {
		got, err := ParseSubnet(tc.subnet, tc.gateway)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSubnet(%q, %q) = %v, %v; want error with %q", tc.subnet, tc.gateway, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSubnet(%q, %q) = %v, %v; want %v", tc.subnet, tc.gateway, got, err, tc.want)
		}
	}
}

func FuzzParseSubnet(f *testing.F) {
	for _, s := range []string{"10.89.5.0/24", "1.2.3.4/30", "fd00::/64", "10.1.2.300/24", "0.0.0.0/8"} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, subnet, gateway string) {
		got, err := ParseSubnet(subnet, gateway)
		if err != nil {
			return
		}
		// Whatever it accepts reads back to itself, with the gateway a host address inside.
		again, err := ParseSubnet(got.Subnet, got.Gateway)
		if err != nil || again != got {
			t.Fatalf("ParseSubnet(%q, %q) = %v, which does not parse back: %v, %v", subnet, gateway, got, again, err)
		}
	})
}

func TestCreateAllocatesFreeSubnetsAndRefusesOverlapsAndDuplicates(t *testing.T) {
	s := Open(t.TempDir())
	a, err := s.Create(CreateOptions{Name: "a"})
	if err != nil || a.Subnets[0] != (Subnet{"10.89.0.0/24", "10.89.0.1"}) || a.Interface != "den0" {
		t.Fatalf("first network: %+v, %v", a, err)
	}
	if _, err := s.Create(CreateOptions{Name: "wide", Subnet: "10.89.2.0/23"}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Create(CreateOptions{Name: "c"})
	if err != nil || c.Subnets[0].Subnet != "10.89.1.0/24" || c.Interface != "den2" {
		t.Fatalf("want the first /24 no network overlaps, got %+v, %v", c, err)
	}
	for _, tc := range []struct {
		o   CreateOptions
		err string
	}{
		{CreateOptions{Name: "a"}, "already exists"},
		{CreateOptions{Name: "x", Subnet: "10.89.0.128/25"}, "overlaps 10.89.0.0/24 of network a"},
		{CreateOptions{Name: "x", Subnet: "10.0.0.0/16"}, "slirp4netns"},
		{CreateOptions{Name: "x", Gateway: "10.9.9.9"}, "--gateway needs --subnet"},
		{CreateOptions{Name: "-x"}, "invalid"},
		{CreateOptions{Name: "none"}, "reserved"},
		{CreateOptions{Name: "x", Driver: "macvlan"}, "macvlan"},
	} {
		if _, err := s.Create(tc.o); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Create(%+v) = %v; want an error with %q", tc.o, err, tc.err)
		}
	}
	if all, _ := s.List(); len(all) != 3 {
		t.Errorf("want the refused networks not recorded, have %d", len(all))
	}
	if got, err := s.Get(a.ID[:6]); err != nil || got.Name != "a" {
		t.Errorf("Get by id prefix: %v, %v", got, err)
	}
}

func TestAllocateHandsOutFreeAddressesAndHonoursRequests(t *testing.T) {
	s := Open(t.TempDir())
	if _, err := s.Create(CreateOptions{Name: "n", Subnet: "10.5.0.0/29"}); err != nil {
		t.Fatal(err)
	}
	exists := func(string) bool { return true }
	want := func(id, ip, wantIP, wantErr string) {
		t.Helper()
		a, err := s.Allocate("n", id, ip, exists)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("Allocate(%s, %q) = %v, %v; want error %q", id, ip, a, err, wantErr)
			}
			return
		}
		if err != nil || a.String() != wantIP {
			t.Errorf("Allocate(%s, %q) = %v, %v; want %s", id, ip, a, err, wantIP)
		}
	}
	want("c1", "", "10.5.0.2", "")
	want("c2", "10.5.0.5", "10.5.0.5", "")
	want("c3", "10.5.0.5", "", "in use")
	want("c3", "10.5.0.1", "", "not a free host address")
	want("c3", "10.5.0.7", "", "not a free host address")
	want("c3", "10.6.0.2", "", "not a free host address")
	want("c3", "", "10.5.0.3", "")
	want("c4", "", "10.5.0.4", "")
	want("c5", "", "10.5.0.6", "")
	want("c6", "", "", "no free address")
	if err := s.Release("c2", []string{"n"}); err != nil {
		t.Fatal(err)
	}
	want("c6", "", "10.5.0.5", "")
}

func TestFilters(t *testing.T) {
	n := &Network{Name: "web-front", ID: "abcdef", Driver: Driver, Labels: map[string]string{"env": "test", "x": ""}}
	for _, tc := range []struct {
		in   []string
		want bool
		err  string
	}{
		{nil, true, ""},
		{[]string{"name=^web"}, true, ""},
		{[]string{"name=back"}, false, ""},
		{[]string{"name=back", "name=front"}, true, ""},
		{[]string{"label=env"}, true, ""},
		{[]string{"label=env=test"}, true, ""},
		{[]string{"label=env=prod"}, false, ""},
		{[]string{"label=env=test", "driver=bridge", "id=abc"}, true, ""},
		{[]string{"driver=macvlan"}, false, ""},
		{[]string{"dangling=true"}, false, "unknown key"},
		{[]string{"name"}, false, "KEY=VALUE"},
		{[]string{"name=("}, false, "regular expression"},
	} {
		f, err := ParseFilters(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseFilters(%q) = %v; want error %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || f.Match(n) != tc.want {
			t.Errorf("filter %q on %s: %v, %v; want %v", tc.in, n.Name, f.Match(n), err, tc.want)
		}
	}
}
