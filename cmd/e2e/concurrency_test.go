package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// runAll runs n den invocations, at most width at a time, and returns their results in order.
// It is safe off the test goroutine: failures to run den are reported as exit -1.
func (d *den) runAll(n, width int, args func(i int) []string) []result {
	out := make([]result, n)
	sem := make(chan struct{}, width)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = d.try(args(i)...)
		}(i)
	}
	wg.Wait()
	return out
}

// try runs den once without touching the test, for use from many goroutines.
func (d *den) try(args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := d.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), code: -1}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.stderr += fmt.Sprintf("\n(timed out after %v)", commandTimeout)
	case err == nil || errors.As(err, &exitErr):
		r.code = cmd.ProcessState.ExitCode()
	default:
		r.stderr += "\n(" + err.Error() + ")"
	}
	return r
}

func TestConcurrentDetachedRunsAllStartAndAllRemove(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	const n = 50
	runs := d.runAll(n, n, func(i int) []string {
		return []string{"run", "-d", "--name", fmt.Sprintf("c%d", i), "busybox", "sleep", "30"}
	})
	ids := map[string]bool{}
	for _, r := range runs {
		id := strings.TrimSpace(r.stdout)
		if r.code != 0 || !hex64.MatchString(id) {
			t.Errorf("want exit 0 and an id\n%s", r)
		}
		ids[id] = true
	}
	if len(ids) != n {
		t.Errorf("want %d distinct ids, got %d", n, len(ids))
	}
	r := d.mustRun(t, "ps", "-q")
	if got := len(lines(r.stdout)); got != n {
		t.Errorf("want %d running containers listed, got %d\n%s", n, got, r)
	}
	if r := d.mustRun(t, "ps", "--format", "{{.Names}} {{.State}}"); strings.Count(r.stdout, " running\n") != n {
		t.Errorf("want all %d running\n%s", n, r)
	}

	rms := d.runAll(n, 10, func(i int) []string { return []string{"rm", "-f", "-t", "0", fmt.Sprintf("c%d", i)} })
	for i, r := range rms {
		if want := fmt.Sprintf("c%d\n", i); r.code != 0 || r.stdout != want {
			t.Errorf("want exit 0 and %q\n%s", want, r)
		}
	}
	d.wantNoContainers(t)
	for id := range ids {
		if len(id) == 64 {
			d.wantMonitorGone(t, id[:12])
		}
	}
}

func TestConcurrentCreatesOfOneNameHaveExactlyOneWinner(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	const n = 20
	rs := d.runAll(n, n, func(int) []string { return []string{"create", "--name", "same", "busybox", "true"} })
	won := 0
	for _, r := range rs {
		switch {
		case r.code == 0:
			won++
		case r.code == 125 && strings.Contains(r.stderr, "already in use"):
		default:
			t.Errorf("want exit 0, or 125 saying the name is already in use\n%s", r)
		}
	}
	if won != 1 {
		t.Errorf("want exactly one create to succeed, %d did", won)
	}
	if r := d.mustRun(t, "ps", "-a", "--format", "{{.Names}}"); r.stdout != "same\n" {
		t.Errorf("want one container named same\n%s", r)
	}
}

func TestCrashOfMonitorKillsContainerAndIsReportedTruthfully(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	id := d.runDetached(t, "--name", "victim", "busybox", "sleep", "100")
	pid := d.pidOf(t, "victim")
	mons := d.monitorPids(t, id[:12])
	if len(mons) != 1 {
		t.Fatalf("want one den-monitor process for %s, found %v", id[:12], mons)
	}
	if err := syscall.Kill(mons[0], syscall.SIGKILL); err != nil {
		t.Fatalf("killing the monitor: %v", err)
	}

	// The container's first process has the monitor's death as its parent-death signal.
	if !waitUntil(10*time.Second, func() bool { return processGone(pid) }) {
		t.Errorf("want the container's process %d to die with its monitor", pid)
	}
	if l := psLine(t, d, "victim"); !strings.Contains(l, "Exited (-1)") {
		t.Errorf("want victim listed as Exited (-1) once its monitor died, got %q", l)
	}
	wantStdout(t, d.run(t, "ps", "-q"), "")
	var in []struct {
		State struct {
			Status   string
			Running  bool
			Pid      int
			ExitCode int
			Error    string
		}
	}
	r := d.mustRun(t, "inspect", "victim")
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || len(in) != 1 {
		t.Fatalf("want a JSON array of one container: %v\n%s", err, r)
	}
	if s := in[0].State; s.Status != "exited" || s.Running || s.Pid != 0 || s.ExitCode != -1 || s.Error == "" {
		t.Errorf("want State exited, not running, Pid 0, ExitCode -1 and an Error\n%s", r)
	}
	wantStdout(t, d.run(t, "wait", "victim"), "-1\n")
	wantStdout(t, d.run(t, "rm", "victim"), "victim\n")
	d.wantNoContainers(t)
}

func TestVolumeRemovalRacingCreatesNeverLeavesAContainerWithoutItsVolume(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	for round := range 6 {
		vol := fmt.Sprintf("race%d", round)
		d.mustRun(t, "volume", "create", vol)
		rs := d.runAll(9, 9, func(i int) []string {
			if i == 4 {
				return []string{"volume", "rm", vol}
			}
			return []string{"create", "--name", fmt.Sprintf("%s-%d", vol, i), "-v", vol + ":/data", "busybox", "true"}
		})
		created := 0
		for i, r := range rs {
			switch {
			case i == 4 && r.code != 0 && r.code != 2:
				t.Errorf("volume rm beside creates: want exit 0 or 2 (in use)\n%s", r)
			case i != 4 && r.code != 0:
				t.Errorf("create beside volume rm failed\n%s", r)
			case i != 4:
				created++
			}
		}
		// Every container made names the volume: it must exist, whichever came first.
		if created > 0 && d.run(t, "volume", "exists", vol).code != 0 {
			t.Fatalf("round %d: %d containers use volume %s, which was removed under them", round, created, vol)
		}
		for i := range 9 {
			if i != 4 {
				d.run(t, "rm", fmt.Sprintf("%s-%d", vol, i))
			}
		}
	}
}

// Creates that join a network race its removal (network rm and network prune, as separate
// processes): whoever wins, no container is left naming a network that is gone, and every
// create either made a container on the network or failed cleanly.
func TestNetworkRemovalNeverLeavesAContainerOnAMissingNetwork(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	const creates = 6
	for round, remover := range [][]string{{"network", "rm", "racenet"}, {"network", "prune", "-f"}, {"network", "rm", "racenet"}} {
		d.mustRun(t, "network", "create", "racenet")
		rs := d.runAll(creates+1, creates+1, func(i int) []string {
			if i == creates/2 {
				return remover
			}
			return []string{"create", "--network", "racenet", "busybox", "true"}
		})
		made := 0
		for i, r := range rs {
			if i == creates/2 {
				continue
			}
			if r.code == 0 {
				made++
			} else if r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Fatalf("round %d: a create that lost the race must fail with one line, exit 125: %s", round, r)
			}
		}
		gone := d.run(t, "network", "exists", "racenet").code == 1
		for _, id := range strings.Fields(d.mustRun(t, "ps", "-aq", "--no-trunc").stdout) {
			nets := d.mustRun(t, "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", id).stdout
			if gone && strings.Contains(nets, "racenet") {
				t.Fatalf("round %d: network racenet was removed (by %v) while container %s joined it", round, remover, id)
			}
		}
		if !gone && made == 0 && remover[1] == "rm" {
			t.Fatalf("round %d: racenet survived its rm with no container on it: %v", round, rs[creates/2])
		}
		d.mustRun(t, "rm", "-af", "-t", "0")
		d.run(t, "network", "rm", "-f", "-t", "0", "racenet")
	}
}
