// Package userns enters den's user namespace: the invoking user at id 0 and every
// subordinate range of /etc/subuid and /etc/subgid after it, plus a private mount namespace.
//
// Go cannot unshare(CLONE_NEWUSER) once its runtime has started threads, so den re-executes
// itself with CLONE_NEWUSER|CLONE_NEWNS. The child blocks on a pipe while the parent writes the
// maps with the setuid newuidmap/newgidmap helpers, then runs the same command as root of the
// namespace. Nothing outlives the invocation: the next command builds its namespace again, so
// edits to /etc/subuid apply at once.
package userns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment keys of the child stage. HostUID/HostGID tell the child who invoked den, since
// inside the namespace it is uid 0.
const (
	envStage   = "_DEN_USERNS_STAGE"
	envHostUID = "_DEN_HOST_UID"
	envHostGID = "_DEN_HOST_GID"
	syncFD     = 3
)

// entered is set once ChildStage has run in this process.
var entered bool

// InChild reports whether this process is the re-executed child, inside the namespace.
func InChild() bool { return entered || os.Getenv(envStage) == "child" }

// HostIDs returns the uid and gid of the user who invoked den, also from inside the namespace.
func HostIDs() (uid, gid int) {
	if ok, u, g := enteredEarly(); ok {
		return u, g
	}
	if InChild() {
		u, err1 := strconv.Atoi(os.Getenv(envHostUID))
		g, err2 := strconv.Atoi(os.Getenv(envHostGID))
		if err1 == nil && err2 == nil {
			return u, g
		}
	}
	return os.Getuid(), os.Getgid()
}

// Needed reports whether the calling process must enter a namespace before touching storage:
// a normal user outside den's namespace.
func Needed() bool { return os.Geteuid() != 0 && !InChild() }

// Init completes the entry into den's namespace at the start of main, whichever way it
// happened: enter.c's constructor (the fast path) or a re-executed child.
func Init() error {
	if ok, uid, gid := enteredEarly(); ok {
		entered = true
		setChildEnv(uid, gid)
		return nil
	}
	if os.Getenv(envStage) == "child" {
		return childStage()
	}
	if uid, gid, ok := inherited(); ok {
		entered = true
		setChildEnv(uid, gid)
	}
	return nil
}

// inherited recognises a den run from inside `den unshare` (or from a shell a container
// holder started): uid 0 of a namespace whose id 0 is the user den's environment names. Such
// a den must not build yet another namespace: its mounts have to land in the one it is in.
// The environment alone is not trusted, as real root could carry it: the kernel's map must
// say the same.
func inherited() (uid, gid int, ok bool) {
	if os.Geteuid() != 0 || os.Getenv(envHostUID) == "" {
		return -1, -1, false
	}
	uid, err1 := strconv.Atoi(os.Getenv(envHostUID))
	gid, err2 := strconv.Atoi(os.Getenv(envHostGID))
	if err1 != nil || err2 != nil || uid <= 0 {
		return -1, -1, false
	}
	if !rootMapsTo("/proc/self/uid_map", uid) || !rootMapsTo("/proc/self/gid_map", gid) {
		return -1, -1, false
	}
	return uid, gid, true
}

// rootMapsTo reports whether an id map file maps id 0, and only id 0, to host.
func rootMapsTo(file string, host int) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "0" {
			return f[1] == strconv.Itoa(host) && f[2] == "1"
		}
	}
	return false
}

// AdoptEnv marks a helper process that a den command started inside its namespace (a
// monitor) as being there, as the command's environment says.
func AdoptEnv() {
	if os.Getenv(envHostUID) != "" && os.Geteuid() == 0 {
		entered = true
	}
}

// Adopt marks a helper process that a den command started inside its namespace (a
// monitor) as being there, for the user with uid and gid outside it.
func Adopt(uid, gid int) {
	entered = true
	setChildEnv(uid, gid)
}

// setChildEnv tells containers/storage, containers/image and den's own helper processes
// that they run in den's namespace, and for whom.
func setChildEnv(uid, gid int) {
	os.Setenv(envHostUID, strconv.Itoa(uid))
	os.Setenv(envHostGID, strconv.Itoa(gid))
	os.Setenv("_CONTAINERS_USERNS_CONFIGURED", "done")
	os.Setenv("_CONTAINERS_ROOTLESS_UID", strconv.Itoa(uid))
	os.Setenv("_CONTAINERS_ROOTLESS_GID", strconv.Itoa(gid))
}

// childStage runs first in the re-executed child: it waits until the parent has written the
// id maps, then makes the mount tree private to this namespace.
func childStage() error {
	sync := os.NewFile(syncFD, "userns-sync")
	buf := make([]byte, 1)
	n, err := sync.Read(buf)
	sync.Close()
	if err != nil || n != 1 || buf[0] != 'G' {
		return errors.New("user namespace setup was aborted by the parent")
	}
	if err := unix.Setresgid(0, 0, 0); err != nil {
		return fmt.Errorf("becoming gid 0 in the user namespace: %w", err)
	}
	if err := unix.Setresuid(0, 0, 0); err != nil {
		return fmt.Errorf("becoming uid 0 in the user namespace: %w", err)
	}
	// Mounts made by den must not propagate to the host, and host mounts may still appear.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("making the mount tree private: %w", err)
	}
	os.Unsetenv(envStage)
	entered = true
	return nil
}

// Maps is what Reexec writes for the child.
type Maps struct {
	UID, GID []Mapping
}

// LookupMaps reads the invoking user's subordinate ranges and checks the helpers, returning an
// error that says how to fix the host when something is missing.
func LookupMaps() (*Maps, error) {
	uid, gid := os.Getuid(), os.Getgid()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	if err := checkKernel(); err != nil {
		return nil, err
	}
	for _, h := range []string{"newuidmap", "newgidmap"} {
		if err := checkHelper(h); err != nil {
			return nil, err
		}
	}
	read := func(file string) ([]Range, error) {
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("no subordinate ids for user %s: %s is missing: run `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s`", name, file, name)
		}
		defer f.Close()
		rs, err := ParseSubIDs(f, name, uid)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		if len(rs) == 0 {
			return nil, fmt.Errorf("no subordinate id range for user %s in %s: run `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 %s`", name, file, name)
		}
		return rs, nil
	}
	ur, err := read("/etc/subuid")
	if err != nil {
		return nil, err
	}
	gr, err := read("/etc/subgid")
	if err != nil {
		return nil, err
	}
	return &Maps{UID: BuildMappings(uid, ur), GID: BuildMappings(gid, gr)}, nil
}

func checkHelper(name string) error {
	p, err := exec.LookPath(name)
	if err != nil {
		if _, err2 := os.Stat("/usr/bin/" + name); err2 == nil {
			p = "/usr/bin/" + name
		} else {
			return fmt.Errorf("%s not found: install it with `sudo apt-get install uidmap`", name)
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("checking %s: %w", p, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&os.ModeSetuid == 0 || st.Uid != 0 {
		// File capabilities (cap_setuid+ep) are the other valid setup.
		if _, err := unix.Getxattr(p, "security.capability", nil); err != nil {
			return fmt.Errorf("%s is neither setuid root nor has file capabilities: run `sudo chmod u+s %s`", p, p)
		}
	}
	return nil
}

func checkKernel() error {
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return errors.New("user namespaces are disabled: run `sudo sysctl -w user.max_user_namespaces=15000`")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return errors.New("unprivileged user namespaces are disabled: run `sudo sysctl -w kernel.unprivileged_userns_clone=1`")
	}
	return nil
}

// Reexec runs this same command again inside a new user and mount namespace and returns its
// exit status. The caller exits with it.
func Reexec() (int, error) {
	maps, err := LookupMaps()
	if err != nil {
		return 125, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 125, fmt.Errorf("creating sync pipe: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/self/exe"
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Path = "/proc/self/exe"
	cmd.Args[0] = exe
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r}
	cmd.Env = append(os.Environ(),
		envStage+"=child",
		envHostUID+"="+strconv.Itoa(os.Getuid()),
		envHostGID+"="+strconv.Itoa(os.Getgid()),
		// containers/storage and containers/image read these to know they are rootless.
		"_CONTAINERS_USERNS_CONFIGURED=done",
		"_CONTAINERS_ROOTLESS_UID="+strconv.Itoa(os.Getuid()),
		"_CONTAINERS_ROOTLESS_GID="+strconv.Itoa(os.Getgid()),
	)
	caps := make([]uintptr, 0, 64)
	for c := 0; c <= lastCap(); c++ {
		caps = append(caps, uintptr(c))
	}
	// Without ambient capabilities the child would lose them at exec, while its uid is still
	// unmapped.
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		AmbientCaps: caps,
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return 125, fmt.Errorf("creating a user namespace: %w (are unprivileged user namespaces allowed? on Ubuntu run `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`)", err)
	}
	r.Close()
	pid := cmd.Process.Pid
	// The two helpers write different files: run them side by side.
	gidErr := make(chan error, 1)
	go func() { gidErr <- writeMap("newgidmap", pid, maps.GID) }()
	uerr := writeMap("newuidmap", pid, maps.UID)
	if gerr := <-gidErr; uerr == nil {
		uerr = gerr
	}
	if uerr != nil {
		return abort(cmd, w, uerr)
	}
	if _, err := w.Write([]byte{'G'}); err != nil {
		return abort(cmd, w, fmt.Errorf("starting the user namespace child: %w", err))
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			// The terminal already delivers SIGINT/SIGQUIT/SIGTSTP/SIGWINCH to the child, which
			// shares our process group; forward what was sent to us alone.
			switch s {
			case syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGWINCH, syscall.SIGCHLD, syscall.SIGURG, syscall.SIGPIPE:
				continue
			}
			_ = cmd.Process.Signal(s)
		case err := <-done:
			return exitStatus(cmd, err), nil
		}
	}
}

func abort(cmd *exec.Cmd, w *os.File, err error) (int, error) {
	w.Close()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return 125, err
}

func exitStatus(cmd *exec.Cmd, err error) int {
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		if err != nil {
			return 125
		}
		return 0
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func writeMap(helper string, pid int, m []Mapping) error {
	args := []string{strconv.Itoa(pid)}
	for _, x := range m {
		args = append(args, strconv.Itoa(x.ContainerID), strconv.Itoa(x.HostID), strconv.Itoa(x.Size))
	}
	out, err := exec.Command(helper, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %s: check /etc/sub%sid for your user", helper, strings.Join(args, " "),
			strings.TrimSpace(string(out)), map[string]string{"newuidmap": "u", "newgidmap": "g"}[helper])
	}
	return nil
}

func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 40
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 40
	}
	return n
}
