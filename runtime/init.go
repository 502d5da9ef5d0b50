package runtime

import (
	"os"
	goruntime "runtime"

	"golang.org/x/sys/unix"

	// Registers the device-rule manager libcontainer needs when it sets up a container.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	// Its C constructor joins the container's namespaces before the Go runtime starts, and
	// returns at once unless _LIBCONTAINER_INITPIPE is set.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// IsInitStage reports whether this process is libcontainer's container init: argv[1] is
// "init" and the init pipe is set. A user's `den init` has no pipe.
func IsInitStage(args []string) bool {
	return len(args) > 1 && args[1] == "init" && os.Getenv("_LIBCONTAINER_INITPIPE") != ""
}

// InitStage runs libcontainer's init; it execs the container's command and never returns.
//
// Before that it asks to be killed when its parent dies. runc's nsexec clones this process
// with CLONE_PARENT, so its parent is the den process that holds the container; runc keeps
// this setting across its credential changes and the exec. If the holder is killed, the
// container's first process, and with it its whole pid namespace, goes too: no container is
// left running with nobody to reap it or record its exit.
func InitStage() {
	goruntime.LockOSThread() // the setting is per thread; libcontainer.Init stays on this one
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	if os.Getppid() == 1 {
		os.Exit(255) // the holder died before the setting took
	}
	libcontainer.Init()
}
