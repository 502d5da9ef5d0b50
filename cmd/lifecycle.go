package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/den-project/den/runtime"
	"github.com/urfave/cli/v2"
)

// forEachContainer runs fn for every container argument, printing each one that succeeded as
// podman does, and returns podman's exit code for the first failure: 125, or the code an
// *runtime.ExitError carries. Later failures are printed too.
func forEachContainer(c *cli.Context, fn func(ref string) error) error {
	return forEachOf(c, c.Args().Slice(), fn)
}

// forEachOf is forEachContainer over refs.
func forEachOf(c *cli.Context, refs []string, fn func(ref string) error) error {
	return eachContainer(c, refs, func(ref string) error {
		if err := fn(ref); err != nil {
			return err
		}
		fmt.Fprintln(c.App.Writer, ref)
		return nil
	})
}

// maxParallel bounds the containers a command works on at once.
const maxParallel = 16

// inParallel runs fn for every ref, up to maxParallel at once, and returns their errors in
// the order of refs. For commands whose work is mostly waiting (a stop timeout).
func inParallel(refs []string, fn func(ref string) error) []error {
	errs := make([]error, len(refs))
	if len(refs) == 1 {
		errs[0] = fn(refs[0])
		return errs
	}
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxParallel)
	for i, ref := range refs {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			errs[i] = fn(ref)
			<-slots
		}()
	}
	wg.Wait()
	return errs
}

// eachContainer runs fn for every ref, as forEachContainer does, leaving the output to fn.
func eachContainer(c *cli.Context, refs []string, fn func(ref string) error) error {
	var first error
	for _, ref := range refs {
		if err := fn(ref); err != nil {
			code := 125
			var ee *runtime.ExitError
			if errors.As(err, &ee) {
				code = ee.Code
			}
			if first == nil {
				first = withCode(code, err)
			} else {
				fmt.Fprintln(c.App.ErrWriter, "Error:", err)
			}
		}
	}
	return first
}

func needContainers(c *cli.Context, usage string) error {
	if !named(c) {
		return withCode(125, fmt.Errorf("no container given: den %s", usage))
	}
	return nil
}

// latestFlag is podman's --latest (-l): act on the container created last.
var latestFlag = &cli.BoolFlag{Name: "latest", Aliases: []string{"l"}, Usage: "act on the container created last"}

// named reports whether the command was given containers: arguments, or --latest.
func named(c *cli.Context) bool { return c.NArg() > 0 || c.Bool("latest") }

// containerRefs are the containers the command names: its arguments, or with --latest the
// one created last.
func containerRefs(c *cli.Context, rt *runtime.Runtime) ([]string, error) {
	if err := allOrLatest(c); err != nil {
		return nil, err
	}
	if err := cidfileAlone(c); err != nil {
		return nil, err
	}
	if len(c.StringSlice("cidfile")) > 0 {
		return cidfileRefs(c)
	}
	if !c.Bool("latest") {
		return c.Args().Slice(), nil
	}
	if c.NArg() > 0 {
		return nil, withCode(125, fmt.Errorf("--latest and containers %s: give one or the other", strings.Join(c.Args().Slice(), " ")))
	}
	id, err := latestContainer(rt)
	if err != nil {
		return nil, err
	}
	return []string{id}, nil
}

// latestContainer is the id of the container created last, for --latest.
func latestContainer(rt *runtime.Runtime) (string, error) {
	cs, err := rt.List()
	if err != nil {
		return "", withCode(125, err)
	}
	if len(cs) == 0 {
		return "", withCode(125, errors.New("--latest: there is no container"))
	}
	return cs[0].ID, nil
}

// allOrLatest refuses --all together with --latest, as podman does: one names every
// container, the other one.
func allOrLatest(c *cli.Context) error {
	if c.Bool("all") && c.Bool("latest") {
		return withCode(125, errors.New("--all and --latest: give one or the other"))
	}
	return nil
}

// cidfileFlag is podman's --cidfile of the commands that act on containers: the container
// whose ID the file holds, as create --cidfile wrote it.
var cidfileFlag = &cli.StringSliceFlag{Name: "cidfile", Usage: "act on the container whose ID `FILE` holds (create --cidfile writes it); may be given more than once"}

// cidfileAlone refuses --cidfile with containers named otherwise: arguments, --all or
// --latest; and --filter with arguments, --latest or --cidfile.
func cidfileAlone(c *cli.Context) error {
	if len(c.StringSlice("cidfile")) > 0 && (c.NArg() > 0 || c.Bool("all") || c.Bool("latest")) {
		return withCode(125, errors.New("--cidfile names the containers: give no others, nor --all or --latest"))
	}
	if filtered(c) && (c.NArg() > 0 || c.Bool("latest") || len(c.StringSlice("cidfile")) > 0) {
		return withCode(125, errors.New("--filter selects the containers: give no names, nor --latest or --cidfile"))
	}
	return nil
}

// filterFlag is podman's --filter of the commands that act on containers: those ps --filter
// would list, of all containers. -f where the command has no -f of its own.
func filterFlag(short bool) cli.Flag {
	f := &cli.StringSliceFlag{Name: "filter", Usage: "act on the containers matching `KEY=VALUE`, as ps --filter selects them (status, name, id, label, ancestor, exited, health, before, since, until, volume, network)"}
	if short {
		f.Aliases = []string{"f"}
	}
	return f
}

// filtered reports whether the command was given --filter.
func filtered(c *cli.Context) bool { return len(c.StringSlice("filter")) > 0 }

// parseFilter reads --filter, refused in one line when it is not ps's.
func parseFilter(c *cli.Context) (*runtime.ContainerFilter, error) {
	f, err := runtime.ParseContainerFilters(c.StringSlice("filter"))
	if err != nil {
		return nil, withCode(125, err)
	}
	return f, nil
}

// filteredIDs are the ids of the containers --filter selects, newest first: of the running
// ones only when running is true.
func filteredIDs(c *cli.Context, rt *runtime.Runtime, running bool) ([]string, error) {
	return filteredWhere(c, rt, func(ctr *runtime.Container) bool {
		return !running || ctr.State.Status == runtime.StatusRunning
	})
}

// filteredWhere is filteredIDs of the containers for which keep is true.
func filteredWhere(c *cli.Context, rt *runtime.Runtime, keep func(*runtime.Container) bool) ([]string, error) {
	f, err := parseFilter(c)
	if err != nil {
		return nil, err
	}
	cs, err := rt.Select(f, keep)
	if err != nil {
		return nil, withCode(125, err)
	}
	ids := make([]string, len(cs))
	for i, ctr := range cs {
		ids[i] = ctr.ID
	}
	return ids, nil
}

// cidfileRefs are the IDs the files of --cidfile hold. With --ignore, a file that does not
// exist names no container, as in podman.
func cidfileRefs(c *cli.Context) ([]string, error) {
	var ids []string
	for _, f := range c.StringSlice("cidfile") {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) && c.Bool("ignore") {
			continue
		}
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, withCode(125, fmt.Errorf("--cidfile %s: %w", f, err))
		}
		id := strings.TrimSpace(string(b))
		if id == "" {
			return nil, withCode(125, fmt.Errorf("--cidfile %s is empty: it names no container", f))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// allFlag is --all of stop, kill and restart: the containers running, or all of them.
func allFlag(which string) cli.Flag {
	return &cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "act on all " + which + " containers"}
}

// needTargets checks, before any namespace work, that the command has containers to act on:
// its arguments, or --all and none.
func needTargets(c *cli.Context, usage string) error {
	if err := allOrLatest(c); err != nil {
		return err
	}
	if err := cidfileAlone(c); err != nil {
		return err
	}
	if c.Bool("all") {
		if c.NArg() > 0 {
			return withCode(125, fmt.Errorf("--all and containers %s: give one or the other", strings.Join(c.Args().Slice(), " ")))
		}
		return nil
	}
	if filtered(c) {
		_, err := parseFilter(c)
		return err
	}
	if len(c.StringSlice("cidfile")) > 0 {
		return nil
	}
	return needContainers(c, usage)
}

// targets are the containers a command acts on: its arguments, or with --all the ids of the
// running containers (of every one when running is false), or with --filter those of them
// it selects.
func targets(c *cli.Context, rt *runtime.Runtime, running bool) ([]string, error) {
	if filtered(c) {
		return filteredIDs(c, rt, running)
	}
	if !c.Bool("all") {
		return containerRefs(c, rt)
	}
	cs, err := rt.List()
	if err != nil {
		return nil, withCode(125, err)
	}
	var ids []string
	for _, ctr := range cs {
		if !running || ctr.State.Status == runtime.StatusRunning {
			ids = append(ids, ctr.ID)
		}
	}
	return ids, nil
}

func stopCmd() *cli.Command {
	return &cli.Command{
		Name:      "stop",
		Usage:     "stop running containers",
		ArgsUsage: "CONTAINER...",
		Description: `Sends the stop signal (TERM unless the image or --stop-signal says otherwise),
waits up to --time seconds (default: the container's --stop-timeout, 10) for the container to
exit, then kills it. Stopping a container that is not running succeeds. Its restart policy does
not bring it back.

Examples:
   den stop web
   den stop -t 0 web db
   den stop --filter label=app=web`,
		Flags: []cli.Flag{
			&cli.UintFlag{Name: "time", Aliases: []string{"t"}, Usage: "seconds to wait before killing (default: the container's --stop-timeout, 10)"},
			allFlag("running"),
			&cli.BoolFlag{Name: "ignore", Aliases: []string{"i"}, Usage: "a container that does not exist, or a --cidfile, is not an error"},
			latestFlag,
			cidfileFlag,
			filterFlag(true),
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if err := needTargets(c, "stop [-t N] CONTAINER... or den stop -a"); err != nil {
				return err
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			refs, err := targets(c, e.rt, true)
			if err != nil {
				return err
			}
			timeout := stopTimeoutFlag(c)
			// Stopped at once, told in order (see inParallel).
			errs := inParallel(refs, func(ref string) error {
				_, err := e.rt.Stop(context.Background(), ref, timeout)
				return err
			})
			i := 0
			return eachContainer(c, refs, func(ref string) error {
				err := errs[i]
				i++
				// A container gone since -a listed it is stopped, as asked.
				if errors.Is(err, runtime.ErrNotFound) && (c.Bool("ignore") || c.Bool("all")) {
					return nil
				}
				if err == nil {
					fmt.Fprintln(c.App.Writer, ref)
				}
				return err
			})
		},
	}
}

func killCmd() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal to running containers",
		ArgsUsage: "CONTAINER...",
		Description: `Sends a signal (KILL by default) to each container's first process.

Examples:
   den kill web
   den kill -s HUP web`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "signal", Aliases: []string{"s"}, Value: "KILL", Usage: "signal name or number"},
			allFlag("running"),
			latestFlag,
			cidfileFlag,
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if err := needTargets(c, "kill [-s SIGNAL] CONTAINER... or den kill -a"); err != nil {
				return err
			}
			sig, err := runtime.ParseSignal(c.String("signal"))
			if err != nil {
				return withCode(125, err)
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			refs, err := targets(c, e.rt, true)
			if err != nil {
				return err
			}
			return forEachOf(c, refs, func(ref string) error {
				_, err := e.rt.Kill(ref, sig)
				return err
			})
		},
	}
}

func waitCmd() *cli.Command {
	return &cli.Command{
		Name:      "wait",
		Usage:     "wait for containers to stop, or reach a state, and print their exit codes",
		ArgsUsage: "CONTAINER...",
		Description: `Blocks until each container is no longer running and prints its exit code. With
--condition it waits for a state instead: created, running, paused or exited, or healthy or
unhealthy (the health its --health-cmd checks), and prints -1 unless the container exited;
given more than once, any of them will do. It is woken by the container's monitor and its
events, not by polling: --interval is taken for podman's scripts and changes nothing.

Examples:
   den wait job
   code=$(den wait job)
   den wait --condition healthy db`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "condition", Usage: "state to wait for: stopped (the default), exited, created, running, paused, healthy or unhealthy"},
			&cli.StringFlag{Name: "interval", Aliases: []string{"i"}, Usage: "podman's polling interval (milliseconds without a unit): taken and not needed, den does not poll"},
			latestFlag,
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if err := needContainers(c, "wait CONTAINER..."); err != nil {
				return err
			}
			conds, err := runtime.ParseWaitConditions(c.StringSlice("condition"))
			if err != nil {
				return withCode(125, err)
			}
			if v := c.String("interval"); v != "" {
				if _, err := parseInterval(v); err != nil {
					return withCode(125, err)
				}
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			var first error
			refs, err := containerRefs(c, e.rt)
			if err != nil {
				return err
			}
			for _, ref := range refs {
				code := -1
				var err error
				if runtime.WaitsForExit(conds) {
					code, err = e.rt.Wait(context.Background(), ref)
				} else {
					var ctr *runtime.Container
					if ctr, err = e.rt.WaitFor(context.Background(), ref, conds); err == nil && ctr.ShownStatus() == runtime.StatusExited {
						code = ctr.State.ExitCode
					}
				}
				if err != nil {
					if first == nil {
						first = withCode(125, err)
					}
					continue
				}
				fmt.Fprintln(c.App.Writer, strconv.Itoa(code))
			}
			return first
		},
	}
}

// parseInterval reads podman's wait --interval: a duration, in milliseconds when it has no
// unit.
func parseInterval(v string) (time.Duration, error) {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--interval %q: give a duration such as 250ms or 1s, or milliseconds", v)
	}
	return d, nil
}

func restartCmd() *cli.Command {
	return &cli.Command{
		Name:      "restart",
		Usage:     "stop and start containers",
		ArgsUsage: "CONTAINER...",
		Description: `Examples:
   den restart web
   den restart -t 1 web`,
		Flags: []cli.Flag{
			&cli.UintFlag{Name: "time", Aliases: []string{"t"}, Usage: "seconds to wait before killing (default: the container's --stop-timeout, 10)"},
			allFlag("(running or not)"),
			&cli.BoolFlag{Name: "running", Usage: "with --all or --filter, only the running containers"},
			latestFlag,
			cidfileFlag,
			filterFlag(true),
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if err := needTargets(c, "restart [-t N] CONTAINER... or den restart -a"); err != nil {
				return err
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			refs, err := targets(c, e.rt, c.Bool("running"))
			if err != nil {
				return err
			}
			timeout := stopTimeoutFlag(c)
			return forEachOf(c, refs, func(ref string) error {
				ctr, err := e.rt.Stop(context.Background(), ref, timeout)
				if err != nil {
					return err
				}
				if ctr, err = e.rt.Lookup(ctr.ID); err != nil {
					return err
				}
				return e.rt.StartDetached(ctr)
			})
		},
	}
}

func logsCmd() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print the output of one container or more",
		ArgsUsage: "CONTAINER [CONTAINER...]",
		Description: `Prints what a container wrote to stdout and stderr, each to the same stream. With
several containers, each line starts with its container's short ID, or its name with
--names; -f then prints the lines of all of them as they come.

Examples:
   den logs web
   den logs -f --tail 10 web
   den logs --since 5m -t web
   den logs -n web db`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing until the containers stop"},
			&cli.StringFlag{Name: "tail", Value: "-1", Usage: "print only the last N lines"},
			&cli.StringFlag{Name: "since", Usage: "only entries after this time (RFC3339, or a duration such as 5m)"},
			&cli.StringFlag{Name: "until", Usage: "only entries before this time"},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "prefix each line with its time"},
			&cli.BoolFlag{Name: "names", Aliases: []string{"n"}, Usage: "with several containers, start each line with its container's name instead of its ID"},
			&cli.BoolFlag{Name: "color", Usage: "with several containers, show each one's ID or name in a color of its own"},
			latestFlag,
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 && !c.Bool("latest") {
				return withCode(125, errors.New("den logs needs a container: den logs [OPTIONS] CONTAINER [CONTAINER...], or --latest"))
			}
			o := runtime.LogOptions{Follow: c.Bool("follow"), Timestamps: c.Bool("timestamps"), Names: c.Bool("names"), Color: c.Bool("color")}
			n, err := strconv.Atoi(c.String("tail"))
			if err != nil {
				return withCode(125, fmt.Errorf("--tail %q is not a number", c.String("tail")))
			}
			o.Tail = n
			now := time.Now()
			for _, f := range []struct {
				name   string
				dst    *time.Time
				future bool
			}{{"since", &o.Since, false}, {"until", &o.Until, true}} {
				if v := c.String(f.name); v != "" {
					t, err := parseTimeArg(v, now, f.future)
					if err != nil {
						return withCode(125, fmt.Errorf("--%s: %w", f.name, err))
					}
					*f.dst = t
				}
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			refs, err := containerRefs(c, e.rt)
			if err != nil {
				return err
			}
			err = e.rt.Logs(context.Background(), refs, o, c.App.Writer, c.App.ErrWriter)
			if errors.Is(err, runtime.ErrNotFound) {
				return withCode(125, err)
			}
			return err
		},
	}
}

// parseTimeArg reads --since/--until: RFC3339, a date, unix seconds or a duration, which
// counts back from now for --since and forward for --until, as in podman.
func parseTimeArg(s string, now time.Time, future bool) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if future {
			return now.Add(d), nil
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC3339, YYYY-MM-DD, unix seconds or a duration such as 5m", s)
}

func existsCmd() *cli.Command {
	return &cli.Command{
		Name:      "exists",
		Usage:     "exit 0 if a container exists, 1 if not",
		ArgsUsage: "CONTAINER",
		Description: `Examples:
   den container exists web && echo yes`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(125, errors.New("den container exists takes exactly one container"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			if _, err := e.rt.Lookup(c.Args().First()); err != nil {
				if errors.Is(err, runtime.ErrNotFound) {
					return exitCode(1)
				}
				return withCode(125, err)
			}
			return nil
		},
	}
}

func topCmd() *cli.Command {
	return &cli.Command{
		Name:      "top",
		Usage:     "show the processes of a running container",
		ArgsUsage: "CONTAINER [DESCRIPTOR...]",
		Description: `Lists the container's processes, pids as the container sees them, with podman's
default columns, USER PID PPID %CPU ELAPSED TTY TIME COMMAND, or with podman's format
descriptors given after the container, as words or comma-separated: args, capamb, capbnd,
capeff, capinh, capprm, comm, etime, group, hgroup, hpid, huser, nice, pcpu, pgid, pid, ppid,
rgroup, ruser, seccomp, state, stime, time, tty, user, vsz (h...: as the host sees them).

Examples:
   den top web
   den top web pid,user,args
   den top -l huser hpid comm`,
		Flags:                  []cli.Flag{latestFlag},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if !named(c) {
				return withCode(125, errors.New("den top needs a container (or --latest)"))
			}
			ref, words := c.Args().First(), c.Args().Tail()
			if c.Bool("latest") {
				ref, words = "", c.Args().Slice()
			}
			desc, err := runtime.ParseTopDescriptors(words)
			if err != nil {
				return withCode(125, err)
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			if ref == "" {
				if ref, err = latestContainer(e.rt); err != nil {
					return err
				}
			}
			rows, err := e.rt.Top(ref, desc)
			if err != nil {
				return withCode(125, err)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, strings.Join(runtime.TopHeader(desc), "\t"))
			for _, r := range rows {
				fmt.Fprintln(tw, strings.Join(r, "\t"))
			}
			return tw.Flush()
		},
	}
}

// stopTimeoutFlag is --time of stop and restart: runtime.OwnStopTimeout when not given.
func stopTimeoutFlag(c *cli.Context) time.Duration {
	if !c.IsSet("time") {
		return runtime.OwnStopTimeout
	}
	return time.Duration(c.Uint("time")) * time.Second
}
