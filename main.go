// den is a daemonless, rootless container engine. One binary plays every role; which one is
// decided here, before anything else runs:
//
//  1. containers/storage helper stages (reexec.Init): chrootarchive and friends, registered by
//     argv[0] names such as "storage-applyLayer".
//  2. the container init stage ("den init" with _LIBCONTAINER_INITPIPE set): libcontainer's
//     process that becomes the container's command. runc's nsenter C constructor has already
//     joined the namespaces by the time Go starts.
//  3. the user-namespace child (_DEN_USERNS_STAGE=child): den re-executed inside its user and
//     mount namespace by a command that touches storage; it waits for its id maps and then
//     runs the same command line as root of that namespace.
//  4. the CLI, for everything else.
package main

import (
	"fmt"
	"os"

	"github.com/den-project/den/cmd"
	"github.com/den-project/den/runtime"
	"github.com/den-project/den/runtime/userns"
	"go.podman.io/storage/pkg/reexec"
)

func main() {
	if reexec.Init() {
		return
	}
	if runtime.IsInitStage(os.Args) {
		runtime.InitStage() // does not return
	}
	if userns.InChild() {
		if err := userns.ChildStage(); err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			os.Exit(125)
		}
	}
	os.Exit(cmd.Run(os.Args))
}
