package userns

// #include <stdlib.h>
// extern int den_userns_entered;
// extern int den_userns_finish(void);
// extern int den_userns_host_uid;
// extern int den_userns_host_gid;
// extern void den_userns_register(void);
// extern void den_userns_report(int code);
// extern const char *den_ns_commands[];
// extern const char *den_image_ns_verbs[];
// extern const char *den_volume_ns_verbs[];
// static const char *den_ns_command(int i) { return den_ns_commands[i]; }
// static const char *den_image_ns_verb(int i) { return den_image_ns_verbs[i]; }
// static const char *den_volume_ns_verb(int i) { return den_volume_ns_verbs[i]; }
import "C"

import "os"

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
