// den-init is what a container's init process becomes: libcontainer's init and nothing
// else. den runs every container's init (and every exec's) from its own binary, whose Go
// start-up initialises the hundreds of packages of containers/image and containers/storage
// first; this program has libcontainer's alone and starts in a fraction of that time.
// den carries it inside itself and hands over to it in the init's first moment (see
// runtime/initexec); `make build` builds it first.
package main

import (
	"github.com/den-project/den/runtime/initexec"
	_ "github.com/den-project/den/runtime/prefault"
	_ "github.com/den-project/den/runtime/sysmonslack"
)

func main() { initexec.Init() }
