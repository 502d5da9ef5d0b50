package e2e

import (
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestVersionPrintsVersionGoAndPlatform(t *testing.T) {
	d := newDen(t)
	r := d.mustRun(t, "version")
	fields := map[string]string{}
	for _, l := range lines(r.stdout) {
		if k, v, ok := strings.Cut(l, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	version, platform := fields["Version"], runtime.GOOS+"/"+runtime.GOARCH
	if version == "" || !strings.HasPrefix(fields["Go Version"], "go") || fields["OS/Arch"] != platform {
		t.Fatalf("want Version, Go Version and OS/Arch %s\n%s", platform, r)
	}
	wantStdout(t, d.run(t, "version", "--format", "{{.Version}}"), version+"\n")
	var v struct{ Version, OsArch string }
	if err := json.Unmarshal([]byte(d.mustRun(t, "version", "--format", "json").stdout), &v); err != nil ||
		v.Version != version || v.OsArch != platform {
		t.Errorf("want version %s and %s in JSON: %+v, %v", version, platform, v, err)
	}
	// podman --version and -v print one line.
	for _, flag := range []string{"--version", "-v"} {
		wantStdout(t, d.run(t, flag), "den version "+version+"\n")
	}
}

// An unknown flag is named as podman names it, with the help of the command it was given to
// (den's own before any command), exit 125.
func TestUnknownGlobalFlagPointsAtDensHelp(t *testing.T) {
	d := newDen(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus", "ps"}, "Error: unknown flag: --bogus: see `den --help`\n"},
		{[]string{"ps", "--bogus"}, "Error: unknown flag: --bogus: see `den ps --help`\n"},
		{[]string{"ps", "-Z"}, "Error: unknown flag: -Z: see `den ps --help`\n"},
		{[]string{"volume", "ls", "--bogus"}, "Error: unknown flag: --bogus: see `den volume ls --help`\n"},
		{[]string{"network", "rm", "--bogus", "x"}, "Error: unknown flag: --bogus: see `den network rm --help`\n"},
	} {
		if r := d.run(t, tc.args...); r.code != 125 || r.stderr != tc.want {
			t.Errorf("want exit 125 and %q\n%s", tc.want, r)
		}
	}
}

// infoReport is the part of `den info --format json` the tests read.
type infoReport struct {
	Host struct {
		Rootless   bool `json:"rootless"`
		UID        int  `json:"uid"`
		IDMappings *struct {
			UIDMap []struct{ ContainerID, HostID, Size int } `json:"uidmap"`
		} `json:"idMappings"`
		RuntimeDir string `json:"runtimeDir"`
	} `json:"host"`
	Store struct {
		GraphDriverName string `json:"graphDriverName"`
		OverlayMode     string `json:"overlayMode"`
		GraphRoot       string `json:"graphRoot"`
		Containers      int    `json:"containers"`
	} `json:"store"`
}

func (d *den) info(t *testing.T) infoReport {
	t.Helper()
	r := d.mustRun(t, "info", "--format", "json")
	var in infoReport
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil {
		t.Fatalf("want JSON: %v\n%s", err, r)
	}
	return in
}

func TestInfoReportsRootlessSetup(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")

	r := d.mustRun(t, "info")
	if !slices.ContainsFunc(lines(r.stdout), func(l string) bool { return strings.TrimSpace(l) == "rootless: true" }) {
		t.Errorf("want \"rootless: true\"\n%s", r)
	}
	in := d.info(t)
	if !in.Host.Rootless || in.Host.UID != d.hostUID() {
		t.Errorf("want rootless and uid %d: %+v", d.hostUID(), in.Host)
	}
	if in.Store.GraphDriverName != "overlay" || in.Store.OverlayMode != "native" {
		t.Errorf("want overlay in native mode after a load: %+v", in.Store)
	}
	if in.Store.GraphRoot != d.graphRoot() || in.Host.RuntimeDir != filepath.Join(d.runDir, "den") {
		t.Errorf("want storage in %s and runtime state in %s/den: %+v %+v", d.graphRoot(), d.runDir, in.Host, in.Store)
	}
	start, count, _ := subIDRange("/etc/subuid", d.user)
	if m := in.Host.IDMappings; m == nil || len(m.UIDMap) < 2 ||
		m.UIDMap[0] != (struct{ ContainerID, HostID, Size int }{0, d.hostUID(), 1}) ||
		m.UIDMap[1] != (struct{ ContainerID, HostID, Size int }{1, start, count}) {
		t.Errorf("want uid maps 0→%d and 1→%d+%d: %+v", d.hostUID(), start, count, m)
	}
	wantStdout(t, d.run(t, "info", "--format", "{{.Store.GraphDriverName}}"), "overlay\n")
	// Containers' inits run den-init, built into den by make (every run here goes through it).
	if got := d.mustRun(t, "info", "--format", "{{.Host.ContainerInit}}").stdout; !strings.HasPrefix(got, "den-init (") {
		t.Errorf("want den-init built into the den under test, info says %q", got)
	}
	// make builds den's core, which hands load, pull and the rest to the whole den it carries:
	// every load of these tests goes through it (the core has no way to load by itself).
	// And its detached containers' monitors run den-monitor, which it carries too.
	if got := d.mustRun(t, "info", "--format", "{{.Host.ContainerMonitor}}").stdout; !strings.HasPrefix(got, "den-monitor (") {
		t.Errorf("want den-monitor built into the den under test, info says %q", got)
	}
	if got := d.mustRun(t, "info", "--format", "{{.Host.ImageCopy}}").stdout; !strings.HasPrefix(got, "den-transfer (") {
		t.Errorf("want den-transfer built into the den under test, info says %q", got)
	}
}

func TestListingCommandsWorkBeforeAnythingIsStored(t *testing.T) {
	d := newDen(t)
	for _, args := range [][]string{{"ps", "-a"}, {"images"}} {
		r := d.run(t, args...)
		if r.code != 0 || len(lines(r.stdout)) != 1 || r.stderr != "" {
			t.Errorf("want only the header\n%s", r)
		}
	}
	if in := d.info(t); in.Store.Containers != 0 {
		t.Errorf("want no containers: %+v", in.Store)
	}
}

func TestConfigErrorsNameFileAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, toml string
		mentions   []string // besides the file and the line
	}{
		{"unknown key", "[storage]\ndriverr = \"overlay\"\n", []string{"driverr"}},
		{"wrong type", "[storage]\ndriver = 5\n", []string{"driver"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDen(t)
			file := d.writeFile(t, "config/den/den.toml", []byte(tc.toml))
			for _, args := range [][]string{{"ps"}, {"images"}, {"run", "--rm", "busybox", "true"}, {"load", "-i", filepath.Join(imagesDir, "busybox-oci.tar")}} {
				r := d.run(t, args...)
				wantError(t, r, 125, append([]string{file}, tc.mentions...)...)
				if !strings.Contains(r.stderr, file+":2") && !strings.Contains(r.stderr, "line 2") {
					t.Errorf("want the error to name line 2 of %s\n%s", file, r)
				}
			}
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
			d.wantNoContainers(t)
			wantStdout(t, d.run(t, "images", "-q"), "")
		})
	}
}

func TestBadInputFailsWithOneErrorAndLeavesNothing(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	images := d.mustRun(t, "images", "-q").stdout

	junk := make([]byte, 64<<10)
	rand.New(rand.NewSource(1)).Read(junk)
	corrupt := d.writeFile(t, "corrupt.tar", junk)
	whole, err := os.ReadFile(filepath.Join(imagesDir, "busybox-oci.tar"))
	if err != nil {
		t.Fatal(err)
	}
	truncated := d.writeFile(t, "truncated.tar", whole[:len(whole)/2])

	for _, tc := range []struct {
		name     string
		args     []string
		mentions []string
	}{
		{"unknown image", []string{"run", "--rm", "nosuchimage"}, []string{"nosuchimage"}},
		{"unknown image for create", []string{"create", "--name", "x", "nosuchimage"}, []string{"nosuchimage"}},
		{"upper-case reference", []string{"run", "--rm", "UPPER/Case"}, []string{"UPPER/Case", "invalid reference format"}},
		{"reference with two @", []string{"run", "--rm", "a@@b"}, []string{"a@@b", "invalid reference format"}},
		{"unknown flag", []string{"run", "--nosuchflag", "busybox"}, []string{"nosuchflag"}},
		{"bad global flag value", []string{"--log-level", "nope", "ps"}, []string{"nope"}},
		{"entrypoint that is not JSON", []string{"run", "--rm", "--entrypoint", "[broken", "busybox"}, []string{"[broken"}},
		{"unknown user", []string{"run", "--rm", "-u", "nosuchuser", "busybox", "true"}, []string{"nosuchuser"}},
		{"missing archive", []string{"load", "-i", "/nonexistent"}, []string{"/nonexistent"}},
		{"corrupt archive", []string{"load", "-i", corrupt}, []string{corrupt}},
		{"truncated archive", []string{"load", "-i", truncated}, []string{truncated}},
		{"missing tarball to import", []string{"import", "/nonexistent.tar", "x"}, []string{"/nonexistent.tar"}},
		{"no image to run", []string{"run"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, d.run(t, tc.args...), 125, tc.mentions...)
			d.wantNoContainers(t)
			if r := d.mustRun(t, "images", "-q"); r.stdout != images {
				t.Errorf("want the images unchanged:\n%s\n%s", images, r)
			}
		})
	}
}

func TestRootModeRunsWithFullIdentityMap(t *testing.T) {
	d := newRootDen(t)
	_, errLib := os.Stat("/var/lib/den")
	_, errRun := os.Stat("/run/den")

	d.load(t, "busybox-oci.tar")
	wantStdout(t, d.run(t, "run", "--rm", "busybox", "id", "-u"), "0\n")
	r := d.mustRun(t, "run", "--rm", "busybox", "cat", "/proc/self/uid_map")
	if ls := lines(r.stdout); len(ls) != 1 || strings.Join(strings.Fields(ls[0]), " ") != "0 0 4294967295" {
		t.Errorf("want the identity map 0 0 4294967295\n%s", r)
	}
	if in := d.info(t); in.Host.Rootless || in.Store.GraphRoot != d.graphRoot() {
		t.Errorf("want root mode with storage in %s: %+v %+v", d.graphRoot(), in.Host, in.Store)
	}
	// --root and --runroot keep the host's own den state untouched.
	if _, err := os.Stat("/var/lib/den"); os.IsNotExist(errLib) && err == nil {
		t.Errorf("want /var/lib/den left alone with --root")
	}
	if _, err := os.Stat("/run/den"); os.IsNotExist(errRun) && err == nil {
		t.Errorf("want /run/den left alone with --runroot")
	}
}

// A bad log level is one line naming where it came from, the flag or DEN_LOG_LEVEL, and 125.
func TestBadLogLevelNamesWhereItCameFrom(t *testing.T) {
	d := newDen(t)
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--log-level=bar", "version"}, nil, `Error: --log-level "bar": use debug, info, warn or error` + "\n"},
		{[]string{"version"}, []string{"DEN_LOG_LEVEL=foo"}, `Error: DEN_LOG_LEVEL "foo": use debug, info, warn or error` + "\n"},
	} {
		r := d.runWith(t, execOpts{env: tc.env}, tc.args...)
		if r.code != 125 || r.stderr != tc.want {
			t.Errorf("want exit 125 and %q\n%s", tc.want, r)
		}
	}
}
