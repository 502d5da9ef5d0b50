package initexec

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWithRootfsWaitCarriesOnlyAPathItCanGiveBackWhole(t *testing.T) {
	for _, tc := range []struct {
		w    RootfsWait
		want string
		ok   bool
	}{
		{RootfsWait{Dir: "/run/user/1000/den/containers/abc"}, "4 den-rootfs-wait=/run/user/1000/den/containers/abc", true},
		{RootfsWait{Dir: "/run/user/1000/den/containers/abc", Loopback: true}, "4 den-rootfs-wait=lo:/run/user/1000/den/containers/abc", true},
		{RootfsWait{Dir: "/run/c/abc", Loopback: true, Premount: true}, "4 den-rootfs-wait=lo:mnt:/run/c/abc", true},
		{RootfsWait{Dir: "/run/c/abc", Premount: true}, "4 den-rootfs-wait=mnt:/run/c/abc", true},
		{RootfsWait{Dir: "/run/c/abc", Loopback: true, Premount: true, Etc: []string{"hostname", "resolv.conf"}}, "4 den-rootfs-wait=lo:mnt:etc:hostname,resolv.conf:/run/c/abc", true},
		{RootfsWait{Dir: "/etc:/x", Premount: true, Etc: []string{"hosts"}}, "4 den-rootfs-wait=mnt:etc:hosts:/etc:/x", true},
		{RootfsWait{Dir: "/etc:/x", Premount: true}, "4 den-rootfs-wait=mnt:/etc:/x", true},
		{RootfsWait{Dir: "/run/c/abc", Etc: []string{"hosts"}}, "4", false},
		{RootfsWait{Dir: "/run/c/abc", Premount: true, Etc: []string{"passwd"}}, "4", false},
		{RootfsWait{Dir: "/run/c/abc", Premount: true, Etc: []string{"../x"}}, "4", false},
		{RootfsWait{Dir: "/with space/x"}, "4 den-rootfs-wait=/with space/x", true},
		{RootfsWait{Dir: "/lo:/x"}, "4 den-rootfs-wait=/lo:/x", true},
		{RootfsWait{Dir: "/mnt:/x", Loopback: true}, "4 den-rootfs-wait=lo:/mnt:/x", true},
		{RootfsWait{Loopback: true}, "4", false},
		{RootfsWait{Dir: "relative/dir"}, "4", false},
		{RootfsWait{Dir: "lo:/dir"}, "4", false},
		{RootfsWait{Dir: "/a den-init=/b", Loopback: true}, "4", false},
		{RootfsWait{Dir: "/" + strings.Repeat("d", 2048)}, "4", false},
	} {
		got, ok := WithRootfsWait("4", tc.w)
		if got != tc.want || ok != tc.ok {
			t.Errorf("WithRootfsWait(4, %+v) = %q, %v; want %q, %v", tc.w, got, ok, tc.want, tc.ok)
		}
		if !ok {
			continue
		}
		// What initexec.c moves into the init's environment, and what the init takes back.
		t.Setenv(rootfsWaitEnv, strings.TrimPrefix(got, "4"+rootfsWaitMark))
		if w := takeRootfsWait(); !reflect.DeepEqual(w, tc.w) {
			t.Errorf("request %q taken back as %+v; want %+v", got, w, tc.w)
		}
		if v, set := os.LookupEnv(rootfsWaitEnv); set {
			t.Errorf("request left in the environment: %q", v)
		}
	}
}

// The loopback interface of a new network namespace comes up as libcontainer's netlink
// would have brought it up.
func TestLoopbackUpInANewNetworkNamespace(t *testing.T) {
	if os.Getenv("DEN_LOOPBACK_HELPER") != "" {
		before := loopbackFlags(t)
		if err := loopbackUp(); err != nil {
			t.Fatal(err)
		}
		after := loopbackFlags(t)
		os.Stdout.WriteString("before=" + strconv.Itoa(before) + " after=" + strconv.Itoa(after) + "\n")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoopbackUpInANewNetworkNamespace$")
	cmd.Env = append(os.Environ(), "DEN_LOOPBACK_HELPER=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("no new user and network namespace here: %v\n%s", err, out)
	}
	var before, after int
	i := bytes.Index(out, []byte("before="))
	if i < 0 {
		t.Fatalf("helper printed no flags: %q", out)
	}
	if _, err := fmt.Sscanf(string(out[i:]), "before=%d after=%d", &before, &after); err != nil {
		t.Fatalf("helper printed %q", out)
	}
	if before&unix.IFF_UP != 0 {
		t.Fatalf("lo of a new network namespace is up already (flags %#x): the test cannot tell", before)
	}
	if after&unix.IFF_UP == 0 || after&unix.IFF_LOOPBACK == 0 {
		t.Errorf("want lo up, got flags %#x", after)
	}
}

// loopbackFlags reads the flags of lo in this network namespace.
func loopbackFlags(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		t.Fatal(err)
	}
	return int(ifr.Uint16())
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
	if err := receiveRootfs(RootfsWait{Dir: t.TempDir()}, nil); err == nil {
		t.Error("no socket: no error")
	}
	if err := receiveRootfs(RootfsWait{Dir: serve(t, func(*net.UnixConn) {})}, nil); err == nil {
		t.Error("closed without a word: no error")
	}
	if err := receiveRootfs(RootfsWait{Dir: serve(t, func(c *net.UnixConn) { c.Write([]byte{1}) })}, nil); err == nil {
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
	err = receiveRootfs(RootfsWait{Dir: serve(t, func(c *net.UnixConn) {
		if _, _, err := c.WriteMsgUnix([]byte{1}, unix.UnixRights(int(f.Fd())), nil); err != nil {
			heard <- answer{err: err}
			return
		}
		refused, _, err := EarlyStatus(c)
		heard <- answer{refused, err}
	})}, nil)
	a := <-heard
	if err == nil || a.err != nil || a.refused == 0 || !errors.Is(err, a.refused) {
		t.Errorf("a plain directory's descriptor: the init's error %v, den heard %v (%v)", err, a.refused, a.err)
	}
}
