package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// registryBinary is Debian's docker-registry (distribution 2.8).
const registryBinary = "/usr/bin/docker-registry"

// testRegistry is a real registry on 127.0.0.1, stopped when the test ends.
type testRegistry struct {
	host   string // 127.0.0.1:PORT
	caPEM  []byte // the CA that signed its certificate; nil for plain HTTP
	client *http.Client
	scheme string
}

// registryOpts choose TLS and htpasswd authentication.
type registryOpts struct {
	tls        bool
	user, pass string
}

var installRegistryOnce sync.Once

// needRegistry skips the test unless docker-registry is installed or installable.
func needRegistry(t *testing.T) {
	t.Helper()
	installRegistryOnce.Do(func() {
		if _, err := os.Stat(registryBinary); err == nil || os.Geteuid() != 0 {
			return
		}
		cmd := exec.Command("apt-get", "install", "-y", "docker-registry")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("installing docker-registry: %v\n%s", err, out)
		}
	})
	if _, err := os.Stat(registryBinary); err != nil {
		t.Skipf("%s is missing and could not be installed: run `sudo apt-get install docker-registry` (or scripts/setup-host.sh)", registryBinary)
	}
}

// startRegistry runs docker-registry with a config of the test's own.
func startRegistry(t *testing.T, o registryOpts) *testRegistry {
	t.Helper()
	needRegistry(t)
	dir := t.TempDir()
	reg := &testRegistry{host: fmt.Sprintf("127.0.0.1:%d", freePort(t)), scheme: "http", client: &http.Client{Timeout: 5 * time.Second}}
	var tlsSection, authSection string
	if o.tls {
		ca, cert, key := makeCerts(t)
		reg.caPEM = ca
		writeTestFile(t, filepath.Join(dir, "cert.pem"), cert)
		writeTestFile(t, filepath.Join(dir, "key.pem"), key)
		tlsSection = fmt.Sprintf("  tls:\n    certificate: %s/cert.pem\n    key: %s/key.pem\n", dir, dir)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		reg.client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		reg.scheme = "https"
	}
	if o.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, filepath.Join(dir, "htpasswd"), []byte(o.user+":"+string(hash)+"\n"))
		authSection = fmt.Sprintf("auth:\n  htpasswd:\n    realm: den-test\n    path: %s/htpasswd\n", dir)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s/data
  delete:
    enabled: true
http:
  addr: %s
  secret: den-e2e
%s%s`, dir, reg.host, tlsSection, authSection)
	writeTestFile(t, filepath.Join(dir, "config.yml"), []byte(cfg))
	var logs bytes.Buffer
	cmd := exec.Command(registryBinary, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", registryBinary, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("docker-registry's log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := reg.client.Get(reg.url("/v2/"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return reg
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", reg.host, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *testRegistry) url(path string) string { return r.scheme + "://" + r.host + path }

// manifest fetches an image manifest as stored: accepting both types, the registry answers
// with the one it holds.
func (r *testRegistry) manifest(t *testing.T, repo, tag string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.url("/v2/"+repo+"/manifests/"+tag), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeCerts makes a CA and a server certificate for 127.0.0.1 signed by it, all PEM.
func makeCerts(t *testing.T) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "den e2e CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// trustRegistry puts the registry's CA into den's own certs.d.
func (d *den) trustRegistry(t *testing.T, reg *testRegistry) {
	t.Helper()
	d.writeFile(t, filepath.Join("config", "den", "certs.d", reg.host, "ca.crt"), reg.caPEM)
}

// writeRegistriesConf writes den's own registries.conf.
func (d *den) writeRegistriesConf(t *testing.T, conf string) {
	t.Helper()
	d.writeFile(t, filepath.Join("config", "den", "registries.conf"), []byte(conf))
}

// seeded is busybox as pushed to a test registry.
type seeded struct {
	ref    string // HOST/test/busybox:1
	repo   string // HOST/test/busybox
	id     string // the image id, 64 hex digits
	digest string // the manifest digest, sha256:...
}

// seedBusybox loads busybox into a den of its own and pushes it to reg as test/busybox:1;
// pushArgs are given to den push (credentials, TLS).
func seedBusybox(t *testing.T, reg *testRegistry, pushArgs ...string) seeded {
	t.Helper()
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	s := seeded{repo: reg.host + "/test/busybox"}
	s.ref = s.repo + ":1"
	s.id = strings.TrimPrefix(strings.TrimSpace(d.mustRun(t, "images", "-q", "--no-trunc").stdout), "sha256:")
	if reg.caPEM != nil {
		d.trustRegistry(t, reg)
	}
	digestFile := filepath.Join(d.home, "digest")
	args := append([]string{"push", "-q", "--digestfile", digestFile}, pushArgs...)
	r := d.mustRun(t, append(args, "busybox", s.ref)...)
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("want push -q to print nothing\n%s", r)
	}
	b, err := os.ReadFile(digestFile)
	if err != nil || !strings.HasPrefix(string(b), "sha256:") {
		t.Fatalf("want the manifest digest in --digestfile: %q, %v", b, err)
	}
	s.digest = string(b)
	return s
}

// wantNothingStored fails unless den lists no image and storage holds no layer.
func wantNothingStored(t *testing.T, d *den) {
	t.Helper()
	if r := d.mustRun(t, "images", "-q"); r.stdout != "" {
		t.Errorf("want no image left\n%s", r)
	}
	driver := "overlay"
	if b, err := os.ReadFile(filepath.Join(d.graphRoot(), "den-driver")); err == nil && strings.TrimSpace(string(b)) == "vfs" {
		driver = "vfs"
	}
	if b, err := os.ReadFile(filepath.Join(d.graphRoot(), driver+"-layers", "layers.json")); err == nil && strings.TrimSpace(string(b)) != "[]" && len(bytes.TrimSpace(b)) > 0 {
		t.Errorf("want no layer records left, layers.json holds %s", b)
	}
	entries, _ := os.ReadDir(filepath.Join(d.graphRoot(), driver))
	for _, e := range entries {
		if hex64.MatchString(e.Name()) {
			t.Errorf("want no layer directory left, found %s/%s", driver, e.Name())
		}
	}
}
