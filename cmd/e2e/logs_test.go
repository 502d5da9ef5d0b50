package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLogsFollowPrintsLinesAsProducedAndReturnsWhenContainerExits(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--name", "talker", "busybox", "sh", "-c", "echo first; echo oops >&2; sleep 3; echo second")

	s := d.startStream(t, "logs", "-f", "talker")
	if l := s.next(15 * time.Second); l != "first" {
		t.Fatalf("want the first line to be \"first\", got %q", l)
	}
	// The container is still sleeping: the line came as it was written, not at the end.
	if got := d.inspectf(t, "talker", "{{.State.Running}}"); got != "true" {
		t.Errorf("want talker still running when its first line is printed, Running is %s", got)
	}
	rest, code := s.rest()
	if code != 0 || !slices.Equal(rest, []string{"second"}) {
		t.Errorf("want logs -f to print \"second\" and exit 0 when talker exits, got %q and exit %d; stderr:\n%s", rest, code, s.stderr.String())
	}
	if s.stderr.String() != "oops\n" {
		t.Errorf("want the container's stderr on den's stderr, got %q", s.stderr.String())
	}
	if got := d.inspectf(t, "talker", "{{.State.Status}}"); got != "exited" {
		t.Errorf("want talker exited once logs -f returned, it is %s", got)
	}

	// Following an exited container prints what it wrote and returns.
	r := d.mustRun(t, "logs", "-f", "talker")
	if r.stdout != "first\nsecond\n" || r.stderr != "oops\n" {
		t.Errorf("want logs -f of an exited container to print its whole log\n%s", r)
	}
}

func TestLogsSelectsByTailTimeAndAddsTimestamps(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	before := time.Now().Add(-time.Second)
	d.runDetached(t, "--name", "counter", "busybox", "sh", "-c", "for i in 1 2 3 4; do echo l$i; done")
	wantStdout(t, d.run(t, "wait", "counter"), "0\n")
	after := time.Now().Add(time.Second)

	wantStdout(t, d.run(t, "logs", "counter"), "l1\nl2\nl3\nl4\n")
	t.Run("tail", func(t *testing.T) {
		wantStdout(t, d.run(t, "logs", "--tail", "2", "counter"), "l3\nl4\n")
		wantStdout(t, d.run(t, "logs", "--tail", "0", "counter"), "")
		wantStdout(t, d.run(t, "logs", "--tail", "10", "counter"), "l1\nl2\nl3\nl4\n")
	})
	t.Run("timestamps", func(t *testing.T) {
		r := d.mustRun(t, "logs", "-t", "counter")
		ls := lines(r.stdout)
		if len(ls) != 4 {
			t.Fatalf("want four lines\n%s", r)
		}
		for i, l := range ls {
			ts, text, _ := strings.Cut(l, " ")
			at, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil || text != "l"+string(rune('1'+i)) {
				t.Errorf("want line %d to be an RFC3339 time, a space and l%d, got %q", i+1, i+1, l)
				continue
			}
			if at.Before(before) || at.After(after) {
				t.Errorf("want line %d stamped between %v and %v, got %v", i+1, before, after, at)
			}
		}
	})
	t.Run("since and until", func(t *testing.T) {
		future := time.Now().Add(time.Hour).Format(time.RFC3339)
		past := time.Now().Add(-time.Hour).Format(time.RFC3339)
		wantStdout(t, d.run(t, "logs", "--since", future, "counter"), "")
		wantStdout(t, d.run(t, "logs", "--since", past, "counter"), "l1\nl2\nl3\nl4\n")
		wantStdout(t, d.run(t, "logs", "--since", "1h", "counter"), "l1\nl2\nl3\nl4\n")
		wantStdout(t, d.run(t, "logs", "--until", past, "counter"), "")
		wantStdout(t, d.run(t, "logs", "--until", future, "counter"), "l1\nl2\nl3\nl4\n")
		// podman reads a duration in --until as that long from now (--since: that long ago).
		wantStdout(t, d.run(t, "logs", "--until", "1h", "counter"), "l1\nl2\nl3\nl4\n")
	})
}

// The logs of several containers, as podman prints them: one container after the other, each
// line starting with its container's short ID, or its name with --names (before the time with
// -t); the lines of one container are not marked. A missing container fails the command before
// anything is printed.
func TestLogsOfSeveralContainersMarkEachLineWithItsContainer(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	a := d.runDetached(t, "--name", "alpha", "--network", "none", "busybox", "sh", "-c", "echo a1; echo a2; echo oops >&2")
	b := d.runDetached(t, "--name", "beta", "--network", "none", "busybox", "echo", "b1")
	wantStdout(t, d.run(t, "wait", "alpha", "beta"), "0\n0\n")

	r := d.mustRun(t, "logs", "alpha", "beta")
	if want := a[:12] + " a1\n" + a[:12] + " a2\n" + b[:12] + " b1\n"; r.stdout != want || r.stderr != a[:12]+" oops\n" {
		t.Errorf("want each line marked with its container's short ID, stdout %q, stderr %q\n%s", want, a[:12]+" oops\n", r)
	}
	r = d.mustRun(t, "logs", "--names", "alpha", "beta")
	if r.stdout != "alpha a1\nalpha a2\nbeta b1\n" || r.stderr != "alpha oops\n" {
		t.Errorf("want each line marked with its container's name\n%s", r)
	}
	wantStdout(t, d.run(t, "logs", "-n", "beta"), "b1\n")
	// --color: each container's mark in a color of its own; one container has no mark.
	r = d.mustRun(t, "logs", "--color", "--names", "alpha", "beta")
	if want := "\x1b[36malpha\x1b[0m a1\n\x1b[36malpha\x1b[0m a2\n\x1b[33mbeta\x1b[0m b1\n"; r.stdout != want {
		t.Errorf("want alpha's and beta's names in two colors, stdout %q\n%s", want, r)
	}
	wantStdout(t, d.run(t, "logs", "--color", "beta"), "b1\n")
	r = d.mustRun(t, "logs", "-nt", "beta", "alpha")
	ls := lines(r.stdout)
	if len(ls) != 3 {
		t.Fatalf("want three lines\n%s", r)
	}
	for i, want := range []string{"beta b1", "alpha a1", "alpha a2"} {
		name, rest, _ := strings.Cut(ls[i], " ")
		ts, text, _ := strings.Cut(rest, " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || name+" "+text != want {
			t.Errorf("want line %d to be the name, the time and the text of %q, got %q", i+1, want, ls[i])
		}
	}
	r = d.run(t, "logs", "alpha", "nosuch")
	wantError(t, r, 125, "nosuch")
	if r.stdout != "" {
		t.Errorf("want nothing printed when a container is missing, got %q", r.stdout)
	}
	wantError(t, d.run(t, "logs"), 125, "den logs needs a container")

	// -f over several: the lines of both, as they come, until both have exited. Each
	// container waits for /go, made once both first lines were printed.
	wait := "echo start; while [ ! -e /go ]; do sleep 0.1; done; echo end"
	d.runDetached(t, "--name", "one", "--network", "none", "busybox", "sh", "-c", wait)
	d.runDetached(t, "--name", "two", "--network", "none", "busybox", "sh", "-c", wait)
	s := d.startStream(t, "logs", "-f", "-n", "one", "two")
	var got []string
	for range 2 {
		got = append(got, s.next(15*time.Second))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"one start", "two start"}) {
		t.Errorf("want the first lines of both containers while they run, got %q", got)
	}
	// Detached: the container may end, and its pid namespace with it, before touch itself
	// has exited (seen once under load, exec's exit 137).
	d.mustRun(t, "exec", "-d", "one", "touch", "/go")
	d.mustRun(t, "exec", "-d", "two", "touch", "/go")
	rest, code := s.rest()
	slices.Sort(rest)
	if code != 0 || !slices.Equal(rest, []string{"one end", "two end"}) {
		t.Errorf("want logs -f to print the last lines of both and exit 0 once both exited, got %q and exit %d; stderr:\n%s", rest, code, s.stderr.String())
	}
}

// --log-driver none keeps no log, and logs says so; --log-opt max-size rotates the log past
// its size, as podman's k8s-file does.
func TestLogDriverNoneAndLogOptMaxSize(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := d.runDetached(t, "--name", "quiet", "--network", "none", "--log-driver", "none", "busybox", "echo", "unheard")
	wantStdout(t, d.run(t, "wait", "quiet"), "0\n")
	wantError(t, d.run(t, "logs", "quiet"), 125, "quiet", "--log-driver none")
	wantStdout(t, d.run(t, "inspect", "--format", "{{.HostConfig.LogConfig.Type}}", "quiet"), "none\n")
	if _, err := os.Stat(filepath.Join(d.dataDir(), "containers", id, "ctr.log")); !os.IsNotExist(err) {
		t.Errorf("want no log file with --log-driver none, got %v", err)
	}

	script := `i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done`
	id = d.runDetached(t, "--name", "chatty", "--network", "none", "--log-opt", "max-size=4k", "busybox", "sh", "-c", script)
	wantStdout(t, d.run(t, "wait", "chatty"), "0\n")
	logPath := filepath.Join(d.dataDir(), "containers", id, "ctr.log")
	fi, err := os.Stat(logPath)
	if err != nil || fi.Size() > 4000 {
		t.Errorf("want the log at most 4k (4000 bytes, podman's decimal units) after rotation, got %v, %v", fi, err)
	}
	if _, err := os.Stat(logPath + ".1"); err != nil {
		t.Errorf("want the rotated log kept: %v", err)
	}
	if ls := lines(d.mustRun(t, "logs", "chatty").stdout); len(ls) == 0 || ls[len(ls)-1] != "line-299-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" {
		t.Errorf("want the last line last, got %d lines", len(ls))
	}
	wantStdout(t, d.run(t, "inspect", "--format", "{{.HostConfig.LogConfig.Type}} {{.HostConfig.LogConfig.Size}}", "chatty"), "k8s-file 4kB\n")
	// logs -f across rotations: no entry twice, none out of order, the last one printed.
	script = `while [ ! -e /go ]; do sleep 0.1; done; i=0; while [ $i -lt 300 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done`
	d.runDetached(t, "--name", "rolling", "--network", "none", "--log-opt", "max-size=4k", "busybox", "sh", "-c", script)
	follow := d.start(t, "logs", "-f", "rolling")
	time.Sleep(300 * time.Millisecond)
	d.mustRun(t, "exec", "-d", "rolling", "touch", "/go")
	r := <-follow
	ls := lines(r.stdout)
	if r.code != 0 || len(ls) == 0 || ls[len(ls)-1] != "line-299-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" {
		t.Fatalf("want logs -f to end with the last line\n%s", r)
	}
	last := -1
	for _, l := range ls {
		var n int
		if _, err := fmt.Sscanf(l, "line-%d-", &n); err != nil || n <= last {
			t.Fatalf("want the lines once each and in order, got %q after line %d", l, last)
		}
		last = n
	}
	wantError(t, d.run(t, "run", "--rm", "--log-driver", "journald", "busybox", "true"), 125, "journald")
	wantError(t, d.run(t, "run", "--rm", "--log-opt", "path=/tmp/x", "busybox", "true"), 125, "path=/tmp/x")
}
