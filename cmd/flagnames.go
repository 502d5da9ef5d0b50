package cmd

import "github.com/urfave/cli/v2"

// keepFlagNames makes every flag of c and its subcommands work its names out once.
//
// urfave/cli works a flag's names out again each time it asks for them (a regular
// expression over each name), and before it runs a command it asks, for each of the
// command's flags, whether it was set, looking it up by name among all of them: for run's
// 150 flags that was some 17,000 regular expressions and 1.2 ms of every run and create
// (Go benchmark of the parse alone), more in a fresh process. The wrappers keep everything
// else of the flag they hold: its methods are the flag's own.
func keepFlagNames(c *cli.Command) {
	for i, f := range c.Flags {
		c.Flags[i] = withNames(f)
	}
	for _, s := range c.Subcommands {
		keepFlagNames(s)
	}
}

// flagNames are a flag's names, worked out at the first call of Names.
type flagNames struct{ names []string }

func (n *flagNames) of(f cli.Flag) []string {
	if n.names == nil {
		n.names = f.Names()
	}
	return n.names
}

// withNames wraps the flag types den uses; any other comes back as it is.
func withNames(f cli.Flag) cli.Flag {
	switch f := f.(type) {
	case *cli.BoolFlag:
		return &namedBool{f, flagNames{}}
	case *cli.StringFlag:
		return &namedString{f, flagNames{}}
	case *cli.StringSliceFlag:
		return &namedStringSlice{f, flagNames{}}
	case *cli.IntFlag:
		return &namedInt{f, flagNames{}}
	case *cli.Int64Flag:
		return &namedInt64{f, flagNames{}}
	case *cli.UintFlag:
		return &namedUint{f, flagNames{}}
	case *cli.Float64Flag:
		return &namedFloat64{f, flagNames{}}
	case *cli.DurationFlag:
		return &namedDuration{f, flagNames{}}
	}
	return f
}

type namedBool struct {
	*cli.BoolFlag
	names flagNames
}

func (f *namedBool) Names() []string { return f.names.of(f.BoolFlag) }

type namedString struct {
	*cli.StringFlag
	names flagNames
}

func (f *namedString) Names() []string { return f.names.of(f.StringFlag) }

type namedStringSlice struct {
	*cli.StringSliceFlag
	names flagNames
}

func (f *namedStringSlice) Names() []string { return f.names.of(f.StringSliceFlag) }

type namedInt struct {
	*cli.IntFlag
	names flagNames
}

func (f *namedInt) Names() []string { return f.names.of(f.IntFlag) }

type namedInt64 struct {
	*cli.Int64Flag
	names flagNames
}

func (f *namedInt64) Names() []string { return f.names.of(f.Int64Flag) }

type namedUint struct {
	*cli.UintFlag
	names flagNames
}

func (f *namedUint) Names() []string { return f.names.of(f.UintFlag) }

type namedFloat64 struct {
	*cli.Float64Flag
	names flagNames
}

func (f *namedFloat64) Names() []string { return f.names.of(f.Float64Flag) }

type namedDuration struct {
	*cli.DurationFlag
	names flagNames
}

func (f *namedDuration) Names() []string { return f.names.of(f.DurationFlag) }
