package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
)

// The pull policies of run and create (--pull), as podman names them.
const (
	PullMissing = "missing" // pull only when the image is not in storage (the default)
	PullAlways  = "always"  // pull every time
	PullNewer   = "newer"   // pull every time: unchanged layers are not copied again
	PullNever   = "never"   // use what is in storage, never pull
)

// ParsePullPolicy checks a --pull value; "true" and "false" are podman's old spellings of
// always and never.
func ParsePullPolicy(s string) (string, error) {
	switch strings.ToLower(s) {
	case PullMissing, PullAlways, PullNewer, PullNever:
		return strings.ToLower(s), nil
	case "true":
		return PullAlways, nil
	case "false":
		return PullNever, nil
	}
	return "", fmt.Errorf("--pull %q: use missing, always, newer or never", s)
}

// PullForRun pulls ref for run or create, as podman's run does when the image is not in
// storage (--pull missing, after Create said so) or always (--pull always, newer), and
// returns the id of the image it pulled: the container is made of that image, which the pull
// found through registries.conf, not of another stored under a name ref could also mean. It
// runs `den GLOBAL... pull ARGS... REF` as a child process (den's core build carries the
// whole den for the commands that copy images and becomes it for pull), in this process's
// namespace, its progress and errors going to out; global are den's own flags (--root,
// --runroot), which the child must share. When the pull fails, the child has said why: the
// error returned says nothing more and carries the child's exit code.
func (r *Runtime) PullForRun(ctx context.Context, ref string, global, args []string, out io.Writer) (string, error) {
	argv := append(append(append(slices.Clone(global), "pull"), args...), ref)
	// In this namespace already, the child runs as den does inside it (userns.Init). It
	// dies with this process (a Ctrl-C or a kill of den run ends the pull too), from this
	// thread, which stays this goroutine's until the pull ends.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	cmd := exec.CommandContext(ctx, "/proc/self/exe", argv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var id bytes.Buffer
	cmd.Stdout, cmd.Stderr = &id, out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			// The child said why in one line: an error of no words carries its code.
			return "", &ExitError{Code: ee.ExitCode(), Err: errSaid}
		}
		return "", fmt.Errorf("pulling %s: %w", ref, err)
	}
	// den pull prints the image's id, last.
	lines := strings.Fields(id.String())
	if len(lines) == 0 {
		return "", nil
	}
	return lines[len(lines)-1], nil
}

// errSaid is an error that was already reported, by a child process.
var errSaid = errors.New("")
