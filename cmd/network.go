package cmd

import (
	"errors"
	"fmt"
	"time"

	"github.com/den-project/den/netstack/network"
	"github.com/den-project/den/runtime"
	"github.com/urfave/cli/v2"
)

// networkNamespaceVerbs are the network verbs that touch storage: rm, whose --force removes
// containers. The others read and write only den's own records. enter.c does not know them:
// they take the slower re-exec into a namespace.
var networkNamespaceVerbs = map[string]bool{"rm": true}

func networkCmd() *cli.Command {
	subs := []*cli.Command{
		networkCreateCmd(), networkLsCmd(), networkInspectCmd(), networkRmCmd(), networkPruneCmd(),
		networkExistsCmd(), networkConnectCmd(), networkDisconnectCmd(),
	}
	return nounCmd("network", "manage user-defined networks, on which containers reach each other by name", networkNamespaceVerbs, subs)
}

func networkCreateCmd() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a network",
		ArgsUsage: "NAME",
		Description: `Creates a bridge network and prints its name. Containers on it (run --network NAME)
reach each other by IP, by name and by --network-alias through DNS at the gateway. Without
--subnet it takes the first free 10.89.N.0/24. An --internal network has no way out.
Nothing runs until a container uses the network.

Examples:
   den network create web
   den network create --subnet 192.168.50.0/24 --gateway 192.168.50.254 lan
   den network create --internal --label env=test backend`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "driver", Aliases: []string{"d"}, Value: network.Driver, Usage: "network driver: bridge"},
			&cli.StringFlag{Name: "subnet", Usage: "IPv4 subnet in CIDR form, e.g. 10.89.5.0/24"},
			&cli.StringFlag{Name: "gateway", Usage: "gateway address in the subnet (default: its first address)"},
			&cli.BoolFlag{Name: "internal", Usage: "no egress: containers reach only each other"},
			&cli.StringSliceFlag{Name: "label", Usage: "set a label (KEY=VALUE)"},
			&cli.BoolFlag{Name: "ignore", Usage: "do nothing if the network exists"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(125, errors.New("one network name is required: den network create [OPTIONS] NAME"))
			}
			labels, err := keyValues("label", c.StringSlice("label"))
			if err != nil {
				return withCode(125, err)
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			name := c.Args().First()
			if c.Bool("ignore") {
				if _, err := e.rt.Networks().Get(name); err == nil {
					fmt.Fprintln(c.App.Writer, name)
					return nil
				}
			}
			n, err := e.rt.CreateNetwork(network.CreateOptions{
				Name: name, Driver: c.String("driver"), Subnet: c.String("subnet"), Gateway: c.String("gateway"),
				Internal: c.Bool("internal"), Labels: labels,
			})
			if err != nil {
				return withCode(125, err)
			}
			fmt.Fprintln(c.App.Writer, n.Name)
			return nil
		},
	}
}

// networkRow is one line of `network ls`, with podman's --format fields.
type networkRow struct {
	ID, Name, Driver, Created string
	Internal                  bool
	Labels                    map[string]string
	Subnets                   []network.Subnet
}

func networkLsCmd() *cli.Command {
	return &cli.Command{
		Name:    "ls",
		Aliases: []string{"list"},
		Usage:   "list networks",
		Description: `Lists networks by name.

Examples:
   den network ls
   den network ls -q --filter label=env=test
   den network ls --filter name=^web --format '{{.Name}} {{.Driver}}'`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only names"},
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "name=REGEXP, id=PREFIX, label=KEY[=VALUE], driver="},
			&cli.StringFlag{Name: "format", Usage: "Go template, \"table TEMPLATE\" or \"json\""},
			noHeadingFlag(),
		},
		UseShortOptionHandling: true,
		Action: func(c *cli.Context) error {
			f, err := network.ParseFilters(c.StringSlice("filter"))
			if err != nil {
				return withCode(125, err)
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			all, err := e.rt.Networks().List()
			if err != nil {
				return withCode(125, err)
			}
			rows := []networkRow{}
			js := []*network.Network{}
			for _, n := range all {
				if !f.Match(n) {
					continue
				}
				js = append(js, n)
				rows = append(rows, networkRow{
					ID: n.ID[:12], Name: n.Name, Driver: n.Driver, Created: n.Created.Format(time.RFC3339),
					Internal: n.Internal, Labels: n.Labels, Subnets: n.Subnets,
				})
			}
			if c.Bool("quiet") {
				for _, r := range rows {
					fmt.Fprintln(c.App.Writer, r.Name)
				}
				return nil
			}
			return printList(listWriter(c, c.String("format")), c.String("format"), []column{{"NETWORK ID", "ID"}, {"NAME", "Name"}, {"DRIVER", "Driver"}}, rows, js)
		},
	}
}

func networkInspectCmd() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show networks as JSON",
		ArgsUsage: "NETWORK...",
		Description: `Prints podman's JSON shape for networks, or renders --format for each.

Examples:
   den network inspect web
   den network inspect --format '{{range .Subnets}}{{.Subnet}}{{end}}' web`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Usage: "Go template or \"json\""},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return withCode(125, errors.New("no network given: den network inspect NETWORK..."))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			out := []*network.Network{}
			var first error
			for _, ref := range c.Args().Slice() {
				n, err := e.rt.Networks().Get(ref)
				if err != nil {
					if first == nil {
						first = withCode(125, err)
					}
					continue
				}
				out = append(out, n)
			}
			if err := printInspected(c, c.String("format"), out); err != nil {
				return err
			}
			return first
		},
	}
}

func networkRmCmd() *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Aliases:   []string{"remove"},
		Usage:     "remove networks",
		ArgsUsage: "NETWORK...",
		Description: `Removes networks. A network that containers use is refused unless --force,
which removes those containers first; with --force, a network that does not exist is not an
error. Exit codes: 1 when a network does not exist, 2 when containers use it, 125 otherwise.

Examples:
   den network rm web
   den network rm -f web`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "remove the containers on the network too"},
			&cli.UintFlag{Name: "time", Aliases: []string{"t"}, Usage: "with --force, seconds to wait for a running container before killing it (default: its --stop-timeout, 10)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return withCode(125, errors.New("no network given: den network rm NETWORK..."))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			var first error
			for _, ref := range c.Args().Slice() {
				n, err := e.rt.RemoveNetwork(c.Context, ref, c.Bool("force"), stopTimeoutFlag(c))
				if errors.Is(err, network.ErrNotFound) && c.Bool("force") {
					continue // as in podman
				}
				if err != nil {
					if first != nil {
						fmt.Fprintln(c.App.ErrWriter, "Error:", oneLine(first.Error()))
					}
					code := 125
					switch {
					case errors.Is(err, network.ErrNotFound):
						code = 1
					case errors.Is(err, runtime.ErrNetworkInUse):
						code = 2
					}
					first = withCode(code, err)
					continue
				}
				fmt.Fprintln(c.App.Writer, n.Name)
			}
			return first
		},
	}
}

func networkPruneCmd() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove the networks no container uses",
		Description: `Removes every network that no container (running or not) is on.

Examples:
   den network prune -f`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not ask for confirmation (den never asks)"},
			&cli.StringSliceFlag{Name: "filter", Usage: "label=KEY[=VALUE]: prune only matching networks"},
		},
		Action: func(c *cli.Context) error {
			f, err := network.ParseFilters(c.StringSlice("filter"))
			if err != nil {
				return withCode(125, err)
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			gone, err := e.rt.PruneNetworks(f)
			for _, n := range gone {
				fmt.Fprintln(c.App.Writer, n)
			}
			if err != nil {
				return withCode(125, err)
			}
			return nil
		},
	}
}

func networkExistsCmd() *cli.Command {
	return &cli.Command{
		Name:      "exists",
		Usage:     "exit 0 if a network exists, 1 if not",
		ArgsUsage: "NETWORK",
		Description: `Examples:
   den network exists web && echo yes`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withCode(125, errors.New("one network is required: den network exists NETWORK"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			if _, err := e.rt.Networks().Get(c.Args().First()); err != nil {
				if errors.Is(err, network.ErrNotFound) {
					return exitCode(1)
				}
				return withCode(125, err)
			}
			return nil
		},
	}
}

func networkConnectCmd() *cli.Command {
	return &cli.Command{
		Name:      "connect",
		Usage:     "connect a container to one more network",
		ArgsUsage: "NETWORK CONTAINER",
		Description: `Adds a network to a container created with --network NAME. A running container
gets the new interface (the first free ethN, with its address and the network's DNS names)
at once and keeps its default route; a stopped one gets it at its next start.

Examples:
   den network connect --alias db backend mydb`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "alias", Usage: "another name of the container on this network"},
			&cli.StringFlag{Name: "ip", Usage: "the container's address on this network"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return withCode(125, errors.New("a network and a container are required: den network connect NETWORK CONTAINER"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			if err := e.rt.ConnectNetwork(c.Args().Get(1), c.Args().Get(0), c.StringSlice("alias"), c.String("ip")); err != nil {
				return withCode(125, err)
			}
			return nil
		},
	}
}

func networkDisconnectCmd() *cli.Command {
	return &cli.Command{
		Name:      "disconnect",
		Usage:     "disconnect a container from a network",
		ArgsUsage: "NETWORK CONTAINER",
		Description: `Takes a network off a container. A running container loses the interface before
the command returns; the container keeps at least one network.

Examples:
   den network disconnect frontend mydb`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return withCode(125, errors.New("a network and a container are required: den network disconnect NETWORK CONTAINER"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			if err := e.rt.DisconnectNetwork(c.Args().Get(1), c.Args().Get(0)); err != nil {
				return withCode(125, err)
			}
			return nil
		},
	}
}
