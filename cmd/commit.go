package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/den-project/den/runtime"
	"github.com/urfave/cli/v2"
)

func commitCmd() *cli.Command {
	return &cli.Command{
		Name:      "commit",
		Usage:     "make an image of a container's changes",
		ArgsUsage: "CONTAINER [IMAGE]",
		Description: `Stores what the container changed in its root filesystem as a new layer on top of
its image, with the container's environment, working directory, user, labels and command as
the new image's config, then --change on top. Prints the new image's id. Short names go under
localhost/, as in podman.

Examples:
   den commit web mywebimage
   den commit -c 'CMD ["/bin/httpd", "-f"]' -c 'ENV MODE=prod' --author 'Ann <ann@example.com>' -m 'configured' web web:2`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "change", Aliases: []string{"c"}, Usage: "apply CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME or STOPSIGNAL"},
			&cli.StringFlag{Name: "author", Aliases: []string{"a"}, Usage: "the image's author"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "a comment for the image's history"},
			&cli.BoolFlag{Name: "pause", Aliases: []string{"p"}, Usage: "freeze a running container while committing"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "accepted for podman's sake: den prints only the id"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "the image format: den writes oci only", Value: "oci"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return withCode(125, errors.New("den commit needs CONTAINER and optionally an image name"))
			}
			if f := c.String("format"); f != "oci" {
				return withCode(125, fmt.Errorf("--format %q: den commits OCI images only (--format oci)", f))
			}
			if _, err := imageChanges(c.StringSlice("change")); err != nil {
				return err
			}
			name := c.Args().Get(1)
			if err := checkNewNames(name); err != nil {
				return err
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			id, err := e.rt.Commit(context.Background(), runtime.CommitOptions{
				Container: c.Args().First(), Name: name, Changes: c.StringSlice("change"),
				Author: c.String("author"), Message: c.String("message"), Pause: c.Bool("pause"),
			})
			if err != nil {
				return withCode(125, err)
			}
			fmt.Fprintln(c.App.Writer, id)
			return nil
		},
	}
}
