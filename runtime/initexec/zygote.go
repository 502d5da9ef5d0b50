package initexec

// #include <stddef.h>
// #include <stdlib.h>
// long den_zygote_bootstrap(const unsigned char *msg, size_t n, const char **oom, size_t *oom_len);
import "C"

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/den-project/den/runtime/seccompcache"
	"golang.org/x/sys/unix"
)

// A container's init can be started before den knows the container: a waiting init (see
// zygote.c), which runtime/userns starts for a detached run and which execs den-init with
// zygoteEnv naming its socket. Its Go start-up runs while den starts up; then it waits. When
// den starts the container, libcontainer's stage 0 hands it its descriptors and environment
// over the socket instead of making an init of its own, and it goes on as any container's
// init from there (Init).

// zygoteEnv names the waiting init's socket.
const zygoteEnv = "_DEN_ZYGOTE"

// zygoteLowFDs is zygote.c's ZYGOTE_LOW_FDS: the descriptors the hand-over places.
const zygoteLowFDs = 64

// seccompCacheEnv names the seccomp cache's directory descriptor (runtime/seccompcache), the
// one descriptor above zygoteLowFDs that stage 0 hands over.
const seccompCacheEnv = "_DEN_SECCOMP_CACHE_FD"

// errNotUsed is a waiting init's end when den closed the socket without handing it a
// container.
var errNotUsed = errors.New("not used")

// handover is what stage 0 gives a waiting init.
type handover struct {
	// targets are the numbers the received descriptors are to have; -1, once, marks
	// stage 0's socket for the answer (reply, its index).
	targets []int
	reply   int
	cwd     string
	env     []string
}

// parseHandover reads stage 0's message (zygote.c, hand_over), which came with fds
// descriptors.
func parseHandover(msg []byte, fds int) (handover, error) {
	var h handover
	if len(msg) < 4 {
		return h, unix.EBADMSG
	}
	n := int(binary.NativeEndian.Uint32(msg))
	if n != fds || len(msg) < 4+4*n {
		return h, unix.EBADMSG
	}
	h.reply = -1
	for i := 0; i < n; i++ {
		t := int(int32(binary.NativeEndian.Uint32(msg[4+4*i:])))
		if t < -1 || (t == -1 && h.reply >= 0) {
			return h, unix.EBADMSG
		}
		if t == -1 {
			h.reply = i
		}
		h.targets = append(h.targets, t)
	}
	if h.reply < 0 {
		return h, unix.EBADMSG
	}
	rest := msg[4+4*n:]
	end := bytes.IndexByte(rest, 0)
	if end <= 0 || rest[0] != '/' {
		return h, unix.EBADMSG
	}
	h.cwd, rest = string(rest[:end]), rest[end+1:]
	for len(rest) > 0 {
		end := bytes.IndexByte(rest, 0)
		if end < 0 {
			return h, unix.EBADMSG
		}
		if kv := string(rest[:end]); strings.Contains(kv, "=") {
			h.env = append(h.env, kv)
		}
		rest = rest[end+1:]
	}
	return h, nil
}

// awaitContainer is a waiting init's wait, when this process is one (false otherwise): it
// brings up its loopback interface, warms libcontainer's init (warmInit) and makes the
// standard file systems (premount.go) meanwhile, then takes stage 0's descriptors to their
// numbers, answers, and takes its environment as its own. errNotUsed means den let it go.
func awaitContainer() (bool, *premounts, error) {
	v := os.Getenv(zygoteEnv)
	if v == "" {
		return false, nil, nil
	}
	_ = os.Unsetenv(zygoteEnv)
	sock, err := strconv.Atoi(v)
	if err != nil || sock < zygoteLowFDs {
		return true, nil, unix.EBADF
	}
	unix.CloseOnExec(sock)
	if err := loopbackUp(); err != nil {
		return true, nil, err
	}
	warmInit()
	// Made now, with time to spare; made again after the wait if this fails.
	pre, _ := preparePremounts()
	if err := takeContainer(sock); err != nil {
		if pre != nil {
			pre.close()
		}
		return true, nil, err
	}
	return true, pre, nil
}

// takeContainer receives stage 0's hand-over on sock and takes it.
func takeContainer(sock int) error {
	msg := make([]byte, 65536)
	n, fds, err := recvWithFDs(sock, msg, zygoteLowFDs)
	if err != nil {
		return err
	}
	if n == 0 {
		return errNotUsed
	}
	_ = unix.Close(sock)
	h, err := parseHandover(msg[:n], len(fds))
	if err != nil {
		return err
	}
	reply := fds[h.reply]
	defer unix.Close(reply)
	placed, renamed, err := place(h, fds)
	if err != nil {
		return err
	}
	// libcontainer's descriptors are where it looks for them (it reads the standard ones'
	// names as soon as stage 0 answers): stage 0 may answer now, and the rest of the taking
	// (closing placeholders, the working directory, the environment) goes on beside its
	// answer, some 0.3 ms of system calls off the start's path. A failure there ends the
	// start with this init, where nsenter could still have gone on before the answer; what
	// can fail is a chdir to a directory libcontainer has just chdir'd stage 0 to.
	if _, err := unix.Write(reply, []byte{'k'}); err != nil {
		return err
	}
	if err := settle(h, placed, renamed); err != nil {
		return err
	}
	seccompcache.Adopt()
	// Stage 0 takes libcontainer's bootstrap off the init pipe, then says go; a stage 0
	// gone first closes the socket.
	var g [1]byte
	for {
		n, err = unix.Read(reply, g[:])
		if err != unix.EINTR {
			break
		}
	}
	if err != nil || n != 1 || g[0] != 'g' {
		return errNotUsed
	}
	return nil
}

// place puts the received descriptors where h says: placed has the numbers below
// zygoteLowFDs that now hold one of them, and renamed maps a number above it that a
// descriptor came with (the seccomp cache's, which keeps its own) to the one it has here.
func place(h handover, fds []int) (placed [zygoteLowFDs]bool, renamed map[string]string, err error) {
	renamed = map[string]string{}
	for i, fd := range fds {
		t := h.targets[i]
		if t < 0 {
			continue // the answer's socket
		}
		if t >= zygoteLowFDs {
			renamed[strconv.Itoa(t)] = strconv.Itoa(fd)
			continue
		}
		if err := unix.Dup3(fd, t, 0); err != nil {
			return placed, nil, err
		}
		_ = unix.Close(fd)
		placed[t] = true
	}
	return placed, renamed, nil
}

// settle closes the placeholders below zygoteLowFDs that place left (a range at a time), and
// makes h's environment and working directory this process's, the environment told the
// seccomp cache's number (renamed).
func settle(h handover, placed [zygoteLowFDs]bool, renamed map[string]string) error {
	for fd := 0; fd < zygoteLowFDs; {
		if placed[fd] {
			fd++
			continue
		}
		end := fd
		for end+1 < zygoteLowFDs && !placed[end+1] {
			end++
		}
		if err := unix.CloseRange(uint(fd), uint(end), 0); err != nil {
			for n := fd; n <= end; n++ {
				_ = unix.Close(n)
			}
		}
		fd = end + 1
	}
	if err := unix.Chdir(h.cwd); err != nil {
		return err
	}
	os.Clearenv()
	for _, kv := range h.env {
		k, v, _ := strings.Cut(kv, "=")
		if k == seccompCacheEnv {
			n, ok := renamed[v]
			if !ok {
				continue
			}
			v = n
		}
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	return nil
}

// bootstrapFlags is zygote.c's reading of libcontainer's bootstrap message: the namespaces it
// asks to make (clone flags), or -1 when a waiting init cannot give what it asks for; and its
// oom_score_adj. For the tests.
func bootstrapFlags(msg []byte) (flags int64, oom string) {
	var o *C.char
	var n C.size_t
	p := C.CBytes(msg)
	defer C.free(p)
	f := C.den_zygote_bootstrap((*C.uchar)(p), C.size_t(len(msg)), &o, &n)
	if o != nil {
		oom = C.GoStringN(o, C.int(n))
	}
	return int64(f), oom
}
