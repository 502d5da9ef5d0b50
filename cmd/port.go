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
   den port -a`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "list the ports of every container"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("all") {
				if c.NArg() > 0 {
					return withCode(125, errors.New("den port -a takes no container"))
				}
			} else if c.NArg() < 1 || c.NArg() > 2 {
				return withCode(125, errors.New("den port takes a container and optionally a private port: den port CONTAINER [PORT[/PROTO]]"))
			}
			e, err := newEnv(c)
			if err != nil {
				return err
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
			ctr, err := e.rt.Lookup(c.Args().First())
			if err != nil {
				return withCode(125, err)
			}
			if c.NArg() == 1 {
				for _, m := range ctr.Ports() {
					fmt.Fprintf(c.App.Writer, "%d/%s -> %s\n", m.ContainerPort, m.Protocol, m.HostAddr())
				}
				return nil
			}
			want := c.Args().Get(1)
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
