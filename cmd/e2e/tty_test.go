package e2e

import (
	"slices"
	"strings"
	"testing"
)

func TestRunTtyGivesContainerTerminalOfHostSize(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	p := d.startPty(t, 30, 100, "run", "-t", "--rm", "busybox", "sh", "-c", "tty; stty size")
	code, out := p.wait()
	ls := lines(out)
	if code != 0 || !slices.Contains(ls, "/dev/pts/0") || !slices.Contains(ls, "30 100") {
		t.Errorf("want exit 0, /dev/pts/0 and the size 30 100; got exit %d and:\n%s", code, out)
	}
}

func TestRunInteractiveTtyShellTakesInputAndExitStatus(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	p := d.startPty(t, 24, 80, "run", "-it", "--rm", "busybox", "sh")
	p.waitFor("# ") // root's prompt: the shell reads the terminal now
	p.write("echo $((6*7))\n")
	p.waitFor("\n42\n")
	p.write("exit 5\n")
	code, out := p.wait()
	if code != 5 {
		t.Errorf("want exit 5; got %d and:\n%s", code, out)
	}
	d.wantNoContainers(t)
}

func TestRunTtyDeliversCtrlCToContainer(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	// den puts its own terminal in raw mode, so ^C travels as a byte and the container's
	// terminal turns it into SIGINT for the shell.
	p := d.startPty(t, 24, 80, "run", "-it", "--rm", "busybox", "sh", "-c",
		`trap "echo got-int; exit 9" INT; echo ready; while true; do sleep 0.1; done`)
	p.waitFor("ready\n")
	p.write("\x03")
	code, out := p.wait()
	if code != 9 || !strings.Contains(out, "got-int") {
		t.Errorf("want got-int and exit 9; got exit %d and:\n%s", code, out)
	}
}
