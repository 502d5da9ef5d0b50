// den is a daemonless, rootless container engine. One binary plays every role; which one is
// decided here, before anything else runs:
//
//  1. containers/storage helper stages (reexec.Init): chrootarchive and friends, registered by
//     argv[0] names such as "storage-applyLayer".
//  2. the container init stage ("den init" with _LIBCONTAINER_INITPIPE set): libcontainer's
//     process that becomes the container's command. runc's nsenter C constructor has already
//     joined the namespaces by the time Go starts. A den built by make never gets here: the
//     process becomes den-init (runtime/initbin) before Go starts (runtime/initexec); a den
//     built without it runs the init itself.
//  3. the user namespace: a command that touches storage, run by a normal user, is already
//     inside den's user and mount namespace when Go starts (runtime/userns/enter.c forks and
//     maps it before the Go runtime exists); where that fast path declined, the CLI re-executes
//     den as a child (_DEN_USERNS_STAGE=child) that waits for its id maps. userns.Init
//     finishes either entry.
//  4. a container monitor (_DEN_MONITOR set): the parent of one detached container, started
//     by `run -d` or `start`; see runtime/monitor.go.
//  5. a network holder (_DEN_NETWORK_HOLDER set): the process that keeps a user-defined
//     network's namespace, bridge, DNS and egress while containers use it; see
//     netstack/bridge.
//  6. the CLI, for everything else.
package main

import (
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/debug"

	"github.com/den-project/den/cmd"
	"github.com/den-project/den/netstack/bridge"
	"github.com/den-project/den/runtime"
	_ "github.com/den-project/den/runtime/initexec"
	_ "github.com/den-project/den/runtime/prefault"
	_ "github.com/den-project/den/runtime/sysmonslack"
	"github.com/den-project/den/runtime/userns"
	"go.podman.io/storage/pkg/reexec"
)

func main() {
	if reexec.Init() {
		return
	}
	// Every stage but the monitors and network holders lives for one command: a heap five
	// times the live data before the collector runs spares most commands any collection
	// (ps -a over a thousand records collected twice at Go's default).
	short := !runtime.IsMonitorStage() && !bridge.IsHolderStage()
	if _, set := os.LookupEnv("GOGC"); !set && short {
		debug.SetGCPercent(400)
	}
	if runtime.IsInitStage(os.Args) {
		runtime.InitStage() // does not return
	}
	// Containers take a parent-death signal, which the kernel ties to the thread that forked
	// them: containers are started from the main goroutine, kept on the main thread, which
	// lives as long as the process.
	goruntime.LockOSThread()
	if runtime.IsMonitorStage() {
		os.Exit(runtime.MonitorMain())
	}
	if bridge.IsHolderStage() {
		os.Exit(bridge.HolderMain())
	}
	if err := userns.Init(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(125)
	}
	userns.Exit(cmd.Run(os.Args))
}
