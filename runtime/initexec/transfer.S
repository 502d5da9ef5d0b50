//go:build den_core && !den_monitor

// The whole den (den-transfer.bin), built by `make build` and linked into its core build.
	.section .rodata.den_transfer, "a"
	.balign 64
	.global den_transfer_blob
den_transfer_blob:
	.incbin "den-transfer.bin"
	.global den_transfer_blob_end
den_transfer_blob_end:
	.global den_transfer_sum
den_transfer_sum:
	.incbin "den-transfer.sum"
	.byte 0
	.section .note.GNU-stack, "", @progbits
