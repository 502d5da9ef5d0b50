package cmd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/den-project/den/netstack/port"
	"github.com/den-project/den/runtime"
	"github.com/urfave/cli/v2"
)

func portCmd() *cli.Command {
	return &cli.Command{
		Name:      "port",
		Usage:     "list a container's published ports",
		ArgsUsage: "CONTAINER [PRIVATE_PORT[/PROTO]]",
		Description: `Lists the host addresses a container's ports are published on, as
"80/tcp -> 0.0.0.0:8080"; with a private port, only its host addresses. Exits 125 when
the container does not publish that port.

Examples:
   den port web
   den port web 80
   den port web 53/udp
   den port -l 80
   den port -a`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "list the ports of every container"},
			latestFlag,
		},
		Action: func(c *cli.Context) error {
			if err := allOrLatest(c); err != nil {
				return err
			}
			// With --latest, the arguments are the private port alone.
			args := c.Args().Slice()
			switch {
			case c.Bool("all"):
				if len(args) > 0 {
					return withCode(125, errors.New("den port -a takes no container"))
				}
			case c.Bool("latest"):
				if len(args) > 1 {
					return withCode(125, errors.New("den port -l takes only a private port: den port -l [PORT[/PROTO]]"))
				}
				args = append([]string{""}, args...)
			case len(args) < 1 || len(args) > 2:
				return withCode(125, errors.New("den port takes a container and optionally a private port: den port CONTAINER [PORT[/PROTO]]"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			if c.Bool("latest") {
				if args[0], err = latestContainer(e.rt); err != nil {
					return err
				}
			}
			if c.Bool("all") {
				cs, err := e.rt.List()
				if err != nil {
					return withCode(125, err)
				}
				for _, ctr := range cs {
					for _, m := range ctr.Ports() {
						fmt.Fprintf(c.App.Writer, "%s\t%d/%s -> %s\n", ctr.ShortID(), m.ContainerPort, m.Protocol, m.HostAddr())
					}
				}
				return nil
			}
			ctr, err := e.rt.Lookup(args[0])
			if err != nil {
				return withCode(125, err)
			}
			if len(args) == 1 {
				for _, m := range ctr.Ports() {
					fmt.Fprintf(c.App.Writer, "%d/%s -> %s\n", m.ContainerPort, m.Protocol, m.HostAddr())
				}
				return nil
			}
			want := args[1]
			num, proto, _ := strings.Cut(want, "/")
			p, err := strconv.Atoi(num)
			if err != nil || p < 1 || p > 65535 || (proto != "" && proto != "tcp" && proto != "udp") {
				return withCode(125, fmt.Errorf("port %q: use PORT or PORT/tcp or PORT/udp", want))
			}
			if proto == "" {
				proto = "tcp"
			}
			var found []port.Mapping
			for _, m := range ctr.Ports() {
				if int(m.ContainerPort) == p && m.Protocol == proto {
					found = append(found, m)
				}
			}
			if len(found) == 0 {
				return withCode(125, fmt.Errorf("container %s does not publish port %d/%s", ctr.Name, p, proto))
			}
			for _, m := range found {
				fmt.Fprintln(c.App.Writer, m.HostAddr())
			}
			return nil
		},
	}
}

// portsText is ps's PORTS column: podman's "0.0.0.0:8080->80/tcp, ...".
func portsText(c *runtime.Container) string {
	ms := c.Ports()
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ", ")
}
