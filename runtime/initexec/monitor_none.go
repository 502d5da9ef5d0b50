//go:build !den_core || den_monitor

package initexec

import "os"

// MonitorProgram: only den's core build carries den-monitor; any other's monitors are den
// itself.
func MonitorProgram() (path string, dir *os.File, ok bool) { return "", nil, false }
