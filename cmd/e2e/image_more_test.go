package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// The big, many-owner Debian image goes through a real registry and comes back with every
// owner and mode, into a store that never saw it.
func TestDebianImageRoundTripsThroughTheRegistryWithItsOwners(t *testing.T) {
	archive := needDebian(t)
	reg := startRegistry(t, registryOpts{})
	src := newDen(t)
	src.mustRun(t, "load", "-i", archive)
	ref := reg.host + "/big/debian:1"
	src.mustRun(t, "push", "-q", "--tls-verify=false", "debian", ref)
	id := strings.TrimSpace(src.mustRun(t, "images", "-q", "--no-trunc", "debian").stdout)

	d := newDen(t)
	wantPulled(t, d.run(t, "pull", "-q", "--tls-verify=false", ref), strings.TrimPrefix(id, "sha256:"))
	r := d.mustRun(t, "run", "--rm", ref, "sh", "-c", "stat -c '%u:%g %a %n' /srv/owners/* /usr/bin/passwd && iperf3 --version | head -1")
	for _, want := range []string{
		"4242:4242 644 /srv/owners/file-4242", "65534:65534 644 /srv/owners/file-65534",
		"1000:1000 750 /srv/owners/dir-1000", "0:0 4755 /usr/bin/passwd", "iperf 3",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("want %q in the pulled image\n%s", want, r)
		}
	}
}

// Malformed references and unknown transports are refused in one line before anything is
// contacted or stored.
func TestBadImageReferencesAreRefusedInOneLine(t *testing.T) {
	d := newDen(t)
	for _, ref := range []string{"a::b", "ftp://host/x", "docker://", "oci-archive:", "UPPER/case", "busybox@sha256:123", "nosuchtransport:foo/bar"} {
		wantError(t, d.run(t, "pull", "-q", ref), 125, ref)
	}
	wantNothingStored(t, d)
	d.load(t, "busybox-oci.tar")
	for _, dest := range []string{"a::b", "ftp://host/x", "oci-archive:"} {
		wantError(t, d.run(t, "push", "busybox", dest), 125, dest)
	}
	wantError(t, d.run(t, "tag", "busybox", "UPPER/case"), 125, "UPPER/case")
}

// On a terminal a pull draws containers/image's progress bars, redrawn in place; without
// one it prints plain lines (TestPushThenPullByTagAndByDigestRunsTheImage).
func TestPullDrawsProgressBarsOnATerminal(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	img := seedBusybox(t, reg, "--tls-verify=false")
	d := newDen(t)
	p := d.startPty(t, 24, 100, "pull", "--tls-verify=false", img.ref)
	code, out := p.wait()
	if code != 0 {
		t.Fatalf("pull on a terminal exited %d\n%s", code, out)
	}
	if !strings.Contains(out, "Copying blob") || !strings.Contains(out, "\x1b[") {
		t.Errorf("want progress bars drawn with terminal escapes\n%q", out)
	}
	if !strings.Contains(out, img.id) {
		t.Errorf("want the image id at the end\n%q", out)
	}
}

// registries.conf can block a registry, and policy.json decides what may be pulled.
func TestBlockedRegistriesAndRejectingPoliciesStopPulls(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	img := seedBusybox(t, reg, "--tls-verify=false")
	t.Run("blocked registry", func(t *testing.T) {
		d := newDen(t)
		d.writeRegistriesConf(t, fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\nblocked = true\n", reg.host))
		wantError(t, d.run(t, "pull", "-q", img.ref), 125, "blocked")
		wantNothingStored(t, d)
	})
	t.Run("policy rejects", func(t *testing.T) {
		d := newDen(t)
		d.writeFile(t, filepath.Join("config", "den", "policy.json"), []byte(`{"default": [{"type": "reject"}]}`))
		wantError(t, d.run(t, "pull", "-q", "--tls-verify=false", img.ref), 125, "rejected")
		wantNothingStored(t, d)
	})
	t.Run("policy accepts that registry only", func(t *testing.T) {
		d := newDen(t)
		d.writeFile(t, filepath.Join("config", "den", "policy.json"), []byte(fmt.Sprintf(
			`{"default": [{"type": "reject"}], "transports": {"docker": {%q: [{"type": "insecureAcceptAnything"}]}}}`, reg.host)))
		wantPulled(t, d.run(t, "pull", "-q", "--tls-verify=false", img.ref), img.id)
	})
}
