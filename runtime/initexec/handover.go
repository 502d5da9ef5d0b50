//go:build den_core

package initexec

// enter.c tells handover.c which command lines copy images (den_transfer_command).
import _ "github.com/den-project/den/runtime/userns"
