package etc

import "testing"

func TestResolvWithSlirpKeepsHostSearchAndOptionsAndUsesItsDNS(t *testing.T) {
	host := "# comment\nnameserver 127.0.0.53\nsearch corp.example lan\noptions edns0 trust-ad\n"
	got := Resolv(ResolvInput{Host: host, Fallback: "10.0.2.3", UseFallbackOnly: true})
	want := "search corp.example lan\nnameserver 10.0.2.3\noptions edns0 trust-ad\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestResolvFlagsReplaceHostSettings(t *testing.T) {
	host := "nameserver 192.0.2.1\nsearch lan\noptions edns0\n"
	got := Resolv(ResolvInput{Host: host, Nameservers: []string{"1.1.1.1", "8.8.8.8"}, Search: []string{"a.example"}, Options: []string{"ndots:2"}, Fallback: "10.0.2.3", UseFallbackOnly: true})
	want := "search a.example\nnameserver 1.1.1.1\nnameserver 8.8.8.8\noptions ndots:2\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := Resolv(ResolvInput{Host: host, Search: []string{"."}}); got != "nameserver 192.0.2.1\noptions edns0\n" {
		t.Errorf("--dns-search . must clear the search list, got %q", got)
	}
}

func TestHostsListsLocalhostExtrasSelfAndGateway(t *testing.T) {
	got := Hosts(HostsInput{
		Extra:       []Host{{IP: "1.2.3.4", Names: []string{"foo"}}},
		Self:        Host{IP: "10.0.2.100", Names: []string{"h", "web"}},
		HostGateway: "10.0.2.2",
	})
	want := "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n" +
		"::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n" +
		"1.2.3.4\tfoo\n10.0.2.100\th web\n10.0.2.2\thost.containers.internal host.docker.internal\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := Hosts(HostsInput{Base: "127.0.0.1 localhost", Self: Host{IP: "127.0.1.1", Names: []string{"h"}}}); got != "127.0.0.1 localhost\n127.0.1.1\th\n" {
		t.Errorf("host mode keeps the host's file first, got %q", got)
	}
}

func TestParseAddHost(t *testing.T) {
	if h, err := ParseAddHost("db:10.1.2.3"); err != nil || h.IP != "10.1.2.3" || h.Names[0] != "db" {
		t.Errorf("got %+v, %v", h, err)
	}
	if h, err := ParseAddHost("v6:[::1]"); err != nil || h.IP != "::1" {
		t.Errorf("got %+v, %v", h, err)
	}
	for _, bad := range []string{"db", ":1.2.3.4", "db:notip", "a b:1.2.3.4"} {
		if _, err := ParseAddHost(bad); err == nil {
			t.Errorf("ParseAddHost(%q): want an error", bad)
		}
	}
}
