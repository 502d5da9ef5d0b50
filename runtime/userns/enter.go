package userns

// #include <stdlib.h>
// extern int den_userns_entered;
// extern int den_userns_host_uid;
// extern int den_userns_host_gid;
// extern const char *den_ns_commands[];
// static const char *den_ns_command(int i) { return den_ns_commands[i]; }
import "C"

// enteredEarly reports whether enter.c's constructor already put this process in den's user
// namespace, and as whom it was invoked.
func enteredEarly() (ok bool, uid, gid int) {
	if C.den_userns_entered == 0 {
		return false, -1, -1
	}
	return true, int(C.den_userns_host_uid), int(C.den_userns_host_gid)
}

// FastPathCommands lists the commands enter.c takes into the namespace before Go starts.
func FastPathCommands() []string {
	var out []string
	for i := 0; ; i++ {
		p := C.den_ns_command(C.int(i))
		if p == nil {
			return out
		}
		out = append(out, C.GoString(p))
	}
}
