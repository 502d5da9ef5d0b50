package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/den-project/den/store/events"
	"golang.org/x/sys/unix"
)

// Health statuses, as podman names them.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// HealthConfig is a container's healthcheck. The monitor runs it; no systemd timer is needed.
type HealthConfig struct {
	Test        []string      `json:"test"`
	Interval    time.Duration `json:"interval"`
	Timeout     time.Duration `json:"timeout"`
	StartPeriod time.Duration `json:"startPeriod"`
	Retries     int           `json:"retries"`
}

// HealthState is what the checks found, kept in the record.
type HealthState struct {
	Status        string        `json:"Status"`
	FailingStreak int           `json:"FailingStreak"`
	Log           []HealthProbe `json:"Log,omitempty"`
}

// HealthProbe is one run of the check.
type HealthProbe struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// ParseHealthCmd reads --health-cmd: a JSON array (exec form) or a shell command.
func ParseHealthCmd(s string) ([]string, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "none" {
		return nil, nil
	}
	if strings.HasPrefix(t, "[") {
		var arr []string
		if err := json.Unmarshal([]byte(t), &arr); err != nil || len(arr) == 0 {
			return nil, fmt.Errorf("--health-cmd %q is not a JSON array of strings", s)
		}
		return arr, nil
	}
	return []string{"/bin/sh", "-c", s}, nil
}

// runHealth runs the check once in the session's container and records the result.
func (s *session) runHealth(ctx context.Context) (int, error) {
	hc := s.c.Config.Health
	if hc == nil {
		return 125, errors.New("the container has no healthcheck")
	}
	if s.paused.Load() {
		return 125, fmt.Errorf("container %s is paused: its healthcheck runs again once it is unpaused", s.c.Name)
	}
	p, err := s.execProcess(&ExecOptions{Args: hc.Test})
	if err != nil {
		return 125, err
	}
	var out bytes.Buffer
	var mu sync.Mutex
	w := lockedWriter{&mu, &out}
	p.Stdout, p.Stderr = w, w
	probe := HealthProbe{Start: time.Now()}
	code := 1
	if err := s.cont.Run(p); err != nil {
		probe.Output = classifyStartError(err).Error()
		code = exitCodeOf(classifyStartError(err))
	} else {
		done := make(chan int, 1)
		go func() {
			ps, _ := p.Wait()
			c := 125
			if ps != nil {
				c = waitCode(ps.Sys())
			}
			done <- c
		}()
		select {
		case code = <-done:
		case <-time.After(hc.Timeout):
			_ = p.Signal(unix.SIGKILL)
			<-done
			code = 1
			mu.Lock()
			out.WriteString("healthcheck timed out\n")
			mu.Unlock()
		case <-ctx.Done():
			_ = p.Signal(unix.SIGKILL)
			<-done
			return 125, ctx.Err()
		}
		mu.Lock()
		probe.Output = out.String()
		mu.Unlock()
	}
	probe.End, probe.ExitCode = time.Now(), code
	if s.paused.Load() {
		// Paused while it ran: the check timed out for that, not for the container's health.
		return 125, fmt.Errorf("container %s was paused while its healthcheck ran", s.c.Name)
	}
	return code, s.recordHealth(probe)
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 4096 {
		return len(p), nil
	}
	return l.b.Write(p)
}

// recordHealth folds one probe into the record under the container's lock.
func (s *session) recordHealth(p HealthProbe) error {
	c, lk, err := s.r.lockedRecord(s.c.ID)
	if err != nil {
		return err
	}
	defer lk.Release()
	h := c.State.Health
	if h == nil {
		h = &HealthState{Status: HealthStarting}
	}
	old := h.Status
	hc := c.Config.Health
	inStart := time.Since(c.State.StartedAt) < hc.StartPeriod
	if p.ExitCode == 0 {
		h.Status, h.FailingStreak = HealthHealthy, 0
	} else if !inStart {
		h.FailingStreak++
		if h.FailingStreak >= hc.Retries {
			h.Status = HealthUnhealthy
		}
	}
	h.Log = append(h.Log, p)
	if len(h.Log) > 5 {
		h.Log = h.Log[len(h.Log)-5:]
	}
	changed := old != h.Status
	c.State.Health = h
	s.c.State.Health = h
	if err := s.r.recs.save(c); err != nil {
		return err
	}
	if changed {
		s.r.publish(c, events.StatusHealthStatus, func(e *events.Event) { e.HealthStatus = h.Status })
	}
	return nil
}

// healthLoop runs the check every interval until ctx ends.
func (s *session) healthLoop(ctx context.Context) {
	goruntime.LockOSThread() // see serveExec
	hc := s.c.Config.Health
	if hc == nil || hc.Interval <= 0 {
		return
	}
	t := time.NewTicker(hc.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.working()
			_, _ = s.runHealth(ctx)
			s.done()
		}
	}
}

// Healthcheck runs a container's check now, through its holder, and returns its exit code.
func (r *Runtime) Healthcheck(ref string) (int, error) {
	c, err := r.running(ref)
	if err != nil {
		return 125, err
	}
	if c.Config.Health == nil {
		return 125, fmt.Errorf("container %s has no healthcheck", c.Name)
	}
	rep, err := askHolder(r.runDir(c.ID), controlRequest{Op: "health"}, time.Time{})
	if err != nil {
		return 125, err
	}
	if rep.Exit == nil {
		return 125, errors.New("no answer from the healthcheck")
	}
	return *rep.Exit, nil
}
