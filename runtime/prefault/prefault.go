// Package prefault makes a den process populate the Go heap's memory as it is mapped rather
// than page by page as it is touched (see prefault.c for why). Importing it is all there is
// to do: main imports it, and the link wraps the C library's mmap.
//
// DEN_PREFAULT=0 turns it off, to compare.
package prefault

// #cgo LDFLAGS: -Wl,--wrap=mmap
import "C"
