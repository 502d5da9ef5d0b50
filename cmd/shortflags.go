package cmd

import (
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// cliArgs is args as urfave/cli is given them: podman's forms of flags rewritten into
// urfave/cli's (moveTrailingFlags, splitAttached, oneFormPerFlag).
func cliArgs(app *cli.App, args []string) []string {
	return oneFormPerFlag(app, splitAttached(app, moveTrailingFlags(app, args)))
}

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
			n := flagWidth(flags, args, i)
			out = append(out, args[i:i+n]...)
			i += n
			continue
		}
		// -h is podman's --hostname in the commands that have one (run, create), where
		// urfave/cli would take it for --help.
		if a[1] == 'h' && findFlag(flags, "hostname") != nil {
			out = append(out, "--hostname")
			if len(a) > 2 {
				out = append(out, strings.TrimPrefix(a[2:], "="))
			} else if i+1 < len(args) {
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

// takesCommand reports whether c's arguments end with a command of the container's own (den
// run IMAGE COMMAND...), as its usage says: what follows its first argument is never den's.
// By name it would also take in "den healthcheck run".
func takesCommand(c *cli.Command) bool { return strings.Contains(c.ArgsUsage, "COMMAND") }

// moveTrailingFlags moves the flags given after a command's arguments ("den rm web -f") before
// them, as podman's parser reads them; urfave/cli stops at the first argument. Commands that
// take a container command keep their arguments as they are, and so does all that follows a
// "--", which stays the end of den's flags; so does a command line whose last flag lacks its
// value, and a shell completion's, whose --generate-bash-completion must stay last.
func moveTrailingFlags(app *cli.App, args []string) []string {
	if len(args) > 0 && args[len(args)-1] == "--generate-bash-completion" {
		return args
	}
	flags, cmds := app.Flags, app.Commands
	var cur *cli.Command
	i := 1
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return args
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			i += flagWidth(flags, args, i)
			continue
		}
		c := findCommand(cmds, a)
		if c == nil {
			break
		}
		cur, flags, cmds = c, c.Flags, c.Subcommands
		i++
	}
	if cur == nil || takesCommand(cur) || i >= len(args) {
		return args
	}
	var moved, rest []string
	dashes := false
	for j := i; j < len(args); {
		a := args[j]
		switch {
		case a == "--":
			dashes = true
			rest = append(rest, args[j+1:]...)
			j = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			n := flagWidth(flags, args, j)
			if n == 1 && needsValue(flags, a) {
				// "den kill web -s": moved, it would take the container for its value;
				// left in place, the CLI says what is missing.
				return args
			}
			moved = append(moved, args[j:j+n]...)
			j += n
		default:
			rest = append(rest, a)
			j++
		}
	}
	if len(moved) == 0 {
		return args
	}
	out := append(append([]string(nil), args[:i]...), moved...)
	if dashes {
		out = append(out, "--")
	}
	return append(out, rest...)
}

// needsValue reports whether a, a flag without "=VALUE" attached, takes a value.
func needsValue(flags []cli.Flag, a string) bool {
	name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
	if strings.Contains(name, "=") || (!strings.HasPrefix(a, "--") && len(name) != 1) {
		return false
	}
	f := findFlag(flags, name)
	return f != nil && takesValue(f)
}

// flagWidth is how many arguments the flag at args[i] takes up: two for "--name VALUE" and
// "-n VALUE" when the flag takes a value, one otherwise.
func flagWidth(flags []cli.Flag, args []string, i int) int {
	if needsValue(flags, args[i]) && i+1 < len(args) {
		return 2
	}
	return 1
}

// oneFormPerFlag lets a flag be given under more than one of its names ("-e A=1 --env
// B=2", "--net none --network ...", "-it --tty"), as podman's parser does; urfave/cli refuses
// that ("Cannot use two forms of the same flag"). Where a flag of the command being run
// appears under two names or more before the command's first argument, each of those
// occurrences is renamed to the flag's first name; a group of short flags ("-it", "-de
// VALUE") with such a flag in it is split into its flags first.
func oneFormPerFlag(app *cli.App, args []string) []string {
	type use struct {
		flag cli.Flag
		name string
	}
	// uses[i] are the flags args[i] gives: one, or a group's.
	uses := map[int][]use{}
	forms := map[cli.Flag]map[string]bool{}
	flags, cmds := app.Flags, app.Commands
	for i := 1; i < len(args); {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			c := findCommand(cmds, a)
			if c == nil {
				break
			}
			flags, cmds = c.Flags, c.Subcommands
			i++
			continue
		}
		width := flagWidth(flags, args, i)
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := findFlag(flags, name); f != nil && (strings.HasPrefix(a, "--") || len(name) == 1) {
			uses[i] = []use{{f, name}}
		} else if g := shortGroup(flags, a); g != nil {
			for j, f := range g {
				uses[i] = append(uses[i], use{f, a[1+j : 2+j]})
			}
			// "-de VALUE": the group's last flag takes the next argument, as urfave/cli
			// reads it.
			if takesValue(g[len(g)-1]) && i+1 < len(args) {
				width = 2
			}
		}
		for _, u := range uses[i] {
			if forms[u.flag] == nil {
				forms[u.flag] = map[string]bool{}
			}
			forms[u.flag][u.name] = true
		}
		i += width
	}
	renamed := func(u use) bool { return len(forms[u.flag]) > 1 }
	var out []string
	changed := false
	for i, a := range args {
		us := uses[i]
		if !slices.ContainsFunc(us, renamed) {
			out = append(out, a)
			continue
		}
		changed = true
		if len(us) == 1 {
			_, value, hasValue := strings.Cut(a, "=")
			if hasValue {
				out = append(out, "--"+us[0].flag.Names()[0]+"="+value)
			} else {
				out = append(out, "--"+us[0].flag.Names()[0])
			}
			continue
		}
		for _, u := range us {
			if renamed(u) {
				out = append(out, "--"+u.flag.Names()[0])
			} else {
				out = append(out, "-"+u.name)
			}
		}
	}
	if !changed {
		return args
	}
	return out
}

// shortGroup is the flags of a group of short flags ("-it", "-de VALUE"), in order: booleans,
// the last of which may take a value; nil when a is not one.
func shortGroup(flags []cli.Flag, a string) []cli.Flag {
	if strings.HasPrefix(a, "--") || len(a) < 3 || strings.Contains(a, "=") {
		return nil
	}
	var g []cli.Flag
	for j, r := range a[1:] {
		f := findFlag(flags, string(r))
		if f == nil || (takesValue(f) && j != len(a)-2) {
			return nil
		}
		g = append(g, f)
	}
	return g
}
