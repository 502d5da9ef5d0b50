package e2e

import (
	"fmt"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
)

// wantPulled fails unless den exited 0 and printed the image id as its last line of stdout.
func wantPulled(t *testing.T, r result, id string) {
	t.Helper()
	ls := lines(r.stdout)
	if r.code != 0 || len(ls) == 0 || ls[len(ls)-1] != id {
		t.Fatalf("want exit 0 and the image id %s on stdout\n%s", id, r)
	}
}

func TestPushThenPullByTagAndByDigestRunsTheImage(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	img := seedBusybox(t, reg, "--tls-verify=false")

	t.Run("by tag", func(t *testing.T) {
		d := newDen(t)
		r := d.run(t, "pull", "--tls-verify=false", img.ref)
		wantPulled(t, r, img.id)
		if !strings.Contains(r.stderr, "Trying to pull "+img.ref) || !strings.Contains(r.stderr, "Copying blob ") {
			t.Errorf("want progress lines (Trying to pull, Copying blob) on stderr when it is no terminal\n%s", r)
		}
		wantStdout(t, d.run(t, "images", "--format", "{{.Repository}}:{{.Tag}}"), img.ref+"\n")
		wantStdout(t, d.run(t, "run", "--rm", img.ref, "stat", "-c", "%u", "/srv/multi/u2000"), "2000\n")
	})
	t.Run("by digest", func(t *testing.T) {
		d := newDen(t)
		wantPulled(t, d.run(t, "pull", "--tls-verify=false", img.repo+"@"+img.digest), img.id)
		wantStdout(t, d.run(t, "run", "--rm", img.id, "echo", "by digest"), "by digest\n")
	})
	t.Run("all tags", func(t *testing.T) {
		d := newDen(t)
		d.load(t, "busybox-oci.tar")
		d.mustRun(t, "push", "-q", "--tls-verify=false", "busybox", img.repo+":2")
		r := d.run(t, "pull", "-q", "-a", "--tls-verify=false", img.repo)
		if r.code != 0 || r.stdout != img.id+"\n"+img.id+"\n" {
			t.Errorf("want the id once per tag (1 and 2)\n%s", r)
		}
		names := lines(d.mustRun(t, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout)
		for _, want := range []string{img.ref, img.repo + ":2"} {
			if !slices.Contains(names, want) {
				t.Errorf("want %s among %v", want, names)
			}
		}
		wantError(t, d.run(t, "pull", "-q", "-a", "--tls-verify=false", img.ref), 125, "--all-tags")
	})
	t.Run("quiet prints only the id", func(t *testing.T) {
		d := newDen(t)
		r := d.run(t, "image", "pull", "-q", "--tls-verify=false", img.ref)
		if r.code != 0 || r.stdout != img.id+"\n" || r.stderr != "" {
			t.Errorf("want exit 0, only the id on stdout and nothing on stderr\n%s", r)
		}
	})
	// Errors are one line; -q keeps the progress lines that come before them away.
	t.Run("a missing tag fails in one line", func(t *testing.T) {
		d := newDen(t)
		wantError(t, d.run(t, "pull", "-q", "--tls-verify=false", img.repo+":nosuchtag"), 125, img.repo+":nosuchtag", "manifest unknown")
		wantNothingStored(t, d)
	})
}

func TestPushWritesTheRequestedManifestFormat(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	for format, mime := range map[string]string{"v2s2": "application/vnd.docker.distribution.manifest.v2+json", "oci": "application/vnd.oci.image.manifest.v1+json"} {
		ref := reg.host + "/fmt/" + format + ":1"
		d.mustRun(t, "push", "-q", "--tls-verify=false", "--format", format, "busybox", ref)
		resp := reg.manifest(t, "fmt/"+format, "1")
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != mime {
			t.Errorf("--format %s: want the registry to hold a %s manifest, it holds %s", format, mime, ct)
		}
	}
	wantError(t, d.run(t, "push", "--tls-verify=false", "--format", "v1", "busybox", reg.host+"/fmt/x"), 125, `--format "v1"`)
	wantError(t, d.run(t, "push", "--tls-verify=false", "nosuchimage", reg.host+"/fmt/x"), 125, "nosuchimage")
}

func TestPullOfPlainHTTPRegistryNeedsTLSVerifyFalseOrInsecure(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	img := seedBusybox(t, reg, "--tls-verify=false")
	d := newDen(t)
	wantError(t, d.run(t, "pull", "-q", img.ref), 125, img.ref, "HTTP response to HTTPS client")
	wantNothingStored(t, d)

	d.writeRegistriesConf(t, fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", reg.host))
	// An explicit --tls-verify wins over registries.conf.
	wantError(t, d.run(t, "pull", "-q", "--tls-verify=true", img.ref), 125, "HTTP response to HTTPS client")
	wantPulled(t, d.run(t, "pull", img.ref), img.id)
}

func TestPullResolvesShortNamesThroughRegistriesConf(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	img := seedBusybox(t, reg, "--tls-verify=false")
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))

	t.Run("unqualified-search registries in order", func(t *testing.T) {
		d := newDen(t)
		d.writeRegistriesConf(t, fmt.Sprintf(`unqualified-search-registries = [%q, %q]
[[registry]]
location = %q
insecure = true
[[registry]]
location = %q
insecure = true
`, dead, reg.host, dead, reg.host))
		r := d.run(t, "pull", "test/busybox:1")
		wantPulled(t, r, img.id)
		first, second := strings.Index(r.stderr, "Trying to pull "+dead+"/test/busybox:1"), strings.Index(r.stderr, "Trying to pull "+img.ref)
		if first < 0 || second < first {
			t.Errorf("want den to try %s, then %s\n%s", dead, reg.host, r)
		}
		wantStdout(t, d.run(t, "images", "--format", "{{.Repository}}:{{.Tag}}"), img.ref+"\n")
	})
	t.Run("an alias", func(t *testing.T) {
		d := newDen(t)
		d.writeRegistriesConf(t, fmt.Sprintf("[aliases]\n\"denbox\" = %q\n[[registry]]\nlocation = %q\ninsecure = true\n", img.repo, reg.host))
		wantPulled(t, d.run(t, "pull", "denbox:1"), img.id)
	})
	t.Run("nothing to resolve with", func(t *testing.T) {
		d := newDen(t)
		d.writeRegistriesConf(t, "unqualified-search-registries = []\n")
		wantError(t, d.run(t, "pull", "test/busybox:1"), 125, `short-name "test/busybox:1"`)
	})
}

func TestPullUsesMirrorFromRegistriesConf(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	img := seedBusybox(t, reg, "--tls-verify=false")
	// The primary location refuses connections; only the mirror has the image.
	primary := fmt.Sprintf("127.0.0.1:%d/test", freePort(t))
	d := newDen(t)
	wantError(t, d.run(t, "pull", "-q", "--tls-verify=false", primary+"/busybox:1"), 125, "connection refused")
	d.writeRegistriesConf(t, fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n[[registry.mirror]]\nlocation = %q\ninsecure = true\n", primary, reg.host+"/test"))
	wantPulled(t, d.run(t, "pull", primary+"/busybox:1"), img.id)
	wantStdout(t, d.run(t, "images", "--format", "{{.Repository}}:{{.Tag}}"), primary+"/busybox:1\n")
}

func TestPullAndPushThroughFileTransports(t *testing.T) {
	src := newDen(t)
	src.load(t, "busybox-oci.tar")
	id := strings.TrimPrefix(strings.TrimSpace(src.mustRun(t, "images", "-q", "--no-trunc").stdout), "sha256:")
	h := src.home
	dests := []string{"oci-archive:" + h + "/oci.tar", "docker-archive:" + h + "/docker.tar", "dir:" + h + "/dir", "oci:" + h + "/layout:app:2"}
	for _, dest := range dests {
		src.mustRun(t, "push", "-q", "busybox", dest)
	}

	d := newDen(t)
	// Straight from testdata: the archive's own name.
	wantPulled(t, d.run(t, "pull", "-q", "oci-archive:"+filepath.Join(imagesDir, "busybox-oci.tar")), id)
	for _, from := range dests {
		wantPulled(t, d.run(t, "pull", "-q", from), id)
	}
	names := lines(d.mustRun(t, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout)
	for _, want := range []string{busyboxName, "localhost/app:2", "localhost" + h + "/dir:latest"} {
		if !slices.Contains(names, want) {
			t.Errorf("want %s among the names %v", want, names)
		}
	}
	wantStdout(t, d.run(t, "run", "--rm", "localhost/app:2", "echo", "from oci"), "from oci\n")
	wantError(t, d.run(t, "pull", "containers-storage:busybox"), 125, "not supported")
	wantError(t, d.run(t, "pull", "oci-archive:"+h+"/nosuch.tar"), 125, "nosuch.tar")
}

// run and create pull an image that is not in storage, as podman's do (--pull missing), with
// the pull's progress on stderr and nothing of it on stdout; --pull never, always and a
// failing pull behave as podman's.
func TestRunAndCreatePullWhatIsMissing(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	img := seedBusybox(t, reg, "--tls-verify=false")
	d := newDen(t)

	wantError(t, d.run(t, "run", "--rm", "--pull", "sometimes", img.ref, "true"), 125, "sometimes")
	wantError(t, d.run(t, "run", "--rm", "--pull", "never", "--tls-verify=false", img.ref, "true"), 125, img.ref, "den pull")
	wantNothingStored(t, d)

	r := d.run(t, "run", "--rm", "--tls-verify=false", img.ref, "echo", "pulled")
	if r.code != 0 || r.stdout != "pulled\n" || !strings.Contains(r.stderr, "Trying to pull "+img.ref) {
		t.Errorf("run of an image not in storage: want it pulled (progress on stderr) and run\n%s", r)
	}
	wantStdout(t, d.run(t, "images", "-q", "--no-trunc"), "sha256:"+img.id+"\n")
	// In storage now: nothing is pulled.
	r = d.run(t, "create", "--tls-verify=false", "--name", "c1", img.ref, "true")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("create of an image in storage: want no pull\n%s", r)
	}
	// --pull always pulls again; -q keeps its progress away.
	r = d.run(t, "run", "-d", "-q", "--pull", "always", "--tls-verify=false", "--network", "none", img.ref, "sleep", "1000")
	if id := strings.TrimSpace(r.stdout); r.code != 0 || !hex64.MatchString(id) || r.stderr != "" {
		t.Errorf("run -d -q --pull always: want only the container id\n%s", r)
	}
	d.mustRun(t, "rm", "-af", "-t", "0")
	// The pull's platform flags go to the pull: the right one pulls, a malformed one is its
	// error.
	wantStdout(t, d.run(t, "run", "--rm", "-q", "--pull", "always", "--platform", goruntime.GOOS+"/"+goruntime.GOARCH,
		"--tls-verify=false", "--network", "none", img.ref, "echo", "platform"), "platform\n")
	wantError(t, d.run(t, "create", "-q", "--pull", "always", "--platform", "nonsense", "--tls-verify=false", img.ref), 125, "nonsense")
	// newer asks the registry too, as always does: a pull that fails says so.
	wantError(t, d.run(t, "create", "-q", "--pull", "newer", "--tls-verify=false", img.repo+":nosuchtag"), 125, "manifest unknown")
	wantStdout(t, d.run(t, "run", "--rm", "-q", "--pull", "newer", "--tls-verify=false", "--network", "none", img.ref, "echo", "newer"), "newer\n")

	// A pull that fails is one line, the pull's own, and stores nothing.
	r = d.run(t, "run", "--rm", "--tls-verify=false", img.repo+":nosuchtag", "true")
	if errs := strings.Count(r.stderr, "Error:"); r.code != 125 || errs != 1 || !strings.Contains(r.stderr, "manifest unknown") {
		t.Errorf("run of a tag the registry lacks: want 125 and one error line\n%s", r)
	}
	wantError(t, d.run(t, "create", "-q", "--tls-verify=false", img.repo+":nosuchtag"), 125, "manifest unknown")
	if got := d.mustRun(t, "images", "-q").stdout; len(lines(got)) != 1 {
		t.Errorf("want only the image pulled before, got %q", got)
	}
}

// As root, with --root and --runroot, run pulls into the state it was given, as den pull
// would: the pull den runs shares its global flags.
func TestRunPullsIntoTheStateItWasGivenAsRoot(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	img := seedBusybox(t, reg, "--tls-verify=false")
	d := newRootDen(t)
	r := d.run(t, "run", "--rm", "-q", "--tls-verify=false", "--network", "none", img.ref, "echo", "pulled")
	if r.code != 0 || r.stdout != "pulled\n" {
		t.Fatalf("run as root of an image not in storage: want it pulled and run\n%s", r)
	}
	wantStdout(t, d.run(t, "images", "-q", "--no-trunc"), "sha256:"+img.id+"\n")
}
