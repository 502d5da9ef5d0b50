// Package security holds the isolation defaults den applies to every container: the
// capability set, masked and read-only paths, and the seccomp profile. They match podman's
// defaults so that images behave the same under both engines.
package security

import (
	"fmt"
	"strings"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultCapabilities is podman's default set for containers.
var DefaultCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_NET_BIND_SERVICE",
	"CAP_SETFCAP",
	"CAP_SETGID",
	"CAP_SETPCAP",
	"CAP_SETUID",
	"CAP_SYS_CHROOT",
}

// MaskedPaths are hidden from the container (bind-mounted over with /dev/null or an empty
// read-only tmpfs).
var MaskedPaths = []string{
	"/proc/acpi",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/proc/interrupts",
	"/sys/firmware",
	"/sys/fs/selinux",
	"/sys/dev/block",
}

// ReadonlyPaths are visible but cannot be written.
var ReadonlyPaths = []string{
	"/proc/asound",
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// Capabilities returns the OCI capability sets for a container process that has caps (the
// bounding, effective, permitted sets; ambient and inheritable stay empty as in podman).
func Capabilities(caps []string) *specs.LinuxCapabilities {
	c := append([]string(nil), caps...)
	return &specs.LinuxCapabilities{Bounding: c, Effective: c, Permitted: c}
}

// NormalizeCapability turns "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" into CAP_NET_ADMIN.
func NormalizeCapability(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "CAP_") {
		s = "CAP_" + s
	}
	return s
}

// Seccomp returns the default profile, tailored to the spec's capabilities as Docker and
// podman do (a container with CAP_SYS_ADMIN may call mount, and so on).
func Seccomp(spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	p, err := seccomp.GetDefaultProfile(spec)
	if err != nil {
		return nil, fmt.Errorf("building the default seccomp profile: %w", err)
	}
	// The x32 ABI has next to no userland and kernels boot with it off; leaving it out of
	// the filter halves what libseccomp compiles in every container start (~15 ms here) and
	// makes its syscalls fail instead of being allowed.
	keep := p.Architectures[:0]
	for _, a := range p.Architectures {
		if a != specs.ArchX32 {
			keep = append(keep, a)
		}
	}
	p.Architectures = keep
	return p, nil
}
