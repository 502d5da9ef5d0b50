package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// Unshare runs argv in place of this process, which is already inside den's user and mount
// namespace (or is root), as `podman unshare` does: with CONTAINERS_GRAPHROOT and
// CONTAINERS_RUNROOT naming den's storage. The command inherits den's stdio, terminal and
// environment, including the keys by which a den it runs knows it is inside den's namespace
// already (runtime/userns). An empty argv runs $SHELL, else /bin/sh. Unshare returns only
// when the command cannot be started: an *ExitError with 127 when it is not found and 126
// when it cannot be invoked.
func (r *Runtime) Unshare(argv []string) error {
	if len(argv) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		argv = []string{sh}
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return &ExitError{Code: 127, Err: fmt.Errorf("%s: command not found: check the name or give its full path", argv[0])}
		}
		return &ExitError{Code: 126, Err: fmt.Errorf("%s: cannot invoke the command: %w", argv[0], err)}
	}
	graph, run := r.Paths.StorageRoots(r.Config)
	env := []string{"CONTAINERS_GRAPHROOT=" + graph, "CONTAINERS_RUNROOT=" + run}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONTAINERS_GRAPHROOT=") && !strings.HasPrefix(kv, "CONTAINERS_RUNROOT=") {
			env = append(env, kv)
		}
	}
	err = syscall.Exec(path, argv, env)
	return &ExitError{Code: 126, Err: fmt.Errorf("%s: cannot invoke the command: %w", path, err)}
}
