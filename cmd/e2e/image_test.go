package e2e

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const busyboxName = "docker.io/library/busybox:latest"

func TestLoadStoresBusyboxFromEveryArchiveFormat(t *testing.T) {
	for _, archive := range []string{"busybox-oci.tar", "busybox-docker.tar", "busybox-docker.tar.gz"} {
		t.Run(archive, func(t *testing.T) {
			d := newDen(t)
			r := d.load(t, archive)
			if !slices.Contains(lines(r.stdout), "Loaded image: "+busyboxName) {
				t.Errorf("want \"Loaded image: %s\" on stdout\n%s", busyboxName, r)
			}
			wantBusyboxListed(t, d)
			// The layer made it into storage, with its owners.
			wantStdout(t, d.run(t, "run", "--rm", "busybox", "stat", "-c", "%u", "/srv/multi/u2000"), "2000\n")
		})
	}
}

func TestLoadReadsArchiveFromStdin(t *testing.T) {
	for _, archive := range []string{"busybox-oci.tar", "busybox-docker.tar.gz"} {
		t.Run(archive, func(t *testing.T) {
			d := newDen(t)
			f, err := os.Open(filepath.Join(imagesDir, archive))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r := d.runWith(t, execOpts{stdin: f}, "load")
			if r.code != 0 || !slices.Contains(lines(r.stdout), "Loaded image: "+busyboxName) {
				t.Errorf("want exit 0 and \"Loaded image: %s\" on stdout\n%s", busyboxName, r)
			}
			wantBusyboxListed(t, d)
		})
	}
}

// Ctrl-C while den load reads an archive from a pipe ends it at once and leaves no spool in
// the temporary directory, however long the pipe's writer lives (before, den died at once but
// left a den-load-*.tar there, as large as what had arrived).
func TestLoadInterruptedLeavesNoSpoolFile(t *testing.T) {
	d := newDen(t)
	tmp := d.spoolDir(t)
	archive, err := os.ReadFile(filepath.Join(imagesDir, "busybox-oci.tar"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := d.spoolingCommand(t, tmp, "load")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// Half the archive, and the pipe left open: den is still spooling when interrupted.
	if _, err := in.Write(archive[:len(archive)/2]); err != nil {
		t.Fatal(err)
	}
	if _, left := ctrlCWhileSpooling(t, cmd, tmp, "den-load-*"); len(left) != 0 {
		t.Errorf("den load left its spool after Ctrl-C: %q", left)
	}
}

// den save IMAGE to a pipe whose reader stops early (| head) is ended by SIGPIPE, as any
// writer is; the archive it spooled before writing is not left in TMPDIR.
func TestSaveToAReaderThatStopsEarlyLeavesNoSpoolFile(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	tmp := d.spoolDir(t)
	cmd := d.spoolingCommand(t, tmp, "save", "busybox")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 100)
	if _, err := io.ReadFull(out, head); err != nil {
		t.Fatalf("reading the start of the archive: %v", err)
	}
	out.Close()
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code == 0 {
		t.Errorf("den save went on to exit 0 with nobody reading")
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "den-save-*")); len(left) != 0 {
		t.Errorf("den save left its spool behind: %q", left)
	}
}

// spoolDir makes a private TMPDIR of den's user, where load and save put their spool files.
func (d *den) spoolDir(t *testing.T) string {
	t.Helper()
	tmp := filepath.Join(d.dir, "tmp")
	d.chownedDir(t, tmp)
	return tmp
}

// spoolingCommand prepares den with TMPDIR=tmp and with Ctrl-C's default action, as from a
// shell, even if this test was started with it ignored: a signal handled here is reset to
// the default in the child.
func (d *den) spoolingCommand(t *testing.T, tmp string, args ...string) *exec.Cmd {
	t.Helper()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	t.Cleanup(func() { signal.Stop(sigs) })
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	t.Cleanup(cancel)
	cmd := d.command(ctx, args...)
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	return cmd
}

// ctrlCWhileSpooling waits until the started den cmd has written to a spool file matching
// pattern in tmp, sends Ctrl-C as a terminal does (to the whole process group), waits for den to end,
// and returns its exit code and the spool files left.
func ctrlCWhileSpooling(t *testing.T, cmd *exec.Cmd, tmp, pattern string) (int, []string) {
	t.Helper()
	spool := func() []string {
		m, _ := filepath.Glob(filepath.Join(tmp, pattern))
		return m
	}
	written := func() bool {
		for _, f := range spool() {
			if fi, err := os.Stat(f); err == nil && fi.Size() > 0 {
				return true
			}
		}
		return false
	}
	if !waitUntil(10*time.Second, written) {
		t.Fatalf("den %s never made its spool file under TMPDIR", shellQuote(cmd.Args[1:]))
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- cmd.Wait() }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatalf("den %s still running 10 s after Ctrl-C", shellQuote(cmd.Args[1:]))
	}
	return cmd.ProcessState.ExitCode(), spool()
}

// wantBusyboxListed checks `den images` has the row REPOSITORY docker.io/library/busybox TAG latest.
func wantBusyboxListed(t *testing.T, d *den) {
	t.Helper()
	r := d.mustRun(t, "images")
	ls := lines(r.stdout)
	if len(ls) != 2 || !slices.Equal(strings.Fields(ls[0]), []string{"REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"}) {
		t.Fatalf("want a header and one image\n%s", r)
	}
	if f := strings.Fields(ls[1]); len(f) < 3 || f[0] != "docker.io/library/busybox" || f[1] != "latest" || !hex12.MatchString(f[2]) {
		t.Errorf("want docker.io/library/busybox, latest and a 12-digit id on the image's line\n%s", r)
	}
}

func TestImagesPrintsRequestedFormats(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")

	var listed []struct {
		ID    string   `json:"Id"`
		Names []string `json:"Names"`
	}
	r := d.mustRun(t, "images", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &listed); err != nil {
		t.Fatalf("want a JSON array: %v\n%s", err, r)
	}
	if len(listed) != 1 || !hex64.MatchString(listed[0].ID) || !slices.Equal(listed[0].Names, []string{busyboxName}) {
		t.Fatalf("want one image with a 64-digit Id and Names [%s]\n%s", busyboxName, r)
	}
	id := listed[0].ID

	t.Run("quiet prints the short id", func(t *testing.T) {
		wantStdout(t, d.run(t, "images", "-q"), id[:12]+"\n")
	})
	t.Run("quiet with no-trunc prints the full id", func(t *testing.T) {
		wantStdout(t, d.run(t, "images", "-q", "--no-trunc"), "sha256:"+id+"\n")
	})
	t.Run("a template per image", func(t *testing.T) {
		wantStdout(t, d.run(t, "images", "--format", "{{.Repository}}:{{.Tag}}"), busyboxName+"\n")
	})
	t.Run("a table template has headers", func(t *testing.T) {
		r := d.run(t, "images", "--format", "table {{.Repository}} {{.ID}}")
		ls := lines(r.stdout)
		if r.code != 0 || len(ls) != 2 || strings.Join(strings.Fields(ls[0]), " ") != "REPOSITORY IMAGE ID" ||
			strings.Join(strings.Fields(ls[1]), " ") != "docker.io/library/busybox "+id[:12] {
			t.Errorf("want the header REPOSITORY IMAGE ID and the busybox line\n%s", r)
		}
	})
	t.Run("a name argument filters", func(t *testing.T) {
		wantStdout(t, d.run(t, "images", "-q", "busybox"), id[:12]+"\n")
		wantStdout(t, d.run(t, "images", "-q", "nosuchimage"), "")
	})
}

func TestImportMakesLocalhostImageThatRuns(t *testing.T) {
	d := newDen(t)
	r := d.mustRun(t, "import", filepath.Join(imagesDir, "rootfs.tar"), "myimg")
	if id := strings.TrimPrefix(strings.TrimSpace(r.stdout), "sha256:"); !hex64.MatchString(id) {
		t.Errorf("want the image id on stdout\n%s", r)
	}
	wantStdout(t, d.run(t, "images", "--format", "{{.Repository}} {{.Tag}}"), "localhost/myimg latest\n")
	wantStdout(t, d.run(t, "run", "--rm", "myimg", "/bin/echo", "hi"), "hi\n")
}

func TestRmiUntagsAndDeletesImage(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := strings.TrimSpace(d.mustRun(t, "images", "-q", "--no-trunc").stdout)
	r := d.run(t, "rmi", "busybox")
	want := []string{"Untagged: " + busyboxName, "Deleted: " + strings.TrimPrefix(id, "sha256:")}
	if r.code != 0 || !slices.Equal(lines(r.stdout), want) {
		t.Errorf("want exit 0 and stdout %q\n%s", want, r)
	}
	wantStdout(t, d.run(t, "images", "-q"), "")
}

func TestRmiOfUnknownImageExitsOne(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	wantError(t, d.run(t, "rmi", "nosuchimage"), 1, "nosuchimage")
	if r := d.mustRun(t, "images", "-q"); len(lines(r.stdout)) != 1 {
		t.Errorf("want busybox kept\n%s", r)
	}
}

func TestRmiOfImageInUseExitsTwoUnlessForced(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.mustRun(t, "create", "--name", "user1", "busybox", "true")

	wantError(t, d.run(t, "rmi", "busybox"), 2, "busybox")
	if r := d.mustRun(t, "images", "-q"); len(lines(r.stdout)) != 1 {
		t.Errorf("want the image kept while a container uses it\n%s", r)
	}
	if r := d.mustRun(t, "ps", "-a", "--format", "{{.Names}}"); r.stdout != "user1\n" {
		t.Errorf("want the container kept\n%s", r)
	}

	r := d.run(t, "rmi", "-f", "busybox")
	if r.code != 0 || !slices.Contains(lines(r.stdout), "Untagged: "+busyboxName) {
		t.Errorf("want exit 0 and the image untagged\n%s", r)
	}
	d.wantNoContainers(t)
	wantStdout(t, d.run(t, "images", "-q"), "")
}
