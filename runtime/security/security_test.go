package security

import (
	"math"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSeccompProfileDeniesByDefaultAndLeavesOutX32(t *testing.T) {
	spec := &specs.Spec{Process: &specs.Process{Capabilities: Capabilities(DefaultCapabilities)}}
	p, err := Seccomp(spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.DefaultAction != specs.ActErrno {
		t.Fatalf("default action = %s, want errno", p.DefaultAction)
	}
	if len(p.Architectures) == 0 {
		t.Fatal("profile lists no architectures")
	}
	for _, a := range p.Architectures {
		if a == specs.ArchX32 {
			t.Fatal("x32 is still in the profile")
		}
	}
	allowsMount := false
	for _, s := range p.Syscalls {
		for _, n := range s.Names {
			if n == "mount" && s.Action == specs.ActAllow {
				allowsMount = true
			}
		}
	}
	if allowsMount {
		t.Fatal("mount is allowed without CAP_SYS_ADMIN")
	}
}

func TestCapabilitiesArePodmansDefaultSet(t *testing.T) {
	if len(DefaultCapabilities) != 11 {
		t.Fatalf("%d default capabilities, podman has 11", len(DefaultCapabilities))
	}
	for _, c := range []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE"} {
		for _, d := range DefaultCapabilities {
			if d == c {
				t.Fatalf("%s is in the default set", c)
			}
		}
	}
	if NormalizeCapability("net_admin") != "CAP_NET_ADMIN" || NormalizeCapability("CAP_KILL") != "CAP_KILL" {
		t.Fatal("NormalizeCapability does not give CAP_ names")
	}
}

func TestParseUlimit(t *testing.T) {
	for _, c := range []struct {
		in         string
		typ        string
		soft, hard uint64
		err        string
	}{
		{in: "nofile=1024:2048", typ: "RLIMIT_NOFILE", soft: 1024, hard: 2048},
		{in: "nproc=50", typ: "RLIMIT_NPROC", soft: 50, hard: 50},
		{in: "NOFILE=10", typ: "RLIMIT_NOFILE", soft: 10, hard: 10},
		{in: "core=-1", typ: "RLIMIT_CORE", soft: math.MaxUint64, hard: math.MaxUint64},
		{in: "memlock=unlimited:unlimited", typ: "RLIMIT_MEMLOCK", soft: math.MaxUint64, hard: math.MaxUint64},
		{in: "nofile=10:5", err: "soft limit is above"},
		{in: "nofile=abc", err: `"abc" is not a number`},
		{in: "nofile=1:", err: `"" is not a number`},
		{in: "bogus=1", err: "NAME one of"},
		{in: "nofile", err: "NAME one of"},
		{in: "", err: "NAME one of"},
	} {
		l, err := ParseUlimit(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "--ulimit") {
				t.Errorf("ParseUlimit(%q) = %v, %v; want an error with %q", c.in, l, err, c.err)
			}
			continue
		}
		if err != nil || l.Type != c.typ || l.Soft != c.soft || l.Hard != c.hard {
			t.Errorf("ParseUlimit(%q) = %+v, %v; want %s %d:%d", c.in, l, err, c.typ, c.soft, c.hard)
		}
	}
}

func FuzzParseUlimit(f *testing.F) {
	for _, s := range []string{"nofile=1024:2048", "core=-1", "nproc=unlimited", "x", "=", "nofile=1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseUlimit(s)
		if err == nil && (l.Soft > l.Hard || !strings.HasPrefix(l.Type, "RLIMIT_")) {
			t.Fatalf("ParseUlimit(%q) = %+v: accepted a soft limit above the hard one or a bad type", s, l)
		}
		if err == nil {
			if _, ok := RlimitNumber(l.Type); !ok {
				t.Fatalf("ParseUlimit(%q) gave type %s, which has no number", s, l.Type)
			}
		}
	})
}

func TestContainerCapabilities(t *testing.T) {
	has := func(caps []string, c string) bool { return slices.Contains(caps, c) }
	def, err := ContainerCapabilities(nil, nil, false)
	if err != nil || len(def) != len(DefaultCapabilities) {
		t.Fatalf("defaults: %v, %v", def, err)
	}
	caps, err := ContainerCapabilities([]string{"net_admin", "CAP_SYS_PTRACE"}, []string{"chown"}, false)
	if err != nil || !has(caps, "CAP_NET_ADMIN") || !has(caps, "CAP_SYS_PTRACE") || has(caps, "CAP_CHOWN") || len(caps) != len(def)+1 {
		t.Errorf("add two, drop one: %v, %v", caps, err)
	}
	caps, err = ContainerCapabilities([]string{"NET_BIND_SERVICE"}, []string{"all"}, false)
	if err != nil || len(caps) != 1 || caps[0] != "CAP_NET_BIND_SERVICE" {
		t.Errorf("drop ALL, add one: %v, %v", caps, err)
	}
	all, err := ContainerCapabilities(nil, nil, true)
	if err != nil || !has(all, "CAP_SYS_ADMIN") || len(all) < 38 {
		t.Errorf("privileged: %v, %v", all, err)
	}
	caps, err = ContainerCapabilities([]string{"ALL"}, []string{"SYS_ADMIN"}, false)
	if err != nil || has(caps, "CAP_SYS_ADMIN") || len(caps) != len(all)-1 {
		t.Errorf("add ALL, drop one: %v, %v", caps, err)
	}
	for _, bad := range []struct{ add, drop []string }{
		{[]string{"NOPE"}, nil}, {nil, []string{"CAP_"}}, {[]string{"chown"}, []string{"CAP_CHOWN"}}, {[]string{"all"}, []string{"ALL"}},
	} {
		if caps, err := ContainerCapabilities(bad.add, bad.drop, false); err == nil {
			t.Errorf("add %v drop %v: want an error, got %v", bad.add, bad.drop, caps)
		}
	}
}

func TestParseSecurityOpts(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want SecurityOpt
		bad  bool
	}{
		{in: []string{"no-new-privileges"}, want: SecurityOpt{NoNewPrivileges: true}},
		{in: []string{"no-new-privileges=true", "seccomp=unconfined"}, want: SecurityOpt{NoNewPrivileges: true, SeccompUnconfined: true}},
		{in: []string{"no-new-privileges:false"}, want: SecurityOpt{}},
		{in: []string{"label=disable", "apparmor=unconfined"}, want: SecurityOpt{}},
		{in: []string{"seccomp=/profile.json"}, bad: true},
		{in: []string{"label="}, bad: true},
		{in: []string{"no-new-privileges=maybe"}, bad: true},
		{in: []string{"bogus"}, bad: true},
	} {
		got, err := ParseSecurityOpts(c.in)
		if c.bad != (err != nil) || (!c.bad && got != c.want) {
			t.Errorf("ParseSecurityOpts(%q) = %+v, %v", c.in, got, err)
		}
	}
}

func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		in, host, ctr, perms string
		bad                  bool
	}{
		{in: "/dev/null", host: "/dev/null", ctr: "/dev/null", perms: "rwm"},
		{in: "/dev/null:/dev/x", host: "/dev/null", ctr: "/dev/x", perms: "rwm"},
		{in: "/dev/null:r", host: "/dev/null", ctr: "/dev/null", perms: "r"},
		{in: "/dev/null:/dev/x:rw", host: "/dev/null", ctr: "/dev/x", perms: "rw"},
		{in: "/dev/null:/dev/x:rr", bad: true},
		{in: "/dev/null:/dev/x:q", bad: true},
		{in: "/dev/null:dev/x", bad: true},
		{in: "/etc/passwd", bad: true},
		{in: "/nosuch", bad: true},
		{in: "/dev/null:/a:r:x", bad: true},
		{in: "", bad: true},
	} {
		d, err := ParseDevice(c.in)
		if c.bad {
			if err == nil || !strings.Contains(err.Error(), "--device") {
				t.Errorf("ParseDevice(%q) = %+v, %v; want an error naming --device", c.in, d, err)
			}
			continue
		}
		if err != nil || d.Host != c.host || d.Container != c.ctr || d.Perms != c.perms || d.Type != "c" || d.Major != 1 || d.Minor != 3 {
			t.Errorf("ParseDevice(%q) = %+v, %v", c.in, d, err)
		}
	}
}

func FuzzParseDevice(f *testing.F) {
	for _, s := range []string{"/dev/null", "/dev/null:/dev/x:rw", "a:b:c:d", ":", "/dev/null::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDevice(s)
		if err == nil && (!isPerms(d.Perms) || (d.Type != "c" && d.Type != "b") || !strings.HasPrefix(d.Container, "/")) {
			t.Fatalf("ParseDevice(%q) accepted %+v", s, d)
		}
	})
}

func TestDefaultCapabilitiesAreACopy(t *testing.T) {
	caps, err := ContainerCapabilities(nil, nil, false)
	if err != nil || !slices.Equal(caps, DefaultCapabilities) {
		t.Fatalf("want podman's default set, got %v, %v", caps, err)
	}
	caps[0] = "CAP_SYS_ADMIN"
	if DefaultCapabilities[0] == "CAP_SYS_ADMIN" {
		t.Fatal("changing a container's set changed the defaults")
	}
}
