package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TopHeader is the header of `top`, podman's default columns.
var TopHeader = []string{"USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"}

// top lists the processes of the session's container: those sharing its first process's pid
// namespace, with pids as the container sees them. The holder can read them all, being in
// the user namespace that owns them.
func (s *session) top() ([][]string, error) {
	pid, err := s.proc.Pid()
	if err != nil {
		return nil, err
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the container's pid namespace: %w", err)
	}
	names := passwdNames(s.rootfs)
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	hz := 100.0
	boot := bootTime()
	var rows [][]string
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p)); err != nil || l != ns {
			continue
		}
		row, ok := topRow(p, names, hz, boot)
		if ok {
			rows = append(rows, row)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, _ := strconv.Atoi(rows[i][1])
		b, _ := strconv.Atoi(rows[j][1])
		return a < b
	})
	return rows, nil
}

func topRow(pid int, names map[int]string, hz float64, boot time.Time) ([]string, bool) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, false
	}
	var nspid, nsppid, uid string
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "NSpid:":
			nspid = f[len(f)-1]
		case "Uid:":
			uid = f[2]
		case "PPid:":
			nsppid = f[1]
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, false
	}
	st := string(stat)
	i := strings.LastIndexByte(st, ')')
	if i < 0 {
		return nil, false
	}
	f := strings.Fields(st[i+1:])
	if len(f) < 20 {
		return nil, false
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	started, _ := strconv.ParseFloat(f[19], 64)
	ttyNr, _ := strconv.Atoi(f[4])
	cpu := (utime + stime) / hz
	elapsed := time.Since(boot.Add(time.Duration(started / hz * float64(time.Second))))
	pcpu := 0.0
	if elapsed > 0 {
		pcpu = cpu / elapsed.Seconds() * 100
	}
	// The parent as the container sees it: 0 for the first process.
	if pp, err := strconv.Atoi(nsppid); err == nil {
		nsppid = "0"
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pp)); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if x := strings.Fields(line); len(x) > 1 && x[0] == "NSpid:" && len(x) > 2 {
					nsppid = x[len(x)-1]
				}
			}
		}
	}
	user := uid
	if n, err := strconv.Atoi(uid); err == nil && names[n] != "" {
		user = names[n]
	}
	tty := "?"
	if ttyNr != 0 {
		major, minor := (ttyNr>>8)&0xfff, (ttyNr&0xff)|((ttyNr>>12)&0xfff00)
		if major == 136 {
			tty = "pts/" + strconv.Itoa(minor)
		}
	}
	args, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	cmd := strings.TrimSpace(strings.ReplaceAll(string(args), "\x00", " "))
	return []string{user, nspid, nsppid, fmt.Sprintf("%.3f", pcpu), elapsed.Truncate(time.Millisecond).String(),
		tty, (time.Duration(cpu * float64(time.Second))).Truncate(time.Second).String(), cmd}, true
}

// passwdNames maps the container's uids to names from its /etc/passwd.
func passwdNames(rootfs string) map[int]string {
	out := map[int]string{}
	b, err := os.ReadFile(filepath.Join(rootfs, "etc", "passwd"))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 {
			if n, err := strconv.Atoi(f[2]); err == nil {
				out[n] = f[0]
			}
		}
	}
	return out
}

func bootTime() time.Time {
	var info unix.Sysinfo_t
	if err := unix.Sysinfo(&info); err != nil {
		return time.Now()
	}
	return time.Now().Add(-time.Duration(info.Uptime) * time.Second)
}

// Top lists a running container's processes through its holder.
func (r *Runtime) Top(ref string) ([][]string, error) {
	c, err := r.running(ref)
	if err != nil {
		return nil, err
	}
	rep, err := askHolder(r.runDir(c.ID), controlRequest{Op: "top"}, time.Now().Add(10*time.Second))
	if err != nil {
		return nil, err
	}
	return rep.Rows, nil
}
