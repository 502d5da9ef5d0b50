package initexec

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A container's init can be started before its root filesystem is mounted: den then creates
// and mounts the container's storage while runc's nsenter, the exec into den-init and the Go
// runtime's start run on the other CPU, and the init waits, before libcontainer's init mounts
// anything, for den to hand it the mounted root filesystem. den asks for that with
// WithRootfsWait in the init's log level, the one setting libcontainer hands its init as it
// is; initexec.c moves the request to rootfsWaitEnv before runc's nsenter reads the level.
//
// The request names a directory of den's that holds a socket (EarlySocket) and an empty
// directory (EarlyRootfs), libcontainer's root filesystem. The init connects, and den sends
// it a detached copy of the mounted root filesystem (open_tree), which the init attaches at
// EarlyRootfs in its own mount namespace (move_mount), and answers with the errno of that,
// 0 when it worked (EarlyStatus). Mount propagation from den's namespace
// would save the hand-over, but a mount made while the init's namespace is being copied
// can miss it (seen on Linux 6.18). Anything but a mount received ends the init: den failed,
// or died.

// statusPremount marks an answer whose errno is that of attaching the standard file systems
// (premount.go), not of the root filesystem's move_mount.
const statusPremount = 1 << 16

// EarlyStatus reads the init's answer from r: the errno of its move_mount, 0 when it
// attached the root filesystem (and the standard file systems, where asked); premount when
// the errno is that of the standard file systems, which only the image's layout refuses
// (mountpoint); err when there was no answer.
func EarlyStatus(r io.Reader) (refused unix.Errno, premount bool, err error) {
	var status [4]byte
	if _, err := io.ReadFull(r, status[:]); err != nil {
		return 0, false, err
	}
	v := binary.LittleEndian.Uint32(status[:])
	return unix.Errno(v &^ statusPremount), v&statusPremount != 0, nil
}

// The names in the directory of a WithRootfsWait request.
const (
	EarlyRootfs = "rootfs"
	EarlySocket = "rootfs.sock"
)

// rootfsWaitMark starts the request in the log level, ahead of the seccomp cache's and the
// kept den-init's requests, which the init's C constructors take out of the end first.
const rootfsWaitMark = " den-rootfs-wait="

// maxWaitDir is the longest directory a request carries.
const maxWaitDir = 2048

// rootfsWaitEnv holds the directory in the init once initexec.c has taken the request out.
const rootfsWaitEnv = "_DEN_ROOTFS_WAIT"

// loopbackMark starts a request's directory where den also asks the init to bring its
// network namespace's loopback interface up: den then leaves libcontainer's "loopback"
// network out of the container's config (see Init). premountMark follows it where den asks
// the init to attach the standard file systems itself (premount.go), and has left them out
// of the config.
// etcMark follows premountMark where den also asks the init to bind files of the directory
// over those of the root filesystem's /etc (EtcFiles), left out of the config too: the
// names, comma-separated, and a colon.
const (
	loopbackMark = "lo:"
	premountMark = "mnt:"
	etcMark      = "etc:"
)

// EtcFiles are the files of a container's runtime directory that den binds over the root
// filesystem's /etc (its hostname, hosts and resolv.conf), which an init asked to attach
// the standard file systems can bind itself (premount.go).
var EtcFiles = []string{"hostname", "hosts", "resolv.conf"}

// RootfsWait is a request that the init wait for its root filesystem from the directory
// Dir; with Loopback, that it bring up the loopback interface first; with Premount, that it
// attach the standard file systems to the root filesystem before libcontainer's init runs,
// and bind Dir's files Etc (of EtcFiles) over /etc's.
type RootfsWait struct {
	Dir                string
	Loopback, Premount bool
	Etc                []string
}

// WithRootfsWait adds the request w to level. A directory the request could not carry whole
// leaves level as it is, and ok false.
func WithRootfsWait(level string, w RootfsWait) (string, bool) {
	// The C constructors before take_rootfs_wait keep what comes before their requests in
	// 4096 bytes.
	dir := w.Dir
	if dir == "" || !filepath.IsAbs(dir) || len(dir) > maxWaitDir || strings.Contains(dir, " den-") {
		return level, false
	}
	if len(w.Etc) > 0 {
		if !w.Premount {
			return level, false
		}
		for _, name := range w.Etc {
			if !slices.Contains(EtcFiles, name) {
				return level, false
			}
		}
		dir = etcMark + strings.Join(w.Etc, ",") + ":" + dir
	}
	if w.Premount {
		dir = premountMark + dir
	}
	if w.Loopback {
		dir = loopbackMark + dir
	}
	return level + rootfsWaitMark + dir, true
}

// takeRootfsWait takes den's request out of the init's environment: Dir is "" when den asked
// for no wait.
func takeRootfsWait() RootfsWait {
	v := os.Getenv(rootfsWaitEnv)
	if v == "" {
		return RootfsWait{}
	}
	_ = os.Unsetenv(rootfsWaitEnv)
	var w RootfsWait
	v, w.Loopback = strings.CutPrefix(v, loopbackMark)
	w.Dir, w.Premount = strings.CutPrefix(v, premountMark)
	// A directory is absolute: what starts otherwise is the names.
	if rest, ok := strings.CutPrefix(w.Dir, etcMark); ok && w.Premount {
		if names, dir, ok := strings.Cut(rest, ":"); ok {
			w.Etc, w.Dir = strings.Split(names, ","), dir
		}
	}
	return w
}

// loopbackUp brings up the interface lo of this process's network namespace, as
// libcontainer's "loopback" network does with netlink: one ioctl instead of some 1 ms of
// netlink requests (the vishvananda/netlink package's first use).
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// receiveRootfs takes the root filesystem from den and attaches it in the directory of w,
// with the standard file systems in it where w asks for them (pre: made ahead, or nil).
// den hears how it went: an errno, 0 when all went well.
func receiveRootfs(w RootfsWait, pre *premounts) error {
	dir := w.Dir
	// The socket is reached through the directory: its path may be longer than a socket
	// address can hold.
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	sock, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(sock)
	addr := &unix.SockaddrUnix{Name: "/proc/self/fd/" + strconv.Itoa(dfd) + "/" + EarlySocket}
	for err = unix.Connect(sock, addr); err == unix.EINTR; err = unix.Connect(sock, addr) {
	}
	if err != nil {
		return err
	}
	n, fds, err := recvWithFDs(sock, make([]byte, 1), 1)
	if err != nil {
		return err
	}
	if len(fds) == 0 {
		return unix.EBADMSG
	}
	for _, fd := range fds[1:] {
		unix.Close(fd)
	}
	if n != 1 || len(fds) != 1 {
		return unix.EBADMSG
	}
	defer unix.Close(fds[0])
	err = unix.MoveMount(fds[0], "", dfd, EarlyRootfs, unix.MOVE_MOUNT_F_EMPTY_PATH)
	var mark uint32
	if err == nil && w.Premount {
		var layout bool
		if err, layout = premount(dfd, pre, w.Dir, w.Etc); layout {
			mark = statusPremount
		}
	}
	// den hears how it went: a refusal makes it start the container the usual way (its
	// config then names the standard file systems again).
	var status [4]byte
	if errno, ok := err.(unix.Errno); ok {
		binary.LittleEndian.PutUint32(status[:], uint32(errno)|mark)
	} else if err != nil {
		binary.LittleEndian.PutUint32(status[:], uint32(unix.EINVAL)|mark)
	}
	if _, werr := unix.Write(sock, status[:]); err == nil {
		err = werr
	}
	return err
}

// recvWithFDs receives one message into buf from sock, with up to max descriptors
// (close-on-exec): the message's length and the descriptors. A message whose control data
// is anything but one list of descriptors is refused (EBADMSG).
func recvWithFDs(sock int, buf []byte, max int) (int, []int, error) {
	oob := make([]byte, unix.CmsgSpace(4*max))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil || oobn == 0 {
		return n, nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return n, nil, unix.EBADMSG
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	return n, fds, err
}

// premount attaches the standard file systems to the root filesystem just attached in the
// directory dfd: those made ahead (pre), else made now; then binds the files etc of the
// directory dir over /etc's (attachEtc). layout says the root filesystem's layout refused
// them (attach, attachEtc): a failure of this image's, not of the kernel's.
func premount(dfd int, pre *premounts, dir string, etc []string) (err error, layout bool) {
	if pre == nil {
		if pre, err = preparePremounts(); err != nil {
			return err, false
		}
	}
	defer pre.close()
	root, err := unix.Openat(dfd, EarlyRootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err, false
	}
	defer unix.Close(root)
	err = pre.attach(root)
	if err == nil {
		err = attachEtc(root, dir, etc)
	}
	var refused errLayout
	if errors.As(err, &refused) {
		return refused.error, true
	}
	return err, false
}
