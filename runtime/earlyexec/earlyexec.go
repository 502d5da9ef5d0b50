// Package earlyexec takes over the request that `den exec` sent to a container's monitor
// before the Go runtime started (see earlyexec.c): the monitor starts the process while den
// boots instead of after. When the process ran and ended plainly, the constructor has already
// exited with its code and Go never started; what reaches Go is the rest: an error the
// monitor answered, or a monitor that went away. The runtime checks that the request is the
// one it would have sent (same container, same options) before it reads the connection in
// place of its own.
package earlyexec

// #include <stdlib.h>
// extern int den_early_exec_fd;
// extern char *den_early_exec_req;
// extern char den_early_exec_dir[4200];
// int den_early_exec_parse(int argc, char **argv, int *interactive);
// int den_early_exec_request(int argc, char **argv, int ctr, int interactive, char *out, size_t n);
// int den_early_exec_answered(int s, int *code);
// int den_early_exec_dirs(unsigned uid, const char *home, const char *xd, const char *xr, const char *tmp, char *data, char *run, size_t n);
import "C"

import (
	"fmt"
	"net"
	"os"
	"unsafe"
)

// Sent is a request the constructor sent: the connection to the monitor, the request line,
// and the runtime directory of the container it went to.
type Sent struct {
	Conn    *net.UnixConn
	Request []byte
	Dir     string
}

// Take hands over the request sent before Go started, once; ok is false when there is none.
// An error means a request went and cannot be taken over: the process may be running.
func Take() (s Sent, ok bool, err error) {
	fd := int(C.den_early_exec_fd)
	if fd < 0 {
		return Sent{}, false, nil
	}
	C.den_early_exec_fd = -1
	s.Request = []byte(C.GoString(C.den_early_exec_req))
	s.Dir = C.GoString(&C.den_early_exec_dir[0])
	f := os.NewFile(uintptr(fd), "early-exec")
	defer f.Close()
	conn, err := net.FileConn(f)
	if err != nil {
		return s, true, fmt.Errorf("taking over the exec request sent to %s: %w", s.Dir, err)
	}
	uc, isUnix := conn.(*net.UnixConn)
	if !isUnix {
		conn.Close()
		return s, true, fmt.Errorf("taking over the exec request sent to %s: not a unix socket", s.Dir)
	}
	s.Conn = uc
	return s, true, nil
}

// Parse is the constructor's reading of args (a whole command line, den first), for the
// tests: the container it names and the request line it sends; ok is false when the
// constructor leaves the command line to Go.
func Parse(args []string) (ctr string, req []byte, ok bool) {
	argv := make([]*C.char, len(args)+1)
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	var interactive C.int
	i := C.den_early_exec_parse(C.int(len(args)), &argv[0], &interactive)
	if i == 0 {
		return "", nil, false
	}
	out := make([]byte, 65536)
	if C.den_early_exec_request(C.int(len(args)), &argv[0], i, interactive, (*C.char)(unsafe.Pointer(&out[0])), C.size_t(len(out))) != 0 {
		return "", nil, false
	}
	return args[i], []byte(C.GoString((*C.char)(unsafe.Pointer(&out[0])))), true
}

// Dirs is the constructor's reading of den's data and runtime directories for user uid with
// the environment env (a missing key is unset), for the tests; ok is false when it leaves the
// request to Go.
func Dirs(uid int, env map[string]string) (data, run string, ok bool) {
	cstr := func(k string) *C.char {
		v, set := env[k]
		if !set {
			return nil
		}
		return C.CString(v)
	}
	args := []*C.char{cstr("HOME"), cstr("XDG_DATA_HOME"), cstr("XDG_RUNTIME_DIR"), cstr("TMPDIR")}
	for _, a := range args {
		if a != nil {
			defer C.free(unsafe.Pointer(a))
		}
	}
	d := make([]byte, 4096)
	r := make([]byte, 4096)
	if C.den_early_exec_dirs(C.uint(uid), args[0], args[1], args[2], args[3], (*C.char)(unsafe.Pointer(&d[0])), (*C.char)(unsafe.Pointer(&r[0])), 4096) != 0 {
		return "", "", false
	}
	return C.GoString((*C.char)(unsafe.Pointer(&d[0]))), C.GoString((*C.char)(unsafe.Pointer(&r[0]))), true
}

// Answered is the constructor's reading of the monitor's answers on the socket fd, for the
// tests: the exit code and true when they are the plain answers of a process that ran, on
// which den exits without starting Go; false leaves every byte unread for the Go side.
func Answered(fd int) (code int, ok bool) {
	var c C.int
	if C.den_early_exec_answered(C.int(fd), &c) == 1 {
		return int(c), true
	}
	return 0, false
}
