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
// initexec.c). den-init runs from the file den keeps under its data directory (Keep), through
// a read-only overlay mounted nowhere, or else from a sealed memfd: either way a container can
// no more write to the binary that starts it than to den's own (CVE-2019-5736).
package initexec

// #cgo LDFLAGS: -Wl,--wrap=pthread_getattr_np
// #include <stddef.h>
// #include <stdlib.h>
// size_t den_initexec_size(void);
// int den_write_init(int fd);
// int den_seal_kept(const char *dir, size_t n);
// size_t den_transfer_size(void);
// size_t den_monitor_size(void);
// extern int den_transfer_errno;
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	// A container's seccomp filter comes from den's cache when it can (see the package).
	_ "github.com/den-project/den/runtime/seccompcache"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"github.com/moby/sys/capability"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/selinux/go-selinux"
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
//
// The collector is off: the init lives until it execs the command, milliseconds, and the
// exec gives back all it took. Its heap stays within the one or two pieces of 4 MB that the
// runtime maps for it either way (13 pieces for 8 inits with the collector, 12 without),
// and collecting cost it 7.5 ms of its 36 ms of CPU (perf, 15 run --rm each way).
func Init() {
	debug.SetGCPercent(-1)
	goruntime.LockOSThread() // the setting is per thread; libcontainer.Init stays on this one
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
	if os.Getppid() == 1 {
		os.Exit(255) // the holder died before the setting took
	}
	// An init started before its container (zygote.go) waits here for the container's
	// descriptors and environment; one that den let go ends quietly.
	waited, pre, err := awaitContainer()
	if errors.Is(err, errNotUsed) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(255)
	}
	// den's requests, when it started the init before the container's root filesystem was
	// mounted (rootfswait.go), are done while den mounts it. Any failure ends the init. A
	// waiting init did the first two while it waited.
	w := takeRootfsWait()
	if pre != nil && !w.Premount {
		pre.close() // made for nothing: den's config has other mounts
		pre = nil
	}
	if w.Dir != "" {
		if w.Loopback && !waited {
			if err := loopbackUp(); err != nil {
				fmt.Fprintf(os.Stderr, "den-init: bringing up the loopback interface: %v\n", err)
				os.Exit(255)
			}
		}
		if !waited {
			warmInit()
		}
		if receiveRootfs(w, pre) != nil {
			os.Exit(255)
		}
	}
	libcontainer.Init()
}

// Keep makes sure that this build's den-init is kept as a file under dataDir, for containers'
// inits to exec (take_kept in initexec.c) instead of copying it into a memfd each time, and
// returns the directory to name in the init's log level: dataDir/init/SUM, which holds
// bin/den-init, mode 0500, and the empty directory beside it that the sealing overlay needs.
// The first call of a build writes it and removes other builds' directories written over an
// hour before; a file there
// that is not den-init's (another mode or size) is replaced, and directories others may
// write or a missing empty one are mended. "" means there is none to use,
// and the init copies den-init as before.
func Keep(dataDir string) string {
	n, sum := Size(), initBlobSum
	if n == 0 || len(sum) < 16 || strings.Contains(dataDir, " den-") {
		return ""
	}
	top := filepath.Join(dataDir, "init")
	dir := filepath.Join(top, sum[:16])
	bin := filepath.Join(dir, "bin")
	file := filepath.Join(bin, "den-init")
	empty := filepath.Join(dir, "empty")
	fi, err := os.Lstat(file)
	if err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() == 0o500 && fi.Size() == int64(n) &&
		private(dir) && private(bin) && private(empty) {
		return dir
	}
	// Made, or mended: directories of the user's alone, as take_kept requires. A file found
	// in a directory others could write is not trusted: it is written again.
	exposed := fi != nil && (!private(dir) || !private(bin))
	for _, d := range []string{top, dir, bin, empty} {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return ""
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return ""
		}
	}
	if fi, err := os.Lstat(file); err == nil {
		if !exposed && fi.Mode().IsRegular() && fi.Mode().Perm() == 0o500 && fi.Size() == int64(n) {
			return dir
		}
		if err := os.Remove(file); err != nil {
			return ""
		}
	}
	// Written whole before it has a name, and on the disk first: a crash cannot leave a
	// kept den-init of the right size but torn.
	fd, err := unix.Open(bin, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o500)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	if C.den_write_init(C.int(fd)) != 0 || unix.Fchmod(fd, 0o500) != nil || unix.Fdatasync(fd) != nil {
		return ""
	}
	err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, file, unix.AT_SYMLINK_FOLLOW)
	if err != nil && !errors.Is(err, unix.EEXIST) { // another den kept it at the same moment
		return ""
	}
	// Other builds' go once unused for an hour: the monitors of an upgraded den's containers
	// keep starting execs and healthchecks with their own build's, and removing it at once
	// would have the two builds rewrite each other's for as long as those run.
	if ents, err := os.ReadDir(top); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && e.Name() != filepath.Base(dir) && time.Since(fi.ModTime()) > keptUnused {
				_ = os.RemoveAll(filepath.Join(top, e.Name()))
			}
		}
	}
	return dir
}

// keptUnused is how long another build's den-init stays kept after it was last written.
const keptUnused = time.Hour

// private reports whether path is a directory that take_kept accepts: no link, the user's
// own, nobody else's to write (it checks bin and empty; dir holds them).
func private(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}

// Sealed is the den-init kept in dir as the init of this build would exec it, opened through
// the sealing overlay, or false when den_seal_kept refuses it. For the tests.
func Sealed(dir string) (*os.File, bool) {
	cdir := C.CString(dir)
	defer C.free(unsafe.Pointer(cdir))
	fd := C.den_seal_kept(cdir, C.den_initexec_size())
	if fd < 0 {
		return nil, false
	}
	return os.NewFile(uintptr(fd), "sealed den-init"), true
}

// Size is the size of the embedded den-init, 0 when den was built without it.
func Size() int { return int(C.den_initexec_size()) }

// TransferSize is the size of the whole den that a core build carries, 0 in any other build.
func TransferSize() int { return int(C.den_transfer_size()) }

// MonitorSize is the size of the den-monitor that a core build carries, 0 in any other build.
func MonitorSize() int { return int(C.den_monitor_size()) }

// TransferFailure says why a command that copies images is still in a core den: the hand-over
// to the whole den failed.
func TransferFailure() error {
	if e := syscall.Errno(C.den_transfer_errno); e != 0 {
		return fmt.Errorf("starting the den that copies images: %w", e)
	}
	return errors.New("the den that copies images was not started for this command line")
}

// warmInit does, while the init would otherwise wait for den to mount its root filesystem,
// what libcontainer's init does once per process on its way to the container's command and
// then keeps: encoding/json's cache of struct fields for the configuration it decodes first
// thing, the SELinux probe (which libcontainer makes before it sets up the root
// filesystem, from the same view of the host as here), the private procfs instance its
// path-safety layer mounts and caches on first use, and the kernel's last capability.
// Some 0.3 ms come off the container's start (perf, run -d).
func warmInit() {
	_, _ = json.Marshal(&configs.Config{})
	selinux.GetEnabled()
	if proc, err := procfs.OpenProcRoot(); err == nil {
		_ = proc.Close() // the cached handle: its Close does not close it
	}
	_, _ = capability.LastCap()
}
