package runtime

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/den-project/den/runtime/security"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func strs(s ...string) []string { return s }

func TestCommand(t *testing.T) {
	img := imgspecv1.ImageConfig{Entrypoint: strs("/entry", "--flag"), Cmd: strs("serve", "--port=80")}
	cmdOnly := imgspecv1.ImageConfig{Cmd: strs("sh")}
	entryOnly := imgspecv1.ImageConfig{Entrypoint: strs("/bin/app")}
	empty := []string{}
	cases := []struct {
		name       string
		img        imgspecv1.ImageConfig
		entrypoint *[]string
		args       []string
		want       []string
		wantErr    error
	}{
		{"runs the image's entrypoint with its cmd", img, nil, nil, strs("/entry", "--flag", "serve", "--port=80"), nil},
		{"runs the image's cmd alone when it has no entrypoint", cmdOnly, nil, nil, strs("sh"), nil},
		{"runs the image's entrypoint alone when it has no cmd", entryOnly, nil, nil, strs("/bin/app"), nil},
		{"replaces the image's cmd with the user's arguments", img, nil, strs("debug", "-v"), strs("/entry", "--flag", "debug", "-v"), nil},
		{"runs the user's arguments on an image with only a cmd", cmdOnly, nil, strs("echo", "hi"), strs("echo", "hi"), nil},
		{"treats an empty argument list as no arguments", img, nil, []string{}, strs("/entry", "--flag", "serve", "--port=80"), nil},
		{"replaces the entrypoint and drops the image's cmd for --entrypoint", img, &[]string{"/other"}, nil, strs("/other"), nil},
		{"keeps the user's arguments after --entrypoint", img, &[]string{"/other"}, strs("a", "b"), strs("/other", "a", "b"), nil},
		{"clears the entrypoint for --entrypoint \"\" and runs the arguments", img, &empty, strs("ls", "/"), strs("ls", "/"), nil},
		// podman maps --entrypoint "" to an empty entrypoint, and makeCommand takes the image's
		// Cmd whenever the entrypoint it was given is empty (len(s.Entrypoint) == 0).
		{"runs the image's cmd alone for --entrypoint \"\" without arguments, as podman does", img, &empty, nil, strs("serve", "--port=80"), nil},
		{"fails for --entrypoint \"\" without arguments on an image without a cmd", entryOnly, &empty, nil, nil, ErrNoCommand},
		{"fails when neither image nor user gives a command", imgspecv1.ImageConfig{}, nil, nil, nil, ErrNoCommand},
		{"runs the user's arguments on an image without any command", imgspecv1.ImageConfig{}, nil, strs("true"), strs("true"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Command(c.img, c.entrypoint, c.args)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("Command = %q, want %q", got, c.want)
			}
		})
	}
}

func TestCommandDoesNotModifyTheImageConfig(t *testing.T) {
	img := imgspecv1.ImageConfig{Entrypoint: make([]string, 1, 10), Cmd: strs("a")}
	img.Entrypoint[0] = "/e"
	got, err := Command(img, nil, strs("x"))
	if err != nil {
		t.Fatal(err)
	}
	got[0] = "changed"
	if img.Entrypoint[0] != "/e" || !slices.Equal(img.Cmd, strs("a")) {
		t.Errorf("image config changed to %+v", img)
	}
	if extra := img.Entrypoint[:2]; extra[1] != "" {
		t.Errorf("Command wrote into the spare capacity of the image's entrypoint: %q", extra)
	}
}

func TestParseEntrypoint(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{"reads \"\" as an empty entrypoint that clears the image's", "", []string{}, false},
		{"reads a single command as one argument", "/bin/sh", strs("/bin/sh"), false},
		{"keeps spaces in a single command as one argument", "/bin/my app", strs("/bin/my app"), false},
		{"reads a JSON array", `["/bin/sh","-c"]`, strs("/bin/sh", "-c"), false},
		{"reads a JSON array with surrounding spaces", `  ["/bin/echo", "hi there"] `, strs("/bin/echo", "hi there"), false},
		{"reads an empty JSON array as clearing the entrypoint", `[]`, []string{}, false},
		{"rejects broken JSON", `["/bin/sh"`, nil, true},
		{"rejects a JSON array of numbers", `[1, 2]`, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseEntrypoint(c.in)
			if (err != nil) != c.wantErr {
				t.Fatalf("ParseEntrypoint(%q) err = %v, wantErr %v", c.in, err, c.wantErr)
			}
			if c.wantErr {
				if !strings.Contains(err.Error(), "--entrypoint") {
					t.Errorf("error %q does not name the flag", err)
				}
				return
			}
			if got == nil {
				t.Fatalf("ParseEntrypoint(%q) = nil; a nil slice would not clear the image's entrypoint", c.in)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("ParseEntrypoint(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestEnv(t *testing.T) {
	host := lookupIn(map[string]string{"HOSTVAR": "from-host", "EMPTY": "", "PATH": "/host/bin"})
	cases := []struct {
		name    string
		image   []string
		files   [][]string
		flags   []string
		want    []string
		wantErr bool
	}{
		{
			name:  "adds the default PATH first when nobody sets one",
			image: strs("A=1"),
			want:  strs(defaultPath, "A=1"),
		},
		{
			name: "gives an image without any environment the default PATH",
			want: strs(defaultPath),
		},
		{
			name:  "keeps the image's PATH instead of the default",
			image: strs("PATH=/opt/bin", "A=1"),
			want:  strs("PATH=/opt/bin", "A=1"),
		},
		{
			name:  "keeps a PATH set by a flag instead of the default",
			flags: strs("PATH=/mine"),
			want:  strs("PATH=/mine"),
		},
		{
			name:  "lets env files override the image and flags override both, in first-seen order",
			image: strs("PATH=/bin", "A=image", "B=image"),
			files: [][]string{strs("B=file", "C=file"), strs("C=file2", "D=file2")},
			flags: strs("D=flag", "A=flag", "E=flag"),
			want:  strs("PATH=/bin", "A=flag", "B=file", "C=file2", "D=flag", "E=flag"),
		},
		{
			name:  "lets the last of repeated flags win",
			flags: strs("A=1", "A=2", "A=3"),
			want:  strs(defaultPath, "A=3"),
		},
		{
			name:  "copies a bare flag from the host",
			flags: strs("HOSTVAR"),
			want:  strs(defaultPath, "HOSTVAR=from-host"),
		},
		{
			name:  "copies a bare flag set to the empty string on the host",
			flags: strs("EMPTY"),
			want:  strs(defaultPath, "EMPTY="),
		},
		{
			name:  "drops a bare flag that the host does not set",
			flags: strs("MISSING"),
			want:  strs(defaultPath),
		},
		{
			name:  "keeps the image's value for a bare flag the host does not set",
			image: strs("MISSING=image"),
			flags: strs("MISSING"),
			want:  strs(defaultPath, "MISSING=image"),
		},
		{
			name:  "copies a bare name in an env file from the host",
			files: [][]string{strs("HOSTVAR")},
			want:  strs(defaultPath, "HOSTVAR=from-host"),
		},
		{
			name:  "copies the host's PATH for a bare -e PATH",
			flags: strs("PATH"),
			want:  strs("PATH=/host/bin"),
		},
		{
			name:  "ignores a bare name in the image's environment",
			image: strs("NOVALUE", "A=1"),
			want:  strs(defaultPath, "A=1"),
		},
		{
			name:  "keeps '=' inside values and empty values",
			flags: strs("A=b=c", "B="),
			want:  strs(defaultPath, "A=b=c", "B="),
		},
		{
			name:    "rejects a flag without a name",
			flags:   strs("=x"),
			wantErr: true,
		},
		{
			name:    "rejects an env file line without a name",
			files:   [][]string{strs("=x")},
			wantErr: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Env(c.image, c.files, c.flags, host)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if c.wantErr {
				if !strings.Contains(err.Error(), "NAME=VALUE") {
					t.Errorf("error %q does not say how to fix it", err)
				}
				return
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("Env = %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseEnvFile(t *testing.T) {
	cases := []struct {
		name    string
		content string
		want    []string
		wantErr string
	}{
		{
			name:    "reads NAME=VALUE lines and skips comments and blank lines",
			content: "# a comment\nA=1\n\n   \n  # indented comment\nB=two words\n",
			want:    strs("A=1", "B=two words"),
		},
		{
			name:    "strips the carriage returns of CRLF files",
			content: "A=1\r\nB=2\r\n\r\n",
			want:    strs("A=1", "B=2"),
		},
		{
			name:    "keeps a bare NAME for the caller to look up",
			content: "HOME\nA=1\n",
			want:    strs("HOME", "A=1"),
		},
		{
			name:    "drops leading whitespace but keeps the value's trailing spaces",
			content: "  A=1  \n\tB=2\n",
			want:    strs("A=1  ", "B=2"),
		},
		{
			name:    "keeps '=' and '#' inside values",
			content: "A=b=c#d\n",
			want:    strs("A=b=c#d"),
		},
		{
			name:    "reads a file without a final newline",
			content: "A=1",
			want:    strs("A=1"),
		},
		{
			name:    "reads an empty file as no variables",
			content: "",
			want:    nil,
		},
		{
			name:    "rejects a line with spaces in its name, naming the line",
			content: "A=1\n# ok\nbad line with space\n",
			wantErr: "line 3",
		},
		{
			name:    "rejects a space before '='",
			content: "A =1\n",
			wantErr: "line 1",
		},
		{
			name:    "rejects a line without a name",
			content: "A=1\n=value\n",
			wantErr: "line 2",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "env")
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ParseEnvFile(path)
			if c.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseEnvFile = %q, want an error", got)
				}
				if !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file and %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseEnvFile: %v", err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("ParseEnvFile = %q, want %q", got, c.want)
			}
		})
	}
}

func TestParseEnvFileReportsAMissingFile(t *testing.T) {
	if _, err := ParseEnvFile(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want one wrapping os.ErrNotExist", err)
	}
}

// podmanCapabilities is podman's default capability set (containers.conf default_capabilities).
var podmanCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
	"CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
}

func baseInput() specInput {
	return specInput{
		ID:       strings.Repeat("ab", 32),
		Hostname: "abababababab",
		Rootfs:   "/var/lib/den/storage/overlay/x/merged",
		Args:     strs("/bin/sh", "-c", "echo hi"),
		Env:      strs(defaultPath, "TERM=xterm"),
		Cwd:      "/srv",
		UID:      1000, GID: 100, Groups: []uint32{10, 20},
		Terminal: true,
		Rootless: true,
	}
}

func TestBuildSpecCarriesTheProcessAndRoot(t *testing.T) {
	in := baseInput()
	s, err := buildSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != specs.Version {
		t.Errorf("Version = %q, want %q", s.Version, specs.Version)
	}
	if s.Root == nil || s.Root.Path != in.Rootfs {
		t.Errorf("Root = %+v, want path %q", s.Root, in.Rootfs)
	}
	if s.Hostname != in.Hostname {
		t.Errorf("Hostname = %q, want %q", s.Hostname, in.Hostname)
	}
	p := s.Process
	if !slices.Equal(p.Args, in.Args) || !slices.Equal(p.Env, in.Env) || p.Cwd != in.Cwd || !p.Terminal {
		t.Errorf("Process = %+v, does not carry the input", p)
	}
	if p.User.UID != 1000 || p.User.GID != 100 || !slices.Equal(p.User.AdditionalGids, []uint32{10, 20}) {
		t.Errorf("User = %+v, want 1000:100 with groups 10, 20", p.User)
	}
}

func TestBuildSpecGivesPodmansDefaultCapabilities(t *testing.T) {
	s, err := buildSpec(baseInput())
	if err != nil {
		t.Fatal(err)
	}
	c := s.Process.Capabilities
	if c == nil {
		t.Fatal("no capabilities")
	}
	want := slices.Sorted(slices.Values(podmanCapabilities))
	for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
		if got := slices.Sorted(slices.Values(set)); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want podman's %q", name, got, want)
		}
	}
	if len(c.Ambient) != 0 || len(c.Inheritable) != 0 {
		t.Errorf("ambient %q, inheritable %q; want both empty as in podman", c.Ambient, c.Inheritable)
	}
}

func TestBuildSpecMasksAndProtectsKernelPaths(t *testing.T) {
	s, err := buildSpec(baseInput())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"} {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("masked paths %q lack %s", s.Linux.MaskedPaths, p)
		}
	}
	for _, p := range []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"} {
		if !slices.Contains(s.Linux.ReadonlyPaths, p) {
			t.Errorf("read-only paths %q lack %s", s.Linux.ReadonlyPaths, p)
		}
	}
}

func TestBuildSpecDoesNotShareTheDefaultsWithCallers(t *testing.T) {
	// A caller tailoring one container's spec (unmasking a path, dropping a capability) must
	// not change the next container's defaults.
	masked, readonly := slices.Clone(security.MaskedPaths), slices.Clone(security.ReadonlyPaths)
	t.Cleanup(func() { copy(security.MaskedPaths, masked); copy(security.ReadonlyPaths, readonly) })
	s1, err := buildSpec(baseInput())
	if err != nil {
		t.Fatal(err)
	}
	s1.Linux.MaskedPaths[0] = "/changed"
	s1.Linux.ReadonlyPaths[0] = "/changed"
	s1.Process.Capabilities.Effective[0] = "CAP_CHANGED"
	s2, err := buildSpec(baseInput())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(s2.Linux.MaskedPaths, "/changed") {
		t.Errorf("editing one spec's masked paths changed the defaults: %q", s2.Linux.MaskedPaths)
	}
	if slices.Contains(s2.Linux.ReadonlyPaths, "/changed") {
		t.Errorf("editing one spec's read-only paths changed the defaults: %q", s2.Linux.ReadonlyPaths)
	}
	if slices.Contains(s2.Process.Capabilities.Effective, "CAP_CHANGED") {
		t.Errorf("editing one spec's capabilities changed the defaults: %q", s2.Process.Capabilities.Effective)
	}
}

func namespaceTypes(s *specs.Spec) []specs.LinuxNamespaceType {
	var out []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		out = append(out, n.Type)
	}
	return out
}

func TestBuildSpecIsolatesTheContainerInNamespaces(t *testing.T) {
	s, err := buildSpec(baseInput())
	if err != nil {
		t.Fatal(err)
	}
	got := namespaceTypes(s)
	for _, ns := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace} {
		if !slices.Contains(got, ns) {
			t.Errorf("namespaces %q lack %s", got, ns)
		}
	}
	for _, n := range s.Linux.Namespaces {
		if n.Path != "" {
			t.Errorf("namespace %s joins %s; every namespace should be new", n.Type, n.Path)
		}
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range got {
		if seen[ns] {
			t.Errorf("namespace %s listed twice", ns)
		}
		seen[ns] = true
	}
}

func TestBuildSpecMountsTheStandardFilesystems(t *testing.T) {
	in := baseInput()
	in.Binds = []specs.Mount{{Destination: "/etc/hosts", Type: "bind", Source: "/run/x/hosts", Options: strs("rbind", "ro")}}
	s, err := buildSpec(in)
	if err != nil {
		t.Fatal(err)
	}
	byDest := map[string]specs.Mount{}
	for _, m := range s.Mounts {
		byDest[m.Destination] = m
	}
	for dest, typ := range map[string]string{"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs", "/dev/mqueue": "mqueue", "/sys": "sysfs"} {
		if m, ok := byDest[dest]; !ok || m.Type != typ {
			t.Errorf("mount on %s = %+v, want type %s", dest, m, typ)
		}
	}
	if !slices.Contains(byDest["/sys"].Options, "ro") {
		t.Errorf("/sys options %q, want read-only", byDest["/sys"].Options)
	}
	last := s.Mounts[len(s.Mounts)-1]
	if !reflect.DeepEqual(last, in.Binds[0]) {
		t.Errorf("last mount = %+v, want the bind %+v after the standard ones", last, in.Binds[0])
	}
}

func TestBuildSpecCgroupsPath(t *testing.T) {
	cases := []struct {
		name     string
		rootless bool
		want     string
	}{
		{"leaves the cgroups path empty when rootless", true, ""},
		{"puts the container under /den/<id> as root", false, "/den/" + strings.Repeat("ab", 32)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := baseInput()
			in.Rootless = c.rootless
			s, err := buildSpec(in)
			if err != nil {
				t.Fatal(err)
			}
			if s.Linux.CgroupsPath != c.want {
				t.Errorf("CgroupsPath = %q, want %q", s.Linux.CgroupsPath, c.want)
			}
		})
	}
}

func TestBuildSpecSeccomp(t *testing.T) {
	cases := []struct {
		name    string
		seccomp bool
	}{
		{"sets the default profile when asked", true},
		{"sets no profile when not asked", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := baseInput()
			in.Seccomp = c.seccomp
			s, err := buildSpec(in)
			if err != nil {
				t.Fatal(err)
			}
			if (s.Linux.Seccomp != nil) != c.seccomp {
				t.Fatalf("Seccomp = %v, want set %v", s.Linux.Seccomp, c.seccomp)
			}
			if c.seccomp {
				if s.Linux.Seccomp.DefaultAction == specs.ActAllow {
					t.Error("the default profile allows every syscall by default")
				}
				if len(s.Linux.Seccomp.Syscalls) == 0 {
					t.Error("the default profile has no syscall rules")
				}
			}
		})
	}
}

func TestBuildSpecUserNamespace(t *testing.T) {
	cases := []struct {
		name string
		size uint32
	}{
		{"adds no user namespace without an id map size", 0},
		{"adds a user namespace with an identity map of the given size", 65536},
		{"adds a user namespace for a single id", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := baseInput()
			in.IDMapSize = c.size
			s, err := buildSpec(in)
			if err != nil {
				t.Fatal(err)
			}
			hasUserNS := slices.Contains(namespaceTypes(s), specs.UserNamespace)
			if hasUserNS != (c.size > 0) {
				t.Fatalf("user namespace present = %v, want %v", hasUserNS, c.size > 0)
			}
			if c.size == 0 {
				if len(s.Linux.UIDMappings) != 0 || len(s.Linux.GIDMappings) != 0 {
					t.Errorf("mappings %v / %v without a user namespace", s.Linux.UIDMappings, s.Linux.GIDMappings)
				}
				return
			}
			want := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: c.size}}
			if !reflect.DeepEqual(s.Linux.UIDMappings, want) || !reflect.DeepEqual(s.Linux.GIDMappings, want) {
				t.Errorf("mappings uid %+v gid %+v, want %+v for both", s.Linux.UIDMappings, s.Linux.GIDMappings, want)
			}
		})
	}
}

// FuzzEnv checks Env's invariants for any image, file and flag lists: no panic, every entry
// is NAME=VALUE with a name seen once, a PATH is always present, and the last flag setting a
// name wins.
func FuzzEnv(f *testing.F) {
	f.Add("PATH=/bin\nA=1", "B=2\nHOSTVAR", "A=3\nC")
	f.Add("", "", "=x")
	f.Add("A", "A=", "A=b=c\nA")
	f.Add("X=1\nX=2", "\n", "PATH")
	f.Fuzz(func(t *testing.T, image, file, flags string) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, "\n")
		}
		host := lookupIn(map[string]string{"HOSTVAR": "h", "PATH": "/host"})
		flagList := split(flags)
		out, err := Env(split(image), [][]string{split(file)}, flagList, host)
		if err != nil {
			return
		}
		seen := map[string]string{}
		for _, kv := range out {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				t.Fatalf("entry %q is not NAME=VALUE in %q", kv, out)
			}
			if _, dup := seen[k]; dup {
				t.Fatalf("name %q appears twice in %q", k, out)
			}
			seen[k] = v
		}
		if _, ok := seen["PATH"]; !ok {
			t.Fatalf("no PATH in %q", out)
		}
		last := map[string]string{}
		for _, kv := range flagList {
			if k, v, ok := strings.Cut(kv, "="); ok {
				last[k] = v
			} else if hv, found := host(k); found {
				last[k] = hv
			}
		}
		for k, v := range last {
			if seen[k] != v {
				t.Fatalf("flag %s=%q lost: got %q in %q", k, v, seen[k], out)
			}
		}
	})
}

// FuzzParseEntrypoint checks that no --entrypoint value panics and that a non-JSON value is
// taken whole as one command.
func FuzzParseEntrypoint(f *testing.F) {
	for _, s := range []string{"", "/bin/sh", `["a","b"]`, `[`, `  [1]`, `[]`, " ", `["\u0000"]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseEntrypoint(s)
		if err != nil {
			if !strings.HasPrefix(strings.TrimSpace(s), "[") {
				t.Fatalf("ParseEntrypoint(%q) failed on a non-JSON value: %v", s, err)
			}
			return
		}
		if got == nil {
			t.Fatalf("ParseEntrypoint(%q) = nil, want a non-nil slice", s)
		}
		if !strings.HasPrefix(strings.TrimSpace(s), "[") && s != "" && !slices.Equal(got, []string{s}) {
			t.Fatalf("ParseEntrypoint(%q) = %q, want the value as one command", s, got)
		}
	})
}

// --expose's ports join the image's without changing the image's map, which is shared with
// the image's config; an image without EXPOSE gets a map of its own.
func TestWithExposedAddsPortsToACopy(t *testing.T) {
	image := map[string]struct{}{"80/tcp": {}}
	got := withExposed(image, []string{"8080/tcp", "80/tcp"})
	if len(got) != 2 || len(image) != 1 {
		t.Errorf("withExposed = %v, image now %v; want 80/tcp and 8080/tcp, image unchanged", got, image)
	}
	if got := withExposed(nil, []string{"53/udp"}); len(got) != 1 {
		t.Errorf("withExposed(nil, 53/udp) = %v", got)
	}
	if got := withExposed(image, nil); len(got) != 1 {
		t.Errorf("withExposed(image, nothing) = %v, want the image's", got)
	}
}

func TestParseLabelFileTakesKeyValueAndBareKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "labels")
	if err := os.WriteFile(p, []byte("# comment\n  team=core\r\n\nflag\nurl=http://x/?a=b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ParseLabelFile(p)
	want := map[string]string{"team": "core", "flag": "", "url": "http://x/?a=b"}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("ParseLabelFile = %v, %v; want %v", got, err, want)
	}
	if err := os.WriteFile(p, []byte("bad key=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseLabelFile(p); err == nil || !strings.Contains(err.Error(), "label file") || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("want a bad line named by its file and number, got %v", err)
	}
}

func TestHostEnvLeavesOutTheVariablesOfDensStages(t *testing.T) {
	t.Setenv("_DEN_TEST_STAGE", "x")
	t.Setenv("_CONTAINERS_USERNS_CONFIGURED", "done")
	t.Setenv("_LIBCONTAINER_TEST", "1")
	t.Setenv("DEN_TEST_KEPT", "yes")
	env := hostEnv()
	if !slices.Contains(env, "DEN_TEST_KEPT=yes") {
		t.Error("want the user's own variables kept")
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "_DEN_") || strings.HasPrefix(kv, "_CONTAINERS_") || strings.HasPrefix(kv, "_LIBCONTAINER_") {
			t.Errorf("want %s left out", kv)
		}
	}
}

func TestParseLogDriverAndLogOpt(t *testing.T) {
	for in, want := range map[string]string{"": LogDriverFile, "k8s-file": LogDriverFile, "json-file": LogDriverFile, "none": LogDriverNone, "journald": "", "syslog": ""} {
		got, err := ParseLogDriver(in)
		if (want == "") != (err != nil) || got != want {
			t.Errorf("ParseLogDriver(%q) = %q, %v", in, got, err)
		}
	}
	for in, want := range map[string]int64{"max-size=10m": 10e6, "max-size=4k": 4000, "max-size=1k": -1, "max-size=": -1, "max-size=lots": -1, "path=/tmp/x": -1, "tag=x": -1} {
		got, err := ParseLogOpt(in)
		if (want < 0) != (err != nil) || (want >= 0 && got != want) {
			t.Errorf("ParseLogOpt(%q) = %d, %v", in, got, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--log-opt") {
			t.Errorf("ParseLogOpt(%q): want the error to name --log-opt, got %v", in, err)
		}
	}
}

func FuzzParseLogOpt(f *testing.F) {
	for _, s := range []string{"max-size=10m", "max-size=1", "path=x", "max-size=-5m", "max-size=9999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseLogOpt(s); err == nil && n < 4000 {
			t.Errorf("ParseLogOpt(%q) = %d, under 4k", s, n)
		}
	})
}

func TestLogWriterRotatesBetweenEntriesAtItsSize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ctr.log")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	w := &logWriter{path: p, f: f, max: 4 << 10}
	var chunk strings.Builder
	for i := range 300 {
		fmt.Fprintf(&chunk, "line-%03d-xxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", i)
	}
	w.write("stdout", []byte(chunk.String()))
	w.write("stderr", []byte("last"))
	w.close()
	cur, err := os.ReadFile(p)
	if err != nil || len(cur) > 4<<10 || len(cur) == 0 {
		t.Fatalf("want the current log within 4k after one chunk of 300 lines, got %d bytes, %v", len(cur), err)
	}
	old, err := os.ReadFile(p + ".1")
	if err != nil || len(old) > 4<<10 {
		t.Fatalf("want the rotated log within 4k, got %d bytes, %v", len(old), err)
	}
	entries := strings.Split(strings.TrimSuffix(string(old)+string(cur), "\n"), "\n")
	for _, l := range entries {
		if _, ok := parseLogLine(l); !ok {
			t.Fatalf("want whole entries in both files, got %q", l)
		}
	}
	if e, _ := parseLogLine(entries[len(entries)-1]); e.Content != "last" || !e.Partial || e.Stream != "stderr" {
		t.Errorf("want the partial stderr entry last, got %+v", e)
	}
	// With --log-driver none nothing is written, and nothing is made.
	none := filepath.Join(t.TempDir(), "none.log")
	(&logWriter{path: none, max: DefaultLogMaxSize}).write("stdout", []byte("x\n"))
	if _, err := os.Stat(none); !os.IsNotExist(err) {
		t.Errorf("want no log file without a writer's file, got %v", err)
	}
}

// runc's start errors are told apart: a command that is missing (127) or cannot be run (126),
// and anything else, a failed mount among them, which is den's own error (125).
func TestClassifyStartError(t *testing.T) {
	for _, c := range []struct {
		msg      string
		code     int
		mentions string
	}{
		{`unable to start container process: exec: "nosuch": executable file not found in $PATH`, 127, "nosuch: command not found"},
		{`unable to start container process: exec: "/nosuch": stat /nosuch: no such file or directory`, 127, "/nosuch: command not found"},
		{`unable to start container process: exec: "/etc": is a directory`, 126, "/etc: cannot invoke"},
		{`unable to start container process: exec /bin/x: permission denied`, 126, "/bin/x: cannot invoke"},
		{`unable to start container process: error during container init: failed to fulfil mount request: open /tmp/src: no such file or directory`, 125, "open /tmp/src: no such file or directory"},
		{`unable to start container process: error during container init: error mounting "/src" to rootfs at "/dst": permission denied`, 125, `error mounting "/src"`},
		{`unable to start container process: something else`, 125, "something else"},
	} {
		err := classifyStartError(errors.New(c.msg))
		if got := exitCodeOf(err); got != c.code || !strings.Contains(err.Error(), c.mentions) {
			t.Errorf("%s:\n got %d %q, want %d and a mention of %q", c.msg, got, err, c.code, c.mentions)
		}
	}
}
