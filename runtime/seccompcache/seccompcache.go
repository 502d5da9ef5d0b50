// Package seccompcache keeps the BPF programs libseccomp compiles for containers' seccomp
// profiles, so that a container's init with a profile seen before loads the stored program
// instead of compiling some 400 rules again (about 15 ms of CPU here). The work is in C, in
// the init (seccompcache.c); importing the package links it in: den and den-init import it
// through runtime/initexec.
//
// den asks for the cache by passing LogLevel(level, dir) as a libcontainer process's log
// level.
package seccompcache

// #cgo LDFLAGS: -Wl,--wrap=seccomp_init -Wl,--wrap=seccomp_reset -Wl,--wrap=seccomp_release
// #cgo LDFLAGS: -Wl,--wrap=seccomp_merge -Wl,--wrap=seccomp_arch_add -Wl,--wrap=seccomp_arch_remove
// #cgo LDFLAGS: -Wl,--wrap=seccomp_attr_set -Wl,--wrap=seccomp_syscall_priority
// #cgo LDFLAGS: -Wl,--wrap=seccomp_rule_add_array -Wl,--wrap=seccomp_rule_add_exact_array
// #cgo LDFLAGS: -Wl,--wrap=seccomp_export_bpf -Wl,--wrap=seccomp_export_pfc -Wl,--wrap=seccomp_load
// #cgo pkg-config: libseccomp
// extern int den_seccompcache_hits, den_seccompcache_stores;
// extern void den_seccompcache_adopt(void);
import "C"

import (
	"os"
	"path/filepath"
)

// Subdir is the cache's directory under den's data directory.
const Subdir = "seccomp"

// Dir makes sure the cache directory under dataDir exists, private to the user, and returns
// it; "" when it cannot be had, and the init then compiles as it would without a cache.
func Dir(dataDir string) string {
	dir := filepath.Join(dataDir, Subdir)
	if fi, err := os.Lstat(dir); err == nil && fi.IsDir() && fi.Mode().Perm()&0o077 == 0 {
		return dir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || fi.Mode().Perm()&0o077 != 0 {
		return ""
	}
	return dir
}

// LogLevel is the log level to give a libcontainer process so that its init uses the cache
// in dir (seccompcache.c takes the request out before libcontainer reads the level).
func LogLevel(level, dir string) string {
	if dir == "" {
		return level
	}
	return level + " den-seccomp-cache=" + dir
}

// Adopt takes up the cache that the environment names now, in a container's init that got
// its environment after its start-up (runtime/initexec's waiting init): libcontainer's init
// clears the environment before it builds the filter.
func Adopt() { C.den_seccompcache_adopt() }

// counts reports this process's cache hits and stores, for the tests.
func counts() (hits, stores int) {
	return int(C.den_seccompcache_hits), int(C.den_seccompcache_stores)
}
