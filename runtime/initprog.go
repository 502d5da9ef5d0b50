package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// containerInit is where --init's program is bound in a container.
const containerInit = "/run/den-init"

// initPrograms are where FindInit looks for an init program: Debian's and Fedora's catatonit
// (podman's), and tini's static build.
var initPrograms = []string{"/usr/libexec/podman/catatonit", "/usr/bin/catatonit", "/usr/libexec/catatonit/catatonit", "/usr/bin/tini-static"}

// FindInit is the host's init program for --init: path (--init-path), else the first of
// initPrograms there is; an executable regular file, symlinks resolved.
func FindInit(path string) (string, error) {
	try := initPrograms
	if path != "" {
		if !filepath.IsAbs(path) {
			return "", fmt.Errorf("--init-path %s: give an absolute path", path)
		}
		try = []string{path}
	}
	for _, p := range try {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(real); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return real, nil
		}
	}
	if path != "" {
		return "", fmt.Errorf("--init-path %s: not an executable file", path)
	}
	return "", errors.New("--init needs catatonit, which is not installed: install it (apt-get install catatonit) or give --init-path")
}
