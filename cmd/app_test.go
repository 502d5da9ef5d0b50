package cmd

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/den-project/den/netstack"
	"github.com/den-project/den/runtime"
	"github.com/den-project/den/runtime/earlyexec"
	"github.com/den-project/den/runtime/userns"
	"github.com/urfave/cli/v2"
)

func TestEveryNamespaceCommandTakesTheFastPathAndNoOtherDoes(t *testing.T) {
	var want []string
	for name := range namespaceCommands {
		want = append(want, name)
	}
	got := userns.FastPathCommands()
	sort.Strings(want)
	sort.Strings(got)
	if len(got) != len(want) {
		t.Fatalf("enter.c lists %v, cmd lists %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("enter.c lists %v, cmd lists %v", got, want)
		}
	}
}

func TestEveryNamespaceCommandExists(t *testing.T) {
	have := map[string]bool{}
	for _, c := range commands() {
		have[c.Name] = true
	}
	for name := range namespaceCommands {
		if !have[name] {
			t.Errorf("namespace command %q is not a command", name)
		}
	}
}

func TestEveryNounVerbInTheNamespaceTakesTheFastPath(t *testing.T) {
	for _, tc := range []struct {
		noun  string
		verbs map[string]bool
		c     []string
		subs  []*cli.Command
	}{
		{"image", imageNamespaceVerbs, userns.FastPathImageVerbs(), imageCmd().Subcommands},
		{"volume", volumeNamespaceVerbs, userns.FastPathVolumeVerbs(), volumeCmd().Subcommands},
	} {
		var want []string
		for name := range tc.verbs {
			want = append(want, name)
		}
		got := append([]string(nil), tc.c...)
		sort.Strings(want)
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("enter.c lists %v for den %s, cmd lists %v", got, tc.noun, want)
		}
		have := map[string]bool{}
		for _, c := range tc.subs {
			have[c.Name] = true
		}
		for name := range tc.verbs {
			if !have[name] {
				t.Errorf("%s verb %q is not a command", tc.noun, name)
			}
		}
	}
}

// enter.c starts a detached run's monitor before Go does, by its own reading of the command
// line: it must know every flag of run as the CLI has it (value or not), and read -d as the
// CLI reads it.
func TestEnterCReadsRunFlagsAsTheCLIDoes(t *testing.T) {
	value, boolean := userns.RunFlags()
	kind := map[string]string{}
	for _, f := range value {
		kind[f] = "value"
	}
	for _, f := range boolean {
		kind[f] = "bool"
	}
	seen := map[string]bool{}
	for _, f := range append(runCmd().Flags, cli.HelpFlag) {
		// By what the flag does, not by its type: newApp wraps every flag (flagnames.go),
		// the global help flag too.
		want := "value"
		if !takesValue(f) {
			want = "bool"
		}
		for _, name := range f.Names() {
			seen[name] = true
			w := want
			if name == "h" && f == cli.HelpFlag {
				w = "value" // -h is --hostname in run (shortflags.go), as in podman
			}
			if kind[name] != w {
				t.Errorf("flag %q: enter.c has it as %q, the CLI as %q", name, kind[name], w)
			}
		}
	}
	for name := range kind {
		if !seen[name] {
			t.Errorf("enter.c knows a flag %q that run does not have", name)
		}
	}

	cases := []struct {
		args []string
		want bool
	}{
		{[]string{"den", "run", "-d", "busybox"}, true},
		{[]string{"den", "run", "--detach", "busybox", "-d"}, true},
		{[]string{"den", "--log-level", "debug", "run", "-dit", "busybox"}, true},
		{[]string{"den", "run", "-itd", "--name", "x", "busybox", "sh"}, true},
		{[]string{"den", "run", "--detach=true", "busybox"}, true},
		{[]string{"den", "run", "-e", "d", "-d", "busybox"}, true},
		{[]string{"den", "run", "busybox", "-d"}, false},
		{[]string{"den", "run", "--rm", "busybox"}, false},
		{[]string{"den", "run", "-ed", "busybox"}, false},
		{[]string{"den", "run", "-e", "-d", "busybox"}, false},
		{[]string{"den", "run", "--name", "-d", "busybox"}, false},
		{[]string{"den", "run", "--detach=false", "busybox"}, false},
		{[]string{"den", "run", "-d", "--detach=false", "busybox"}, false},
		{[]string{"den", "run", "-d", "--no-such-flag", "busybox"}, false},
		{[]string{"den", "run", "-d"}, false},
		{[]string{"den", "create", "-d", "busybox"}, false},
		{[]string{"den", "container", "run", "-d", "busybox"}, true},
		{[]string{"den", "image", "run", "-d", "busybox"}, false},
	}
	// rm, and run --rm in the foreground without -i or -t, may answer before they are done
	// (cmd's answerEarly): enter.c forks a waiting parent for them in a joined namespace.
	for args, want := range map[string]bool{
		"den rm a b":                   true,
		"den container rm -f a":        true,
		"den run --rm busybox true":    true,
		"den run --rm=false busybox":   false,
		"den run busybox true":         false,
		"den run --rm -d busybox":      false,
		"den run --rm -it busybox sh":  false,
		"den run --rm -i busybox cat":  false,
		"den run --rm --tty busybox":   false,
		"den image rm busybox":         false,
		"den run --rm --bogus busybox": false,
		// A detached run that starts its container itself answers before it becomes the
		// container's monitor.
		"den run -d --network=none busybox":        true,
		"den run -d --net host busybox":            true,
		"den run -d --network container:x busybox": true,
		"den run -d busybox":                       false,
		"den run -d --network=slirp4netns busybox": false,
	} {
		if got := userns.AnswersEarly(strings.Fields(args)); got != want {
			t.Errorf("%q: enter.c reads an early answer %v, want %v", args, got, want)
		}
	}
	// A detached run whose network needs no helper of den's starts its container itself
	// (runtime.CanHold), with no monitor started ahead; the last --network counts, as in
	// the CLI.
	for args, want := range map[string]bool{
		"den run -d --network=none busybox":                       true,
		"den run -d --network none busybox":                       true,
		"den run --net=host -d busybox":                           true,
		"den run -dit --network container:web busybox sh":         true,
		"den run -d --network none --network slirp4netns busybox": false,
		"den run -d --network slirp4netns --network none busybox": true,
		"den run -d --network=mynet busybox":                      false,
		"den run -d busybox":                                      false,
		"den run --network=none busybox":                          false,
		"den run -d busybox --network=none":                       false,
		"den run -d --rm --network none -e A=1 -v /x:/y busybox":  true,
		"den run --rm=false -d --network=none busybox:1 sh":       true,
		"den run -d --rm --network none --rm=0 busybox":           true,
		"den run -dt --network none --rm -- busybox":              false,
		"den run -d --network none -h web --rm busybox":           true,
		"den run -d -h web --network none busybox":                true,
	} {
		if got := userns.RunHeld(strings.Fields(args)); got != want {
			t.Errorf("%q: enter.c reads a held run %v, want %v", args, got, want)
		}
		index, rm := userns.HeldImageOf(strings.Fields(args))
		if !want {
			if index != -1 {
				t.Errorf("%q: enter.c reads the image of a held run at %d in what is none", args, index)
			}
			continue
		}
		app := newApp(io.Discard, io.Discard)
		var mode, image string
		var remove bool
		for _, cmd := range app.Commands {
			if cmd.Name == "run" {
				cmd.Action = func(ctx *cli.Context) error {
					n, err := netstack.ParseMode(ctx.String("network"))
					mode, image, remove = n.Mode, ctx.Args().First(), ctx.Bool("rm")
					return err
				}
			}
		}
		if err := app.Run(cliArgs(app, strings.Fields(args))); err != nil {
			t.Errorf("%q: %v", args, err)
		}
		if mode != netstack.ModeNone && mode != netstack.ModeHost && mode != netstack.ModeContainer {
			t.Errorf("%q: the CLI reads network mode %q, which runtime.CanHold refuses; enter.c reads a held run", args, mode)
		}
		// The storage made ahead (runtime.CreateStorageAhead) is from enter.c's reading of
		// the image and --rm: the CLI's must be the same, or it is made for nothing.
		if index < 0 || index >= len(strings.Fields(args)) || strings.Fields(args)[index] != image || rm != remove {
			t.Errorf("%q: enter.c reads image at %d and --rm %v; the CLI, image %q and --rm %v", args, index, rm, image, remove)
		}
	}
	for _, c := range cases {
		if got := userns.RunDetached(c.args); got != c.want {
			t.Errorf("%q: enter.c reads detach %v, want %v", c.args, got, c.want)
		}
		if c.want {
			// What enter.c calls detached, the CLI runs detached.
			var detached bool
			app := newApp(io.Discard, io.Discard)
			for _, cmd := range app.Commands {
				for _, sub := range append([]*cli.Command{cmd}, cmd.Subcommands...) {
					if sub.Name == "run" {
						sub.Action = func(ctx *cli.Context) error { detached = ctx.Bool("detach"); return nil }
					}
				}
			}
			if err := app.Run(c.args); err != nil || !detached {
				t.Errorf("%q: the CLI reads detach %v (err %v), enter.c reads it true", c.args, detached, err)
			}
		}
	}
}

// A core build of den hands the commands whose actions copy images to the whole den before Go
// starts, by enter.c's reading of the command line: it must pick exactly those commands, under
// every name the CLI gives them.
func TestEnterCHandsOverExactlyTheCommandsThatCopyImages(t *testing.T) {
	copying := map[uintptr]bool{}
	for _, a := range []cli.ActionFunc{loadAction, importAction, saveAction, pullAction, pushAction, loginAction, logoutAction} {
		copying[reflect.ValueOf(a).Pointer()] = true
	}
	check := func(prefix []string, cmds []*cli.Command) int {
		n := 0
		for _, c := range cmds {
			want := c.Action != nil && copying[reflect.ValueOf(c.Action).Pointer()]
			if want {
				n++
			}
			for _, name := range c.Names() {
				args := append(append([]string{"den"}, prefix...), name, "x")
				if got := userns.TransferCommand(args); got != want {
					t.Errorf("%v: enter.c hands it over: %v, its action copies images: %v", args, got, want)
				}
			}
		}
		return n
	}
	if n := check(nil, rawCommands()); n != 7 {
		t.Errorf("%d top-level commands copy images, want 7 (load, import, save, pull, push, login, logout)", n)
	}
	if n := check([]string{"image"}, imageVerbs()); n != 5 {
		t.Errorf("%d image verbs copy images, want 5 (load, import, save, pull, push)", n)
	}
	check([]string{"container"}, containerCmd().Subcommands)
	check([]string{"volume"}, volumeCmd().Subcommands)
	for _, args := range [][]string{
		{"den", "--log-level", "debug", "pull", "x"},
		{"den", "--root", "/tmp/x", "image", "-q", "load"},
	} {
		if !userns.TransferCommand(args) {
			t.Errorf("%v: not handed over", args)
		}
	}
	for _, args := range [][]string{
		{"den", "--generate-bash-completion"},
		{"den", "run", "busybox", "load"},
		{"den", "--root", "pull", "ps"},
		{"den", "volume", "import", "v", "f.tar"},
	} {
		if userns.TransferCommand(args) {
			t.Errorf("%v: handed over", args)
		}
	}
}

// depsWithTags lists the packages pkg links when built with den's tags and extra.
func depsWithTags(t *testing.T, extra, pkg string) []string {
	t.Helper()
	tags := ""
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if v, ok := strings.CutPrefix(f, "-tags="); ok {
			tags = v + ","
		}
	}
	// The go that runs this test: the Makefile does not need one on PATH.
	gobin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "list", "-deps", "-tags", tags+extra, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// The core build leaves containers/image's copying out, which is what it is for.
func TestCoreBuildLeavesImageCopyingOut(t *testing.T) {
	deps := depsWithTags(t, "den_core", "github.com/den-project/den")
	if !slices.Contains(deps, "go.podman.io/storage") {
		t.Fatalf("go list gave no containers/storage among den's dependencies: %.300s", deps)
	}
	for _, p := range []string{"go.podman.io/image/v5/copy", "go.podman.io/image/v5/signature", "google.golang.org/grpc", "github.com/den-project/den/store/registry"} {
		if slices.Contains(deps, p) {
			t.Errorf("den's core build links %s", p)
		}
	}
}

// den-monitor is den's runtime without the rest: what it links is what a monitor holds in
// memory for as long as its container runs.
func TestMonitorLinksNeitherTheCommandLineNorImageCopying(t *testing.T) {
	deps := depsWithTags(t, "den_core,den_monitor", "github.com/den-project/den/runtime/monitorbin")
	if !slices.Contains(deps, "github.com/opencontainers/runc/libcontainer") {
		t.Fatalf("go list gave no libcontainer among den-monitor's dependencies: %.300s", deps)
	}
	for _, p := range []string{
		"github.com/den-project/den/cmd", "github.com/urfave/cli/v2",
		"go.podman.io/image/v5/copy", "github.com/den-project/den/store/registry",
	} {
		if slices.Contains(deps, p) {
			t.Errorf("den-monitor links %s", p)
		}
	}
}

// runtime/earlyexec sends `den exec`'s request before Go starts, by its own reading of the
// command line; the runtime refuses a request that is not its own, after the process has
// started. The reading must be the CLI's for every line it takes, and it must leave alone the
// lines it cannot read.
func TestEarlyExecReadsExecAsTheCLIDoes(t *testing.T) {
	cases := []struct {
		args []string
		take bool
	}{
		{[]string{"den", "exec", "web", "true"}, true},
		{[]string{"den", "exec", "-i", "web", "sh", "-c", `echo "a\b" 'c'`}, true},
		{[]string{"den", "exec", "--interactive", "web", "ls", "-l", "--", "-i"}, true},
		{[]string{"den", "exec", "--interactive", "-i", "web", "true"}, false},
		{[]string{"den", "container", "exec", "web", "cat", "/etc/hostname"}, true},
		{[]string{"den", "exec", "3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741", "env"}, true},
		{[]string{"den", "exec", "web", "--", "true"}, true},
		{[]string{"den", "exec", "3f57d9401f8d", "true"}, true},
		{[]string{"den", "exec", "-t", "web", "sh"}, false},
		{[]string{"den", "exec", "-it", "web", "sh"}, false},
		{[]string{"den", "exec", "-e", "A=1", "web", "env"}, false},
		{[]string{"den", "exec", "-u", "1000", "web", "id"}, false},
		{[]string{"den", "exec", "-w", "/tmp", "web", "pwd"}, false},
		{[]string{"den", "exec", "-d", "web", "sleep", "1"}, false},
		{[]string{"den", "exec", "--interactive=false", "web", "true"}, false},
		{[]string{"den", "exec", "--", "web", "true"}, false},
		{[]string{"den", "exec", "web"}, false},
		{[]string{"den", "exec", "web", "rm", "-rf", "/x", "--generate-bash-completion"}, false},
		{[]string{"den", "exec", "web", "echo", "h\u00e9"}, false},
		{[]string{"den", "exec", "web", "printf", "a\tb"}, false},
		{[]string{"den", "--log-level", "debug", "exec", "web", "true"}, false},
		{[]string{"den", "run", "web", "exec", "true"}, false},
		{[]string{"den", "image", "exec", "web", "true"}, false},
	}
	for _, c := range cases {
		ctr, req, took := earlyexec.Parse(c.args)
		if took != c.take {
			t.Errorf("%q: earlyexec takes it: %v, want %v", c.args, took, c.take)
			continue
		}
		if !took {
			continue
		}
		var sent struct {
			Op   string
			Exec runtime.ExecOptions
		}
		if err := json.Unmarshal(req, &sent); err != nil || sent.Op != "exec" {
			t.Errorf("%q: earlyexec sends %q (%v)", c.args, req, err)
			continue
		}
		var got runtime.ExecOptions
		var gotCtr string
		app := newApp(io.Discard, io.Discard)
		for _, cmd := range app.Commands {
			for _, sub := range append([]*cli.Command{cmd}, cmd.Subcommands...) {
				if sub.Name == "exec" {
					sub.Action = func(ctx *cli.Context) error {
						var err error
						got, err = execOptions(ctx)
						gotCtr = ctx.Args().First()
						return err
					}
				}
			}
		}
		if err := app.Run(c.args); err != nil {
			t.Errorf("%q: the CLI refuses it (%v), earlyexec sends %q", c.args, err, req)
			continue
		}
		if gotCtr != ctr || !sent.Exec.Same(got) {
			t.Errorf("%q: earlyexec sends %q to %q, the CLI reads %+v for %q", c.args, req, ctr, got, gotCtr)
		}
	}
}

func TestParseIntervalTakesMillisecondsOrADuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"250", 250 * time.Millisecond, false},
		{"0", 0, false},
		{"1.5s", 1500 * time.Millisecond, false},
		{"300ms", 300 * time.Millisecond, false},
		{"-1s", 0, true},
		{"soon", 0, true},
		{"", 0, true},
		{"99999999999", 0, true},
	} {
		got, err := parseInterval(tc.in)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("parseInterval(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func FuzzParseInterval(f *testing.F) {
	for _, s := range []string{"250", "1s", "-1s", "x", "1e3", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseInterval(s)
		if err == nil && d < 0 {
			t.Errorf("parseInterval(%q) = %v: a negative interval was taken", s, d)
		}
		if err != nil && (d != 0 || !strings.Contains(err.Error(), "--interval")) {
			t.Errorf("parseInterval(%q): want 0 and an error naming --interval, got %v, %v", s, d, err)
		}
	})
}

// commandTable names each command as its constructor does: its name, then its aliases.
func TestCommandTableNamesWhatItsConstructorsMake(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range commandTable {
		c := e.make()
		if want := append([]string{c.Name}, c.Aliases...); !slices.Equal(e.names, want) {
			t.Errorf("commandTable names %v, the constructor makes %v", e.names, want)
		}
		for _, n := range e.names {
			if seen[n] {
				t.Errorf("%q names two commands", n)
			}
			seen[n] = true
		}
	}
}

func TestCommandNameSkipsDensGlobalFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"den", "run", "-d", "busybox"}, "run"},
		{[]string{"den", "--root", "/r", "--runroot", "/rr", "ps", "-a"}, "ps"},
		{[]string{"den", "--root=/r", "--log-level=debug", "rm", "x"}, "rm"},
		{[]string{"den", "-log-level", "debug", "exec", "c", "true"}, "exec"},
		{[]string{"den", "--log-level"}, ""},
		{[]string{"den", "-v"}, ""},
		{[]string{"den", "--help"}, ""},
		{[]string{"den", "--", "run"}, ""},
		{[]string{"den", "-", "run"}, "-"},
		{[]string{"den"}, ""},
		{nil, ""},
	} {
		if got := commandName(tc.args); got != tc.want {
			t.Errorf("commandName(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// openEarly leaves --root and --runroot to the command line in every form urfave/cli takes.
func TestScanGlobalNamesTheGlobalFlagsGiven(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"den", "--root", "/r", "run", "--rootfs", "/x"}, []string{"root"}},
		{[]string{"den", "-root=/r", "-runroot", "/rr", "run"}, []string{"root", "runroot"}},
		{[]string{"den", "--log-level", "root", "run", "--root"}, []string{"log-level"}},
		{[]string{"den", "run", "--root", "/r"}, nil},
	} {
		if got, _ := scanGlobal(tc.args); !slices.Equal(got, tc.flags) {
			t.Errorf("scanGlobal(%q) gives %q, want %q", tc.args, got, tc.flags)
		}
	}
}

func FuzzCommandName(f *testing.F) {
	f.Add("den\x00--root\x00/r\x00run\x00-d")
	f.Add("den\x00--log-level=debug\x00ps")
	f.Add("den\x00--\x00x")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		got := commandName(args)
		if got == "" {
			return
		}
		if !slices.Contains(args[1:], got) || (strings.HasPrefix(got, "-") && got != "-") {
			t.Fatalf("commandName(%q) = %q: not an argument that is not a flag", args, got)
		}
	})
}

// A command line that names a command builds that one alone: its help, usage errors and
// completion are the whole CLI's.
func TestACommandAloneAnswersAsTheWholeCLI(t *testing.T) {
	for _, args := range [][]string{
		{"den", "run", "--help"},
		{"den", "ls", "--help"},
		{"den", "--log-level", "debug", "ps", "--help"},
		{"den", "image", "--help"},
		{"den", "image", "ls", "--help"},
		{"den", "run", "--bogus", "busybox"},
		{"den", "rm"},
		{"den", "run", "--generate-bash-completion"},
		{"den", "volume", "--generate-bash-completion"},
	} {
		run := func(app *cli.App) string {
			var out, errs strings.Builder
			app.Writer, app.ErrWriter = &out, &errs
			err := app.Run(cliArgs(app, args))
			return out.String() + "\n--\n" + errs.String() + "\n--\n" + errString(err)
		}
		cs := commandsFor(args)
		if len(cs) != 1 {
			t.Errorf("%q: want the one command built, got %d", args, len(cs))
		}
		if got, want := run(newAppWith(io.Discard, io.Discard, cs)), run(newApp(io.Discard, io.Discard)); got != want {
			t.Errorf("%q: alone\n%s\nwant, from the whole CLI\n%s", args, got, want)
		}
	}
	if cs := commandsFor([]string{"den", "bogus"}); len(cs) != len(commandTable) {
		t.Errorf("a command line naming no command: want every command built, got %d", len(cs))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
