package cmd

import (
	"sort"
	"strings"
	"testing"

	"github.com/den-project/den/runtime/userns"
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

func TestEveryImageNamespaceVerbTakesTheFastPath(t *testing.T) {
	var want []string
	for name := range imageNamespaceVerbs {
		want = append(want, name)
	}
	got := userns.FastPathImageVerbs()
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("enter.c lists %v for den image, cmd lists %v", got, want)
	}
	have := map[string]bool{}
	for _, c := range imageCmd().Subcommands {
		have[c.Name] = true
	}
	for name := range imageNamespaceVerbs {
		if !have[name] {
			t.Errorf("image verb %q is not a command", name)
		}
	}
}
