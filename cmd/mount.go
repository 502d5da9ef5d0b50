package cmd

import (
	"errors"
	"fmt"

	"github.com/den-project/den/runtime"
	"github.com/urfave/cli/v2"
)

// mountedJSON is one entry of `den mount --format json`, with podman's field names.
type mountedJSON struct {
	ID         string   `json:"id"`
	Names      []string `json:"names"`
	Mountpoint string   `json:"mountpoint"`
}

// mountRow is one line of `den mount` without arguments.
type mountRow struct {
	ID, Name, Mountpoint string
}

func mountCmd() *cli.Command {
	return &cli.Command{
		Name:      "mount",
		Usage:     "mount containers' root filesystems and print where",
		ArgsUsage: "[CONTAINER...]",
		Description: `Mounts each CONTAINER's root filesystem (its image and its changes) and prints the
path, one line per container. Without arguments, lists the containers mounted here: ID
and path. A normal user runs it inside ` + "`den unshare`" + `: the mount lives in that
session's mount namespace and goes with it; den umount undoes it sooner. Files written
there are the container's when it runs.

Examples:
   den unshare
   # den mount web
   # den mount
   # den umount web`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "mount every container"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "show whole container IDs in the listing"},
			&cli.StringFlag{Name: "format", Usage: "the listing as \"json\" or a Go template ({{.ID}} {{.Name}} {{.Mountpoint}})"},
		},
		Action: func(c *cli.Context) error {
			if err := needUnshare("mount"); err != nil {
				return err
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			refs, err := containerArgs(c, e)
			if err != nil {
				return err
			}
			if len(refs) > 0 || c.Bool("all") {
				return eachContainer(c, refs, func(ref string) error {
					m, err := e.rt.MountRootfs(ref)
					if err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, m.Path)
					return nil
				})
			}
			ms, err := e.rt.MountedRootfses()
			if err != nil {
				return withCode(125, err)
			}
			rows := []mountRow{}
			js := []mountedJSON{}
			for _, m := range ms {
				id := m.Container.ID
				if !c.Bool("no-trunc") {
					id = m.Container.ShortID()
				}
				rows = append(rows, mountRow{ID: id, Name: m.Container.Name, Mountpoint: m.Path})
				js = append(js, mountedJSON{ID: m.Container.ID, Names: []string{m.Container.Name}, Mountpoint: m.Path})
			}
			format := c.String("format")
			if format == "" {
				format = "{{.ID}}  {{.Mountpoint}}"
			}
			return printList(c.App.Writer, format, nil, rows, js)
		},
	}
}

// containerArgs is the command's container arguments, and with --all every container.
func containerArgs(c *cli.Context, e *env) ([]string, error) {
	refs, err := containerRefs(c, e.rt)
	if err != nil {
		return nil, err
	}
	if c.Bool("all") {
		cs, err := e.rt.List()
		if err != nil {
			return nil, withCode(125, err)
		}
		for _, ct := range cs {
			refs = append(refs, ct.ID)
		}
	}
	return refs, nil
}

func umountCmd() *cli.Command {
	return &cli.Command{
		Name:      "umount",
		Aliases:   []string{"unmount"},
		Usage:     "unmount containers' root filesystems",
		ArgsUsage: "CONTAINER...",
		Description: `Undoes den mount for each CONTAINER and prints its ID. A running container's root
filesystem is refused. As den mount, a normal user runs it inside ` + "`den unshare`" + `.

Examples:
   den umount web
   den umount -a`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "unmount every container mounted here"},
		},
		Action: func(c *cli.Context) error {
			if err := needUnshare("umount"); err != nil {
				return err
			}
			refs := c.Args().Slice()
			if len(refs) == 0 && !c.Bool("all") {
				return withCode(125, errors.New("no container given: den umount CONTAINER... or --all"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			defer e.rt.Close()
			if c.Bool("all") {
				ms, err := e.rt.MountedRootfses()
				if err != nil {
					return withCode(125, err)
				}
				for _, m := range ms {
					if m.Container.State.Status != runtime.StatusRunning {
						refs = append(refs, m.Container.ID)
					}
				}
			}
			return eachContainer(c, refs, func(ref string) error {
				ct, err := e.rt.UnmountRootfs(ref)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, ct.ID)
				return nil
			})
		},
	}
}
