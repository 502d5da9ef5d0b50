package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/den-project/den/store/events"
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
// created, running, paused, exited, stopped; healthy or unhealthy, the health of a running
// container) and returns its record then. It reads the record, then follows the container's
// events in the event log, each of which comes after a change of the record: it is woken, it
// does not poll. A container removed meanwhile is ErrNotFound; healthy or unhealthy of a
// container without a healthcheck is an error at once, since it would never come.
func (r *Runtime) WaitFor(ctx context.Context, ref string, states []string) (*Container, error) {
	since := time.Now()
	c, err := r.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if c.Config.Health == nil && (slices.Contains(states, HealthHealthy) || slices.Contains(states, HealthUnhealthy)) {
		return nil, fmt.Errorf("container %s has no healthcheck: --condition healthy or unhealthy waits for the health that --health-cmd checks", c.Name)
	}
	if inState(c, states) {
		return c, nil
	}
	var found *Container
	var lost error
	filter := events.Filter{Type: []string{events.TypeContainer}, Container: []string{c.ID}}
	err = r.Events().Follow(ctx, filter, since, func(events.Event) bool {
		cur, err := r.Lookup(c.ID)
		if err != nil {
			lost = err
			return false
		}
		if inState(cur, states) {
			found = cur
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("waiting for container %s: %w", c.Name, err)
	case lost != nil:
		return nil, fmt.Errorf("container %s went while waited for: %w", c.Name, lost)
	case found == nil:
		return nil, fmt.Errorf("waiting for container %s: %w", c.Name, ctx.Err())
	}
	return found, nil
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
		case ConditionStopped:
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
