// Package slirp runs slirp4netns for one container: exec'd by the container's holder once
// the container's network namespace exists and before its command starts, stopped when the
// container exits. It also dies with the holder: its parent-death signal, and its exit fd,
// whose other end only the holder has.
package slirp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// Slirp4netns's fixed addresses in the namespace it serves.
const (
	ContainerIP = "10.0.2.100"
	GatewayIP   = "10.0.2.2"
	DNSIP       = "10.0.2.3"
)

// Options are slirp4netns's settings for one container.
type Options struct {
	// AllowHostLoopback lets the container reach the host's loopback at 10.0.2.2.
	AllowHostLoopback bool
	// NetNSPath, when set, is the network namespace to serve instead of pid's.
	NetNSPath string
	// NetNS, when set, is the network namespace to serve, open: slirp4netns gets the
	// descriptor itself.
	NetNS *os.File
}

// Process is a running slirp4netns.
type Process struct {
	cmd    *exec.Cmd
	exit   *os.File
	done   chan struct{}
	ready  *os.File
	stderr *limitedBuffer
}

// Preflight reports, with what to do about it, why slirp4netns could not run here.
func Preflight() (string, error) {
	path, err := exec.LookPath("slirp4netns")
	if err != nil {
		return "", errors.New("slirp4netns is not installed, and containers need it for their network: install it (`sudo apt-get install slirp4netns`) or use --network none")
	}
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return "", errors.New("/dev/net/tun is not usable by your user, and slirp4netns needs it for the container's network: run `sudo chmod 0666 /dev/net/tun` or use --network none")
		}
		return "", fmt.Errorf("opening /dev/net/tun for slirp4netns: %v: load the tun module (`sudo modprobe tun`) or use --network none", err)
	}
	f.Close()
	return path, nil
}

// Start runs slirp4netns on the network namespace of pid and returns once tap0 is
// configured (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3). The caller must call Stop.
func Start(bin string, pid int, o Options) (*Process, error) {
	p, err := Launch(bin, pid, o)
	if err != nil {
		return nil, err
	}
	if err := p.Ready(); err != nil {
		return nil, err
	}
	return p, nil
}

// Launch starts slirp4netns and returns without waiting for it: Ready does. The caller
// must call Ready, and Stop.
func Launch(bin string, pid int, o Options) (*Process, error) {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	exitR, exitW, err := os.Pipe()
	if err != nil {
		readyR.Close()
		readyW.Close()
		return nil, err
	}
	args := []string{"--configure", "--mtu=65520", "--enable-sandbox", "--enable-seccomp", "--ready-fd=3", "--exit-fd=4"}
	if !o.AllowHostLoopback {
		args = append(args, "--disable-host-loopback")
	}
	files := []*os.File{readyW, exitR}
	switch {
	case o.NetNS != nil:
		files = append(files, o.NetNS)
		args = append(args, "--netns-type=path", "/proc/self/fd/5", "tap0")
	case o.NetNSPath != "":
		args = append(args, "--netns-type=path", o.NetNSPath, "tap0")
	default:
		args = append(args, strconv.Itoa(pid), "tap0")
	}
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = files
	stderr := &limitedBuffer{}
	cmd.Stdout, cmd.Stderr = nil, stderr
	// It must not outlive the container's holder, which is this process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	err = cmd.Start()
	readyW.Close()
	exitR.Close()
	if err != nil {
		readyR.Close()
		exitW.Close()
		return nil, fmt.Errorf("starting slirp4netns: %w", err)
	}
	p := &Process{cmd: cmd, exit: exitW, done: make(chan struct{}), ready: readyR, stderr: stderr}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Ready waits until slirp4netns has configured tap0. On failure slirp4netns is stopped and
// the error says why, from its own last words.
func (p *Process) Ready() error {
	defer p.ready.Close()
	buf := make([]byte, 1)
	if _, err := io.ReadFull(p.ready, buf); err != nil {
		p.Stop()
		p.Wait()
		msg := lastLine(p.stderr.String())
		if msg == "" {
			msg = "it exited before configuring the network"
		}
		return fmt.Errorf("slirp4netns: %s", msg)
	}
	return nil
}

// Stop kills slirp4netns, which keeps no state worth a graceful exit. It does not wait for
// the exit (tearing down its sandbox takes milliseconds the container's exit should not
// pay): a goroutine reaps it, or init does when the holder exits first.
func (p *Process) Stop() {
	_ = p.cmd.Process.Kill()
	p.exit.Close()
}

// Wait waits until slirp4netns has exited.
func (p *Process) Wait() { <-p.done }

// Pid is slirp4netns's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if len(l.b) < 4096 {
		l.b = append(l.b, p[:min(len(p), 4096-len(l.b))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

func lastLine(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}
