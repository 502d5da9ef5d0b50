package netstack

import (
	"errors"
	"testing"

	"github.com/den-project/den/netstack/port"
)

func TestParseModeKnowsPodmansModes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Config
	}{
		{"slirp4netns", Config{Mode: ModeSlirp}},
		{"slirp4netns:allow_host_loopback=true", Config{Mode: ModeSlirp, AllowHostLoopback: true}},
		{"slirp4netns:allow_host_loopback=false", Config{Mode: ModeSlirp}},
		{"private", Config{Mode: ModeSlirp}},
		{"none", Config{Mode: ModeNone}},
		{"host", Config{Mode: ModeHost}},
		{"container:web", Config{Mode: ModeContainer, Container: "web"}},
	} {
		got, err := ParseMode(tc.in)
		if err != nil || got.Mode != tc.want.Mode || got.Container != tc.want.Container || got.AllowHostLoopback != tc.want.AllowHostLoopback {
			t.Errorf("ParseMode(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	if _, err := ParseMode("pasta"); !errors.Is(err, ErrUnknownMode) {
		t.Errorf("want ErrUnknownMode for pasta, got %v", err)
	}
	for _, bad := range []string{"container:", "host:x", "slirp4netns:mtu=1500"} {
		if _, err := ParseMode(bad); err == nil {
			t.Errorf("ParseMode(%q): want an error", bad)
		}
	}
}

func TestValidateRejectsPortsWithoutANetworkOfTheContainersOwn(t *testing.T) {
	c := Config{Mode: ModeHost}
	c.Ports = []port.Mapping{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}}
	if err := c.Validate(); err == nil {
		t.Error("want an error for ports with --network host")
	}
}

func TestParseModeTakesANetworkName(t *testing.T) {
	c, err := ParseMode("front")
	if err != nil || c.Mode != ModeBridge || len(c.Networks) != 1 || c.Networks[0].Network != "front" || c.String() != "front" {
		t.Errorf("ParseMode(front) = %+v, %v", c, err)
	}
	for _, s := range []string{"front:opt", "-x", "a/b"} {
		if _, err := ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q) succeeded", s)
		}
	}
}
