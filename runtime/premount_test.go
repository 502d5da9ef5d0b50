package runtime

import (
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// libcontainerConfig is the config startContainer gives libcontainer for in.
func libcontainerConfig(t *testing.T, in specInput) *configs.Config {
	t.Helper()
	s, err := buildSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{CgroupName: in.ID, Spec: s, RootlessCgroups: in.Rootless})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The standard mounts and devices come out of the config of every container den makes as
// usual, and out of no other: what an init attaches itself (initexec's premount.go) is what
// libcontainer would have mounted.
func TestTakeStandardMountsTakesExactlyWhatDenAlwaysMounts(t *testing.T) {
	in := baseInput()
	in.Binds = []specs.Mount{{Destination: "/etc/hosts", Type: "bind", Source: "/run/den/c/hosts", Options: []string{"bind", "rprivate"}}}
	cfg := libcontainerConfig(t, in)
	before := len(cfg.Mounts)
	if !takeStandardMounts(cfg) {
		t.Fatalf("den's usual config not taken: mounts %v", destinations(cfg.Mounts))
	}
	if len(cfg.Mounts) != before-len(standardMounts) || cfg.Devices != nil {
		t.Errorf("left %v and %d devices", destinations(cfg.Mounts), len(cfg.Devices))
	}
	for _, m := range cfg.Mounts {
		for _, std := range []string{"/proc", "/dev", "/sys"} {
			if m.Destination == std || strings.HasPrefix(m.Destination, std+"/") {
				t.Errorf("a standard mount left in the config: %s", m.Destination)
			}
		}
	}

	for name, change := range map[string]func(*specInput){
		"--shm-size":         func(in *specInput) { in.Security = &SecurityConfig{ShmSize: 1 << 20} },
		"the host's network": func(in *specInput) { in.HostNetwork = true },
		"another's network":  func(in *specInput) { in.NetNSPath = "/proc/1/ns/net" },
		"as root":            func(in *specInput) { in.Rootless = false },
		"--tmpfs /dev": func(in *specInput) {
			in.Binds = append(in.Binds, specs.Mount{Destination: "/dev/", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw"}})
		},
		"a volume at /proc": func(in *specInput) {
			in.Binds = append(in.Binds, specs.Mount{Destination: "/proc", Type: "bind", Source: "/tmp", Options: []string{"rbind"}})
		},
	} {
		in := baseInput()
		change(&in)
		cfg := libcontainerConfig(t, in)
		mounts, devices := len(cfg.Mounts), len(cfg.Devices)
		if takeStandardMounts(cfg) {
			t.Errorf("%s: taken", name)
		}
		if len(cfg.Mounts) != mounts || len(cfg.Devices) != devices {
			t.Errorf("%s: the config changed though not taken", name)
		}
	}
	// A mount the same in all but one setting, and the devices out of order.
	for i := range standardMounts {
		cfg := libcontainerConfig(t, baseInput())
		cfg.Mounts[i].Flags ^= 1 << 20
		if takeStandardMounts(cfg) {
			t.Errorf("%s with other flags: taken", cfg.Mounts[i].Destination)
		}
	}
	cfg = libcontainerConfig(t, baseInput())
	cfg.Devices[0], cfg.Devices[1] = cfg.Devices[1], cfg.Devices[0]
	if takeStandardMounts(cfg) {
		t.Error("devices out of order: taken")
	}
}

func destinations(ms []*configs.Mount) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Destination)
	}
	return out
}

// The binds of a container's hostname, hosts and resolv.conf come out of the config for the
// init to make, as den makes them (writeEtcFiles), and only where no other mount's order
// with them counts.
func TestTakeEtcMountsTakesDensOwnBindsAlone(t *testing.T) {
	const dir = "/run/den/c"
	etc := func(name string, opts ...string) specs.Mount {
		return specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: dir + "/" + name, Options: append([]string{"rbind", "rprivate"}, opts...)}
	}
	ours := []specs.Mount{etc("hostname"), etc("hosts"), etc("resolv.conf")}
	for _, tc := range []struct {
		name  string
		binds []specs.Mount
		want  []string
	}{
		{"den's three", ours, []string{"hostname", "hosts", "resolv.conf"}},
		{"--no-hosts", []specs.Mount{etc("hostname"), etc("resolv.conf")}, []string{"hostname", "resolv.conf"}},
		{"another's network", []specs.Mount{etc("hostname"), {Destination: "/etc/hosts", Type: "bind", Source: "/run/den/other/hosts", Options: []string{"rbind", "rprivate"}}}, []string{"hostname"}},
		{"read-only", []specs.Mount{etc("hostname", "ro"), etc("hosts")}, []string{"hosts"}},
		{"a volume at /etc", append(slices.Clone(ours), specs.Mount{Destination: "/etc", Type: "bind", Source: "/srv/etc", Options: []string{"rbind"}}), nil},
		{"a bind over /etc/hosts", append(slices.Clone(ours), specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: "/srv/hosts", Options: []string{"rbind"}}), nil},
		{"a mount at /", append(slices.Clone(ours), specs.Mount{Destination: "/", Type: "tmpfs", Source: "tmpfs"}), nil},
		{"a volume elsewhere in /etc", append(slices.Clone(ours), specs.Mount{Destination: "/etc/ssl", Type: "bind", Source: "/srv/ssl", Options: []string{"rbind"}}), []string{"hostname", "hosts", "resolv.conf"}},
	} {
		in := baseInput()
		in.Binds = tc.binds
		cfg := libcontainerConfig(t, in)
		before := destinations(cfg.Mounts)
		got := takeEtcMounts(cfg, dir)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: took %q, want %q", tc.name, got, tc.want)
		}
		after := destinations(cfg.Mounts)
		if len(after) != len(before)-len(tc.want) {
			t.Errorf("%s: mounts %q left of %q", tc.name, after, before)
		}
		for _, name := range tc.want {
			// Another mount at the same place (another's network) stays.
			if countOf(after, "/etc/"+name) != countOf(before, "/etc/"+name)-1 {
				t.Errorf("%s: /etc/%s taken and still in the config: %q", tc.name, name, after)
			}
		}
	}
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
