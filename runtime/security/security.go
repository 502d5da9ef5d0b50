// Package security holds the isolation defaults den applies to every container: the
// capability set, masked and read-only paths, and the seccomp profile. They match podman's
// defaults so that images behave the same under both engines.
package security

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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

// ContainerCapabilities is a container's capability set, as podman makes it: its default set
// (every capability the kernel has, with privileged) with add and drop applied. "ALL" in add
// stands for every capability; in drop, for all but those added. A name the kernel does not
// know, or one both added and dropped, is an error naming it.
func ContainerCapabilities(add, drop []string, privileged bool) ([]string, error) {
	if len(add) == 0 && len(drop) == 0 && !privileged {
		// The common case asks the kernel nothing (a file read per create and start).
		return slices.Clone(DefaultCapabilities), nil
	}
	all, err := capability.ListSupported()
	if err != nil {
		return nil, fmt.Errorf("listing the kernel's capabilities: %w", err)
	}
	known := map[string]bool{}
	var every []string
	for _, c := range all {
		n := "CAP_" + strings.ToUpper(c.String())
		known[n] = true
		every = append(every, n)
	}
	check := func(flag string, names []string) (map[string]bool, bool, error) {
		set, hasAll := map[string]bool{}, false
		for _, n := range names {
			if strings.EqualFold(strings.TrimSpace(n), "all") {
				hasAll = true
				continue
			}
			c := NormalizeCapability(n)
			if !known[c] {
				return nil, false, fmt.Errorf("%s %q: not a capability of this kernel (see capabilities(7), e.g. NET_ADMIN)", flag, n)
			}
			set[c] = true
		}
		return set, hasAll, nil
	}
	adds, addAll, err := check("--cap-add", add)
	if err != nil {
		return nil, err
	}
	drops, dropAll, err := check("--cap-drop", drop)
	if err != nil {
		return nil, err
	}
	if addAll && dropAll {
		return nil, errors.New("--cap-add ALL and --cap-drop ALL: give one of them")
	}
	for c := range adds {
		if drops[c] {
			return nil, fmt.Errorf("%s is given to both --cap-add and --cap-drop: give it to one", c)
		}
	}
	base := DefaultCapabilities
	if privileged || addAll {
		base = every
	}
	if dropAll {
		// --cap-drop ALL --cap-add NET_BIND_SERVICE: the ones added, alone.
		base = nil
	}
	var out []string
	for _, c := range every {
		if (slices.Contains(base, c) || adds[c]) && !drops[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// AddedCapabilities are the capabilities of add ("ALL": every one) that caps, a container's
// set, holds.
func AddedCapabilities(add, caps []string) []string {
	var out []string
	for _, c := range caps {
		for _, a := range add {
			if strings.EqualFold(strings.TrimSpace(a), "all") || NormalizeCapability(a) == c {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// rlimits are the resources --ulimit names, as setrlimit(2) does without RLIMIT_, in order:
// a table, not a map, so that no den command builds it at start-up.
var rlimits = [...]struct {
	name string
	num  int
}{
	{"as", unix.RLIMIT_AS}, {"core", unix.RLIMIT_CORE}, {"cpu", unix.RLIMIT_CPU}, {"data", unix.RLIMIT_DATA},
	{"fsize", unix.RLIMIT_FSIZE}, {"locks", unix.RLIMIT_LOCKS}, {"memlock", unix.RLIMIT_MEMLOCK},
	{"msgqueue", unix.RLIMIT_MSGQUEUE}, {"nice", unix.RLIMIT_NICE}, {"nofile", unix.RLIMIT_NOFILE},
	{"nproc", unix.RLIMIT_NPROC}, {"rss", unix.RLIMIT_RSS}, {"rtprio", unix.RLIMIT_RTPRIO},
	{"rttime", unix.RLIMIT_RTTIME}, {"sigpending", unix.RLIMIT_SIGPENDING}, {"stack", unix.RLIMIT_STACK},
}

// rlimitNamed is the resource number of a --ulimit name.
func rlimitNamed(name string) (int, bool) {
	for _, l := range rlimits {
		if l.name == name {
			return l.num, true
		}
	}
	return 0, false
}

// RlimitNumber is the resource number of an OCI rlimit type (RLIMIT_NOFILE).
func RlimitNumber(typ string) (int, bool) {
	return rlimitNamed(strings.ToLower(strings.TrimPrefix(typ, "RLIMIT_")))
}

// ParseUlimit reads --ulimit NAME=SOFT[:HARD] as podman does: NAME a resource of setrlimit(2)
// without RLIMIT_ (nofile, nproc, core...), the limits numbers, -1 or "unlimited" for none;
// HARD is SOFT when not given and may not be below it.
func ParseUlimit(s string) (specs.POSIXRlimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	name = strings.ToLower(strings.TrimSpace(name))
	if _, known := rlimitNamed(name); !ok || !known {
		names := make([]string, len(rlimits))
		for i, l := range rlimits {
			names[i] = l.name
		}
		return specs.POSIXRlimit{}, fmt.Errorf("--ulimit %q: use NAME=SOFT[:HARD] with NAME one of %s", s, strings.Join(names, ", "))
	}
	limit := func(v string) (uint64, error) {
		switch v = strings.TrimSpace(v); v {
		case "-1", "unlimited":
			return math.MaxUint64, nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("--ulimit %q: %q is not a number, -1 or unlimited", s, v)
		}
		return n, nil
	}
	softS, hardS, hasHard := strings.Cut(vals, ":")
	soft, err := limit(softS)
	if err != nil {
		return specs.POSIXRlimit{}, err
	}
	hard := soft
	if hasHard {
		if hard, err = limit(hardS); err != nil {
			return specs.POSIXRlimit{}, err
		}
	}
	if soft > hard {
		return specs.POSIXRlimit{}, fmt.Errorf("--ulimit %q: the soft limit is above the hard one", s)
	}
	return specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(name), Soft: soft, Hard: hard}, nil
}

// SecurityOpt is what --security-opt values ask for.
type SecurityOpt struct {
	NoNewPrivileges   bool
	SeccompUnconfined bool
}

// ParseSecurityOpts reads --security-opt values as podman does: no-new-privileges[=true|false]
// and seccomp=unconfined; label= and apparmor= values are accepted and mean nothing, as on a
// host without SELinux or AppArmor, which den does not drive.
func ParseSecurityOpts(opts []string) (SecurityOpt, error) {
	var o SecurityOpt
	for _, opt := range opts {
		k, v, hasV := strings.Cut(opt, "=")
		if !hasV {
			k, v, hasV = strings.Cut(opt, ":") // docker's old spelling
		}
		switch {
		case k == "no-new-privileges" && (!hasV || v == "true" || v == "false"):
			o.NoNewPrivileges = !hasV || v == "true"
		case k == "seccomp" && v == "unconfined":
			o.SeccompUnconfined = true
		case (k == "label" || k == "apparmor") && hasV && v != "":
		default:
			return o, fmt.Errorf("--security-opt %q: use no-new-privileges, seccomp=unconfined, label=... or apparmor=...", opt)
		}
	}
	return o, nil
}

// Device is a host device given to a container (--device).
type Device struct {
	Host, Container string
	// Perms are the cgroup access of den as root: r, w and m, as podman takes them.
	Perms        string
	Type         string // "c" or "b"
	Major, Minor int64
	Mode         os.FileMode
}

// ParseDevice reads --device HOST[:CONTAINER][:PERMS] as podman does and checks that HOST is
// a character or block device of this machine.
func ParseDevice(s string) (Device, error) {
	parts := strings.Split(s, ":")
	d := Device{Perms: "rwm"}
	switch len(parts) {
	case 1:
		d.Host, d.Container = parts[0], parts[0]
	case 2:
		d.Host, d.Container = parts[0], parts[1]
		if isPerms(parts[1]) {
			d.Container, d.Perms = parts[0], parts[1]
		}
	case 3:
		d.Host, d.Container, d.Perms = parts[0], parts[1], parts[2]
	default:
		return d, fmt.Errorf("--device %q: use HOST[:CONTAINER][:PERMS]", s)
	}
	if !filepath.IsAbs(d.Host) || !filepath.IsAbs(d.Container) || !isPerms(d.Perms) {
		return d, fmt.Errorf("--device %q: use absolute paths, HOST[:CONTAINER][:PERMS] with PERMS of r, w and m", s)
	}
	var st unix.Stat_t
	if err := unix.Stat(d.Host, &st); err != nil {
		return d, fmt.Errorf("--device %q: %w", s, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		d.Type = "c"
	case unix.S_IFBLK:
		d.Type = "b"
	default:
		return d, fmt.Errorf("--device %q: %s is not a device", s, d.Host)
	}
	d.Major, d.Minor = int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev)))
	d.Mode = os.FileMode(st.Mode & 0o777)
	return d, nil
}

// isPerms reports whether s is cgroup device access: some of r, w and m, once each.
func isPerms(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	for i, c := range s {
		if !strings.ContainsRune("rwm", c) || strings.ContainsRune(s[i+1:], c) {
			return false
		}
	}
	return true
}
