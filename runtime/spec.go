package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/den-project/den/runtime/security"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ErrNoCommand is returned when neither the image nor the user gives a command.
var ErrNoCommand = errors.New("no command or entrypoint provided, and no CMD or ENTRYPOINT from image")

// defaultPath is podman's PATH for images that set none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Command computes the process arguments from the image and the user's choices, with
// podman's precedence: --entrypoint replaces the image's entrypoint and, unless empty, drops
// its Cmd; the user's arguments replace the Cmd.
func Command(img imgspecv1.ImageConfig, entrypoint *[]string, args []string) ([]string, error) {
	ep, cmd := img.Entrypoint, img.Cmd
	if entrypoint != nil {
		// podman: a new entrypoint drops the image's Cmd, an empty one keeps it.
		ep = *entrypoint
		if len(ep) > 0 {
			cmd = nil
		}
	}
	if len(args) > 0 {
		cmd = args
	}
	out := append(append([]string{}, ep...), cmd...)
	if len(out) == 0 {
		return nil, ErrNoCommand
	}
	return out, nil
}

// ParseEntrypoint reads --entrypoint: a JSON array, or one command; "" clears the image's.
func ParseEntrypoint(s string) ([]string, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "[") {
		var arr []string
		if err := json.Unmarshal([]byte(t), &arr); err != nil {
			return nil, fmt.Errorf("--entrypoint %q is not a JSON array of strings: %w", s, err)
		}
		return arr, nil
	}
	if s == "" {
		return []string{}, nil
	}
	return []string{s}, nil
}

// Env merges the environment: the image's, then env files, then -e, later keys winning, in
// first-seen order. "-e NAME" without a value copies NAME from lookup, or drops it if unset.
func Env(image []string, files [][]string, flags []string, lookup func(string) (string, bool)) ([]string, error) {
	var order []string
	vals := map[string]string{}
	set := func(kv string, fromUser bool) error {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return fmt.Errorf("environment variable %q has no name: use NAME=VALUE", kv)
		}
		if !ok {
			if !fromUser {
				return nil
			}
			hv, found := lookup(k)
			if !found {
				return nil
			}
			v = hv
		}
		if _, seen := vals[k]; !seen {
			order = append(order, k)
		}
		vals[k] = v
		return nil
	}
	for _, kv := range image {
		if err := set(kv, false); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		for _, kv := range f {
			if err := set(kv, true); err != nil {
				return nil, err
			}
		}
	}
	for _, kv := range flags {
		if err := set(kv, true); err != nil {
			return nil, err
		}
	}
	out := make([]string, 0, len(order)+1)
	if _, ok := vals["PATH"]; !ok {
		out = append(out, defaultPath)
	}
	for _, k := range order {
		out = append(out, k+"="+vals[k])
	}
	return out, nil
}

// ReadEnvFiles reads --env-file's files in order, each as ParseEnvFile does.
func ReadEnvFiles(paths []string) ([][]string, error) {
	var files [][]string
	for _, p := range paths {
		kv, err := ParseEnvFile(p)
		if err != nil {
			return nil, err
		}
		files = append(files, kv)
	}
	return files, nil
}

// ParseEnvFile reads an --env-file: NAME=VALUE lines, # comments and blank lines ignored,
// a bare NAME taken from the caller's environment.
func ParseEnvFile(path string) ([]string, error) { return readKeyValueLines(path, "env file") }

// ParseLabelFile reads a --label-file as podman does: KEY=VALUE lines, # comments and blank
// lines ignored, a bare KEY a label with an empty value.
func ParseLabelFile(path string) (map[string]string, error) {
	lines, err := readKeyValueLines(path, "label file")
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(lines))
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		out[k] = v
	}
	return out, nil
}

// readKeyValueLines reads the KEY=VALUE (or bare KEY) lines of path, a kind of file, without
// the blank lines and # comments.
func readKeyValueLines(path, kind string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", kind, err)
	}
	var out []string
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		k, _, _ := strings.Cut(strings.TrimLeft(line, " \t"), "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s %s line %d: %q is not NAME=VALUE", kind, path, n+1, t)
		}
		out = append(out, strings.TrimLeft(line, " \t"))
	}
	return out, nil
}

// setEnv sets key in env unless already there.
func setEnvDefault(env []string, key, val string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return env
		}
	}
	return append(env, key+"="+val)
}

// specInput is what Spec needs to describe one container.
type specInput struct {
	ID, Hostname string
	Rootfs       string
	Args, Env    []string
	Cwd          string
	UID, GID     uint32
	Groups       []uint32
	Terminal     bool
	// IDMapSize > 0 gives the container its own user namespace mapping ids 0..size-1 to the
	// same ids of den's namespace.
	IDMapSize uint32
	Seccomp   bool
	// Rootless: den runs in its own user namespace and cannot create cgroups.
	Rootless bool
	// Binds are extra bind mounts (hosts, hostname, resolv.conf).
	Binds []specs.Mount
	// HostNetwork keeps den's network namespace, the host's: no namespace of its own, and
	// the host's /sys bound read-only (sysfs cannot be mounted for a namespace den does
	// not own).
	HostNetwork bool
	// NetNSPath joins an existing network namespace (another container's, or one made for
	// this container ahead of it, which NetNSOwn says).
	NetNSPath string
	NetNSOwn  bool
	// Security is nil for den's defaults.
	Security *SecurityConfig
	// Devices are host devices for the container (--device).
	Devices []security.Device
	// Umask is the processes' umask, nil for 0022; Sysctls and Annotations go into the
	// spec as they are.
	Umask       *uint32
	Sysctls     map[string]string
	Annotations map[string]string
}

// buildSpec makes the OCI runtime spec of a container with den's defaults.
func buildSpec(in specInput) (*specs.Spec, error) {
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: in.Rootfs},
		Hostname: in.Hostname,
		Process: &specs.Process{
			Terminal: in.Terminal,
			Args:     in.Args,
			Env:      in.Env,
			Cwd:      in.Cwd,
			User:     specs.User{UID: in.UID, GID: in.GID, AdditionalGids: in.Groups, Umask: in.Umask},
		},
		Annotations: in.Annotations,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			MaskedPaths:   append([]string(nil), security.MaskedPaths...),
			ReadonlyPaths: append([]string(nil), security.ReadonlyPaths...),
			Sysctl:        in.Sysctls,
		},
	}
	sec := in.Security
	if sec == nil {
		sec = &SecurityConfig{}
	}
	caps, err := security.ContainerCapabilities(sec.CapAdd, sec.CapDrop, sec.Privileged)
	if err != nil {
		return nil, err
	}
	s.Process.Capabilities = security.Capabilities(caps)
	if added := security.AddedCapabilities(sec.CapAdd, caps); in.UID != 0 && len(added) > 0 {
		// A user other than root loses its capabilities at exec, but for ambient ones: as
		// podman does, the added ones are made ambient for it; the rest stay bounding only.
		c := s.Process.Capabilities
		c.Effective, c.Permitted, c.Inheritable, c.Ambient = added, added, added, added
	}
	opt, err := security.ParseSecurityOpts(sec.SecurityOpt)
	if err != nil {
		return nil, err
	}
	s.Process.NoNewPrivileges = opt.NoNewPrivileges
	s.Process.Rlimits = sec.Ulimits
	if sec.Privileged {
		// As podman's: the kernel's files are not hidden (the user namespace still bounds
		// what the container can do with them).
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	}
	if sec.ShmSize > 0 {
		for i, m := range s.Mounts {
			if m.Destination == "/dev/shm" {
				s.Mounts[i].Options = append(slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return strings.HasPrefix(o, "size=") }),
					"size="+strconv.FormatInt(sec.ShmSize, 10))
			}
		}
	}
	if sec.ReadOnly {
		// podman's --read-only-tmpfs, on by default: scratch space where programs expect it.
		s.Root.Readonly = true
		for _, d := range []string{"/tmp", "/var/tmp", "/run"} {
			mode := "mode=1777"
			if d == "/run" {
				mode = "mode=755"
			}
			s.Mounts = append(s.Mounts, specs.Mount{Destination: d, Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "nosuid", "nodev", mode}})
		}
	}
	s.Mounts = append(s.Mounts, in.Binds...)
	for _, d := range in.Devices {
		if in.Rootless {
			// No device nodes can be made in a user namespace: the host's is bound in.
			s.Mounts = append(s.Mounts, specs.Mount{Destination: d.Container, Type: "bind", Source: d.Host, Options: []string{"bind", "nosuid", "noexec"}})
			continue
		}
		mode, zero := d.Mode, uint32(0)
		s.Linux.Devices = append(s.Linux.Devices, specs.LinuxDevice{Path: d.Container, Type: d.Type, Major: d.Major, Minor: d.Minor, FileMode: &mode, UID: &zero, GID: &zero})
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		major, minor := d.Major, d.Minor
		s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: d.Perms})
	}
	if in.HostNetwork || in.NetNSPath != "" {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type == specs.NetworkNamespace {
				if in.HostNetwork {
					continue
				}
				n.Path = in.NetNSPath
			}
			ns = append(ns, n)
		}
		s.Linux.Namespaces = ns
		for i, m := range s.Mounts {
			// A namespace of the container's own gets its own sysfs; another's or the
			// host's shows through the host's.
			if m.Destination == "/sys" && !in.NetNSOwn {
				s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
			}
		}
	}
	if !in.Rootless {
		// Rootless, libcontainer skips hierarchies it cannot write only when no path is asked
		// for; as root each container gets its own cgroup under den/.
		s.Linux.CgroupsPath = "/den/" + in.ID
		if r := resources(sec); r != nil {
			if s.Linux.Resources != nil {
				r.Devices = s.Linux.Resources.Devices // --device's, above
			}
			s.Linux.Resources = r
		}
	}
	if in.IDMapSize > 0 {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: in.IDMapSize}}
		s.Linux.UIDMappings, s.Linux.GIDMappings = m, m
	}
	if in.Seccomp && !sec.Privileged && !opt.SeccompUnconfined {
		p, err := security.Seccomp(s)
		if err != nil {
			return nil, err
		}
		s.Linux.Seccomp = p
	}
	return s, nil
}

// cpuPeriod is the CFS period --cpus is expressed in, as podman's (100 ms).
const cpuPeriod = 100000

// resources are the cgroup limits of --memory, --cpus and --pids-limit; nil for none.
func resources(sec *SecurityConfig) *specs.LinuxResources {
	if sec.Memory == 0 && sec.NanoCPUs == 0 && sec.PidsLimit == 0 {
		return nil
	}
	r := &specs.LinuxResources{}
	if sec.Memory > 0 {
		m := sec.Memory
		r.Memory = &specs.LinuxMemory{Limit: &m}
	}
	if sec.NanoCPUs > 0 {
		quota, period := sec.NanoCPUs*cpuPeriod/1e9, uint64(cpuPeriod)
		r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	if sec.PidsLimit > 0 {
		n := sec.PidsLimit
		r.Pids = &specs.LinuxPids{Limit: &n}
	}
	return r
}
