// Package initexec makes a den process another program that den carries inside itself,
// before the Go runtime starts (see initexec.c):
//
//   - A container's init becomes den-init (see runtime/initbin): `make build` builds den-init
//     first, puts it beside this file as den-init.bin and builds den with the den_initbin
//     tag, which links it in (blob.S). A den built without it (go build, go test) runs the
//     init itself.
//   - In den's core build (the den_core tag, which `make build` gives bin/den), the commands
//     that copy images with containers/image (load, import, save, pull, push, login, logout)
//     run in the whole den, which `make build` builds first as den-transfer.bin and links in
//     (transfer.S). containers/image's package initialisation costs 8-10 ms and ~18 MB of
//     every process that links it; the core build leaves it out of every other command and
//     of every container's monitor.
//
// The handover happens in C, in the init's first moment: after runc's nsenter has put the
// process in the container's namespaces and before the Go runtime has started (see
// initexec.c). den-init runs from a sealed memfd, so a container can no more write to the
// binary that starts it than to den's own (CVE-2019-5736).
package initexec

// #include <stddef.h>
// size_t den_initexec_size(void);
// size_t den_transfer_size(void);
// extern int den_transfer_errno;
import "C"

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"syscall"

	// A container's seccomp filter comes from den's cache when it can (see the package).
	_ "github.com/den-project/den/runtime/seccompcache"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// Init runs libcontainer's init, in den-init or in den: it execs the container's command
// and never returns.
//
// Before that it asks to be killed when its parent dies. runc's nsexec clones this process
// with CLONE_PARENT, so its parent is the den process that holds the container; runc keeps
// this setting across its credential changes and the exec. If the holder is killed, the
// container's first process, and with it its whole pid namespace, goes too: no container is
// left running with nobody to reap it or record its exit.
func Init() {
	goruntime.LockOSThread() // the setting is per thread; libcontainer.Init stays on this one
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	if os.Getppid() == 1 {
		os.Exit(255) // the holder died before the setting took
	}
	libcontainer.Init()
}

// Size is the size of the embedded den-init, 0 when den was built without it.
func Size() int { return int(C.den_initexec_size()) }

// TransferSize is the size of the whole den that a core build carries, 0 in any other build.
func TransferSize() int { return int(C.den_transfer_size()) }

// TransferFailure says why a command that copies images is still in a core den: the hand-over
// to the whole den failed.
func TransferFailure() error {
	if e := syscall.Errno(C.den_transfer_errno); e != 0 {
		return fmt.Errorf("starting the den that copies images: %w", e)
	}
	return errors.New("the den that copies images was not started for this command line")
}
