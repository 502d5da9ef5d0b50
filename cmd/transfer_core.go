//go:build den_core

package cmd

import (
	"fmt"

	"github.com/den-project/den/runtime/initexec"
	"github.com/urfave/cli/v2"
)

// den's core build leaves containers/image's copying out. Before Go starts, the commands
// that copy images become the whole den the core carries (runtime/initexec), so these
// actions run only when that hand-over failed.
var (
	loadAction   = notHandedOver
	importAction = notHandedOver
	saveAction   = notHandedOver
	pullAction   = notHandedOver
	pushAction   = notHandedOver
	loginAction  = notHandedOver
	logoutAction = notHandedOver
)

func notHandedOver(c *cli.Context) error {
	return withCode(125, fmt.Errorf("den %s: %w", c.Command.Name, initexec.TransferFailure()))
}
