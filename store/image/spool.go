package image

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// spool makes a temporary file without a name: created in the temporary directory and
// unlinked at once, so that nothing of it is left behind however den ends (Ctrl-C, kill -9),
// where a named one stayed in /tmp. For files den reads back itself, such as a commit's layer
// diff; archives that containers/image opens by name cannot be spooled so (it resolves
// /proc/self/fd paths to the deleted file's old name).
func spool(pattern string) (*os.File, error) {
	// O_TMPFILE never gives it a name; where the filesystem cannot, it is unlinked at once.
	if fd, err := unix.Open(os.TempDir(), unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600); err == nil {
		return os.NewFile(uintptr(fd), filepath.Join(os.TempDir(), pattern)), nil
	}
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
