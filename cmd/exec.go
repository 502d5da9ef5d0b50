package cmd

import (
	"errors"
	"fmt"

	"github.com/den-project/den/runtime"
	"github.com/urfave/cli/v2"
)

func execCmd() *cli.Command {
	return &cli.Command{
		Name:      "exec",
		Usage:     "run a command in a running container",
		ArgsUsage: "CONTAINER COMMAND [ARG...]",
		Description: `Runs a process in a running container and returns its exit code (126 when it
cannot be invoked, 127 when not found). It is started by the container's holder, from any
shell; den itself needs no user namespace for it.

Examples:
   den exec web ls /
   den exec -it web sh
   den exec -u 1000 -w /tmp -e A=1 web env
   den exec -d web touch /tmp/flag`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "interactive", Aliases: []string{"i"}, Usage: "pass stdin"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-terminal"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "run in the background"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set an environment variable"},
			&cli.StringSliceFlag{Name: "env-file", Usage: "read environment variables from a file (-e wins over it)"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "USER[:GROUP] to run as"},
			&cli.StringFlag{Name: "workdir", Aliases: []string{"w"}, Usage: "working directory"},
			&cli.StringFlag{Name: "detach-keys", Value: "ctrl-p,ctrl-q", Usage: "keys that detach from a terminal session"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			o, err := execOptions(c)
			if err != nil {
				return err
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			code, err := e.rt.Exec(c.Args().First(), o, stdio())
			return sessionEnd(c, code, err)
		},
	}
}

// execOptions reads exec's command line.
func execOptions(c *cli.Context) (runtime.ExecOptions, error) {
	if c.NArg() < 2 {
		return runtime.ExecOptions{}, withCode(125, errors.New("den exec needs a container and a command: den exec [OPTIONS] CONTAINER COMMAND [ARG...]"))
	}
	keys, err := runtime.ParseDetachKeys(c.String("detach-keys"))
	if err != nil {
		return runtime.ExecOptions{}, withCode(125, err)
	}
	o := runtime.ExecOptions{
		Args: c.Args().Tail(), Env: c.StringSlice("env"), User: c.String("user"),
		WorkingDir: c.String("workdir"), Tty: c.Bool("tty"), Interactive: c.Bool("interactive"),
		Detach: c.Bool("detach"), DetachKeys: keys,
	}
	// --env-file's variables come first, -e's over them; -e NAME copies NAME from den's
	// environment, as with run. The files are read here, by the user, not by the monitor.
	files, err := runtime.ReadEnvFiles(c.StringSlice("env-file"))
	if err != nil {
		return runtime.ExecOptions{}, withCode(125, err)
	}
	if o.Env, err = runtime.Env(nil, files, o.Env, lookupEnv); err != nil {
		return runtime.ExecOptions{}, withCode(125, err)
	}
	return o, nil
}

// sessionEnd turns the end of an exec or attach session into den's exit: the process's
// code, podman's code for den's own errors, or a plain newline after the detach keys.
func sessionEnd(c *cli.Context, code int, err error) error {
	if errors.Is(err, runtime.ErrDetached) {
		fmt.Fprintln(c.App.ErrWriter)
		return nil
	}
	if err != nil {
		return withCode(code, err)
	}
	return exitCode(code)
}

func attachCmd() *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "attach to a container running in the background",
		ArgsUsage: "CONTAINER",
		Description: `Shows the container's output and, if it was started with -i, feeds it your input,
until it exits (den exits with its code) or you type the detach keys (ctrl-p ctrl-q by
default), which leave it running.

Examples:
   den attach web
   den attach --detach-keys ctrl-x box`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "detach-keys", Value: "ctrl-p,ctrl-q", Usage: "keys that detach"},
			&cli.BoolFlag{Name: "no-stdin", Usage: "do not feed input to the container"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(125, errors.New("den attach takes exactly one container"))
			}
			keys, err := runtime.ParseDetachKeys(c.String("detach-keys"))
			if err != nil {
				return withCode(125, err)
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			code, err := e.rt.Attach(c.Args().First(), runtime.AttachOptions{NoStdin: c.Bool("no-stdin"), DetachKeys: keys}, stdio())
			return sessionEnd(c, code, err)
		},
	}
}

func healthcheckCmd() *cli.Command {
	return &cli.Command{
		Name:  "healthcheck",
		Usage: "run container healthchecks",
		Subcommands: []*cli.Command{{
			Name:      "run",
			Usage:     "run a container's healthcheck now",
			ArgsUsage: "CONTAINER",
			Description: `Runs the check once through the container's monitor; exits 0 when it passes,
1 (printing "unhealthy") when it fails.

Examples:
   den healthcheck run web`,
			OnUsageError: usageError,
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return withCode(125, errors.New("den healthcheck run takes exactly one container"))
				}
				e, err := newEnv(c)
				if err != nil {
					return err
				}
				code, err := e.rt.Healthcheck(c.Args().First())
				if err != nil {
					return withCode(125, err)
				}
				if code != 0 {
					fmt.Fprintln(c.App.Writer, "unhealthy")
					return exitCode(1)
				}
				return nil
			},
		}},
	}
}
