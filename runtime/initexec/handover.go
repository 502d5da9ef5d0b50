//go:build den_core && !den_monitor

package initexec

// int den_monitor_dir(void);
import "C"

import (
	"os"
	"strconv"

	// enter.c tells handover.c which command lines copy images (den_transfer_command).
	_ "github.com/den-project/den/runtime/userns"
)

// MonitorProgram is the path of den-monitor kept as a file (handover.c), for a detached
// container's monitor to run, and the directory that holds it, which the path goes through
// and which must stay open until the monitor has started. ok is false when there is none, and
// the monitor is then den itself.
func MonitorProgram() (path string, dir *os.File, ok bool) {
	fd := C.den_monitor_dir()
	if fd < 0 {
		return "", nil, false
	}
	dir = os.NewFile(uintptr(fd), "den-monitor's directory")
	return "/proc/self/fd/" + strconv.Itoa(int(fd)) + "/den-monitor", dir, true
}
