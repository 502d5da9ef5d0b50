package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/den-project/den/store/events"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// running resolves ref to a container whose holder is alive.
func (r *Runtime) running(ref string) (*Container, error) {
	c, err := r.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Status != StatusRunning {
		return c, fmt.Errorf("container %s: %w", c.Name, ErrNotRunning)
	}
	return c, nil
}

// killWait is how long Kill waits for a container it sent SIGKILL to to be recorded exited.
const killWait = 10 * time.Second

// Kill sends sig to a running container's first process, through its holder. After SIGKILL
// it waits, as podman's kill does, until the holder has recorded the exit: a command that
// follows (rm, start) then finds the container exited, not still running for a moment.
// Other signals may be caught or ignored: it returns once they are sent.
func (r *Runtime) Kill(ref string, sig unix.Signal) (*Container, error) {
	c, err := r.running(ref)
	if err != nil {
		return c, err
	}
	if _, err := askHolder(r.runDir(c.ID), controlRequest{Op: "signal", Signal: int(sig)}, time.Time{}); err != nil {
		if errors.Is(err, ErrNotRunning) {
			return c, fmt.Errorf("container %s: %w", c.Name, ErrNotRunning)
		}
		return c, fmt.Errorf("signalling container %s: %w", c.Name, err)
	}
	r.publish(c, events.StatusKill, withAttr("signal", strconv.Itoa(int(sig))))
	if sig == unix.SIGKILL {
		// The holder answers once the exit is recorded, or is gone; either will do.
		_, _ = askHolder(r.runDir(c.ID), controlRequest{Op: "wait"}, time.Now().Add(killWait))
	}
	return c, nil
}

// Wait blocks until the container is not running and returns its exit code. The holder
// answers when the exit is recorded; no polling.
func (r *Runtime) Wait(ctx context.Context, ref string) (int, error) {
	c, err := r.Lookup(ref)
	if err != nil {
		return -1, err
	}
	if c.State.Status != StatusRunning {
		return c.State.ExitCode, nil
	}
	deadline, _ := ctx.Deadline()
	rep, err := askHolder(r.runDir(c.ID), controlRequest{Op: "wait"}, deadline)
	if err == nil && rep.Exit != nil {
		return *rep.Exit, nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return -1, err
	}
	// The holder is gone: the record, reconciled, tells what is known.
	c, lerr := r.Lookup(c.ID)
	if lerr != nil {
		return -1, lerr
	}
	if c.State.Status == StatusRunning {
		return -1, fmt.Errorf("waiting for container %s: %w", c.Name, err)
	}
	return c.State.ExitCode, nil
}

// DefaultStopTimeout is how long stop waits for a container made without --stop-timeout, as
// in podman.
const DefaultStopTimeout = 10 * time.Second

// OwnStopTimeout, given to Stop or RemoveWithVolumes as the timeout, means the container's
// own: its --stop-timeout, else DefaultStopTimeout.
const OwnStopTimeout time.Duration = -1

// StopTimeout is how long stop waits for c by default.
func (c *Container) StopTimeout() time.Duration {
	if c.Config.StopTimeout == nil {
		return DefaultStopTimeout
	}
	return time.Duration(*c.Config.StopTimeout) * time.Second
}

// Stop sends the stop signal, waits up to timeout (OwnStopTimeout: the container's) for the
// container to exit, then kills it. Stopping a container that is not running is not an
// error, as in podman.
func (r *Runtime) Stop(ctx context.Context, ref string, timeout time.Duration) (*Container, error) {
	c, err := r.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if timeout < 0 {
		timeout = c.StopTimeout()
	}
	// Marked even when not running: its monitor may be waiting to restart it.
	if err := r.markStopped(c.ID); err != nil {
		return c, err
	}
	if c.State.Status != StatusRunning {
		return c, nil
	}
	r.thawForStop(c)
	sig := unix.SIGTERM
	if s, err := ParseSignal(c.Config.StopSignal); err == nil && c.Config.StopSignal != "" {
		sig = s
	}
	dir := r.runDir(c.ID)
	if timeout > 0 {
		if _, err := askHolder(dir, controlRequest{Op: "signal", Signal: int(sig)}, time.Time{}); err != nil && !errors.Is(err, ErrNotRunning) {
			return c, fmt.Errorf("stopping container %s: %w", c.Name, err)
		}
		_, err := askHolder(dir, controlRequest{Op: "wait"}, time.Now().Add(timeout))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			r.publish(c, events.StatusStop)
			return c, nil
		}
	}
	if _, err := askHolder(dir, controlRequest{Op: "signal", Signal: int(unix.SIGKILL)}, time.Time{}); err != nil && !errors.Is(err, ErrNotRunning) {
		return c, fmt.Errorf("killing container %s: %w", c.Name, err)
	}
	_, err = askHolder(dir, controlRequest{Op: "wait"}, time.Time{})
	if err != nil && !errors.Is(err, ErrNotRunning) {
		return c, err
	}
	r.publish(c, events.StatusStop)
	return c, nil
}

// markStopped records that the user stopped the container, so its restart policy leaves it.
func (r *Runtime) markStopped(id string) error {
	c, lk, err := r.lockedRecord(id)
	if err != nil {
		return err
	}
	defer lk.Release()
	c.State.StoppedByUser = true
	return r.recs.save(c)
}

// ParseSignal reads a signal by name ("TERM", "SIGTERM", "sigkill") or number.
func ParseSignal(s string) (unix.Signal, error) {
	if s == "" {
		return 0, fmt.Errorf("empty signal")
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %q is out of range 1-64", s)
		}
		return unix.Signal(n), nil
	}
	name := s
	if !strings.HasPrefix(strings.ToUpper(name), "SIG") {
		name = "SIG" + name
	}
	for i := 1; i < 65; i++ {
		if sn := unix.SignalName(unix.Signal(i)); sn != "" && strings.EqualFold(sn, name) {
			return unix.Signal(i), nil
		}
	}
	return 0, fmt.Errorf("unknown signal %q: use a name such as TERM or KILL, or a number", s)
}

// ParseRestartPolicy reads --restart: no, on-failure[:N], always, unless-stopped.
func ParseRestartPolicy(s string) (string, int, error) {
	name, max, hasMax := strings.Cut(s, ":")
	switch name {
	case "", "no":
		if hasMax {
			break
		}
		return "no", 0, nil
	case "always", "unless-stopped":
		if hasMax {
			break
		}
		return name, 0, nil
	case "on-failure":
		if !hasMax {
			return name, 0, nil
		}
		n, err := strconv.Atoi(max)
		if err == nil && n >= 0 {
			return name, n, nil
		}
	}
	return "", 0, fmt.Errorf("--restart %q: use no, on-failure[:N], always or unless-stopped", s)
}
