package cmd

import (
	"fmt"

	"github.com/den-project/den/store/events"
	"github.com/den-project/den/store/image"
	"github.com/urfave/cli/v2"
)

func tagCmd() *cli.Command {
	return namingCmd(&cli.Command{
		Name:      "tag",
		Usage:     "add names to an image",
		ArgsUsage: "IMAGE NAME...",
		Description: `Gives a stored image more names. Short names go under localhost/, as in podman; a
name another image had moves to this one.

Examples:
   den tag busybox mybox
   den tag busybox mybox:1.0 registry.example.com/team/box:1.0`,
	}, 2, events.StatusTag, (*image.Manager).Tag)
}

func untagCmd() *cli.Command {
	return namingCmd(&cli.Command{
		Name:      "untag",
		Usage:     "remove names from an image",
		ArgsUsage: "IMAGE [NAME...]",
		Description: `Removes the names given, or every name, from an image; the image stays, listed as
<none> when it has no name left.

Examples:
   den untag busybox mybox
   den untag 3f57d9401f8d`,
	}, 1, events.StatusUntag, (*image.Manager).Untag)
}

// namingCmd gives tag or untag its action: check the names, change them with do, and
// publish one event of status per name changed.
func namingCmd(cmd *cli.Command, minArgs int, status string, do func(*image.Manager, string, []string) (string, []string, error)) *cli.Command {
	cmd.Action = func(c *cli.Context) error {
		if c.NArg() < minArgs {
			return withCode(125, fmt.Errorf("den %s needs %s", cmd.Name, cmd.ArgsUsage))
		}
		names := c.Args().Slice()[1:]
		if err := checkNewNames(names...); err != nil {
			return err
		}
		e, im, err := openImages(c, true)
		if err != nil {
			return err
		}
		defer e.rt.Close()
		id, changed, err := do(im, c.Args().First(), names)
		if err != nil {
			return withCode(125, err)
		}
		for _, n := range changed {
			e.rt.PublishImage(status, id, n)
		}
		return nil
	}
	return cmd
}

func imagePruneCmd() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove images no container uses",
		Description: `Removes dangling images (those without a name); with --all, every image no
container uses. An image a container uses is never removed. Prints the removed ids. Asks
first unless --force.

Examples:
   den image prune -f
   den image prune -af`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every image no container uses, not only dangling ones"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			warning := "WARNING! This command removes all dangling images.\n"
			if c.Bool("all") {
				warning = "WARNING! This command removes all images without at least one container associated with them.\n"
			}
			if !c.Bool("force") && !confirm(c, warning) {
				return nil
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			rep, err := e.rt.PruneImages(c.Bool("all"))
			if rep != nil {
				for _, id := range rep.Images {
					fmt.Fprintln(c.App.Writer, id)
				}
			}
			return withCode(125, err)
		},
	}
}
