//go:build den_core && !den_monitor

// den-monitor (den-monitor.bin, runtime/monitorbin), built by `make build` and linked into
// den's core build, which keeps it as a file for detached containers' monitors (handover.c).
	.section .rodata.den_monitor, "a"
	.balign 64
	.global den_monitor_blob
den_monitor_blob:
	.incbin "den-monitor.bin"
	.global den_monitor_blob_end
den_monitor_blob_end:
	.global den_monitor_sum
den_monitor_sum:
	.incbin "den-monitor.sum"
	.byte 0
	.section .note.GNU-stack, "", @progbits
