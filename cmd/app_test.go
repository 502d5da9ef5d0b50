package cmd

import (
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
