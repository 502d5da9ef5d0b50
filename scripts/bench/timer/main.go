// timer runs commands repeatedly and prints how long they took, for scripts/bench.sh. A Go
// loop around fork+exec+wait adds far less noise than timing from bash.
//
// usage: timer [-n 15] [-w 2] [-t 120s] -- [NAME=VALUE...] COMMAND [ARG...] [::: [NAME=VALUE...] COMMAND [ARG...]]...
//
// Each command may start with NAME=VALUE words, as with env(1): they are added to its
// environment without an extra exec. Commands are separated by a ":::" word and run in
// rounds, one run of each per round, so that a change in the machine's load during the
// measurement weighs on all of them alike. The first -w rounds are warm-ups and not timed.
// Every run has stdin and stdout on /dev/null; stderr is kept in case it fails.
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
	"strings"
	"time"
)

const separator = ":::"

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
	timeout := flag.Duration("t", 120*time.Second, "longest one run may take")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: timer [-n runs] [-w warmups] [-t timeout] -- [NAME=VALUE...] COMMAND [ARG...] [::: ...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	cmds, err := parse(flag.Args())
	if err != nil || *n < 1 || *w < 0 {
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
			d, err := runOnce(c, devnull, *timeout)
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

// runOnce runs a command once and returns its wall-clock time, from just before fork to
// just after wait. Stdout goes straight to /dev/null (an *os.File, so no copying goroutine);
// stderr goes to a buffer, read only on failure.
func runOnce(c *command, devnull *os.File, timeout time.Duration) (time.Duration, error) {
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	x := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	if len(c.env) > 0 {
		// exec dedups the environment keeping the last value, so these win.
		x.Env = append(os.Environ(), c.env...)
	}
	x.Stdin, x.Stdout, x.Stderr = devnull, devnull, &stderr
	start := time.Now()
	err := x.Run()
	d := time.Since(start)
	switch {
	case ctx.Err() != nil:
		return 0, fmt.Errorf("timed out after %v: %s", timeout, reason(stderr.String()))
	case err != nil:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return 0, fmt.Errorf("%s (%v)", reason(stderr.String()), exit.ProcessState)
		}
		return 0, err
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

func median(sorted []float64) float64 {
	m := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[m]
	}
	return (sorted[m-1] + sorted[m]) / 2
}
