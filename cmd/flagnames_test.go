package cmd

import (
	"io"
	"reflect"
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// Every flag of every command keeps its names, and stays the flag it was to urfave/cli: the
// same names, and the same optional behaviours (help, required, visible, slices, actions).
func TestEveryFlagKeepsItsNamesAndItsBehaviours(t *testing.T) {
	raw := map[string][]cli.Flag{}
	var collect func(prefix string, cs []*cli.Command)
	collect = func(prefix string, cs []*cli.Command) {
		for _, c := range cs {
			raw[prefix+c.Name] = c.Flags
			collect(prefix+c.Name+" ", c.Subcommands)
		}
	}
	collect("", rawCommands())
	app := newApp(io.Discard, io.Discard)
	var check func(prefix string, cs []*cli.Command)
	n := 0
	check = func(prefix string, cs []*cli.Command) {
		for _, c := range cs {
			name := prefix + c.Name
			before := raw[name]
			if len(before) != len(c.Flags) {
				t.Fatalf("%s: %d flags before, %d after", name, len(before), len(c.Flags))
			}
			for i, f := range c.Flags {
				b := before[i]
				if reflect.TypeOf(f) == reflect.TypeOf(b) {
					t.Errorf("%s --%s: %T is not wrapped: add it to withNames", name, b.Names()[0], b)
					continue
				}
				n++
				if !slices.Equal(f.Names(), b.Names()) {
					t.Errorf("%s: names %q, want %q", name, f.Names(), b.Names())
				}
				if &f.Names()[0] != &f.Names()[0] {
					t.Errorf("%s --%s: names worked out again at each call", name, b.Names()[0])
				}
				for _, iface := range []reflect.Type{
					reflect.TypeFor[cli.DocGenerationFlag](), reflect.TypeFor[cli.DocGenerationSliceFlag](),
					reflect.TypeFor[cli.RequiredFlag](), reflect.TypeFor[cli.VisibleFlag](),
					reflect.TypeFor[cli.CategorizableFlag](), reflect.TypeFor[cli.ActionableFlag](),
				} {
					if reflect.TypeOf(b).Implements(iface) != reflect.TypeOf(f).Implements(iface) {
						t.Errorf("%s --%s: %T implements %v, its wrapper %T does not", name, b.Names()[0], b, iface, f)
					}
				}
			}
			check(name+" ", c.Subcommands)
		}
	}
	check("", app.Commands)
	if n < 200 {
		t.Errorf("only %d flags seen", n)
	}
}

// A run's flags are parsed as before: the values reach the action.
func TestWrappedFlagsParse(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	var got []string
	for _, c := range app.Commands {
		if c.Name == "run" {
			c.Action = func(c *cli.Context) error {
				got = []string{c.String("name"), c.StringSlice("env")[1], c.String("network"),
					strconvBool(c.Bool("detach")), strconvBool(c.IsSet("rm")), c.Args().First()}
				return nil
			}
		}
	}
	args := []string{"den", "run", "-d", "--name=x", "-e", "A=1", "-e", "B=2", "--net", "none", "busybox", "true"}
	if err := app.Run(args); err != nil {
		t.Fatal(err)
	}
	want := []string{"x", "B=2", "none", "true", "false", "busybox"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func strconvBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
