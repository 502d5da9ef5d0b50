package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"
)

// manifestDigests reads which blobs an image's manifest names.
func manifestDigests(t *testing.T, reg *testRegistry, repo, tag string) (config string, layers []string) {
	t.Helper()
	resp := reg.manifest(t, repo, tag)
	defer resp.Body.Close()
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m.Config.Digest == "" || len(m.Layers) == 0 {
		t.Fatalf("reading the manifest of %s:%s: %v", repo, tag, err)
	}
	for _, l := range m.Layers {
		layers = append(layers, l.Digest)
	}
	return m.Config.Digest, layers
}

// fault is how the proxy misbehaves on the requests it matches.
type fault func(w http.ResponseWriter, r *http.Request, upstream []byte)

// unreliableProxy forwards to reg and lets fault answer the requests whose path ends with
// one of match instead; fault gets the upstream's body for that path.
func unreliableProxy(t *testing.T, reg *testRegistry, match []string, f fault) string {
	t.Helper()
	target, _ := url.Parse(reg.url(""))
	forward := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, m := range match {
			if strings.HasSuffix(r.URL.Path, m) {
				var body []byte
				if resp, err := reg.client.Get(reg.url(r.URL.Path)); err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				f(w, r, body)
				return
			}
		}
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func status(code int, body string) fault {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		if code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="den-test"`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

// hangUp promises the whole blob, sends half of it and closes the connection.
func hangUp(w http.ResponseWriter, _ *http.Request, blob []byte) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nAccept-Ranges: bytes\r\n\r\n", len(blob))
	buf.Write(blob[:len(blob)/2])
	buf.Flush()
}

// corrupt serves the blob with one byte changed, so its digest is wrong.
func corrupt(w http.ResponseWriter, _ *http.Request, blob []byte) {
	bad := append([]byte{}, blob...)
	if len(bad) > 0 {
		bad[len(bad)/2] ^= 0xff
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", fmt.Sprint(len(bad)))
	w.Write(bad)
}

func errJSON(code, msg string) string {
	return fmt.Sprintf(`{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

func TestPullFromUnreliableRegistryFailsInOneLineAndLeavesNothing(t *testing.T) {
	reg := startRegistry(t, registryOpts{})
	img := seedBusybox(t, reg, "--tls-verify=false")
	config, layers := manifestDigests(t, reg, "test/busybox", "1")
	layer := layers[len(layers)-1]
	// A two-layer image, whose second layer fails once the first is stored.
	two := newDen(t)
	layout, _, _ := twoLayerLayout(t, two)
	two.mustRun(t, "pull", "-q", "oci:"+layout+":two:1")
	two.mustRun(t, "push", "-q", "--tls-verify=false", "localhost/two:1", reg.host+"/test/two:1")
	_, twoLayers := manifestDigests(t, reg, "test/two", "1")
	late := func(w http.ResponseWriter, r *http.Request, b []byte) {
		time.Sleep(2 * time.Second)
		status(http.StatusInternalServerError, errJSON("UNKNOWN", "injected failure"))(w, r, b)
	}
	for _, tc := range []struct {
		name     string
		match    []string
		fault    fault
		mentions []string
		repo     string
	}{
		{"401 everywhere", []string{""}, status(http.StatusUnauthorized, errJSON("UNAUTHORIZED", "authentication required")), []string{"unauthorized"}, ""},
		{"404 for the manifest", []string{"/manifests/1"}, status(http.StatusNotFound, errJSON("MANIFEST_UNKNOWN", "manifest unknown")), []string{"manifest unknown"}, ""},
		{"500 for the layer", []string{"/blobs/" + layer}, status(http.StatusInternalServerError, errJSON("UNKNOWN", "injected failure")), []string{"500"}, ""},
		{"500 for the config", []string{"/blobs/" + config}, status(http.StatusInternalServerError, errJSON("UNKNOWN", "injected failure")), []string{"500"}, ""},
		{"hang-up mid-blob", []string{"/blobs/" + layer}, hangUp, []string{"unexpected EOF"}, ""},
		{"wrong digest", []string{"/blobs/" + layer}, corrupt, []string{"Digest did not match"}, ""},
		// containers/image commits the first layer before the second fails: den removes it.
		{"500 for the second layer", []string{"/blobs/" + twoLayers[1]}, late, []string{"500"}, "test/two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := unreliableProxy(t, reg, tc.match, tc.fault)
			d := newDen(t)
			if tc.repo == "" {
				tc.repo = "test/busybox"
			}
			ref := proxy + "/" + tc.repo + ":1"
			wantError(t, d.run(t, "pull", "-q", "--tls-verify=false", ref), 125, append([]string{ref}, tc.mentions...)...)
			wantNothingStored(t, d)
			// Without -q the same failure ends with the same single error line after the progress.
			r := d.run(t, "pull", "--tls-verify=false", ref)
			if ls := lines(r.stderr); r.code != 125 || len(ls) == 0 || !strings.HasPrefix(ls[len(ls)-1], "Error: ") || strings.Count(r.stderr, "Error:") != 1 {
				t.Errorf("want exit 125 and one error line after the progress\n%s", r)
			}
			wantNothingStored(t, d)
		})
	}
	t.Run("the healthy proxy works", func(t *testing.T) {
		proxy := unreliableProxy(t, reg, nil, nil)
		d := newDen(t)
		wantPulled(t, d.run(t, "pull", "-q", "--tls-verify=false", proxy+"/test/busybox:1"), img.id)
	})
}
