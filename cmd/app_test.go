package cmd

import (
	"io"
	"sort"
	"strings"
	"testing"

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
		want := "value"
		if _, ok := f.(*cli.BoolFlag); ok {
			want = "bool"
		}
		for _, name := range f.Names() {
			seen[name] = true
			if kind[name] != want {
				t.Errorf("flag %q: enter.c has it as %q, the CLI as %q", name, kind[name], want)
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
