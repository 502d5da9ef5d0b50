package e2e

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// imageNames lists `den images` as REPOSITORY:TAG lines.
func imageNames(t *testing.T, d *den, args ...string) []string {
	t.Helper()
	r := d.mustRun(t, append(append([]string{"images"}, args...), "--format", "{{.Repository}}:{{.Tag}}")...)
	return lines(r.stdout)
}

// imageEvents lists the image events in the log as "STATUS NAME".
func imageEvents(t *testing.T, d *den) []string {
	t.Helper()
	r := d.mustRun(t, "events", "--stream=false", "--filter", "type=image", "--format", "{{.Status}} {{.Name}}")
	return lines(r.stdout)
}

func fullID(t *testing.T, d *den, ref string) string {
	t.Helper()
	r := d.mustRun(t, "image", "inspect", "--format", "{{.Id}}", ref)
	id := strings.TrimSpace(r.stdout)
	if !hex64.MatchString(id) {
		t.Fatalf("want a 64-digit id\n%s", r)
	}
	return id
}

func TestTagGivesNamesThatRunAndUntagTakesThemAway(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := fullID(t, d, "busybox")

	d.mustRun(t, "tag", "busybox", "mybox", "team/other:1")
	got := imageNames(t, d)
	for _, want := range []string{busyboxName, "localhost/mybox:latest", "localhost/team/other:1"} {
		if !slices.Contains(got, want) {
			t.Errorf("want %s listed after tag, got %q", want, got)
		}
	}
	wantStdout(t, d.run(t, "run", "--rm", "mybox", "echo", "by the new name"), "by the new name\n")
	wantStdout(t, d.run(t, "image", "tag", "mybox", "third"), "")

	d.mustRun(t, "untag", "busybox", "mybox")
	if got := imageNames(t, d); slices.Contains(got, "localhost/mybox:latest") || len(got) != 3 {
		t.Errorf("want mybox gone and three names left, got %q", got)
	}
	wantError(t, d.run(t, "run", "--rm", "mybox", "true"), 125, "mybox")

	// Without names, untag removes them all and the image stays, dangling.
	d.mustRun(t, "image", "untag", id[:12])
	wantStdout(t, d.run(t, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"), "<none>:<none> "+id[:12]+"\n")

	events := imageEvents(t, d)
	for _, want := range []string{"tag localhost/mybox:latest", "tag localhost/team/other:1", "tag localhost/third:latest", "untag localhost/mybox:latest", "untag " + busyboxName} {
		if !slices.Contains(events, want) {
			t.Errorf("want the event %q, got %q", want, events)
		}
	}
}

func TestTagAndUntagRefuseBadInput(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	wantError(t, d.run(t, "tag", "nosuchimage", "x"), 125, "nosuchimage")
	wantError(t, d.run(t, "tag", "busybox", "Bad:Name"), 125, "Bad:Name")
	wantError(t, d.run(t, "tag", "busybox"), 125, "NAME")
	wantError(t, d.run(t, "untag", "busybox", "notaname"), 125, "notaname")
	if got := imageNames(t, d); !slices.Equal(got, []string{busyboxName}) {
		t.Errorf("want busybox alone, unchanged, got %q", got)
	}
}

func TestRmiAllRemovesEveryImageAndExitsTwoForOneInUse(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.load(t, "tool-oci.tar")
	r := d.run(t, "rmi", "-a")
	if r.code != 0 || strings.Count(r.stdout, "Deleted: ") != 2 {
		t.Errorf("want both images deleted\n%s", r)
	}
	if r := d.mustRun(t, "images", "-q"); len(lines(r.stdout)) != 0 {
		t.Fatalf("want no image left\n%s", r)
	}

	d.load(t, "busybox-oci.tar")
	d.load(t, "tool-oci.tar")
	d.mustRun(t, "create", "--name", "uses-tool", "tool")
	r = d.run(t, "rmi", "-a")
	if r.code != 2 || !strings.Contains(r.stdout, "Untagged: "+busyboxName) {
		t.Errorf("want busybox removed and exit 2 for tool, which a container uses\n%s", r)
	}
	if got := imageNames(t, d); !slices.Equal(got, []string{"docker.io/library/tool:latest"}) {
		t.Errorf("want only tool left, got %q", got)
	}
}

func TestImagePruneKeepsImagesInUse(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.load(t, "tool-oci.tar")
	d.mustRun(t, "import", filepath.Join(imagesDir, "rootfs.tar"), "spare")
	busybox, tool, spare := fullID(t, d, "busybox"), fullID(t, d, "tool"), fullID(t, d, "spare")
	d.mustRun(t, "create", "--name", "uses-busybox", "busybox", "true")
	// Dangling: busybox (in use) and spare lose their names.
	d.mustRun(t, "untag", "busybox")
	d.mustRun(t, "untag", "spare")

	wantStdout(t, d.run(t, "image", "prune", "-f"), spare+"\n")
	r := d.mustRun(t, "images", "-q", "--no-trunc")
	if got := lines(r.stdout); len(got) != 2 || !slices.Contains(got, "sha256:"+busybox) || !slices.Contains(got, "sha256:"+tool) {
		t.Errorf("want busybox (dangling but in use) and tool kept\n%s", r)
	}

	wantStdout(t, d.run(t, "image", "prune", "-a", "-f"), tool+"\n")
	wantStdout(t, d.run(t, "images", "-q", "--no-trunc"), "sha256:"+busybox+"\n")
	wantStdout(t, d.run(t, "image", "prune", "-af"), "")
	wantStdout(t, d.run(t, "run", "--rm", busybox[:12], "echo", "still here"), "still here\n")
	if events := imageEvents(t, d); !slices.Contains(events, "remove docker.io/library/tool:latest") {
		t.Errorf("want a remove event for tool, got %q", events)
	}
}

func TestImagesFilters(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.load(t, "tool-oci.tar")
	time.Sleep(1100 * time.Millisecond) // a later creation time than the archives'
	d.mustRun(t, "import", "--change", "LABEL stage=late", filepath.Join(imagesDir, "rootfs.tar"), "late")
	d.mustRun(t, "tag", "tool", "spare")
	d.mustRun(t, "untag", "tool")

	cases := []struct {
		name    string
		filters []string
		want    []string
	}{
		{"dangling=true lists images without a name", []string{"dangling=true"}, []string{"<none>:<none>"}},
		{"dangling=false lists named ones", []string{"dangling=false"}, []string{"localhost/late:latest", busyboxName}},
		{"reference matches a short name", []string{"reference=busybox"}, []string{busyboxName}},
		{"reference takes globs", []string{"reference=localhost/*"}, []string{"localhost/late:latest"}},
		{"reference takes a tag", []string{"reference=*:latest"}, []string{"localhost/late:latest", busyboxName}},
		{"references are alternatives", []string{"reference=late", "reference=busybox"}, []string{"localhost/late:latest", busyboxName}},
		{"label with a key", []string{"label=org.den.test"}, []string{busyboxName}},
		{"label with a value", []string{"label=stage=late"}, []string{"localhost/late:latest"}},
		{"label with another value", []string{"label=stage=early"}, nil},
		{"since an image", []string{"since=busybox"}, []string{"localhost/late:latest"}},
		{"before an image", []string{"before=late"}, []string{"<none>:<none>", busyboxName}},
		{"different keys must all hold", []string{"dangling=false", "label=org.den.test"}, []string{busyboxName}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var args []string
			for _, f := range c.filters {
				args = append(args, "--filter", f)
			}
			got := imageNames(t, d, append(args, "--sort", "repository")...)
			want := slices.Clone(c.want)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("filters %q: got %q, want %q", c.filters, got, want)
			}
		})
	}
	for _, bad := range []string{"nosuchkey=1", "dangling=maybe", "label", "since=nosuchimage", "reference=[", "label==v"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			wantError(t, d.run(t, "images", "--filter", bad), 125)
		})
	}
	t.Run("digests adds a column", func(t *testing.T) {
		r := d.mustRun(t, "images", "--digests", "--filter", "reference=busybox")
		ls := lines(r.stdout)
		if len(ls) != 2 || !strings.HasPrefix(strings.Join(strings.Fields(ls[0]), " "), "REPOSITORY TAG DIGEST IMAGE ID") ||
			!strings.Contains(ls[1], "sha256:") {
			t.Errorf("want a DIGEST column with a sha256 digest\n%s", r)
		}
	})
	t.Run("sort by repository and -a is accepted", func(t *testing.T) {
		got := imageNames(t, d, "-a", "--sort", "repository")
		if !slices.Equal(got, []string{"<none>:<none>", busyboxName, "localhost/late:latest"}) {
			t.Errorf("want the names sorted by repository, got %q", got)
		}
	})
	wantError(t, d.run(t, "images", "--sort", "colour"), 125, "colour")
}

func TestImageInspectShowsPodmansFields(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	r := d.mustRun(t, "image", "inspect", "busybox")
	var got []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 {
		t.Fatalf("want a JSON array of one image: %v\n%s", err, r)
	}
	in := got[0]
	for _, field := range []string{"Id", "Digest", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Config", "Version",
		"Author", "Architecture", "Os", "Size", "VirtualSize", "GraphDriver", "RootFS", "Labels", "Annotations", "ManifestType",
		"User", "History", "NamesHistory"} {
		if _, ok := in[field]; !ok {
			t.Errorf("want the field %s\n%s", field, r)
		}
	}
	if id, _ := in["Id"].(string); !hex64.MatchString(id) {
		t.Errorf("want a 64-digit Id, got %v", in["Id"])
	}
	if tags, _ := in["RepoTags"].([]any); len(tags) != 1 || tags[0] != busyboxName {
		t.Errorf("want RepoTags [%s], got %v", busyboxName, in["RepoTags"])
	}
	if rd, _ := in["RepoDigests"].([]any); len(rd) != 1 || !strings.HasPrefix(rd[0].(string), "docker.io/library/busybox@sha256:") {
		t.Errorf("want RepoDigests busybox@sha256:..., got %v", in["RepoDigests"])
	}
	if gd, _ := in["GraphDriver"].(map[string]any); gd["Name"] == "" {
		t.Errorf("want GraphDriver.Name, got %v", in["GraphDriver"])
	}
	if rf, _ := in["RootFS"].(map[string]any); rf["Type"] != "layers" || len(rf["Layers"].([]any)) != 1 {
		t.Errorf("want RootFS of one layer, got %v", in["RootFS"])
	}
	if in["Os"] != "linux" || !strings.Contains(in["ManifestType"].(string), "manifest") {
		t.Errorf("want Os linux and a manifest type, got %v %v", in["Os"], in["ManifestType"])
	}

	wantStdout(t, d.run(t, "image", "inspect", "--format", "{{.Config.Cmd}} {{index .Labels \"org.den.test\"}} {{.Os}}", "busybox"), "[sh] busybox linux\n")
	// Plain inspect falls back to the image when no container has the name.
	wantStdout(t, d.run(t, "inspect", "--format", "{{.Id}}", "busybox"), in["Id"].(string)+"\n")
	wantStdout(t, d.run(t, "inspect", "--type", "image", "-f", "{{.RepoTags}}", "busybox"), "["+busyboxName+"]\n")
	d.mustRun(t, "create", "--name", "busybox", "busybox", "true")
	wantStdout(t, d.run(t, "inspect", "--format", "{{.Name}}", "busybox"), "busybox\n")
	wantStdout(t, d.run(t, "inspect", "--type", "image", "--format", "{{.Os}}", "busybox"), "linux\n")

	wantError(t, d.run(t, "inspect", "--type", "container", "tool"), 125, "tool")
	wantError(t, d.run(t, "inspect", "nosuchthing"), 125, "nosuchthing")
	wantError(t, d.run(t, "image", "inspect", "nosuchimage"), 125, "nosuchimage")
	wantError(t, d.run(t, "image", "inspect", "--format", "{{.Nope", "busybox"), 125, "format")
	wantError(t, d.run(t, "inspect", "--type", "volume", "busybox"), 125, "volume")
}

func TestImageExistsExitsZeroOrOne(t *testing.T) {
	d := newDen(t)
	if r := d.run(t, "image", "exists", "busybox"); r.code != 1 || r.stderr != "" {
		t.Errorf("want exit 1 and no message before any image exists\n%s", r)
	}
	d.load(t, "busybox-oci.tar")
	wantStdout(t, d.run(t, "image", "exists", "busybox"), "")
	wantStdout(t, d.run(t, "image", "exists", busyboxName), "")
	if r := d.run(t, "image", "exists", "nosuchimage"); r.code != 1 || r.stderr != "" {
		t.Errorf("want exit 1 and no message\n%s", r)
	}
	wantError(t, d.run(t, "image", "exists", "Bad//Name"), 125, "Bad//Name")
}

func TestHistoryListsTheCommitsOfAnImage(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--name", "writer", "busybox", "sh", "-c", "echo committed > /hello")
	id := strings.TrimSpace(d.mustRun(t, "commit", "-q", "-m", "my comment", "writer", "withhello").stdout)

	r := d.mustRun(t, "history", "withhello")
	ls := lines(r.stdout)
	if len(ls) < 3 || strings.Join(strings.Fields(ls[0]), " ") != "ID CREATED CREATED BY SIZE COMMENT" {
		t.Fatalf("want the header and at least two steps\n%s", r)
	}
	if f := strings.Fields(ls[1]); f[0] != id[:12] || !strings.Contains(ls[1], "my comment") || !strings.Contains(ls[1], "sh -c echo committed") {
		t.Errorf("want the newest step first, with the image id, its command and comment\n%s", r)
	}
	if !strings.HasPrefix(ls[2], "<missing>") {
		t.Errorf("want older steps as <missing>\n%s", r)
	}
	q := d.mustRun(t, "history", "-q", "withhello")
	if ql := lines(q.stdout); len(ql) != len(ls)-1 || ql[0] != id[:12] {
		t.Errorf("want one id per step\n%s", q)
	}
	wantStdout(t, d.run(t, "history", "--no-trunc", "--format", "{{.ID}} {{.Comment}}", "withhello"),
		strings.Join(append([]string{id + " my comment"}, repeat("<missing> ", len(ls)-2)...), "\n")+"\n")
	var js []map[string]any
	if err := json.Unmarshal([]byte(d.mustRun(t, "history", "--format", "json", "withhello").stdout), &js); err != nil || len(js) != len(ls)-1 || js[0]["id"] != id {
		t.Errorf("want a JSON array of the steps, the first with the id: %v %v", err, js)
	}
	wantError(t, d.run(t, "history", "nosuchimage"), 125, "nosuchimage")
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestSaveInEveryFormatLoadsBackAndRuns(t *testing.T) {
	for _, format := range []string{"docker-archive", "oci-archive", "oci-dir", "docker-dir"} {
		t.Run(format, func(t *testing.T) {
			d := newDen(t)
			d.load(t, "busybox-oci.tar")
			id := fullID(t, d, "busybox")
			out := filepath.Join(d.home, "saved")
			wantStdout(t, d.run(t, "save", "-q", "--format", format, "-o", out, "busybox"), "")
			d.mustRun(t, "rmi", "busybox")
			r := d.mustRun(t, "load", "-i", out)
			ref := busyboxName
			if format == "docker-dir" {
				// containers/image's dir: format keeps no name, in podman too.
				ref = id[:12]
			}
			if !strings.Contains(r.stdout, "Loaded image: ") {
				t.Errorf("want a Loaded image line\n%s", r)
			}
			wantStdout(t, d.run(t, "run", "--rm", ref, "stat", "-c", "%u", "/srv/multi/u2000"), "2000\n")
			if got := fullID(t, d, ref); got != id {
				t.Errorf("want the same image id back, got %s, want %s", got, id)
			}
			if !slices.Contains(imageEvents(t, d), "save "+busyboxName) {
				t.Errorf("want a save event")
			}
		})
	}
}

func TestSaveToStdoutLoadsFromStdin(t *testing.T) {
	for _, format := range []string{"docker-archive", "oci-archive"} {
		t.Run(format, func(t *testing.T) {
			d := newDen(t)
			d.load(t, "busybox-oci.tar")
			r := d.mustRun(t, "save", "--format", format, "busybox")
			if len(r.stdout) < 1<<20 {
				t.Fatalf("want an archive on stdout, got %d bytes\n%s", len(r.stdout), r.stderr)
			}
			d.mustRun(t, "rmi", "busybox")
			r = d.runWith(t, execOpts{stdin: strings.NewReader(r.stdout)}, "load")
			if r.code != 0 || !slices.Contains(lines(r.stdout), "Loaded image: "+busyboxName) {
				t.Fatalf("want busybox loaded from stdin\n%s", r)
			}
			wantStdout(t, d.run(t, "run", "--rm", "busybox", "echo", "ok"), "ok\n")
		})
	}
}

func TestSaveMultiImageArchiveHoldsBothNames(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.load(t, "tool-oci.tar")
	out := filepath.Join(d.home, "both.tar")
	d.mustRun(t, "save", "-q", "-m", "-o", out, "busybox", "tool")
	d.mustRun(t, "rmi", "-a")
	r := d.mustRun(t, "load", "-i", out)
	for _, want := range []string{"Loaded image: " + busyboxName, "Loaded image: docker.io/library/tool:latest"} {
		if !slices.Contains(lines(r.stdout), want) {
			t.Errorf("want %q\n%s", want, r)
		}
	}
	wantStdout(t, d.run(t, "run", "--rm", "tool"), "entry default-arg\n")
	wantStdout(t, d.run(t, "run", "--rm", "busybox", "echo", "ok"), "ok\n")

	// Without -m the names after the first are more names for the first image.
	tags := filepath.Join(d.home, "tags.tar")
	d.mustRun(t, "save", "-q", "-o", tags, "busybox", "extra:1")
	d.mustRun(t, "rmi", "-a")
	r = d.mustRun(t, "load", "-i", tags)
	if !slices.Contains(lines(r.stdout), "Loaded image: localhost/extra:1") || !slices.Contains(lines(r.stdout), "Loaded image: "+busyboxName) {
		t.Errorf("want busybox loaded under both names\n%s", r)
	}
}

func TestSaveRefusesBadInputAndLeavesNothing(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	out := filepath.Join(d.home, "out.tar")
	wantError(t, d.run(t, "save", "-o", out, "nosuchimage"), 125, "nosuchimage")
	wantError(t, d.run(t, "save", "--format", "zip", "-o", out, "busybox"), 125, "zip")
	wantError(t, d.run(t, "save", "--format", "oci-archive", "-o", out, "busybox", "busybox"), 125, "docker-archive")
	wantError(t, d.run(t, "save", "--format", "oci-dir", "busybox"), 125, "-o")
	wantError(t, d.run(t, "save", "-o", out), 125, "no image")
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("want no %s left behind: %v", out, err)
	}
}

func TestExportWritesTheContainersRootfs(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--name", "writer", "busybox", "sh", "-c", "echo exported > /made-here")
	out := filepath.Join(d.home, "rootfs.tar")
	d.mustRun(t, "export", "-o", out, "writer")
	files := tarFiles(t, out)
	if files["made-here"] != "exported\n" {
		t.Errorf("want made-here with its content in the export")
	}
	if _, ok := files["bin/busybox"]; !ok {
		t.Errorf("want the image's files in the export too")
	}
	// To stdout, and `den container export` too.
	r := d.mustRun(t, "container", "export", "writer")
	if len(r.stdout) != int(fileSize(t, out)) {
		t.Errorf("want the same tar on stdout: %d bytes, file %d", len(r.stdout), fileSize(t, out))
	}
	missing := filepath.Join(d.home, "missing.tar")
	wantError(t, d.run(t, "export", "-o", missing, "nosuchctr"), 125, "nosuchctr")
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("want no file left behind: %v", err)
	}
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// tarFiles reads a tar's regular files, by name without a leading "./", with their content.
func tarFiles(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		var b []byte
		if h.Size < 1<<16 {
			b, _ = io.ReadAll(tr)
		}
		out[strings.TrimPrefix(h.Name, "./")] = string(b)
	}
}

func TestCommitMakesAnImageWithTheChangesAndConfig(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "run", "--name", "writer", "-e", "FROM_RUN=yes", "busybox", "sh", "-c", "echo committed > /hello")
	r := d.mustRun(t, "commit", "-c", `CMD ["cat", "/hello"]`, "-c", "ENV MODE=prod", "--author", "Ann <ann@example.com>",
		"-m", "added hello", "writer", "withhello:1")
	id := strings.TrimSpace(r.stdout)
	if !hex64.MatchString(id) {
		t.Fatalf("want the new image id on stdout\n%s", r)
	}
	wantStdout(t, d.run(t, "run", "--rm", "withhello:1"), "committed\n")
	wantStdout(t, d.run(t, "run", "--rm", "withhello:1", "sh", "-c", "echo $MODE $FROM_RUN $IMAGE_VAR"), "prod yes from-image\n")
	wantStdout(t, d.run(t, "image", "inspect", "--format", "{{.Id}}|{{.Author}}|{{.Comment}}|{{.Config.Cmd}}|{{len .RootFS.Layers}}", "localhost/withhello:1"),
		id+"|Ann <ann@example.com>|added hello|[cat /hello]|2\n")
	// The committed image saves and loads like any other.
	out := filepath.Join(d.home, "committed.tar")
	d.mustRun(t, "save", "-q", "-o", out, "withhello:1")
	d.mustRun(t, "rm", "-af", "-t", "0")
	d.mustRun(t, "rmi", "-a")
	d.mustRun(t, "load", "-i", out)
	wantStdout(t, d.run(t, "run", "--rm", "withhello:1"), "committed\n")

	// An unnamed commit is dangling, and a container event says commit.
	d.mustRun(t, "run", "--name", "again", "withhello:1", "true")
	anon := strings.TrimSpace(d.mustRun(t, "container", "commit", "again").stdout)
	wantStdout(t, d.run(t, "images", "--filter", "dangling=true", "-q", "--no-trunc"), "sha256:"+anon+"\n")
	ev := d.mustRun(t, "events", "--stream=false", "--filter", "event=commit", "--format", "{{.Name}}")
	wantStdout(t, ev, "writer\nagain\n")
}

func TestCommitRefusesBadInputAndLeavesNothing(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "ctr", "busybox", "true")
	wantError(t, d.run(t, "commit", "nosuchctr", "x"), 125, "nosuchctr")
	wantError(t, d.run(t, "commit", "-c", "BOGUS x", "ctr", "x"), 125, "BOGUS")
	wantError(t, d.run(t, "commit", "ctr", "Bad:Name"), 125, "Bad:Name")
	wantError(t, d.run(t, "commit", "--format", "docker", "ctr", "x"), 125, "oci")
	if got := imageNames(t, d); !slices.Equal(got, []string{busyboxName}) {
		t.Errorf("want busybox alone, got %q", got)
	}
}

func TestSaveAndExportRefuseToWriteToATerminal(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "ctr", "busybox", "true")
	for _, args := range [][]string{{"save", "busybox"}, {"export", "ctr"}} {
		p := d.startPty(t, 24, 200, args...)
		code, out := p.wait()
		ls := lines(strings.TrimSpace(out))
		if code != 125 || len(ls) != 1 || !strings.HasPrefix(ls[0], "Error: ") || !strings.Contains(ls[0], "terminal") {
			t.Errorf("den %s on a terminal: want exit 125 and one line about the terminal, got %d:\n%s", strings.Join(args, " "), code, out)
		}
	}
}
