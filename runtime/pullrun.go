package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/den-project/den/store/image"
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

// PullForRun makes sure ref is in storage before run or create, by policy, as podman's run
// does. A pull runs `den pull ARGS... REF` as a child process (den's core build carries the
// whole den for the commands that copy images and becomes it for pull), in this process's
// namespace, its progress and errors going to out. When the pull fails, the child has said
// why: the error returned says nothing more and carries the child's exit code.
func (r *Runtime) PullForRun(ctx context.Context, ref, policy string, args []string, out io.Writer) error {
	if policy != PullAlways && policy != PullNewer {
		im, err := r.Images()
		if err != nil {
			return err
		}
		_, err = im.Lookup(ref)
		if err == nil || policy == PullNever {
			// With never, Create says what is missing and how to get it.
			return nil
		}
		if !errors.Is(err, image.ErrNotFound) {
			return err
		}
	}
	// In this namespace already, the child runs as den does inside it (userns.Init).
	// Its progress and errors go to out; the id it prints on stdout is not run's to print.
	cmd := exec.CommandContext(ctx, "/proc/self/exe", append(append([]string{"pull"}, args...), ref)...)
	cmd.Stderr = out
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			// The child said why in one line: an error of no words carries its code.
			return &ExitError{Code: ee.ExitCode(), Err: errSaid}
		}
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return nil
}

// errSaid is an error that was already reported, by a child process.
var errSaid = errors.New("")
