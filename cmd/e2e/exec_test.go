package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exec reaches a container that another den invocation started, through its monitor.
func TestExecRunsInAContainerStartedByAnotherInvocation(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	d.runDetached(t, "--name", "ex", "-e", "FROM_RUN=yes", "busybox", "sleep", "1000")
	vars := filepath.Join(d.home, "vars")
	if err := os.WriteFile(vars, []byte("# from a file\nB=file\nA=file\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		args []string
		in   string
		out  string
		code int
	}{
		{"sees the container's pid namespace and env", []string{"exec", "ex", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $FROM_RUN"}, "", "sleep 1000 \nyes\n", 0},
		{"returns the command's exit code", []string{"exec", "ex", "sh", "-c", "exit 7"}, "", "", 7},
		{"passes stdin with -i", []string{"exec", "-i", "ex", "cat"}, "piped\n", "piped\n", 0},
		{"does not pass stdin without -i", []string{"exec", "ex", "cat"}, "piped\n", "", 0},
		{"honours -u -w -e", []string{"exec", "-u", "1000:2000", "-w", "/tmp", "-e", "A=1", "ex", "sh", "-c", "id -u; id -g; pwd; echo $A"}, "", "1000\n2000\n/tmp\n1\n", 0},
		{"runs as the image's user name", []string{"exec", "-u", "user", "ex", "id", "-un"}, "", "user\n", 0},
		{"reads --env-file, -e over it", []string{"exec", "--env-file", vars, "-e", "A=flag", "ex", "sh", "-c", "echo $A $B"}, "", "flag file\n", 0},
		{"takes -e and --env together", []string{"exec", "-e", "A=1", "--env", "B=2", "ex", "sh", "-c", "echo $A $B"}, "", "1 2\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := d.runWith(t, execOpts{stdin: strings.NewReader(c.in)}, c.args...)
			if r.code != c.code || r.stdout != c.out {
				t.Fatalf("want exit %d and stdout %q, got %s", c.code, c.out, r)
			}
		})
	}

	t.Run("a missing --env-file is an error before anything runs", func(t *testing.T) {
		wantError(t, d.run(t, "exec", "--env-file", filepath.Join(d.home, "nosuch"), "ex", "sh", "-c", "echo ran > /tmp/envfile-ran"), 125, "nosuch")
		if r := d.run(t, "exec", "ex", "test", "-e", "/tmp/envfile-ran"); r.code != 1 {
			t.Errorf("the command ran despite the missing env file\n%s", r)
		}
	})
	t.Run("a missing command exits 127", func(t *testing.T) {
		wantError(t, d.run(t, "exec", "ex", "nosuchcmd"), 127, "nosuchcmd")
	})
	t.Run("a command that cannot be run exits 126", func(t *testing.T) {
		wantError(t, d.run(t, "exec", "ex", "/etc/passwd"), 126)
	})
	t.Run("-d returns at once and the command runs", func(t *testing.T) {
		d.mustRun(t, "exec", "-d", "ex", "sh", "-c", "sleep 0.2; echo done > /tmp/flag")
		if !waitUntil(10*time.Second, func() bool { return d.run(t, "exec", "ex", "cat", "/tmp/flag").stdout == "done\n" }) {
			t.Fatal("the detached exec did not write its file")
		}
	})
	t.Run("a terminal with -t", func(t *testing.T) {
		p := d.startPty(t, 24, 80, "exec", "-it", "ex", "sh")
		p.write("stty size; echo $((6*7))\n")
		p.waitFor("42")
		p.write("exit 3\n")
		code, out := p.wait()
		if code != 3 || !strings.Contains(out, "24 80") {
			t.Fatalf("want exit 3 and the terminal size 24 80, got %d:\n%s", code, out)
		}
	})
	t.Run("the detach keys leave the process running", func(t *testing.T) {
		p := d.startPty(t, 24, 80, "exec", "-it", "ex", "sh", "-c", "echo ready; sleep 1000")
		p.waitFor("ready")
		p.write("\x10\x11")
		if code, _ := p.wait(); code != 0 {
			t.Fatalf("want exit 0 after ctrl-p ctrl-q, got %d", code)
		}
		top := d.mustRun(t, "top", "ex").stdout
		if !strings.Contains(top, "sleep 1000") || strings.Count(top, "sleep 1000") < 2 {
			t.Fatalf("want the detached exec's sleep still running, top shows:\n%s", top)
		}
	})

	t.Run("short flags take attached values as in podman", func(t *testing.T) {
		wantStdout(t, d.run(t, "exec", "-eV=attached", "-w/tmp", "ex", "sh", "-c", "echo $V $(pwd) -t0"), "attached /tmp -t0\n")
	})
	wantStdout(t, d.run(t, "stop", "-t0", "ex"), "ex\n")
	t.Run("a stopped container refuses exec", func(t *testing.T) {
		wantError(t, d.run(t, "exec", "ex", "true"), 125, "not running")
	})
}

// A plain den exec sends its request to the monitor before den's Go runtime has started
// (runtime/earlyexec); what runs is what the CLI would have asked for, by name or id, with or
// without -i, and the same as when the CLI sends it. When the process ran, den exits with its
// code without starting Go at all; an error the monitor answers is reported by the Go side, as
// the CLI reports it.
func TestExecSentBeforeDenStartsRunsWhatTheCLIAsksFor(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := d.runDetached(t, "--name", "early", "busybox", "sleep", "1000")
	const early = "the request went to the monitor before den's Go runtime started"
	const noGo = "and the exit code came back with it never started"
	script := []string{"sh", "-c", `echo "$0|$1|$PATH"; cat; exit 3`, "a b", `c"d\e`}
	want := "a b|c\"d\\e|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	cases := []struct {
		name  string
		args  []string
		env   []string
		early bool
		out   string
		code  int
		noGo  bool // den exited without starting Go
		err   string
	}{
		{"by name", append([]string{"exec", "early"}, script...), nil, true, want, 3, true, ""},
		{"by id", append([]string{"exec", id}, script...), nil, true, want, 3, true, ""},
		{"by short id", append([]string{"exec", id[:12]}, script...), nil, true, want, 3, true, ""},
		{"as den container exec, with -i", append([]string{"container", "exec", "-i", "early"}, script...), nil, true, want + "in\n", 3, true, ""},
		{"a command not found: the Go side reports it", []string{"exec", "early", "nosuch"}, nil, true, "", 127, false, "Error: nosuch: command not found"},
		{"left to the CLI when asked", append([]string{"exec", "-i", "early"}, script...), []string{"DEN_NO_EARLY_EXEC=1"}, false, want + "in\n", 3, false, ""},
		{"left to the CLI with -e", append([]string{"exec", "-e", "X=1", "early"}, script...), nil, false, want, 3, false, ""},
		{"left to the CLI with -u", append([]string{"exec", "-u", "0", "early"}, script...), nil, false, want, 3, false, ""},
		{"left to the CLI with a global flag", append([]string{"--log-level", "debug", "exec", "early"}, script...), nil, false, want, 3, false, ""},
		{"left to the CLI with an unknown container", []string{"exec", "nosuch", "true"}, nil, false, "", 125, false, "Error: "},
		// A runtime directory others could have made or may enter is not trusted before Go
		// has checked it (and made it private again).
		{"left to the CLI with a runtime directory open to others", append([]string{"exec", "early"}, script...), nil, false, want, 3, false, ""},
		// A den.toml could make the CLI refuse the command after the process has started.
		{"left to the CLI with a den.toml", append([]string{"exec", "early"}, script...), nil, false, want, 3, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(c.name, "runtime directory") {
				if err := os.Chmod(filepath.Join(d.runDir, "den"), 0o750); err != nil {
					t.Fatal(err)
				}
			}
			if strings.Contains(c.name, "den.toml") {
				toml := d.writeFile(t, "config/den/den.toml", []byte("[engine]\nseccomp = true\n"))
				t.Cleanup(func() { os.Remove(toml) })
			}
			env := append([]string{"DEN_LOG_LEVEL=debug"}, c.env...)
			r := d.runWith(t, execOpts{stdin: strings.NewReader("in\n"), env: env}, c.args...)
			if r.code != c.code || r.stdout != c.out || !strings.Contains(r.stderr, c.err) {
				t.Fatalf("want exit %d, stdout %q and %q on stderr\n%s", c.code, c.out, c.err, r)
			}
			if got := strings.Contains(r.stderr, early); got != c.early {
				t.Fatalf("sent before den started: %v, want %v\n%s", got, c.early, r)
			}
			if got := strings.Contains(r.stderr, noGo); got != c.noGo {
				t.Fatalf("ended before Go started: %v, want %v\n%s", got, c.noGo, r)
			}
		})
	}
}

// attach shows a detached container's output and feeds it input; the detach keys leave it.
func TestAttachRelaysOutputAndInputUntilExitOrDetach(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// With slirp4netns a monitor started ahead holds the container; with none, the den
	// that started it and then became its monitor (held_test.go).
	for _, network := range []string{"slirp4netns", "none"} {
		cat, tty := "cat-"+network, "tty-"+network
		d.runDetached(t, "-i", "--name", cat, "--network", network, "busybox", "sh", "-c", "while read l; do echo got $l; done; exit 4")
		r := d.runWith(t, execOpts{stdin: strings.NewReader("one\ntwo\n")}, "attach", cat)
		if r.code != 4 || r.stdout != "got one\ngot two\n" {
			t.Fatalf("%s: want exit 4 and the echoed input, got %s", network, r)
		}

		d.runDetached(t, "-it", "--name", tty, "--network", network, "busybox", "sh")
		p := d.startPty(t, 24, 80, "attach", tty)
		p.write("echo $((6*7))\n")
		p.waitFor("42")
		p.write("\x10\x11")
		if code, _ := p.wait(); code != 0 {
			t.Fatalf("%s: want exit 0 after ctrl-p ctrl-q, got %d", network, code)
		}
		if st := d.inspectf(t, tty, "{{.State.Status}}"); st != "running" {
			t.Fatalf("%s: want the container still running after detaching, it is %s", network, st)
		}
		d.mustRun(t, "rm", "-f", "-t", "0", tty)
	}
}
