package cmd

import (
	"fmt"

	"github.com/den-project/den/runtime"
	"github.com/den-project/den/runtime/userns"
	"github.com/urfave/cli/v2"
)

func unshareCmd() *cli.Command {
	return &cli.Command{
		Name:      "unshare",
		Usage:     "run a command inside den's user and mount namespace",
		ArgsUsage: "[COMMAND [ARG...]]",
		Description: `Runs COMMAND (default: $SHELL, else /bin/sh) as uid 0 of den's user namespace: your
uid is 0 there and your /etc/subuid and /etc/subgid ranges follow it, as in containers.
CONTAINERS_GRAPHROOT and CONTAINERS_RUNROOT name den's storage. The exit code is the
command's. A den run inside the session uses the session's namespace: den mount works there
and its mounts stay until the session ends. As root, the command simply runs.

Examples:
   den unshare id -u
   den unshare cat /proc/self/uid_map
   den unshare sh -c 'ls -ln "$CONTAINERS_GRAPHROOT"'
   den unshare                     (a shell; then: den mount CONTAINER)`,
		Action: func(c *cli.Context) error {
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			return e.rt.Unshare(c.Args().Slice())
		},
	}
}

// needUnshare refuses a command that mounts in this mount namespace when it would be one
// that ends with this den: a normal user's, outside `den unshare`.
func needUnshare(name string) error {
	if userns.Needed() {
		return withCode(125, fmt.Errorf("cannot run command \"den %s\" in rootless mode: %w", name, runtime.ErrNeedsUnshare))
	}
	return nil
}
