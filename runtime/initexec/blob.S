//go:build den_initbin

// den-init, built by `make build` and linked in whole.
	.section .rodata.den_initbin, "a"
	.balign 64
	.global den_init_blob
den_init_blob:
	.incbin "den-init.bin"
	.global den_init_blob_end
den_init_blob_end:
	.global den_init_sum
den_init_sum:
	.incbin "den-init.sum"
	.byte 0
	.section .note.GNU-stack, "", @progbits
