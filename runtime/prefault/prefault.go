// Package prefault makes a den process populate the Go heap's memory as it is mapped rather
// than page by page as it is touched (see prefault.c for why). Importing it is all there is
// to do: main imports it, and the link wraps the C library's mmap.
//
// DEN_PREFAULT=0 turns it off, to compare.
package prefault

// #cgo LDFLAGS: -Wl,--wrap=mmap
// #include <sys/mman.h>
// int den_prefault_wanted(size_t len, int prot, int flags);
// extern int den_prefault_early_ran;
// void den_prefault_mark_cold(void);
// int den_prefault_is_cold(void);
import "C"

// wanted reports whether a fresh anonymous read-write mapping of n bytes, at a fixed address
// or not, is populated when mapped (for the tests).
func wanted(n uintptr, fixed bool) bool {
	flags := C.int(C.MAP_PRIVATE | C.MAP_ANONYMOUS)
	if fixed {
		flags |= C.MAP_FIXED
	}
	return C.den_prefault_wanted(C.size_t(n), C.PROT_READ|C.PROT_WRITE, flags) != 0
}

// earlyRan reports whether this process populated its binary in its first constructor, as
// den-init does (for the tests).
func earlyRan() bool { return C.den_prefault_early_ran != 0 }

// markCold has the heap mapped from now on populated with small pages, as after a huge page
// that came slow (for the tests).
func markCold() { C.den_prefault_mark_cold() }

// cold reports whether the heap takes small pages, a huge page having come slow.
func cold() bool { return C.den_prefault_is_cold() != 0 }
