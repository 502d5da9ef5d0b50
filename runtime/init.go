package runtime

import (
	"os"

	"github.com/den-project/den/runtime/initexec"
	// Registers the device-rule manager libcontainer needs when it sets up a container.
	_ "github.com/opencontainers/cgroups/devices"
	// Its C constructor joins the container's namespaces before the Go runtime starts, and
	// returns at once unless _LIBCONTAINER_INITPIPE is set.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// IsInitStage reports whether this process is libcontainer's container init: argv[1] is
// "init" and the init pipe is set. A user's `den init` has no pipe.
func IsInitStage(args []string) bool {
	return len(args) > 1 && args[1] == "init" && os.Getenv("_LIBCONTAINER_INITPIPE") != ""
}

// InitStage runs libcontainer's init (see initexec.Init); it execs the container's command
// and never returns. A den built by make reaches it only if the handover to den-init failed.
func InitStage() { initexec.Init() }
