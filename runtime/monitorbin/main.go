// den-monitor is the program a detached container's monitor runs (runtime.MonitorMain): den's
// runtime without its command line, images or anything else a monitor never does. `make
// build` builds it (the den_monitor tag) and links it into den's core build, which keeps it
// as a file and starts monitors from there (runtime/initexec, handover.c).
//
// A monitor lives as long as its container, so what it holds counts: a Go program's code is
// mapped in 64 KB around each page it touches, and every package's initialisation touches its
// own, so a monitor of den whole held most of den's 9 MB of code, where this one has 5 MB in
// all.
//
// It plays the roles of den that a monitor starts as /proc/self/exe, that is as itself: the
// containers/storage helper stages, the init of a container or an exec (which becomes
// den-init before Go starts), and the monitor itself. A user network's holder, which a
// monitor starts when its container is the network's first, runs den (bridge.Program, from
// the descriptor of den's own program the monitor is given): the holder's DNS server and
// bridge would add 0.9 MB to the code a monitor holds.
package main

import (
	"os"
	goruntime "runtime"

	"github.com/den-project/den/runtime"
	_ "github.com/den-project/den/runtime/initexec"
	_ "github.com/den-project/den/runtime/prefault"
	_ "github.com/den-project/den/runtime/sysmonslack"
	"go.podman.io/storage/pkg/reexec"
)

func main() {
	if reexec.Init() {
		return
	}
	if runtime.IsInitStage(os.Args) {
		runtime.InitStage() // does not return
	}
	// As in den's main: the monitor starts containers from the main thread, which their
	// parent-death signal is tied to.
	goruntime.LockOSThread()
	if runtime.IsMonitorStage() {
		os.Exit(runtime.MonitorMain())
	}
	os.Stderr.WriteString("den-monitor: this program is run by den, as a container's monitor\n")
	os.Exit(125)
}
