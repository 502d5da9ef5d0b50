package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// otherArch is an architecture that is not the host's.
func otherArch() string {
	if runtime.GOARCH == "arm64" {
		return "amd64"
	}
	return "arm64"
}

// twoLayerLayout writes an OCI layout made from testdata's busybox with a second layer
// (/etc/den-layer holding "two"). It names two images: "two:1", the host's two-layer image,
// and "multi:1", an index of it and of the same layers labelled for otherArch. It returns
// the layout directory and the image ids (config digests) of both platforms.
func twoLayerLayout(t *testing.T, d *den) (dir, hostID, otherID string) {
	t.Helper()
	blobs := map[string][]byte{}
	var index struct {
		Manifests []struct{ Digest string }
	}
	f, err := os.Open(filepath.Join(imagesDir, "busybox-oci.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if name := filepath.Base(h.Name); filepath.Base(filepath.Dir(h.Name)) == "sha256" {
			blobs["sha256:"+name] = b
		} else if name == "index.json" {
			if err := json.Unmarshal(b, &index); err != nil {
				t.Fatal(err)
			}
		}
	}
	var man map[string]any
	if err := json.Unmarshal(blobs[index.Manifests[0].Digest], &man); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	cfgDigest := man["config"].(map[string]any)["digest"].(string)
	if err := json.Unmarshal(blobs[cfgDigest], &cfg); err != nil {
		t.Fatal(err)
	}

	put := func(b []byte) (string, int) {
		dg := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
		blobs[dg] = b
		return dg, len(b)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	content := []byte("two\n")
	tw.WriteHeader(&tar.Header{Name: "etc/den-layer", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write(content)
	tw.Close()
	layerDigest, layerSize := put(layer.Bytes())
	man["layers"] = append(man["layers"].([]any), map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layerDigest, "size": layerSize})
	rootfs := cfg["rootfs"].(map[string]any)
	rootfs["diff_ids"] = append(rootfs["diff_ids"].([]any), layerDigest)

	type desc struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Platform    map[string]string `json:"platform,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	var platforms []desc
	ids := map[string]string{}
	for _, arch := range []string{runtime.GOARCH, otherArch()} {
		cfg["architecture"] = arch
		cb, _ := json.Marshal(cfg)
		cd, cs := put(cb)
		ids[arch] = cd[len("sha256:"):]
		man["config"] = map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs}
		mb, _ := json.Marshal(man)
		md, ms := put(mb)
		platforms = append(platforms, desc{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: md, Size: ms, Platform: map[string]string{"os": "linux", "architecture": arch}})
	}
	ib, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": platforms})
	id, is := put(ib)
	top := map[string]any{"schemaVersion": 2, "manifests": []desc{
		{MediaType: platforms[0].MediaType, Digest: platforms[0].Digest, Size: platforms[0].Size, Annotations: map[string]string{"org.opencontainers.image.ref.name": "two:1"}},
		{MediaType: "application/vnd.oci.image.index.v1+json", Digest: id, Size: is, Annotations: map[string]string{"org.opencontainers.image.ref.name": "multi:1"}},
	}}
	tb, _ := json.Marshal(top)
	d.writeFile(t, "layout/oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	d.writeFile(t, "layout/index.json", tb)
	for dg, b := range blobs {
		d.writeFile(t, "layout/blobs/sha256/"+dg[len("sha256:"):], b)
	}
	return filepath.Join(d.dir, "layout"), ids[runtime.GOARCH], ids[otherArch()]
}

func TestPullPicksThePlatformOfAMultiArchImage(t *testing.T) {
	d := newDen(t)
	layout, hostID, otherID := twoLayerLayout(t, d)
	wantPulled(t, d.run(t, "pull", "-q", "oci:"+layout+":multi:1"), hostID)
	wantStdout(t, d.run(t, "run", "--rm", hostID, "cat", "/etc/den-layer"), "two\n")
	wantPulled(t, d.run(t, "pull", "-q", "--platform", "linux/"+otherArch(), "oci:"+layout+":multi:1"), otherID)
	e := newDen(t)
	wantPulled(t, e.run(t, "pull", "-q", "--arch", otherArch(), "oci:"+layout+":multi:1"), otherID)
	wantError(t, e.run(t, "pull", "-q", "--platform", "linux", "oci:"+layout+":multi:1"), 125, "--platform")
	wantError(t, e.run(t, "pull", "-q", "--platform", "linux/s390x", "oci:"+layout+":multi:1"), 125, "s390x")
}
