package userns

// #include <stdlib.h>
// extern int den_userns_entered;
// extern int den_userns_finish(void);
// extern int den_userns_host_uid;
// extern int den_userns_host_gid;
// extern void den_userns_register(void);
// extern void den_userns_report(int code);
// extern int den_userns_answer(int code);
// extern int den_userns_can_answer(void);
// extern int den_premonitor_pid, den_premonitor_go, den_premonitor_ready;
// extern char den_premonitor_id[65];
// extern int den_zygote_sock, den_zygote_starter;
// extern int den_held_image, den_held_rm;
// extern void den_userns_await_parent(int ms);
// extern int den_run_detached(int argc, char **argv);
// extern int den_run_held(int argc, char **argv);
// extern int den_held_image_of(int argc, char **argv, int *rm);
// extern int den_answers_early(int argc, char **argv);
// extern int den_transfer_command(int argc, char **argv);
// extern const char *den_run_value_flags[];
// extern const char *den_run_bool_flags[];
// static const char *den_run_value_flag(int i) { return den_run_value_flags[i]; }
// static const char *den_run_bool_flag(int i) { return den_run_bool_flags[i]; }
// extern const char *den_ns_commands[];
// extern const char *den_image_ns_verbs[];
// extern const char *den_volume_ns_verbs[];
// static const char *den_ns_command(int i) { return den_ns_commands[i]; }
// static const char *den_image_ns_verb(int i) { return den_image_ns_verbs[i]; }
// static const char *den_volume_ns_verb(int i) { return den_volume_ns_verbs[i]; }
import "C"

import (
	"encoding/binary"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// enteredEarly reports whether enter.c's constructor already put this process in den's user
// namespace, and as whom it was invoked.
func enteredEarly() (ok bool, uid, gid int) {
	if C.den_userns_finish() != 0 {
		// The parent could not write the maps and is retrying the slow way without us.
		os.Exit(125)
	}
	if C.den_userns_entered == 0 {
		return false, -1, -1
	}
	return true, int(C.den_userns_host_uid), int(C.den_userns_host_gid)
}

// Register records this process in the registry of the shared user namespace (see
// enter.c), so that den invocations started while it lives join its namespace. Processes that
// outlive their invocation inside the namespace call it: monitors and network holders.
func Register() {
	if InChild() {
		C.den_userns_register()
	}
}

// Exit ends the process with code. In the child of enter.c's fast path, the waiting parent
// gets the code first and exits at once, without waiting for the kernel to tear this process
// down; the standard streams are let go of before.
func Exit(code int) {
	C.den_userns_report(C.int(code))
	os.Exit(code)
}

// Answer gives code to the parent that enter.c's fast path left waiting, so that the shell
// has its answer while this process finishes work nobody waits for; the standard streams are
// let go of. It reports false, having done nothing, where no parent waits: the caller's work
// then simply comes before the exit.
func Answer(code int) bool { return C.den_userns_answer(C.int(code)) == 1 }

// AwaitParent waits, up to d, for the parent that Answer answered to be gone; at once where
// Answer answered none.
func AwaitParent(d time.Duration) { C.den_userns_await_parent(C.int(d.Milliseconds())) }

// CanAnswer reports whether Answer would give the code to a waiting parent.
func CanAnswer() bool { return C.den_userns_can_answer() == 1 }

// TakePremonitor hands over the monitor that enter.c started for `den run -d` (see
// spawn_premonitor), once: its container id, the write end of its go pipe and the read end
// of its ready pipe. ok is false when there is none.
func TakePremonitor() (id string, goW, ready *os.File, ok bool) {
	if C.den_premonitor_pid <= 0 {
		return "", nil, nil, false
	}
	id = C.GoString(&C.den_premonitor_id[0])
	goW = os.NewFile(uintptr(C.den_premonitor_go), "monitor-go")
	ready = os.NewFile(uintptr(C.den_premonitor_ready), "monitor-ready")
	C.den_premonitor_pid = -1
	return id, goW, ready, true
}

// HasPremonitor reports whether enter.c started a monitor for this command that
// TakePremonitor has not taken yet.
func HasPremonitor() bool { return C.den_premonitor_pid > 0 }

// Zygote is a container's init that enter.c started ahead for `den run -d` (spawn_zygote):
// den's child, waiting in new namespaces for a container (runtime/initexec, zygote.c).
type Zygote struct {
	// Pid is the waiting init's; Sock, den's end of its socket, which the container's
	// stage 0 takes from den by number.
	Pid, Sock int
	pidfd     int
}

// TakeZygote hands over the waiting init that enter.c started, once; nil when there is none.
// It waits for the starter, which is done within a millisecond or so of den's start.
func TakeZygote() *Zygote {
	sock, starter := int(C.den_zygote_sock), int(C.den_zygote_starter)
	if sock < 0 {
		return nil
	}
	C.den_zygote_sock, C.den_zygote_starter = -1, -1
	// The starter sends the pid, then exits: once it is reaped, the pid is there or never
	// comes.
	_, _ = unix.Wait4(starter, nil, 0, nil)
	var buf [4]byte
	n, _, err := unix.Recvfrom(sock, buf[:], unix.MSG_DONTWAIT)
	if err != nil || n != len(buf) {
		_ = unix.Close(sock)
		return nil
	}
	pid := int(int32(binary.NativeEndian.Uint32(buf[:])))
	// Our child: its pid stays its own until we reap it.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		_, _ = unix.Wait4(pid, nil, 0, nil)
		_ = unix.Close(sock)
		return nil
	}
	return &Zygote{Pid: pid, Sock: sock, pidfd: pidfd}
}

// HasZygote reports whether enter.c started a waiting init that TakeZygote has not taken.
func HasZygote() bool { return C.den_zygote_sock >= 0 }

// HeldImage is the image of the run -d that enter.c started a waiting init for, and whether
// the run has --rm, as enter.c read them from the command line before the image; ok is
// false where it read none. A guess for work done ahead, which the command line parsed
// confirms or undoes.
func HeldImage() (image string, remove, ok bool) {
	i := int(C.den_held_image)
	if i <= 0 || i >= len(os.Args) {
		return "", false, false
	}
	return os.Args[i], C.den_held_rm != 0, true
}

// Release lets go of z once the container's start is over: used, it is the container's init
// now, which libcontainer waits for; otherwise it is killed and reaped. The pidfd makes sure a
// process libcontainer already reaped is not mistaken for another with its number.
func (z *Zygote) Release(used bool) {
	_ = unix.Close(z.Sock)
	if !used {
		_ = unix.PidfdSendSignal(z.pidfd, unix.SIGKILL, nil, 0)
		_ = unix.Waitid(unix.P_PIDFD, z.pidfd, nil, unix.WEXITED, nil)
	}
	_ = unix.Close(z.pidfd)
}

// RunDetached is enter.c's reading of args (a whole command line, den first) as a detached
// `den run`, for the tests.
func RunDetached(args []string) bool {
	return withArgv(args, func(argc C.int, argv **C.char) C.int { return C.den_run_detached(argc, argv) }) == 1
}

// RunHeld is enter.c's reading of args (a whole command line, den first) as a detached `den
// run` that starts its container itself (no monitor started ahead); for the tests.
func RunHeld(args []string) bool {
	return withArgv(args, func(argc C.int, argv **C.char) C.int { return C.den_run_held(argc, argv) }) == 1
}

// HeldImageOf is enter.c's reading of args (a whole command line, den first) as a held run
// (RunHeld): the index of its image in args and whether it has --rm; -1 where it is no held
// run. For the tests.
func HeldImageOf(args []string) (index int, remove bool) {
	var rm C.int
	i := withArgv(args, func(argc C.int, argv **C.char) C.int { return C.den_held_image_of(argc, argv, &rm) })
	return int(i), rm != 0
}

// AnswersEarly is enter.c's reading of args (a whole command line, den first) as a command
// that may answer before it is done (Answer), for which a joined namespace forks a waiting
// parent too; for the tests.
func AnswersEarly(args []string) bool {
	return withArgv(args, func(argc C.int, argv **C.char) C.int { return C.den_answers_early(argc, argv) }) == 1
}

// TransferCommand is enter.c's reading of args (a whole command line, den first) as a
// command that copies images, which a core build hands to the whole den; for the tests.
func TransferCommand(args []string) bool {
	return withArgv(args, func(argc C.int, argv **C.char) C.int { return C.den_transfer_command(argc, argv) }) == 1
}

func withArgv(args []string, f func(C.int, **C.char) C.int) C.int {
	argv := make([]*C.char, len(args)+1)
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	return f(C.int(len(args)), &argv[0])
}

// RunFlags lists the flags of `den run` that enter.c knows, by whether they take a value.
func RunFlags() (value, boolean []string) {
	return cList(func(i C.int) *C.char { return C.den_run_value_flag(i) }),
		cList(func(i C.int) *C.char { return C.den_run_bool_flag(i) })
}

// FastPathCommands lists the commands enter.c takes into the namespace before Go starts.
func FastPathCommands() []string { return cList(func(i C.int) *C.char { return C.den_ns_command(i) }) }

// FastPathImageVerbs lists the verbs of "den image" that enter.c takes into the namespace.
func FastPathImageVerbs() []string {
	return cList(func(i C.int) *C.char { return C.den_image_ns_verb(i) })
}

// FastPathVolumeVerbs lists the verbs of "den volume" that enter.c takes into the namespace.
func FastPathVolumeVerbs() []string {
	return cList(func(i C.int) *C.char { return C.den_volume_ns_verb(i) })
}

func cList(at func(C.int) *C.char) []string {
	var out []string
	for i := 0; ; i++ {
		p := at(C.int(i))
		if p == nil {
			return out
		}
		out = append(out, C.GoString(p))
	}
}
