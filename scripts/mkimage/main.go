// Command mkimage builds den's test images from a static busybox binary,
// without any container tool, so the test suite needs nothing but a Debian
// package and can run offline.
//
// The output is a pure function of the busybox binary and its applet list:
// mtimes are fixed, entries are sorted and owners come from the tar headers
// rather than the disk, so reruns are byte-identical and the program works
// as a normal user.
//
//	go run ./scripts/mkimage -busybox /bin/busybox -out testdata/images
//
// With -wrap it instead packs an existing layer tarball (a root filesystem
// made elsewhere, such as scripts/build-debian-image.sh's) into a one-layer
// OCI archive:
//
//	go run ./scripts/mkimage -wrap layer.tar -ref debian:latest -cmd bash -out debian-oci.tar
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// epoch is the mtime of every tar entry and the image creation time; any
// fixed value works, a real date keeps tools that reject 1970 quiet.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar"
	annotationRefName = "org.opencontainers.image.ref.name"

	defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// busyboxHistory is the history line of the busybox images.
const busyboxHistory = "den scripts/mkimage: busybox rootfs"

// Output file names, relative to the -out directory.
const (
	fileRootfs       = "rootfs.tar"
	fileBusyboxOCI   = "busybox-oci.tar"
	fileBusyboxDock  = "busybox-docker.tar"
	fileBusyboxDockZ = "busybox-docker.tar.gz"
	fileToolOCI      = "tool-oci.tar"
)

func main() {
	busybox := flag.String("busybox", "/bin/busybox", "static busybox binary to put in the images")
	out := flag.String("out", "testdata/images", "directory to write the archives to (with -wrap, the archive)")
	wrap := flag.String("wrap", "", "layer tarball to pack into one OCI archive instead")
	ref := flag.String("ref", "", "with -wrap: the image's name:tag")
	cmd := flag.String("cmd", "", "with -wrap: the image's command")
	flag.Parse()

	err := error(nil)
	if *wrap != "" {
		err = wrapLayer(*wrap, *ref, *cmd, *out)
	} else {
		err = run(*busybox, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(busybox, out string) error {
	if err := checkStatic(busybox); err != nil {
		return err
	}
	applets, err := listApplets(busybox)
	if err != nil {
		return err
	}
	return build(busybox, applets, out)
}

// wrapLayer writes the layer tarball at layerPath as a one-layer OCI archive.
func wrapLayer(layerPath, ref, cmd, out string) error {
	if ref == "" || cmd == "" {
		return errors.New("-wrap needs -ref and -cmd")
	}
	layer, err := os.ReadFile(layerPath)
	if err != nil {
		return fmt.Errorf("reading layer: %w", err)
	}
	img, err := newImage(ref, runConfig{Env: []string{defaultPath}, Cmd: []string{cmd}, WorkingDir: "/"}, layer, "den scripts/mkimage -wrap "+filepath.Base(layerPath))
	if err != nil {
		return err
	}
	b, err := img.ociArchive()
	if err != nil {
		return err
	}
	return writeFileAtomic(out, b)
}

// checkStatic refuses a dynamically linked busybox: the image holds no
// shared libraries, so every applet would fail with "not found" at run time.
func checkStatic(busybox string) error {
	f, err := elf.Open(busybox)
	if err != nil {
		return fmt.Errorf("reading %s as an ELF binary: %w", busybox, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: install busybox-static (scripts/setup-host.sh does) or pass -busybox", busybox)
		}
	}
	return nil
}

// listApplets asks busybox which applets it has and where they belong.
func listApplets(busybox string) ([]string, error) {
	cmd := exec.Command(busybox, "--list-full")
	// busybox picks the applet from argv[0]; a copy named "bb" would
	// otherwise answer "applet not found".
	cmd.Args[0] = "busybox"
	outb, err := cmd.Output()
	if err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && len(exitErr.Stderr) > 0 {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(exitErr.Stderr))
		}
		return nil, fmt.Errorf("listing applets of %s (is it busybox-static?): %w", busybox, err)
	}
	return parseApplets(string(outb)), nil
}

// parseApplets turns `busybox --list-full` output into rootfs-relative paths,
// dropping bin/busybox, which is the binary itself rather than a link to it.
func parseApplets(list string) []string {
	var applets []string
	for _, line := range strings.Split(list, "\n") {
		p := strings.Trim(strings.TrimSpace(line), "/")
		if p == "" || p == "bin/busybox" {
			continue
		}
		applets = append(applets, p)
	}
	return applets
}

// build writes every test image into out.
func build(busybox string, applets []string, out string) error {
	bin, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("reading busybox binary: %w", err)
	}
	entries, err := rootfs(bin, applets)
	if err != nil {
		return err
	}
	layer, err := tarBytes(entries)
	if err != nil {
		return fmt.Errorf("writing rootfs layer: %w", err)
	}

	busyboxCfg := runConfig{
		Env:        []string{defaultPath, "IMAGE_VAR=from-image"},
		Cmd:        []string{"sh"},
		WorkingDir: "/",
		Labels:     map[string]string{"org.den.test": "busybox"},
	}
	toolCfg := runConfig{
		User:       "user",
		Env:        []string{defaultPath, "FOO=from-image"},
		Entrypoint: []string{"/bin/echo", "entry"},
		Cmd:        []string{"default-arg"},
		WorkingDir: "/srv",
	}
	busyboxImg, err := newImage("busybox:latest", busyboxCfg, layer, busyboxHistory)
	if err != nil {
		return err
	}
	toolImg, err := newImage("tool:latest", toolCfg, layer, busyboxHistory)
	if err != nil {
		return err
	}

	busyboxOCI, err := busyboxImg.ociArchive()
	if err != nil {
		return err
	}
	busyboxDocker, err := busyboxImg.dockerArchive()
	if err != nil {
		return err
	}
	busyboxDockerGz, err := gzipBytes(busyboxDocker)
	if err != nil {
		return err
	}
	toolOCI, err := toolImg.ociArchive()
	if err != nil {
		return err
	}

	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{fileRootfs, layer},
		{fileBusyboxOCI, busyboxOCI},
		{fileBusyboxDock, busyboxDocker},
		{fileBusyboxDockZ, busyboxDockerGz},
		{fileToolOCI, toolOCI},
	}
	for _, f := range files {
		if err := writeFileAtomic(filepath.Join(out, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// entry is one file in a tar stream. Names are relative and slash-separated,
// without a trailing slash even for directories.
type entry struct {
	name     string
	typ      byte // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	mode     int64
	uid, gid int
	link     string
	data     []byte
}

func dir(name string, mode int64, uid, gid int) entry {
	return entry{name: name, typ: tar.TypeDir, mode: mode, uid: uid, gid: gid}
}

func file(name string, mode int64, uid, gid int, data string) entry {
	return entry{name: name, typ: tar.TypeReg, mode: mode, uid: uid, gid: gid, data: []byte(data)}
}

const passwd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const group = `root:x:0:
daemon:x:1:
user:x:1000:user
extra:x:2000:user
nogroup:x:65534:
`

// rootfs lays out the image filesystem. The uid/gid spread under /home and
// /srv/multi exists so tests can check that ownership survives id mapping.
func rootfs(busybox []byte, applets []string) ([]entry, error) {
	entries := []entry{
		dir("bin", 0o755, 0, 0),
		{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755, data: busybox},
		dir("dev", 0o755, 0, 0),
		dir("etc", 0o755, 0, 0),
		file("etc/passwd", 0o644, 0, 0, passwd),
		file("etc/group", 0o644, 0, 0, group),
		dir("home", 0o755, 0, 0),
		dir("home/user", 0o755, 1000, 1000),
		file("home/user/owned", 0o644, 1000, 1000, "owned"),
		dir("proc", 0o555, 0, 0),
		dir("root", 0o700, 0, 0),
		dir("run", 0o755, 0, 0),
		dir("sbin", 0o755, 0, 0),
		dir("srv", 0o755, 0, 0),
		dir("srv/multi", 0o755, 0, 0),
		file("srv/multi/u0", 0o644, 0, 0, "u0"),
		file("srv/multi/u1000", 0o644, 1000, 1000, "u1000"),
		file("srv/multi/u2000", 0o644, 2000, 2000, "u2000"),
		file("srv/multi/u65534", 0o644, 65534, 65534, "u65534"),
		dir("sys", 0o555, 0, 0),
		dir("tmp", 0o1777, 0, 0),
		dir("usr", 0o755, 0, 0),
		dir("usr/bin", 0o755, 0, 0),
		dir("usr/sbin", 0o755, 0, 0),
		dir("var", 0o755, 0, 0),
	}
	seen := make(map[string]bool, len(entries)+len(applets))
	for _, e := range entries {
		seen[e.name] = true
	}
	for _, a := range applets {
		a = path.Clean(a)
		if a == "." || strings.HasPrefix(a, "../") || a == ".." {
			return nil, fmt.Errorf("applet path %q escapes the rootfs", a)
		}
		if seen[a] {
			return nil, fmt.Errorf("applet %s collides with another rootfs entry", a)
		}
		// An applet in a directory the layout above lacks still needs it.
		for d := path.Dir(a); d != "." && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			entries = append(entries, dir(d, 0o755, 0, 0))
		}
		seen[a] = true
		// Absolute, so the link works from any directory depth.
		entries = append(entries, entry{name: a, typ: tar.TypeSymlink, mode: 0o777, link: "/bin/busybox"})
	}
	return entries, nil
}

// tarBytes writes entries sorted so that every parent precedes its children.
func tarBytes(entries []entry) ([]byte, error) {
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return pathLess(sorted[i].name, sorted[j].name) })

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range sorted {
		hdr := &tar.Header{
			Typeflag: e.typ,
			Name:     e.name,
			Linkname: e.link,
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			ModTime:  epoch,
			// USTAR has no atime/ctime or PAX records, which keeps
			// the bytes independent of the Go version's defaults.
			Format: tar.FormatUSTAR,
		}
		if e.typ == tar.TypeDir {
			hdr.Name += "/"
		}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("writing tar header for %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("writing tar data for %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("closing tar stream: %w", err)
	}
	return buf.Bytes(), nil
}

// pathLess orders paths component by component, so "a/b" sorts before
// "a-b" and a directory always comes before what it contains.
func pathLess(a, b string) bool {
	return strings.ReplaceAll(a, "/", "\x00") < strings.ReplaceAll(b, "/", "\x00")
}

// Image JSON, restricted to the fields the test images use. The field names
// follow the OCI image spec, whose config format docker archives share.
type (
	descriptor struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int64             `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	index struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}
	manifest struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        descriptor   `json:"config"`
		Layers        []descriptor `json:"layers"`
	}
	imageConfig struct {
		Created      time.Time `json:"created"`
		Architecture string    `json:"architecture"`
		OS           string    `json:"os"`
		Config       runConfig `json:"config"`
		RootFS       rootFS    `json:"rootfs"`
		History      []history `json:"history"`
	}
	runConfig struct {
		User       string            `json:"User,omitempty"`
		Env        []string          `json:"Env,omitempty"`
		Entrypoint []string          `json:"Entrypoint,omitempty"`
		Cmd        []string          `json:"Cmd,omitempty"`
		WorkingDir string            `json:"WorkingDir,omitempty"`
		Labels     map[string]string `json:"Labels,omitempty"`
	}
	rootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	}
	history struct {
		Created   time.Time `json:"created"`
		CreatedBy string    `json:"created_by"`
	}
	// dockerManifest is one element of a docker archive's manifest.json.
	dockerManifest struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
)

// image holds the serialized blobs of a single-layer image.
type image struct {
	ref      string // name:tag
	config   []byte
	layer    []byte
	manifest []byte
}

func newImage(ref string, rc runConfig, layer []byte, createdBy string) (*image, error) {
	layerDigest := digest(layer)
	config, err := json.Marshal(imageConfig{
		Created:      epoch,
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Config:       rc,
		RootFS:       rootFS{Type: "layers", DiffIDs: []string{layerDigest}},
		History: []history{{
			Created:   epoch,
			CreatedBy: createdBy,
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding config of %s: %w", ref, err)
	}
	m, err := json.Marshal(manifest{
		SchemaVersion: 2,
		MediaType:     mediaTypeManifest,
		Config:        descriptor{MediaType: mediaTypeConfig, Digest: digest(config), Size: int64(len(config))},
		Layers:        []descriptor{{MediaType: mediaTypeLayer, Digest: layerDigest, Size: int64(len(layer))}},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding manifest of %s: %w", ref, err)
	}
	return &image{ref: ref, config: config, layer: layer, manifest: m}, nil
}

// ociArchive returns the image as a tarred OCI image layout.
func (img *image) ociArchive() ([]byte, error) {
	idx, err := json.Marshal(index{
		SchemaVersion: 2,
		MediaType:     mediaTypeIndex,
		Manifests: []descriptor{{
			MediaType:   mediaTypeManifest,
			Digest:      digest(img.manifest),
			Size:        int64(len(img.manifest)),
			Annotations: map[string]string{annotationRefName: img.ref},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding index of %s: %w", img.ref, err)
	}
	entries := []entry{
		file("oci-layout", 0o644, 0, 0, `{"imageLayoutVersion":"1.0.0"}`),
		{name: "index.json", typ: tar.TypeReg, mode: 0o644, data: idx},
		dir("blobs", 0o755, 0, 0),
		dir("blobs/sha256", 0o755, 0, 0),
	}
	for _, blob := range [][]byte{img.config, img.layer, img.manifest} {
		entries = append(entries, entry{name: "blobs/sha256/" + hexDigest(blob), typ: tar.TypeReg, mode: 0o644, data: blob})
	}
	b, err := tarBytes(entries)
	if err != nil {
		return nil, fmt.Errorf("writing oci archive of %s: %w", img.ref, err)
	}
	return b, nil
}

// dockerArchive returns the image in the `docker save` layout: manifest.json
// is what current tools read, repositories is for older ones.
func (img *image) dockerArchive() ([]byte, error) {
	layerID := hexDigest(img.layer)
	configName := hexDigest(img.config) + ".json"
	layerName := layerID + "/layer.tar"
	m, err := json.Marshal([]dockerManifest{{
		Config:   configName,
		RepoTags: []string{img.ref},
		Layers:   []string{layerName},
	}})
	if err != nil {
		return nil, fmt.Errorf("encoding docker manifest of %s: %w", img.ref, err)
	}
	i := strings.LastIndex(img.ref, ":")
	if i < 0 || strings.Contains(img.ref[i:], "/") {
		return nil, fmt.Errorf("image reference %q has no tag", img.ref)
	}
	repo, tag := img.ref[:i], img.ref[i+1:]
	repos, err := json.Marshal(map[string]map[string]string{repo: {tag: layerID}})
	if err != nil {
		return nil, fmt.Errorf("encoding docker repositories of %s: %w", img.ref, err)
	}
	entries := []entry{
		{name: "manifest.json", typ: tar.TypeReg, mode: 0o644, data: m},
		{name: "repositories", typ: tar.TypeReg, mode: 0o644, data: repos},
		{name: configName, typ: tar.TypeReg, mode: 0o644, data: img.config},
		dir(layerID, 0o755, 0, 0),
		{name: layerName, typ: tar.TypeReg, mode: 0o644, data: img.layer},
	}
	b, err := tarBytes(entries)
	if err != nil {
		return nil, fmt.Errorf("writing docker archive of %s: %w", img.ref, err)
	}
	return b, nil
}

func hexDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func digest(b []byte) string { return "sha256:" + hexDigest(b) }

// gzipBytes compresses without a name or mtime in the header, which would
// otherwise differ between runs.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing: %w", err)
	}
	return buf.Bytes(), nil
}

// writeFileAtomic renames into place so an interrupted run never leaves a
// fresh-looking but truncated archive for build-testdata.sh to trust.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("renaming %s into place: %w", name, err)
	}
	return nil
}
