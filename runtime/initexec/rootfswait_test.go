package initexec

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWithRootfsWaitCarriesOnlyAPathItCanGiveBackWhole(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want string
		ok   bool
	}{
		{"/run/user/1000/den/containers/abc", "4 den-rootfs-wait=/run/user/1000/den/containers/abc", true},
		{"/with space/x", "4 den-rootfs-wait=/with space/x", true},
		{"", "4", false},
		{"relative/dir", "4", false},
		{"/a den-init=/b", "4", false},
		{"/" + strings.Repeat("d", 2048), "4", false},
	} {
		got, ok := WithRootfsWait("4", tc.dir)
		if got != tc.want || ok != tc.ok {
			t.Errorf("WithRootfsWait(4, %q) = %q, %v; want %q, %v", tc.dir, got, ok, tc.want, tc.ok)
		}
	}
}

// An init that gets no mount from den (den closed the socket, sent no descriptor, or is not
// there) fails rather than going on with an empty root filesystem.
func TestReceiveRootfsFailsWithoutAMount(t *testing.T) {
	serve := func(t *testing.T, send func(c *net.UnixConn)) string {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, EarlyRootfs), 0o700); err != nil {
			t.Fatal(err)
		}
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, EarlySocket), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			c, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			send(c)
			c.Close()
		}()
		return dir
	}
	if err := receiveRootfs(t.TempDir()); err == nil {
		t.Error("no socket: no error")
	}
	if err := receiveRootfs(serve(t, func(*net.UnixConn) {})); err == nil {
		t.Error("closed without a word: no error")
	}
	if err := receiveRootfs(serve(t, func(c *net.UnixConn) { c.Write([]byte{1}) })); err == nil {
		t.Error("a byte without a descriptor: no error")
	}
	f, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A descriptor that is no detached mount: move_mount refuses it, and den hears why.
	type answer struct {
		refused unix.Errno
		err     error
	}
	heard := make(chan answer, 1)
	err = receiveRootfs(serve(t, func(c *net.UnixConn) {
		if _, _, err := c.WriteMsgUnix([]byte{1}, unix.UnixRights(int(f.Fd())), nil); err != nil {
			heard <- answer{err: err}
			return
		}
		refused, err := EarlyStatus(c)
		heard <- answer{refused, err}
	}))
	a := <-heard
	if err == nil || a.err != nil || a.refused == 0 || !errors.Is(err, a.refused) {
		t.Errorf("a plain directory's descriptor: the init's error %v, den heard %v (%v)", err, a.refused, a.err)
	}
}
