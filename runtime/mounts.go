package runtime

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/den-project/den/store/volume"
)

// Mount types a container can ask for.
const (
	MountBind   = "bind"
	MountVolume = "volume"
	MountTmpfs  = "tmpfs"
)

// Mount is one of a container's mounts as the user asked for it: -v, --mount, --tmpfs,
// --volumes-from or an image VOLUME. The record keeps it as asked; start turns it into an
// OCI mount.
type Mount struct {
	Type        string `json:"type"`
	Source      string `json:"source,omitempty"` // host path (bind) or volume name (volume)
	Destination string `json:"destination"`
	// Options are podman's: ro, rw, U, nocopy, z, Z, propagation, exec/suid/dev and their
	// negations, and for tmpfs size= and mode=.
	Options []string `json:"options,omitempty"`
}

// ReadOnly reports whether the mount is read-only.
func (m Mount) ReadOnly() bool { return m.has("ro") }

// Chown reports whether :U asked for the source to be owned by the container's user.
func (m Mount) Chown() bool { return m.has("U") }

// NoCopy reports whether a volume's first use skips copying the image's content into it.
func (m Mount) NoCopy() bool { return m.has("nocopy") }

func (m Mount) has(opt string) bool {
	for _, o := range m.Options {
		if o == opt {
			return true
		}
	}
	return false
}

// Propagation is the mount's propagation option, rprivate unless one was given.
func (m Mount) Propagation() string {
	for _, o := range m.Options {
		if propagations[o] {
			return o
		}
	}
	return "rprivate"
}

var propagations = map[string]bool{
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
}

// bindOptions are what -v takes for binds and volumes.
var bindOptions = map[string]bool{
	"ro": true, "rw": true, "z": true, "Z": true, "U": true, "nocopy": true, "copy": true,
	"bind": true, "rbind": true, "exec": true, "noexec": true, "suid": true, "nosuid": true,
	"dev": true, "nodev": true,
}

// ParseVolume parses a -v/--volume value: SRC:DST[:OPTS], or DST alone for an anonymous
// volume. SRC is a host path when it starts with / or . and a volume name otherwise.
func ParseVolume(spec string) (Mount, error) {
	parts := strings.Split(spec, ":")
	var m Mount
	switch len(parts) {
	case 1:
		m = Mount{Type: MountVolume, Destination: parts[0]}
	case 2, 3:
		m = Mount{Type: MountVolume, Source: parts[0], Destination: parts[1]}
		if len(parts) == 3 {
			if parts[2] == "" {
				return Mount{}, fmt.Errorf("volume %q: empty options after the last ':'", spec)
			}
			m.Options = strings.Split(parts[2], ",")
		}
	default:
		return Mount{}, fmt.Errorf("volume %q: want SOURCE:DESTINATION[:OPTIONS] or DESTINATION", spec)
	}
	if len(parts) > 1 {
		if m.Source == "" {
			return Mount{}, fmt.Errorf("volume %q: empty source: give a host path or a volume name", spec)
		}
		if strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, ".") {
			m.Type = MountBind
			abs, err := filepath.Abs(m.Source)
			if err != nil {
				return Mount{}, fmt.Errorf("volume %q: %w", spec, err)
			}
			m.Source = abs
		} else if err := volume.ValidateName(m.Source); err != nil {
			return Mount{}, fmt.Errorf("volume %q: %w", spec, err)
		}
	}
	if err := checkOptions(spec, m.Options, bindOptions); err != nil {
		return Mount{}, err
	}
	if m.Type == MountBind && m.NoCopy() {
		return Mount{}, fmt.Errorf("volume %q: nocopy applies to volumes, not to host directories", spec)
	}
	return m, checkDestination(spec, &m)
}

// ParseTmpfs parses a --tmpfs value: DST[:OPTS].
func ParseTmpfs(spec string) (Mount, error) {
	dst, opts, _ := strings.Cut(spec, ":")
	m := Mount{Type: MountTmpfs, Destination: dst}
	if opts != "" {
		m.Options = strings.Split(opts, ",")
	}
	for _, o := range m.Options {
		if err := checkTmpfsOption(spec, o); err != nil {
			return Mount{}, err
		}
	}
	return m, checkDestination(spec, &m)
}

func checkTmpfsOption(spec, o string) error {
	k, v, hasV := strings.Cut(o, "=")
	switch {
	case !hasV && (o == "ro" || o == "rw" || o == "exec" || o == "noexec" || o == "suid" || o == "nosuid" ||
		o == "dev" || o == "nodev" || o == "notmpcopyup" || propagations[o]):
		return nil
	case hasV && k == "size":
		if _, err := parseSize(v); err != nil {
			return fmt.Errorf("tmpfs %q: size %q: %w", spec, v, err)
		}
		return nil
	case hasV && k == "mode":
		if n, err := strconv.ParseUint(v, 8, 32); err != nil || n > 0o7777 {
			return fmt.Errorf("tmpfs %q: mode %q: want octal permissions such as 1777", spec, v)
		}
		return nil
	case hasV && (k == "uid" || k == "gid" || k == "nr_inodes"):
		if _, err := strconv.ParseUint(v, 10, 32); err != nil {
			return fmt.Errorf("tmpfs %q: %s %q: want a number", spec, k, v)
		}
		return nil
	}
	return fmt.Errorf("tmpfs %q: unknown option %q (size=, mode=, uid=, gid=, ro, rw, [no]exec, [no]suid, [no]dev)", spec, o)
}

// parseSize reads a tmpfs size: bytes, or a number with k, m or g.
func parseSize(s string) (uint64, error) {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"), strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("want a positive size such as 64m")
	}
	return n * mult, nil
}

// ParseMountFlag parses a --mount value: type=bind|volume|tmpfs,KEY=VALUE,...
func ParseMountFlag(spec string) (Mount, error) {
	var m Mount
	var opts []string
	for _, field := range strings.Split(spec, ",") {
		k, v, hasV := strings.Cut(field, "=")
		boolean := func() (bool, error) {
			if !hasV {
				return true, nil
			}
			b, err := strconv.ParseBool(v)
			if err != nil {
				return false, fmt.Errorf("--mount %q: %s=%q: want true or false", spec, k, v)
			}
			return b, nil
		}
		switch k {
		case "type":
			m.Type = v
		case "source", "src":
			m.Source = v
		case "target", "destination", "dst":
			m.Destination = v
		case "readonly", "ro":
			b, err := boolean()
			if err != nil {
				return Mount{}, err
			}
			if b {
				opts = append(opts, "ro")
			}
		case "bind-propagation":
			if !propagations[v] {
				return Mount{}, fmt.Errorf("--mount %q: bind-propagation %q: want one of private, rprivate, shared, rshared, slave, rslave", spec, v)
			}
			opts = append(opts, v)
		case "volume-nocopy", "U", "chown":
			b, err := boolean()
			if err != nil {
				return Mount{}, err
			}
			if b && k == "volume-nocopy" {
				opts = append(opts, "nocopy")
			} else if b {
				opts = append(opts, "U")
			}
		case "relabel", "z", "Z":
			// SELinux labels: nothing to do on a host without SELinux, as in podman.
		case "tmpfs-size":
			opts = append(opts, "size="+v)
		case "tmpfs-mode":
			opts = append(opts, "mode="+v)
		default:
			return Mount{}, fmt.Errorf("--mount %q: unknown key %q (type, source, target, readonly, bind-propagation, volume-nocopy, U, tmpfs-size, tmpfs-mode)", spec, k)
		}
	}
	m.Options = opts
	switch m.Type {
	case MountBind:
		if !filepath.IsAbs(m.Source) {
			return Mount{}, fmt.Errorf("--mount %q: a bind mount needs an absolute source=", spec)
		}
		m.Source = filepath.Clean(m.Source)
		if m.NoCopy() {
			return Mount{}, fmt.Errorf("--mount %q: volume-nocopy applies to volumes", spec)
		}
	case MountVolume:
		if m.Source != "" {
			if err := volume.ValidateName(m.Source); err != nil {
				return Mount{}, fmt.Errorf("--mount %q: %w", spec, err)
			}
		}
	case MountTmpfs:
		if m.Source != "" {
			return Mount{}, fmt.Errorf("--mount %q: a tmpfs has no source", spec)
		}
		for _, o := range m.Options {
			if err := checkTmpfsOption(spec, o); err != nil {
				return Mount{}, err
			}
		}
	case "":
		return Mount{}, fmt.Errorf("--mount %q: missing type= (bind, volume or tmpfs)", spec)
	default:
		return Mount{}, fmt.Errorf("--mount %q: type %q is not one of bind, volume, tmpfs", spec, m.Type)
	}
	return m, checkDestination(spec, &m)
}

func checkOptions(spec string, opts []string, known map[string]bool) error {
	seen := map[string]bool{}
	for _, o := range opts {
		if !known[o] && !propagations[o] {
			return fmt.Errorf("volume %q: unknown option %q (ro, rw, U, nocopy, z, Z, [r]private, [r]shared, [r]slave, [no]exec, [no]suid, [no]dev)", spec, o)
		}
		seen[o] = true
	}
	if seen["ro"] && seen["rw"] {
		return fmt.Errorf("volume %q: ro and rw together", spec)
	}
	return nil
}

// reservedDestinations are den's own mounts: a volume over them would hide /proc or /sys,
// which the container's isolation relies on.
var reservedDestinations = []string{"/proc", "/sys", "/dev"}

// checkDestination cleans a mount's destination and refuses relative ones, / and den's
// own mounts.
func checkDestination(spec string, m *Mount) error {
	if !filepath.IsAbs(m.Destination) {
		return fmt.Errorf("mount %q: destination %q must be an absolute path in the container", spec, m.Destination)
	}
	m.Destination = filepath.Clean(m.Destination)
	if m.Destination == "/" {
		return fmt.Errorf("mount %q: cannot mount over the container's /", spec)
	}
	for _, r := range reservedDestinations {
		if m.Destination == r || strings.HasPrefix(m.Destination, r+"/") {
			if r == "/dev" && m.Destination != r && m.Type != MountTmpfs {
				continue // a host device directory or file under /dev is podman's --volume /dev/x:/dev/x
			}
			return fmt.Errorf("mount %q: %s is the container's own and cannot be mounted over", spec, r)
		}
	}
	return nil
}

// mergeMounts adds the mounts of --volumes-from and the image's VOLUMEs under the user's own:
// a destination the user named wins. Duplicates among the user's own are an error.
func mergeMounts(own, from []Mount, imageVolumes []string) ([]Mount, error) {
	seen := map[string]bool{}
	out := make([]Mount, 0, len(own)+len(from)+len(imageVolumes))
	for _, m := range own {
		if seen[m.Destination] {
			return nil, fmt.Errorf("two mounts at %s: give each destination once", m.Destination)
		}
		seen[m.Destination] = true
		out = append(out, m)
	}
	for _, m := range from {
		if !seen[m.Destination] {
			seen[m.Destination] = true
			out = append(out, m)
		}
	}
	for _, dst := range imageVolumes {
		m := Mount{Type: MountVolume, Destination: dst}
		// An image cannot mount over / or /proc: such VOLUMEs are ignored, as are empty ones.
		if checkDestination(dst, &m) != nil || seen[m.Destination] {
			continue
		}
		seen[m.Destination] = true
		out = append(out, m)
	}
	return out, nil
}
