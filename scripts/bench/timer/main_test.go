package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cmds, err := parse([]string{"A=1", "B=x=y", "den", "run", "C=3", ":::", "podman", "ps", "-a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 2 {
		t.Fatalf("got %d commands, want 2", len(cmds))
	}
	if want := []string{"A=1", "B=x=y"}; !reflect.DeepEqual(cmds[0].env, want) {
		t.Errorf("env = %q, want %q", cmds[0].env, want)
	}
	// An assignment after the command name is an argument.
	if want := []string{"den", "run", "C=3"}; !reflect.DeepEqual(cmds[0].argv, want) {
		t.Errorf("argv = %q, want %q", cmds[0].argv, want)
	}
	if cmds[1].env != nil || !reflect.DeepEqual(cmds[1].argv, []string{"podman", "ps", "-a"}) {
		t.Errorf("second command = %+v", cmds[1])
	}
	for _, bad := range [][]string{nil, {"A=1"}, {"true", ":::"}, {":::", "true"}} {
		if _, err := parse(bad); err == nil {
			t.Errorf("parse(%q) succeeded", bad)
		}
	}
}

func TestReason(t *testing.T) {
	for in, want := range map[string]string{
		"": "no output on stderr",
		"warning: / is not shared\nError: boom\nmore\n": "Error: boom",
		"first\n  last  \n\n":                           "last",
	} {
		if got := reason(in); got != want {
			t.Errorf("reason(%q) = %q, want %q", in, got, want)
		}
	}
	if got := reason(strings.Repeat("x", 500)); len(got) != 203 {
		t.Errorf("long reason not clipped: %d chars", len(got))
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{1, 2, 9}); m != 2 {
		t.Errorf("odd median = %v", m)
	}
	if m := median([]float64{1, 2, 4, 9}); m != 3 {
		t.Errorf("even median = %v", m)
	}
}

func TestRunOnce(t *testing.T) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	ok := &command{env: []string{"X=yes"}, argv: []string{"sh", "-c", `[ "$X" = yes ]`}}
	if _, err := runOnce(ok, 1, devnull, 10*time.Second); err != nil {
		t.Errorf("env not passed: %v", err)
	}
	fail := &command{argv: []string{"sh", "-c", "echo 'Error: nope' >&2; exit 3"}}
	if _, err := runOnce(fail, 1, devnull, 10*time.Second); err == nil || !strings.Contains(err.Error(), "Error: nope") {
		t.Errorf("failure reason = %v", err)
	}
	slow := &command{argv: []string{"sleep", "5"}}
	if _, err := runOnce(slow, 1, devnull, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("timeout = %v", err)
	}
}

func TestExpand(t *testing.T) {
	in := []string{"stop", "c{i}", "{i}-{i}", "plain", "X={i}"}
	got := expand(in, 17)
	if want := []string{"stop", "c17", "17-17", "plain", "X=17"}; !reflect.DeepEqual(got, want) {
		t.Errorf("expand = %q, want %q", got, want)
	}
	if in[1] != "c{i}" {
		t.Errorf("expand changed its input: %q", in)
	}
}

func TestRunBatch(t *testing.T) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	dir := t.TempDir()
	// {i} in the arguments and in the environment: copies 4, 5 and 6 each leave a file.
	c := &command{env: []string{"N=n{i}"}, argv: []string{"sh", "-c", `touch "$1/$N"`, "sh", filepath.Join(dir, "{i}")}}
	for k := 4; k <= 6; k++ {
		if err := os.Mkdir(filepath.Join(dir, strconv.Itoa(k)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runBatch(c, 4, 3, devnull, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for k := 4; k <= 6; k++ {
		p := filepath.Join(dir, strconv.Itoa(k), "n"+strconv.Itoa(k))
		if _, err := os.Stat(p); err != nil {
			t.Errorf("copy %d: %v", k, err)
		}
	}
	// Copies run at once: four sleeps of 0.3 s take well under 1.2 s.
	d, err := runBatch(&command{argv: []string{"sleep", "0.3"}}, 1, 4, devnull, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d < 300*time.Millisecond || d > 1100*time.Millisecond {
		t.Errorf("4 parallel sleeps of 0.3 s took %v", d)
	}
	// One failing copy fails the run, and says which.
	fail := &command{argv: []string{"sh", "-c", `[ "$0" != 2 ] || { echo "Error: two" >&2; exit 1; }`, "{i}"}}
	if _, err := runBatch(fail, 1, 3, devnull, 10*time.Second); err == nil || !strings.Contains(err.Error(), "Error: two") ||
		!strings.Contains(err.Error(), "copy 2 of 3") {
		t.Errorf("failing copy = %v", err)
	}
}

func TestParseCPUTimes(t *testing.T) {
	for _, tc := range []struct {
		in          string
		busy, total uint64
		ok          bool
	}{
		{"cpu  100 5 50 1000 20 3 2 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n", 160, 1180, true},
		{"cpu 1 2 3 4 5 6 7 8", 27, 36, true},
		{"cpu 1 2 3", 0, 0, false},
		{"cpu0 1 2 3 4 5 6 7 8", 0, 0, false},
		{"cpu 1 2 3 x 5 6 7 8", 0, 0, false},
	} {
		busy, total, err := parseCPUTimes(tc.in)
		if (err == nil) != tc.ok || busy != tc.busy || total != tc.total {
			t.Errorf("parseCPUTimes(%q) = %d, %d, %v; want %d, %d, ok %v", tc.in, busy, total, err, tc.busy, tc.total, tc.ok)
		}
	}
}

// A process spinning on one of the CPUs keeps waitQuiet waiting until it ends; max bounds the
// wait.
func TestWaitQuietWaitsForARunnableProcess(t *testing.T) {
	spin := exec.Command("timeout", "0.4", "sh", "-c", "while :; do :; done")
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	defer spin.Wait()
	time.Sleep(50 * time.Millisecond) // running by now
	start := time.Now()
	waitQuiet(50*time.Millisecond, 3*time.Second)
	if d := time.Since(start); d < 300*time.Millisecond || d > 3500*time.Millisecond {
		t.Errorf("waitQuiet returned after %v with a process spinning for 0.4 s (max 3 s)", d)
	}
}
