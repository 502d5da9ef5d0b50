// Package bridge runs a user-defined network while containers use it, with no daemon.
//
// A network at run time is one process, the network holder: den re-executed ("den-network
// NAME"). It stays in den's (the host's) network namespace and makes the network's namespace
// on one OS thread that it keeps for the purpose (unshare(CLONE_NEWNET) applies to a thread):
// all netlink work, the DNS socket and iptables run there. In it the holder puts a bridge with
// the gateway address, serves DNS for the network's containers on the gateway's port 53, and,
// unless the network is --internal, runs one slirp4netns for egress and masquerades the
// subnet behind it (iptables in that namespace). slirp4netns must be started from the host's
// namespace (its sockets to the world are made where it runs) and a process of den's user
// namespace may not setns back into the host's: hence the holder lives there and only a
// thread moves. Names DNS does not know are asked of the host's resolvers, from the host's
// namespace. Each container gets a
// veth pair: one end on the bridge, the other as ethN in the container's namespace. Networks
// are isolated because each has its own namespace and nothing routes between them.
//
// Who holds what. The holder serves a unix socket, RUNTIME/networks/NAME/sock. A container's
// holder (foreground den or monitor) joins by connecting, sending what it is (name, aliases,
// address) and an fd of the container's network namespace (SCM_RIGHTS), and keeps the
// connection open while the container runs: the open connections are the reference count,
// and the kernel closes them when a holder dies, however it dies. The holder tears the network
// down and exits when its last connection closes; slirp4netns dies with it (parent-death
// signal) and the namespace with its last process. RUNTIME/networks/NAME/lock orders the two
// sides: a joiner holds it from connecting (or starting a holder when none answers) until
// its answer; a holder that saw its count fall to zero takes it, checks the count again, and
// only then removes the socket and exits. So a joiner either reaches a holder that stays, or
// finds no socket and starts a new one.
//
// Why this works rootless. A veth pair can only be made across two namespaces by a process
// with CAP_NET_ADMIN over both, that is, in a user namespace that owns both. Every den
// invocation used to make its own user namespace, and sibling user namespaces have no rights
// over each other, so a holder started by one invocation could never have wired a container
// started by another (tried: EPERM), and a per-network user namespace has the same problem
// against the container's. runtime/userns therefore makes den's user namespace shared: an
// invocation joins the user namespace of any live den process (a registry of pids) and makes
// only its own mount namespace. The network holder registers itself too, so it keeps the
// shared namespace alive and every container's namespace, made later by any invocation, is
// owned by the same user namespace as the network's. Tried with unshare/nsenter before this
// was written: veth across the two, and egress through slirp4netns with MASQUERADE, work.
package bridge

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/den-project/den/store/record"
	"golang.org/x/sys/unix"
)

const envHolder = "_DEN_NETWORK_HOLDER"

// Network is what a holder needs to know of its network.
type Network struct {
	Name string `json:"name"`
	// Subnet is the CIDR, Gateway the bridge's address in it.
	Subnet   string `json:"subnet"`
	Gateway  string `json:"gateway"`
	Bridge   string `json:"bridge"`
	Internal bool   `json:"internal"`
	// Dir is the network's runtime directory (socket and lock).
	Dir string `json:"dir"`
}

// Member is a container joining a network.
type Member struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"`
	// IP is the container's address on the network.
	IP string `json:"ip"`
	// IfName is the interface's name in the container (eth0, eth1...).
	IfName string `json:"ifname"`
	// DefaultRoute routes the container's other traffic through this network's gateway.
	DefaultRoute bool `json:"defaultRoute"`
}

type answer struct {
	Error string `json:"error,omitempty"`
}

// IsHolderStage reports whether this process is a network holder.
func IsHolderStage() bool { return os.Getenv(envHolder) != "" }

// Conn is a container's place on a network: the connection to the network's holder that
// keeps it there.
type Conn struct{ c *net.UnixConn }

// Close leaves the network without waiting: the holder removes the container's interface
// when it sees the connection end, or the kernel does when the container's namespace goes.
func (c *Conn) Close() error { return c.c.Close() }

// Leave takes a container that goes on running off the network and returns once the
// holder has removed its interface and its DNS names.
func (c *Conn) Leave() error {
	defer c.c.Close()
	if err := c.c.CloseWrite(); err != nil {
		return fmt.Errorf("leaving the network: %w", err)
	}
	// The holder closes its side when the interface is gone.
	_ = c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(io.Discard, c.c); err != nil {
		return fmt.Errorf("leaving the network: its holder did not answer: %w", err)
	}
	return nil
}

// Join connects the container whose init is pid to network n and returns the connection
// that keeps it there. A holder is started when none runs.
func Join(n Network, m Member, pid int) (*Conn, error) {
	if err := os.MkdirAll(n.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the runtime directory of network %s: %w", n.Name, err)
	}
	lk, err := record.Acquire(filepath.Join(n.Dir, "lock"))
	if err != nil {
		return nil, err
	}
	defer lk.Release()
	sock := filepath.Join(n.Dir, "sock")
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		// No holder, or a dead one's socket: under the lock no other holder can be starting.
		os.Remove(sock)
		if err := startHolder(n); err != nil {
			return nil, err
		}
		if conn, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"}); err != nil {
			return nil, fmt.Errorf("connecting to the holder of network %s: %w", n.Name, err)
		}
	}
	ns, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("opening the container's network namespace: %w", err)
	}
	defer ns.Close()
	req, _ := json.Marshal(m)
	if _, _, err := conn.WriteMsgUnix(append(req, '\n'), unix.UnixRights(int(ns.Fd())), nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("joining network %s: %w", n.Name, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var a answer
	if err := json.NewDecoder(conn).Decode(&a); err != nil {
		conn.Close()
		return nil, fmt.Errorf("joining network %s: its holder did not answer: %w", n.Name, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	if a.Error != "" {
		conn.Close()
		return nil, fmt.Errorf("joining network %s: %s", n.Name, a.Error)
	}
	return &Conn{c: conn}, nil
}

// Program is what a holder runs: den, which plays the holder's role (HolderMain). It is
// /proc/self/exe unless the process that starts holders is another program (a container's
// monitor runs den-monitor, which has no holder in it) and names den's.
var Program = "/proc/self/exe"

// startHolder starts the holder of n, detached, and returns once it serves its socket.
func startHolder(n Network) error {
	args, _ := json.Marshal(n)
	rd, wr, err := os.Pipe()
	if err != nil {
		return err
	}
	defer rd.Close()
	cmd := exec.Command(Program)
	cmd.Args = []string{"den-network", n.Name}
	cmd.Env = append(os.Environ(), envHolder+"="+string(args))
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{wr}
	// Its own session: it outlives the command that starts it. It shares the starter's
	// user, mount and network namespaces and makes the network's namespace itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		wr.Close()
		return fmt.Errorf("starting the holder of network %s: %w", n.Name, err)
	}
	wr.Close()
	line, err := bufio.NewReader(rd).ReadString('\n')
	_ = cmd.Process.Release()
	if err != nil {
		return fmt.Errorf("network %s: its holder died while setting up", n.Name)
	}
	var a answer
	if err := json.Unmarshal([]byte(line), &a); err != nil {
		return fmt.Errorf("network %s: its holder said %q", n.Name, line)
	}
	if a.Error != "" {
		return errors.New(a.Error)
	}
	return nil
}
