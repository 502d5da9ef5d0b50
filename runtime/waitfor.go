package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/den-project/den/store/events"
	"golang.org/x/sys/unix"
)

// The conditions of `wait --condition`, as podman names them: stopped and exited are the
// container's exit (Wait); the others are states WaitFor waits for.
const (
	ConditionStopped = "stopped"
	ConditionExited  = "exited"
)

// waitStates are the conditions WaitFor takes: a status, or a health status of a running
// container.
var waitStates = []string{StatusCreated, StatusRunning, StatusPaused, ConditionExited, HealthHealthy, HealthUnhealthy}

// ParseWaitConditions checks wait --condition's values; none means stopped, as in podman.
func ParseWaitConditions(values []string) ([]string, error) {
	if len(values) == 0 {
		return []string{ConditionStopped}, nil
	}
	for _, v := range values {
		if v != ConditionStopped && !slices.Contains(waitStates, v) {
			return nil, fmt.Errorf("--condition %q: use stopped, %s", v, strings.Join(waitStates, ", "))
		}
	}
	return values, nil
}

// WaitsForExit reports whether conds are all the container's exit (stopped or exited), which
// Wait waits for and answers with the exit code.
func WaitsForExit(conds []string) bool {
	for _, c := range conds {
		if c != ConditionStopped && c != ConditionExited {
			return false
		}
	}
	return true
}

// WaitFor blocks until the container is in one of states (ParseWaitConditions' values:
// created, running, paused; exited and stopped, both meaning not running; healthy or
// unhealthy, the health of a running container) and returns its record then. It reads the
// record, then sleeps until the container's next event in the event log, each of which
// comes after a change of its record, or until the den process that holds it dies without
// one (a monitor killed outright): it is woken, it does not poll. The exit, when waited for,
// is answered from the died event, which is all a --rm container leaves; a container removed
// otherwise is ErrNotFound. healthy or unhealthy of a container without a
// healthcheck is an error at once, since it would never come.
func (r *Runtime) WaitFor(ctx context.Context, ref string, states []string) (*Container, error) {
	c, err := r.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if c.Config.Health == nil && (slices.Contains(states, HealthHealthy) || slices.Contains(states, HealthUnhealthy)) {
		return nil, fmt.Errorf("container %s has no healthcheck: --condition healthy or unhealthy waits for the health that --health-cmd checks", c.Name)
	}
	name := c.Name
	for {
		since := time.Now()
		cur, err := r.Lookup(c.ID)
		if err != nil {
			return nil, fmt.Errorf("container %s went while waited for: %w", name, err)
		}
		if inState(cur, states) {
			return cur, nil
		}
		gone, stop := holderGone(cur)
		ev, err := r.nextEvent(ctx, cur.ID, since, gone)
		stop()
		switch {
		case err != nil:
			return nil, fmt.Errorf("waiting for container %s: %w", name, err)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("waiting for container %s: %w", name, ctx.Err())
		case ev != nil && ev.Status == events.StatusDied && ev.ContainerExitCode != nil && (slices.Contains(states, ConditionExited) || slices.Contains(states, ConditionStopped)):
			// The exit, which is all a --rm container leaves: its record is removed, never
			// saved as exited. Another's is saved before the event.
			cur.State.Status, cur.State.ExitCode = StatusExited, *ev.ContainerExitCode
			return cur, nil
		}
	}
}

// nextEvent waits for the container's next event after since, or for gone to close, or for
// ctx to end; the event is nil in the two last cases.
func (r *Runtime) nextEvent(ctx context.Context, id string, since time.Time, gone <-chan struct{}) (*events.Event, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-gone:
			cancel()
		case <-ctx.Done():
		}
	}()
	var got *events.Event
	filter := events.Filter{Type: []string{events.TypeContainer}, Container: []string{id}}
	err := r.Events().Follow(ctx, filter, since, func(ev events.Event) bool {
		got = &ev
		return false
	})
	return got, err
}

// holderGone is a channel closed when the den process holding c (its monitor, or the den
// running it in the foreground) has died, and the function that stops watching. The channel
// is closed at once when the holder is gone already, and nil when c is not running or the
// holder cannot be watched. It is watched through a pidfd, after checking that the pid is
// still the holder's (by its start time).
func holderGone(c *Container) (<-chan struct{}, func()) {
	if c.State.Status != StatusRunning || c.State.Holder <= 0 {
		return nil, func() {}
	}
	gone := make(chan struct{})
	fd, err := unix.PidfdOpen(c.State.Holder, 0)
	if err == unix.ESRCH {
		close(gone)
		return gone, func() {}
	}
	if err != nil {
		return nil, func() {}
	}
	if procStart(c.State.Holder) != c.State.HolderStart {
		unix.Close(fd)
		close(gone)
		return gone, func() {}
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		unix.Close(fd)
		return nil, func() {}
	}
	go func() {
		defer unix.Close(fd)
		defer unix.Close(p[0])
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(p[0]), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if err == nil && fds[0].Revents != 0 {
				close(gone)
			}
			return
		}
	}()
	return gone, func() { unix.Close(p[1]) }
}

// inState reports whether c is in one of states.
func inState(c *Container, states []string) bool {
	st := c.ShownStatus()
	for _, s := range states {
		switch s {
		case HealthHealthy, HealthUnhealthy:
			if st == StatusRunning && c.State.Health != nil && c.State.Health.Status == s {
				return true
			}
		case ConditionStopped, ConditionExited:
			// As Wait has it: a container that is not running has stopped.
			if st == StatusExited || st == StatusCreated {
				return true
			}
		default:
			if st == s {
				return true
			}
		}
	}
	return false
}
