package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	regUser = "alice"
	regPass = "s3cret:with-colon"
)

func TestLoginLogoutAgainstTLSRegistryWithPasswords(t *testing.T) {
	reg := startRegistry(t, registryOpts{tls: true, user: regUser, pass: regPass})
	img := seedBusybox(t, reg, "--creds", regUser+":"+regPass)
	d := newDen(t)
	d.trustRegistry(t, reg)
	authFile := filepath.Join(d.runDir, "containers", "auth.json")

	wantError(t, d.run(t, "pull", "-q", img.ref), 125, img.ref, "authentication required")
	wantError(t, d.run(t, "login", "-u", regUser, "-p", "wrong", reg.host), 125, "logging in to "+reg.host, "invalid username/password")
	if _, err := os.Stat(authFile); err == nil {
		t.Errorf("want no auth file after a failed login")
	}

	wantStdout(t, d.run(t, "login", "-u", regUser, "-p", regPass, reg.host), "Login Succeeded!\n")
	if b, err := os.ReadFile(authFile); err != nil || !strings.Contains(string(b), `"`+reg.host+`"`) {
		t.Errorf("want %s in the podman-compatible %s: %q, %v", reg.host, authFile, b, err)
	}
	wantPulled(t, d.run(t, "pull", "-q", img.ref), img.id)
	r := d.run(t, "login", reg.host)
	if r.code != 0 || !strings.Contains(r.stdout, "Already logged in to "+reg.host) {
		t.Errorf("want the stored credentials checked and accepted\n%s", r)
	}

	wantStdout(t, d.run(t, "logout", reg.host), "Removed login credentials for "+reg.host+"\n")
	wantError(t, d.run(t, "pull", "-q", img.ref), 125, "authentication required")
	wantError(t, d.run(t, "logout", reg.host), 125, reg.host, "not logged in")

	t.Run("password on stdin", func(t *testing.T) {
		r := d.runWith(t, execOpts{stdin: strings.NewReader(regPass + "\n")}, "login", "-u", regUser, "--password-stdin", reg.host)
		wantStdout(t, r, "Login Succeeded!\n")
		wantStdout(t, d.run(t, "logout", "-a"), "Removed login credentials for all registries\n")
	})
	t.Run("no password and no terminal", func(t *testing.T) {
		wantError(t, d.run(t, "login", "-u", regUser, reg.host), 125, "--password-stdin")
	})
	t.Run("creds for one pull", func(t *testing.T) {
		wantPulled(t, d.run(t, "pull", "-q", "--creds", regUser+":"+regPass, img.ref), img.id)
		wantError(t, d.run(t, "pull", "-q", "--creds", regUser+":nope", img.ref), 125, "authentication required")
		wantError(t, d.run(t, "pull", "-q", "--creds", regUser, img.ref), 125, "--creds needs USERNAME:PASSWORD")
	})
	t.Run("docker's config.json", func(t *testing.T) {
		e := newDen(t)
		e.trustRegistry(t, reg)
		auth := base64.StdEncoding.EncodeToString([]byte(regUser + ":" + regPass))
		e.writeFile(t, "home/.docker/config.json", fmt.Appendf(nil, `{"auths": {%q: {"auth": %q}}}`, reg.host, auth))
		wantPulled(t, e.run(t, "pull", "-q", img.ref), img.id)
	})
	t.Run("another auth file", func(t *testing.T) {
		e := newDen(t)
		e.trustRegistry(t, reg)
		file := filepath.Join(e.home, "my-auth.json")
		wantStdout(t, e.run(t, "login", "--authfile", file, "-u", regUser, "-p", regPass, reg.host), "Login Succeeded!\n")
		wantError(t, e.run(t, "pull", "-q", img.ref), 125, "authentication required")
		wantPulled(t, e.run(t, "pull", "-q", "--authfile", file, img.ref), img.id)
		wantPulled(t, e.runWith(t, execOpts{env: []string{"REGISTRY_AUTH_FILE=" + file}}, "pull", "-q", img.ref), img.id)
	})
	t.Run("certificates", func(t *testing.T) {
		e := newDen(t)
		creds := regUser + ":" + regPass
		wantError(t, e.run(t, "pull", "-q", "--creds", creds, img.ref), 125, "certificate")
		wantError(t, e.run(t, "login", "-u", regUser, "-p", regPass, reg.host), 125, "certificate")
		certDir := filepath.Dir(e.writeFile(t, "home/certs/ca.crt", reg.caPEM))
		wantPulled(t, e.run(t, "pull", "-q", "--cert-dir", certDir, "--creds", creds, img.ref), img.id)
		wantPulled(t, e.run(t, "pull", "-q", "--tls-verify=false", "--creds", creds, img.ref), img.id)
	})
}
