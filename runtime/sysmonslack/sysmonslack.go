// Package sysmonslack has the Go runtime's system monitor thread sleep with a 1 ms timer
// slack, so that it wakes about ten times less often in a busy den command or container
// init than the 50 us default lets it (see sysmonslack.c). Importing it is all there is to
// do: the link wraps the C library's pthread_create.
//
// DEN_SYSMON_SLACK=0 leaves sysmon as it is, to compare.
package sysmonslack

// #cgo LDFLAGS: -Wl,--wrap=pthread_create
// extern unsigned long den_sysmon_slack;
import "C"

// slack is the timer slack sysmon was started with, in ns; 0 when it was left as it was.
func slack() uint64 { return uint64(C.den_sysmon_slack) }
