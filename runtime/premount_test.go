package runtime

import (
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
