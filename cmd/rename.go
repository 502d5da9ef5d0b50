package cmd

import (
	"errors"

	"github.com/urfave/cli/v2"
)

func renameCmd() *cli.Command {
	return &cli.Command{
		Name:      "rename",
		Usage:     "give a container a new name",
		ArgsUsage: "CONTAINER NEWNAME",
		Description: `Renames a container, running or not. The old name is free at once for another
container.

Examples:
   den rename web web-old
   den rename 3f57d9401f8d db`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return withCode(125, errors.New("den rename takes a container and its new name: den rename CONTAINER NEWNAME"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			if _, err := e.rt.Rename(c.Args().Get(0), c.Args().Get(1)); err != nil {
				return withCode(125, err)
			}
			return nil
		},
	}
}
