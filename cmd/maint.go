package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/den-project/den/netstack/network"
	"github.com/den-project/den/runtime"
	units "github.com/docker/go-units"
	"github.com/urfave/cli/v2"
)

// systemCmd groups the commands that look after den's state as a whole. All of them touch
// storage (df too: see runtime.DiskUsage), so "system" is a namespace command; its
// subcommands are wrapped here too, for when enter.c's fast path is not taken.
func systemCmd() *cli.Command {
	subs := []*cli.Command{systemCheckCmd(), systemPruneCmd(), systemResetCmd(), systemDfCmd()}
	for _, s := range subs {
		s.OnUsageError = usageError
		s.Action = inUserNS(s.Action)
	}
	return &cli.Command{
		Name:        "system",
		Usage:       "check, prune or reset den's state, or show its disk usage",
		Subcommands: subs,
		Action:      func(c *cli.Context) error { return cli.ShowSubcommandHelp(c) },
	}
}

func systemCheckCmd() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "find and repair inconsistencies in den's state",
		Description: `Compares den's container records, their names, containers/storage, the runtime
directory and the processes holding containers, and prints one line per problem. With
--repair, fixes each one that can be fixed safely and says what it did. Exit codes: 0 when
everything is consistent or was repaired, 1 when problems remain, 125 when the check failed.

Examples:
   den system check
   den system check --repair`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "repair", Aliases: []string{"r"}, Usage: "fix what can be fixed"},
		},
		Action: func(c *cli.Context) error {
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			repair := c.Bool("repair")
			findings, err := e.rt.Check(runtime.CheckOptions{Repair: repair})
			if err != nil {
				return withCode(125, err)
			}
			left := 0
			for _, f := range findings {
				fmt.Fprintln(c.App.Writer, f)
				if !f.Resolved() {
					left++
				}
			}
			switch {
			case left == 0:
				return nil
			case repair:
				return withCode(1, fmt.Errorf("%d of %d problems could not be repaired", left, len(findings)))
			}
			return withCode(1, fmt.Errorf("%d problems found: run `den system check --repair` to fix them", left))
		},
	}
}

func systemPruneCmd() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove stopped containers, unused networks and unused images",
		Description: `Removes, as podman's does, every container that is not running, the networks no
container is on and the dangling images (those without a name); with --all, every image no
container uses; with --volumes, the volumes no container uses too. Asks first unless --force.

Examples:
   den system prune
   den system prune -af --volumes`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every image no container uses, not only dangling ones"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
			&cli.BoolFlag{Name: "volumes", Usage: "remove the volumes no container uses too"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			images := "all dangling images"
			if c.Bool("all") {
				images = "all images without at least one container associated with them"
			}
			what := "\t- all stopped containers\n\t- all networks not used by at least one container\n"
			if c.Bool("volumes") {
				what += "\t- all volumes not used by at least one container\n"
			}
			if !c.Bool("force") && !confirm(c, "WARNING! This command removes:\n"+what+"\t- "+images+"\n\n") {
				return nil
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			ctx := context.Background()
			crep, cerr := e.rt.PruneContainers(ctx, nil)
			if crep != nil {
				printPruned(c.App.Writer, "Deleted Containers", crep.Containers)
			}
			nets, nerr := e.rt.PruneNetworks(network.Filter{})
			printPruned(c.App.Writer, "Deleted Networks", nets)
			var vols []string
			var verr error
			if c.Bool("volumes") {
				vols, verr = e.rt.PruneVolumes(ctx, nil)
				printPruned(c.App.Writer, "Deleted Volumes", vols)
			}
			irep, ierr := e.rt.PruneImages(c.Bool("all"))
			if irep != nil {
				printPruned(c.App.Writer, "Deleted Images", irep.Images)
			}
			var total int64
			for _, r := range []*runtime.PruneReport{crep, irep} {
				if r != nil {
					total += r.Reclaimed
				}
			}
			fmt.Fprintf(c.App.Writer, "Total reclaimed space: %s\n", units.HumanSize(float64(total)))
			if err := errors.Join(cerr, nerr, verr, ierr); err != nil {
				return withCode(125, err)
			}
			return nil
		},
	}
}

func printPruned(w io.Writer, heading string, ids []string) {
	if len(ids) == 0 {
		return
	}
	fmt.Fprintln(w, heading)
	for _, id := range ids {
		fmt.Fprintln(w, id)
	}
}

// containerPruneCmd is `den container prune`. It wraps itself for den's namespace: "prune"
// alone is no top-level command that enter.c could know.
func containerPruneCmd() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove every container that is not running",
		Description: `Removes every created or exited container and prints their ids; with --filter,
those it selects: podman's until=TIME and label=KEY[=VALUE] or label!=KEY[=VALUE], or any
key of ps --filter. Asks first unless --force.

Examples:
   den container prune -f
   den container prune -f --filter until=24h --filter label!=keep`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
			// Not -f: that is --force.
			filterFlag(false),
		},
		Action: inUserNS(func(c *cli.Context) error {
			filter, err := parseFilter(c)
			if err != nil {
				return err
			}
			if !c.Bool("force") && !confirm(c, "WARNING! This will remove all non running containers.\n") {
				return nil
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			rep, err := e.rt.PruneContainers(context.Background(), filter)
			if rep != nil {
				for _, id := range rep.Containers {
					fmt.Fprintln(c.App.Writer, id)
				}
			}
			return withCode(125, err)
		}),
	}
}

func systemResetCmd() *cli.Command {
	return &cli.Command{
		Name:  "reset",
		Usage: "remove every container and image and all of den's state",
		Description: `Stops and removes every container, removes every image, empties den's data
and runtime directories and removes the programs den keeps in ~/.cache/den, as if den had
never run. Asks first unless --force.

Examples:
   den system reset -f`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
		},
		Action: func(c *cli.Context) error {
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			p := e.rt.Paths
			warning := "WARNING! This will remove:\n\t- all containers\n\t- all images\n" +
				"\t- the data directory's contents: " + p.DataDir + "\n" +
				"\t- the runtime directory's contents: " + p.RuntimeDir + "\n"
			if p.CacheDir != "" {
				warning += "\t- the programs den keeps in " + p.CacheDir + "\n"
			}
			graph, run := p.StorageRoots(e.rt.Config)
			for _, root := range []struct{ what, dir, in string }{{"graphRoot", graph, p.DataDir}, {"runRoot", run, p.RuntimeDir}} {
				if filepath.Dir(root.dir) != root.in {
					warning += "\t- the " + root.what + " directory: " + root.dir + "\n"
				}
			}
			if !c.Bool("force") && !confirm(c, warning) {
				return nil
			}
			if err := e.rt.Reset(context.Background()); err != nil {
				return withCode(125, err)
			}
			return nil
		},
	}
}

// confirm asks as podman does, on stdout. Only an answer starting with y is yes; no answer
// (end of input, as without a terminal) is no.
func confirm(c *cli.Context, warning string) bool {
	fmt.Fprint(c.App.Writer, warning+"Are you sure you want to continue? [y/N] ")
	line, err := bufio.NewReader(c.App.Reader).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(c.App.Writer)
	}
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y")
}

func pauseCmd() *cli.Command {
	return freezeCmd("pause", "pause the processes of running containers", true)
}
func unpauseCmd() *cli.Command { return freezeCmd("unpause", "resume paused containers", false) }

// freezeCmd is pause or unpause.
func freezeCmd(name, usage string, pause bool) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "CONTAINER...",
		Description: `Freezes (pause) or thaws (unpause) a running container's processes with the
cgroup freezer. A paused container takes no exec and runs no healthcheck; stop thaws it first.
Only den as root gives containers a cgroup of their own: rootless den says so in one line;
use den stop and den start there.

Examples:
   den pause web
   den unpause -a`,
		Flags:                  []cli.Flag{allFlag(map[bool]string{true: "running", false: "paused"}[pause]), latestFlag, cidfileFlag, filterFlag(true)},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if err := needTargets(c, name+" CONTAINER... or den "+name+" -a"); err != nil {
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
			return eachContainer(c, refs, func(ref string) error {
				if c.Bool("all") || filtered(c) {
					// -a: the running containers not paused yet, or the paused ones.
					if ctr, err := e.rt.Lookup(ref); err == nil && ctr.State.Paused == pause {
						return nil
					}
				}
				var err error
				if pause {
					_, err = e.rt.Pause(ref)
				} else {
					_, err = e.rt.Unpause(ref)
				}
				if err == nil {
					fmt.Fprintln(c.App.Writer, ref)
				}
				return err
			})
		},
	}
}
