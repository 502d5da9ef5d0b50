package security

import (
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
