package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/den-project/den/store/volume"
	"github.com/urfave/cli/v2"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/term"
)

// volumeJSON is podman's JSON shape for `volume inspect` and `volume ls --format json`.
type volumeJSON struct {
	Name        string            `json:"Name"`
	Driver      string            `json:"Driver"`
	Mountpoint  string            `json:"Mountpoint"`
	CreatedAt   string            `json:"CreatedAt"`
	Labels      map[string]string `json:"Labels"`
	Scope       string            `json:"Scope"`
	Options     map[string]string `json:"Options"`
	MountCount  int               `json:"MountCount"`
	NeedsCopyUp bool              `json:"NeedsCopyUp"`
	Anonymous   bool              `json:"Anonymous"`
	// Containers names the containers that use it (den's addition, handy with --format).
	Containers []string `json:"Containers,omitempty"`
}

func toVolumeJSON(v *volume.Volume, users []string) volumeJSON {
	labels, opts := v.Labels, v.Options
	if labels == nil {
		labels = map[string]string{}
	}
	if opts == nil {
		opts = map[string]string{}
	}
	return volumeJSON{
		Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, CreatedAt: v.CreatedAt.Format(time.RFC3339Nano),
		Labels: labels, Scope: "local", Options: opts, NeedsCopyUp: v.NeedsCopyUp, Anonymous: v.Anonymous,
		Containers: users,
	}
}

func volumeCmd() *cli.Command {
	subs := []*cli.Command{
		volumeCreateCmd(), volumeLsCmd(), volumeInspectCmd(), volumeRmCmd(), volumePruneCmd(),
		volumeExistsCmd(), volumeExportCmd(), volumeImportCmd(),
	}
	return nounCmd("volume", "manage volumes: data that outlives containers", volumeNamespaceVerbs, subs)
}

// keyValues parses repeated KEY=VALUE flags.
func keyValues(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range vals {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("--%s %q: use KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

func volumeCreateCmd() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a volume",
		ArgsUsage: "[NAME]",
		Description: `Creates an empty volume and prints its name (a random one when NAME is not given).
The first container that mounts it copies the image's content at the mount point into it.

Examples:
   den volume create data
   den volume create --label app=db --opt uid=999 pgdata`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "label", Aliases: []string{"l"}, Usage: "set a label (KEY=VALUE)"},
			&cli.StringSliceFlag{Name: "opt", Aliases: []string{"o"}, Usage: "driver option: uid=N, gid=N (owner of the volume's root)"},
			&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: "local", Usage: "volume driver: local"},
			&cli.BoolFlag{Name: "ignore", Usage: "do nothing if the volume exists"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return withCode(125, errors.New("one volume name at most: den volume create [NAME]"))
			}
			if d := c.String("driver"); d != "local" {
				return withCode(125, fmt.Errorf("--driver %q: den has the local driver only", d))
			}
			labels, err := keyValues("label", c.StringSlice("label"))
			if err != nil {
				return withCode(125, err)
			}
			opts, err := keyValues("opt", c.StringSlice("opt"))
			if err != nil {
				return withCode(125, err)
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			name := c.Args().First()
			if c.Bool("ignore") && name != "" && e.rt.Volumes().Exists(name) {
				fmt.Fprintln(c.App.Writer, name)
				return nil
			}
			v, err := e.rt.CreateVolume(volume.CreateOptions{Name: name, Labels: labels, Options: opts})
			if err != nil {
				return withCode(125, err)
			}
			fmt.Fprintln(c.App.Writer, v.Name)
			return nil
		},
	}
}

func parseVolumeFilters(vals []string) ([]volume.Filter, error) {
	var out []volume.Filter
	for _, f := range vals {
		p, err := volume.ParseFilter(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// volumeRow is one line of `volume ls`, with podman's --format fields.
type volumeRow struct {
	Name, Driver, Mountpoint, CreatedAt, Scope string
	Labels, Options                            map[string]string
	Anonymous                                  bool
	MountCount                                 int
}

func volumeLsCmd() *cli.Command {
	return &cli.Command{
		Name:    "ls",
		Aliases: []string{"list"},
		Usage:   "list volumes",
		Description: `Lists volumes by name.

Examples:
   den volume ls
   den volume ls -q --filter dangling=true
   den volume ls --filter label=app=db --format '{{.Name}} {{.Mountpoint}}'`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only names"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "name=, label=KEY[=VALUE], driver=, dangling=true|false"},
			&cli.StringFlag{Name: "format", Usage: "Go template, \"table TEMPLATE\" or \"json\""},
			noHeadingFlag(),
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			filters, err := parseVolumeFilters(c.StringSlice("filter"))
			if err != nil {
				return withCode(125, err)
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			vols, err := e.rt.Volumes().List()
			if err != nil {
				return withCode(125, err)
			}
			users, err := e.rt.VolumeUsers()
			if err != nil {
				return withCode(125, err)
			}
			var rows []volumeRow
			var js []volumeJSON
			for _, v := range vols {
				if !volume.MatchAll(filters, v, len(users[v.Name]) > 0) {
					continue
				}
				j := toVolumeJSON(v, users[v.Name])
				js = append(js, j)
				rows = append(rows, volumeRow{
					Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, CreatedAt: j.CreatedAt, Scope: "local",
					Labels: j.Labels, Options: j.Options, Anonymous: v.Anonymous, MountCount: len(users[v.Name]),
				})
			}
			if c.Bool("quiet") {
				for _, r := range rows {
					fmt.Fprintln(c.App.Writer, r.Name)
				}
				return nil
			}
			if js == nil {
				js = []volumeJSON{}
			}
			return printList(listWriter(c, c.String("format")), c.String("format"), []column{{"DRIVER", "Driver"}, {"VOLUME NAME", "Name"}}, rows, js)
		},
	}
}

func volumeInspectCmd() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show volumes as JSON",
		ArgsUsage: "VOLUME...",
		Description: `Prints podman's JSON shape for volumes, or renders --format for each.

Examples:
   den volume inspect data
   den volume inspect --format '{{.Mountpoint}}' data
   den volume inspect --all`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "Go template or \"json\""},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "inspect every volume"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 && !c.Bool("all") {
				return withCode(125, errors.New("no volume given: den volume inspect VOLUME... or --all"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			vs := e.rt.Volumes()
			var vols []*volume.Volume
			var first error
			if c.Bool("all") {
				if vols, err = vs.List(); err != nil {
					return withCode(125, err)
				}
			}
			for _, n := range c.Args().Slice() {
				v, err := vs.Get(n)
				if err != nil {
					if first == nil {
						first = withCode(125, err)
					}
					continue
				}
				vols = append(vols, v)
			}
			users, err := e.rt.VolumeUsers()
			if err != nil {
				return withCode(125, err)
			}
			out := []volumeJSON{}
			for _, v := range vols {
				j := toVolumeJSON(v, users[v.Name])
				j.MountCount = len(users[v.Name])
				out = append(out, j)
			}
			if err := printInspected(c, c.String("format"), out); err != nil {
				return err
			}
			return first
		},
	}
}

func volumeRmCmd() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Aliases:   []string{"remove"},
		Usage:     "remove volumes",
		ArgsUsage: "VOLUME...",
		Description: `Removes volumes and their data. A volume that a container uses is refused
(exit 2) unless --force, which removes those containers first. Exit 1 when a volume does
not exist.

Examples:
   den volume rm data
   den volume rm -f data
   den volume rm --all`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove the containers using the volume first"},
			&cli.UintFlag{Name: "time", Aliases: []string{"t"}, Usage: "with --force, seconds to wait for a running container before killing it (default: its --stop-timeout, 10)"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every volume"},
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			names := c.Args().Slice()
			if c.Bool("all") {
				vols, err := e.rt.Volumes().List()
				if err != nil {
					return withCode(125, err)
				}
				for _, v := range vols {
					names = append(names, v.Name)
				}
			} else if len(names) == 0 {
				return withCode(125, errors.New("no volume given: den volume rm VOLUME... or --all"))
			}
			var first error
			for _, n := range names {
				err := e.rt.RemoveVolume(context.Background(), n, c.Bool("force"), stopTimeoutFlag(c))
				if err == nil {
					fmt.Fprintln(c.App.Writer, n)
					continue
				}
				if errors.Is(err, volume.ErrNotFound) && c.Bool("force") {
					continue // as in podman
				}
				code := 125
				switch {
				case errors.Is(err, volume.ErrNotFound):
					code = 1
				case errors.Is(err, volume.ErrInUse):
					code = 2
				}
				if first != nil {
					fmt.Fprintln(c.App.ErrWriter, "Error:", oneLine(err.Error()))
					continue
				}
				first = withCode(code, err)
			}
			return first
		},
	}
}

func volumePruneCmd() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove every volume no container uses",
		Description: `Removes the volumes that no container, running or not, uses.

Examples:
   den volume prune -f
   den volume prune -f --filter label=tmp`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation"},
			&cli.StringSliceFlag{Name: "filter", Usage: "name=, label=KEY[=VALUE], driver="},
		},
		Action: func(c *cli.Context) error {
			filters, err := parseVolumeFilters(c.StringSlice("filter"))
			if err != nil {
				return withCode(125, err)
			}
			if !c.Bool("force") && !confirm(c, "WARNING! This will remove all volumes not used by at least one container. The following volumes will be removed:\n") {
				return nil
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			removed, err := e.rt.PruneVolumes(context.Background(), filters)
			for _, n := range removed {
				fmt.Fprintln(c.App.Writer, n)
			}
			if err != nil {
				return withCode(125, err)
			}
			return nil
		},
	}
}

func volumeExistsCmd() *cli.Command {
	return &cli.Command{
		Name:      "exists",
		Usage:     "exit 0 if a volume exists, 1 if not",
		ArgsUsage: "VOLUME",
		Description: `Examples:
   den volume exists data && echo yes`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(125, errors.New("one volume name: den volume exists VOLUME"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			if !e.rt.Volumes().Exists(c.Args().First()) {
				return exitCode(1)
			}
			return nil
		},
	}
}

func volumeExportCmd() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write a volume's content as a tar archive",
		ArgsUsage: "VOLUME",
		Description: `Writes the volume's files, with owners and modes, to -o FILE or to stdout when
stdout is not a terminal.

Examples:
   den volume export data -o data.tar
   den volume export data | gzip > data.tar.gz`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to FILE instead of stdout"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(125, errors.New("one volume name: den volume export VOLUME"))
			}
			out := c.App.Writer
			if p := c.String("output"); p != "" {
				f, err := os.Create(p)
				if err != nil {
					return withCode(125, fmt.Errorf("--output: %w", err))
				}
				defer f.Close()
				out = f
			} else if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				return withCode(125, errors.New("refusing to write a tar archive to a terminal: use -o FILE or redirect stdout"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			v, err := e.rt.Volumes().Get(c.Args().First())
			if err != nil {
				return withCode(125, err)
			}
			rd, err := archive.Tar(v.Mountpoint, archive.Uncompressed)
			if err != nil {
				return withCode(125, fmt.Errorf("exporting volume %s: %w", v.Name, err))
			}
			defer rd.Close()
			if _, err := io.Copy(out, rd); err != nil {
				return withCode(125, fmt.Errorf("exporting volume %s: %w", v.Name, err))
			}
			return nil
		},
	}
}

func volumeImportCmd() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "fill a volume from a tar archive",
		ArgsUsage: "VOLUME FILE|-",
		Description: `Unpacks a tar archive (gzip or not) into an existing volume; - reads stdin.

Examples:
   den volume import data data.tar
   gunzip -c data.tar.gz | den volume import data -`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return withCode(125, errors.New("want a volume and a file: den volume import VOLUME FILE|-"))
			}
			var in io.Reader = os.Stdin
			if p := c.Args().Get(1); p != "-" {
				f, err := os.Open(p)
				if err != nil {
					return withCode(125, fmt.Errorf("opening archive: %w", err))
				}
				defer f.Close()
				in = f
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			v, err := e.rt.Volumes().Get(c.Args().First())
			if err != nil {
				return withCode(125, err)
			}
			// archive.Untar refuses entries that climb out of the volume with ../ or links.
			if err := archive.Untar(in, v.Mountpoint, &archive.TarOptions{InUserNS: true}); err != nil {
				return withCode(125, fmt.Errorf("importing into volume %s: %w", v.Name, err))
			}
			return nil
		},
	}
}
