package runtime

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/den-project/den/store/events"
)

// ShownStatus is the status podman would show: paused for a paused running container.
func (c *Container) ShownStatus() string {
	if c.State.Status == StatusRunning && c.State.Paused {
		return StatusPaused
	}
	return c.State.Status
}

// Pause freezes a running container's processes with the cgroup freezer, through its holder,
// as podman's pause does. Only den as root gives containers a cgroup of their own: rootless,
// the error says why it cannot.
func (r *Runtime) Pause(ref string) (*Container, error) { return r.setPaused(ref, true) }

// Unpause thaws what Pause froze.
func (r *Runtime) Unpause(ref string) (*Container, error) { return r.setPaused(ref, false) }

func (r *Runtime) setPaused(ref string, pause bool) (*Container, error) {
	verb := map[bool]string{true: "pausing", false: "unpausing"}[pause]
	c, err := r.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if err := freezerMissing(verb, r.Paths.Rootless); err != nil {
		return c, err
	}
	switch {
	case c.State.Status != StatusRunning:
		return c, fmt.Errorf("container %s is %s, not running: only running containers can be paused", c.Name, c.State.Status)
	case pause && c.State.Paused:
		return c, fmt.Errorf("container %s is paused already", c.Name)
	case !pause && !c.State.Paused:
		return c, fmt.Errorf("container %s is not paused", c.Name)
	}
	op := map[bool]string{true: "pause", false: "unpause"}[pause]
	if _, err := askHolder(r.runDir(c.ID), controlRequest{Op: op}, time.Time{}); err != nil {
		return c, fmt.Errorf("%s container %s: %w", verb, c.Name, err)
	}
	return r.Lookup(c.ID)
}

// freeze freezes (or thaws) the session's container, records it and publishes the event.
func (s *session) freeze(pause bool) error {
	var err error
	if pause {
		err = s.cont.Pause()
	} else {
		err = s.cont.Resume()
	}
	if err != nil {
		return err
	}
	s.paused.Store(pause)
	lk, err := s.r.lockContainer(s.c.ID)
	if err != nil {
		return err
	}
	defer lk.Release()
	c, err := s.r.recs.load(s.c.ID)
	if err != nil {
		return err
	}
	if c.State.Status != StatusRunning {
		// It ended between the freeze and the lock: its exit is recorded already.
		return fmt.Errorf("container %s is no longer running", c.Name)
	}
	c.State.Paused = pause
	if err := s.r.recs.save(c); err != nil {
		return err
	}
	s.r.publish(c, map[bool]string{true: events.StatusPause, false: events.StatusUnpause}[pause])
	return nil
}

// thawForStop lets a paused container's processes take the stop signal: frozen ones cannot
// act on it, nor die of KILL. An error leaves the stop to go on.
func (r *Runtime) thawForStop(c *Container) {
	if c.State.Paused {
		_, _ = askHolder(r.runDir(c.ID), controlRequest{Op: "unpause"}, time.Time{})
	}
}

// freezerMissing says why den cannot pause (verb: "pausing") or unpause containers on this
// host, nil when it can. Rootless den gives containers no cgroup of their own, and cgroup v1
// delegates no freezer to unprivileged users.
func freezerMissing(verb string, rootless bool) error {
	b, _ := os.ReadFile("/proc/self/cgroup")
	v2, v1Freezer := cgroupSetup(string(b))
	switch {
	case rootless && !v2:
		return fmt.Errorf("%s containers needs a cgroup freezer, which rootless den does not have on this host (cgroup v1): use den stop and den start instead", verb)
	case rootless:
		return fmt.Errorf("%s containers needs a cgroup freezer, and rootless den does not give containers a cgroup v2 of their own yet: use den stop and den start instead", verb)
	case !v2 && !v1Freezer:
		return fmt.Errorf("%s containers needs a cgroup freezer, and this host mounts none: use den stop and den start instead", verb)
	}
	return nil
}

// cgroupSetup reads /proc/self/cgroup: whether the host is on the unified hierarchy alone
// (cgroup v2, where every cgroup has cgroup.freeze), and whether a v1 freezer hierarchy is
// mounted.
func cgroupSetup(procCgroup string) (v2, v1Freezer bool) {
	v1 := false
	sc := bufio.NewScanner(strings.NewReader(procCgroup))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			v2 = true
			continue
		}
		v1 = true
		for _, ctl := range strings.Split(f[1], ",") {
			if ctl == "freezer" {
				v1Freezer = true
			}
		}
	}
	return v2 && !v1, v1Freezer
}
