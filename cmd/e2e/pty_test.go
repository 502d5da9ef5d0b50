package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/console"
)

// ptyTimeout bounds a whole terminal session.
const ptyTimeout = 60 * time.Second

// ptySession is den running on a terminal of its own, as in an interactive shell: the pty's
// slave is den's stdin, stdout, stderr and controlling terminal.
type ptySession struct {
	t      *testing.T
	cmd    *exec.Cmd
	master console.Console
	ctx    context.Context
	cancel context.CancelFunc

	mu  sync.Mutex
	out bytes.Buffer
	// readDone closes when the master reads EOF or EIO: every holder of the slave is gone.
	readDone chan struct{}
}

// startPty runs den on a fresh rows×cols terminal.
func (d *den) startPty(t *testing.T, rows, cols uint16, args ...string) *ptySession {
	t.Helper()
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	if err := master.Resize(console.WinSize{Height: rows, Width: cols}); err != nil {
		t.Fatalf("sizing the pty: %v", err)
	}
	// A login gives the user their terminal; den may reopen it by name.
	if d.user != nil && d.user.switchTo {
		if err := os.Chown(slavePath, d.user.uid, d.user.gid); err != nil {
			t.Fatal(err)
		}
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("opening the pty slave: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ptyTimeout)
	cmd := d.command(ctx, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// Setsid makes den a session leader, Setctty gives it the slave (its fd 0) as
	// controlling terminal; a new session is already a new process group.
	cmd.SysProcAttr.Setpgid = false
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting den %s: %v", shellQuote(args), err)
	}
	// Only den holds the slave now, so the master sees EIO once den and its container exit.
	slave.Close()
	p := &ptySession{t: t, cmd: cmd, master: master, ctx: ctx, cancel: cancel, readDone: make(chan struct{})}
	go p.read()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		master.Close()
	})
	return p
}

func (p *ptySession) read() {
	defer close(p.readDone)
	buf := make([]byte, 4096)
	for {
		n, err := p.master.Read(buf)
		p.mu.Lock()
		p.out.Write(buf[:n])
		p.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// output is everything the terminal showed so far, with the line discipline's CRs removed.
func (p *ptySession) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.ReplaceAll(p.out.String(), "\r", "")
}

// write types on the terminal.
func (p *ptySession) write(s string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(s)); err != nil {
		p.t.Fatalf("typing %q: %v", s, err)
	}
}

// waitFor waits until the terminal shows s.
func (p *ptySession) waitFor(s string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.output(), s) {
		if time.Now().After(deadline) {
			p.t.Fatalf("the terminal did not show %q in 30s; it shows:\n%s", s, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wait waits for den to exit and returns its exit code and the whole terminal output.
func (p *ptySession) wait() (int, string) {
	p.t.Helper()
	err := p.cmd.Wait()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		p.t.Fatalf("waiting for den: %v", err)
	}
	select {
	case <-p.readDone:
	case <-time.After(5 * time.Second):
		// A process den left behind still holds the terminal; the output so far will do.
	}
	if p.ctx.Err() != nil {
		p.t.Fatalf("den did not exit within %v; the terminal shows:\n%s", ptyTimeout, p.output())
	}
	return p.cmd.ProcessState.ExitCode(), p.output()
}
