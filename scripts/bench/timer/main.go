// timer runs commands repeatedly and prints how long they took, for scripts/bench.sh. A Go
// loop around fork+exec+wait adds far less noise than timing from bash.
//
// usage: timer [-n 15] [-w 2] [-c 1] [-t 120s] [-q 50ms] -- [NAME=VALUE...] COMMAND [ARG...] [::: [NAME=VALUE...] COMMAND [ARG...]]...
//
// Each command may start with NAME=VALUE words, as with env(1): they are added to its
// environment without an extra exec. Commands are separated by a ":::" word and run in
// rounds, one run of each per round, so that a change in the machine's load during the
// measurement weighs on all of them alike. The first -w rounds are warm-ups and not timed.
// Every run has stdin and stdout on /dev/null; stderr is kept in case it fails.
//
// With -c C, one run starts C copies of the command at once and waits for all of them: its
// time is from before the first start to after the last exit, and it fails if one copy fails.
//
// With -q D, every run (warm-ups too) starts only once the machine's CPUs have been at least
// 90% idle for D, or after waiting 5 s at most: work a command leaves running after it exits
// (podman's exec and run finish their cleanup in a process of their own) is then not timed
// as part of the next command, whichever engine that is.
//
// "{i}" in any word (arguments and NAME=VALUE values alike) is replaced by the number of the
// process, counting from 1 for each command, warm-ups included: with -w 2 -n 15 the runs see
// 1 to 17, so `stop c{i}` stops c1 to c17, one container per run. With -c C, the copies of
// round R (from 0) see R*C+1 to R*C+C.
//
// For each command, in order, timer prints one line:
//
//	ok MEDIAN MIN MAX          milliseconds, one decimal
//	fail ONE-LINE-REASON       from the command's stderr; it was not run again after that
//
// It exits 0 when every command succeeded, 1 when one failed, 2 on bad usage.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	separator   = ":::"
	placeholder = "{i}"
)

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

type command struct {
	env   []string
	argv  []string
	times []float64 // milliseconds
	err   error
}

func main() {
	n := flag.Int("n", 15, "timed runs of each command")
	w := flag.Int("w", 2, "untimed warm-up rounds before them")
	copies := flag.Int("c", 1, "copies started at once per run; a run lasts until the last one exits")
	timeout := flag.Duration("t", 120*time.Second, "longest one run may take")
	quiet := flag.Duration("q", 0, "before each run, wait until the CPUs have been 90% idle for this long (at most 5s)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: timer [-n runs] [-w warmups] [-c copies] [-t timeout] [-q quiet] -- [NAME=VALUE...] COMMAND [ARG...] [::: ...]")
		fmt.Fprintln(os.Stderr, "{i} in a word is replaced by the process's number, from 1")
		flag.PrintDefaults()
	}
	flag.Parse()
	cmds, err := parse(flag.Args())
	if err != nil || *n < 1 || *w < 0 || *copies < 1 {
		if err != nil {
			fmt.Fprintln(os.Stderr, "timer:", err)
		}
		flag.Usage()
		os.Exit(2)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "timer:", err)
		os.Exit(1)
	}
	for round := 0; round < *w+*n; round++ {
		for _, c := range cmds {
			if c.err != nil {
				continue
			}
			if *quiet > 0 {
				waitQuiet(*quiet, 5*time.Second)
			}
			d, err := runBatch(c, round*(*copies)+1, *copies, devnull, *timeout)
			if err != nil {
				c.err = err
				continue
			}
			if round >= *w {
				c.times = append(c.times, float64(d.Microseconds())/1000)
			}
		}
	}
	status := 0
	for _, c := range cmds {
		if c.err != nil {
			fmt.Println("fail", c.err)
			status = 1
			continue
		}
		sort.Float64s(c.times)
		fmt.Printf("ok %.1f %.1f %.1f\n", median(c.times), c.times[0], c.times[len(c.times)-1])
	}
	os.Exit(status)
}

// parse splits the arguments into commands at ":::" words and peels off each command's
// leading NAME=VALUE words.
func parse(args []string) ([]*command, error) {
	var cmds []*command
	c := &command{}
	flush := func() error {
		if len(c.argv) == 0 {
			return errors.New("a command is empty")
		}
		cmds = append(cmds, c)
		c = &command{}
		return nil
	}
	for _, a := range args {
		switch {
		case a == separator:
			if err := flush(); err != nil {
				return nil, err
			}
		case len(c.argv) == 0 && assignment.MatchString(a):
			c.env = append(c.env, a)
		default:
			c.argv = append(c.argv, a)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return cmds, nil
}

// expand returns words with each "{i}" replaced by i.
func expand(words []string, i int) []string {
	out := make([]string, len(words))
	n := strconv.Itoa(i)
	for k, w := range words {
		out[k] = strings.ReplaceAll(w, placeholder, n)
	}
	return out
}

// runOnce runs a command once, as process number i, and returns its wall-clock time.
func runOnce(c *command, i int, devnull *os.File, timeout time.Duration) (time.Duration, error) {
	return runBatch(c, i, 1, devnull, timeout)
}

// runBatch starts copies of a command at once, as processes first to first+copies-1, waits
// for all of them and returns the wall-clock time from just before the first fork to just
// after the last wait. Stdout goes straight to /dev/null (an *os.File, so no copying
// goroutine); stderr goes to a buffer per copy, read only on failure.
func runBatch(c *command, first, copies int, devnull *os.File, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	xs := make([]*exec.Cmd, copies)
	stderrs := make([]bytes.Buffer, copies)
	for k := range xs {
		argv := expand(c.argv, first+k)
		x := exec.CommandContext(ctx, argv[0], argv[1:]...)
		if len(c.env) > 0 {
			// exec dedups the environment keeping the last value, so these win.
			x.Env = append(os.Environ(), expand(c.env, first+k)...)
		}
		x.Stdin, x.Stdout, x.Stderr = devnull, devnull, &stderrs[k]
		xs[k] = x
	}
	var firstErr error
	started := 0
	start := time.Now()
	for _, x := range xs {
		if err := x.Start(); err != nil {
			firstErr = err
			break
		}
		started++
	}
	failed := -1
	for k, x := range xs[:started] {
		if err := x.Wait(); err != nil && firstErr == nil {
			firstErr, failed = err, k
		}
	}
	d := time.Since(start)
	which := ""
	if copies > 1 && failed >= 0 {
		which = fmt.Sprintf(" (copy %d of %d)", failed+1, copies)
	}
	switch {
	case ctx.Err() != nil:
		k := max(failed, 0)
		return 0, fmt.Errorf("timed out after %v%s: %s", timeout, which, reason(stderrs[k].String()))
	case firstErr != nil && failed >= 0:
		var exit *exec.ExitError
		if errors.As(firstErr, &exit) {
			return 0, fmt.Errorf("%s (%v)%s", reason(stderrs[failed].String()), exit.ProcessState, which)
		}
		return 0, firstErr
	case firstErr != nil:
		return 0, firstErr
	}
	return d, nil
}

// reason picks the line of stderr that best says why a command failed: the first one that
// mentions an error (warnings often come before it), else the last non-empty one.
func reason(stderr string) string {
	var last string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.Contains(strings.ToLower(l), "error") {
			return clip(l)
		}
		last = l
	}
	if last == "" {
		return "no output on stderr"
	}
	return clip(last)
}

func clip(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// waitQuiet returns once the machine's CPUs have been at least 90% idle over a whole span
// (from /proc/stat), or after max.
func waitQuiet(span, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		b0, t0, err := cpuTimes()
		if err != nil {
			return
		}
		time.Sleep(span)
		b1, t1, err := cpuTimes()
		if err != nil || t1 <= t0 || 10*(b1-b0) <= t1-t0 {
			return
		}
	}
}

// cpuTimes reads the busy and total time of all CPUs, in clock ticks, from /proc/stat.
func cpuTimes() (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseCPUTimes(string(b))
}

// parseCPUTimes reads /proc/stat's first line, "cpu USER NICE SYSTEM IDLE IOWAIT IRQ SOFTIRQ
// STEAL ...": idle and iowait are not busy.
func parseCPUTimes(stat string) (busy, total uint64, err error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected /proc/stat: %.80q", line)
	}
	for k, v := range f[1:9] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("unexpected /proc/stat: %.80q", line)
		}
		total += n
		if k != 3 && k != 4 {
			busy += n
		}
	}
	return busy, total, nil
}

func median(sorted []float64) float64 {
	m := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[m]
	}
	return (sorted[m-1] + sorted[m]) / 2
}
