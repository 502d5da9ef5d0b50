package cmd

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// splitAttached rewrites a short flag with its value attached ("-t0", "-p8080:80",
// "-eA=B") as the flag and its value ("-t", "0"), the way podman's parser reads them;
// urfave/cli reads only "-t 0". Only flags of the command being run that take a value are
// split, and only before the command's first argument: after it come the container's own
// command and arguments, which are not den's to touch. Grouped booleans ("-it") are left to
// urfave/cli's short option handling.
func splitAttached(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := append([]string(nil), args[:1]...)
	flags, cmds := app.Flags, app.Commands
	i := 1
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			// A command or subcommand descends; the first other argument ends den's flags.
			if c := findCommand(cmds, a); c != nil {
				out = append(out, a)
				flags, cmds = c.Flags, c.Subcommands
				i++
				continue
			}
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "--") {
			out = append(out, a)
			if f := findFlag(flags, strings.TrimPrefix(a, "--")); f != nil && takesValue(f) && !strings.Contains(a, "=") && i+1 < len(args) {
				out = append(out, args[i+1])
				i++
			}
			i++
			continue
		}
		f := findFlag(flags, a[1:2])
		switch {
		case f == nil || !takesValue(f):
			out = append(out, a)
		case len(a) > 2:
			out = append(out, a[:2], strings.TrimPrefix(a[2:], "="))
		case i+1 < len(args):
			out = append(out, a, args[i+1])
			i++
		default:
			out = append(out, a)
		}
		i++
	}
	return out
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.TakesValue()
	}
	return false
}
