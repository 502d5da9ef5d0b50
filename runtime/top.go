package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/capability"
)

// topHeaders are podman's `top` format descriptors that den knows, with their column
// headers.
var topHeaders = map[string]string{
	"args": "COMMAND", "capamb": "AMBIENT CAPS", "capbnd": "BOUNDING CAPS", "capeff": "EFFECTIVE CAPS",
	"capinh": "INHERITED CAPS", "capprm": "PERMITTED CAPS", "comm": "COMMAND", "etime": "ELAPSED",
	"group": "GROUP", "hgroup": "HGROUP", "hpid": "HPID", "huser": "HUSER", "nice": "NI", "pcpu": "%CPU",
	"pgid": "PGID", "pid": "PID", "ppid": "PPID", "rgroup": "RGROUP", "ruser": "RUSER", "seccomp": "SECCOMP",
	"state": "STATE", "stime": "STIME", "time": "TIME", "tty": "TTY", "user": "USER", "vsz": "VSZ",
}

// DefaultTop are podman's default columns of `top`.
var DefaultTop = []string{"user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args"}

// ParseTopDescriptors reads top's format descriptors, given as words, comma-separated, or
// both (pid,user args); none gives DefaultTop.
func ParseTopDescriptors(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		for _, d := range strings.Split(a, ",") {
			if d = strings.TrimSpace(d); d == "" {
				continue
			}
			if _, ok := topHeaders[d]; !ok {
				known := make([]string, 0, len(topHeaders))
				for k := range topHeaders {
					known = append(known, k)
				}
				sort.Strings(known)
				return nil, fmt.Errorf("top: unknown format descriptor %q: use %s (ps options are not taken)", d, strings.Join(known, ", "))
			}
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return DefaultTop, nil
	}
	return out, nil
}

// TopHeader is the header line of descriptors.
func TopHeader(desc []string) []string {
	out := make([]string, len(desc))
	for i, d := range desc {
		out[i] = topHeaders[d]
	}
	return out
}

// top lists the processes of the session's container, one row of desc's columns each: those
// sharing its first process's pid namespace, with pids as the container sees them. The
// holder can read them all, being in the user namespace that owns them.
func (s *session) top(desc []string) ([][]string, error) {
	pid := s.pid
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return nil, fmt.Errorf("reading the container's pid namespace: %w", err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	env := topEnv{
		users: idNames(s.rootfs, "passwd"), groups: idNames(s.rootfs, "group"), hz: 100, boot: bootTime(),
		uidMap: readIDMap("/proc/self/uid_map"), gidMap: readIDMap("/proc/self/gid_map"),
	}
	type row struct {
		pid  int
		cols []string
	}
	var rows []row
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p)); err != nil || l != ns {
			continue
		}
		if pi, ok := readProc(p); ok {
			nspid, _ := strconv.Atoi(pi.nsID("NSpid:"))
			rows = append(rows, row{nspid, pi.columns(desc, &env)})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].pid < rows[j].pid })
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = r.cols
	}
	return out, nil
}

// topEnv is what the columns of every process need: the container's user and group names,
// the clock, and how den's user namespace maps ids to the host's.
type topEnv struct {
	users, groups  map[int]string
	hz             float64
	boot           time.Time
	uidMap, gidMap [][3]uint64
}

// procInfo is what /proc says of one process.
type procInfo struct {
	pid    int
	status map[string][]string // the fields of each line of status, by its key ("Uid:")
	stat   []string            // the fields of stat after the command's name
	comm   string
	args   string
}

func readProc(pid int) (*procInfo, bool) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, false
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
	pi := &procInfo{pid: pid, status: map[string][]string{}, stat: strings.Fields(st[i+1:])}
	if len(pi.stat) < 21 {
		return nil, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			pi.status[f[0]] = f[1:]
		}
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	pi.comm = strings.TrimSpace(string(comm))
	args, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	pi.args = strings.TrimSpace(strings.ReplaceAll(string(args), "\x00", " "))
	return pi, true
}

// nsID is the last field of a status line such as NSpid: the id in the innermost namespace.
func (pi *procInfo) nsID(key string) string {
	f := pi.status[key]
	if len(f) == 0 {
		return "?"
	}
	return f[len(f)-1]
}

// statNum is field i of stat after the command's name, as a number.
func (pi *procInfo) statNum(i int) float64 {
	n, _ := strconv.ParseFloat(pi.stat[i], 64)
	return n
}

// idField is field i (0 real, 1 effective) of the Uid: or Gid: line.
func (pi *procInfo) idField(key string, i int) int {
	f := pi.status[key]
	if len(f) <= i {
		return -1
	}
	n, err := strconv.Atoi(f[i])
	if err != nil {
		return -1
	}
	return n
}

func (pi *procInfo) columns(desc []string, env *topEnv) []string {
	out := make([]string, len(desc))
	for i, d := range desc {
		out[i] = pi.column(d, env)
	}
	return out
}

func (pi *procInfo) column(d string, env *topEnv) string {
	cpu := (pi.statNum(11) + pi.statNum(12)) / env.hz
	started := env.boot.Add(time.Duration(pi.statNum(19) / env.hz * float64(time.Second)))
	switch d {
	case "pid":
		return pi.nsID("NSpid:")
	case "ppid":
		return pi.nsParent()
	case "hpid":
		return strconv.Itoa(pi.pid)
	case "pgid":
		return pi.nsID("NSpgid:")
	case "user":
		return named(env.users, pi.idField("Uid:", 1))
	case "ruser":
		return named(env.users, pi.idField("Uid:", 0))
	case "group":
		return named(env.groups, pi.idField("Gid:", 1))
	case "rgroup":
		return named(env.groups, pi.idField("Gid:", 0))
	case "huser":
		return hostID(env.uidMap, pi.idField("Uid:", 1))
	case "hgroup":
		return hostID(env.gidMap, pi.idField("Gid:", 1))
	case "pcpu":
		pcpu := 0.0
		if el := time.Since(started).Seconds(); el > 0 {
			pcpu = cpu / el * 100
		}
		return fmt.Sprintf("%.3f", pcpu)
	case "etime":
		return time.Since(started).Truncate(time.Millisecond).String()
	case "stime":
		return started.Truncate(time.Second).Format("2006-01-02 15:04:05 -0700 MST")
	case "time":
		return time.Duration(cpu * float64(time.Second)).Truncate(time.Second).String()
	case "tty":
		if tty := int(pi.statNum(4)); tty != 0 {
			major, minor := (tty>>8)&0xfff, (tty&0xff)|((tty>>12)&0xfff00)
			if major == 136 {
				return "pts/" + strconv.Itoa(minor)
			}
		}
		return "?"
	case "args":
		if pi.args == "" {
			return "[" + pi.comm + "]"
		}
		return pi.args
	case "comm":
		return pi.comm
	case "nice":
		return pi.stat[16]
	case "vsz":
		return strconv.FormatUint(uint64(pi.statNum(20))/1024, 10)
	case "state":
		return pi.stat[0]
	case "seccomp":
		switch pi.nsID("Seccomp:") {
		case "0":
			return "disabled"
		case "1":
			return "strict"
		case "2":
			return "filter"
		}
		return "?"
	case "capamb", "capbnd", "capeff", "capinh", "capprm":
		key := map[string]string{"capamb": "CapAmb:", "capbnd": "CapBnd:", "capeff": "CapEff:", "capinh": "CapInh:", "capprm": "CapPrm:"}[d]
		return capNames(pi.nsID(key))
	}
	return "?"
}

// nsParent is the process's parent as the container sees it: 0 for the first process, whose
// parent is outside.
func (pi *procInfo) nsParent() string {
	pp, err := strconv.Atoi(pi.nsID("PPid:"))
	if err != nil {
		return "0"
	}
	parent, ok := readProc(pp)
	if !ok {
		return "0"
	}
	if f := parent.status["NSpid:"]; len(f) > 1 {
		return f[len(f)-1]
	}
	return "0"
}

// named is the name of id in names, else the number.
func named(names map[int]string, id int) string {
	if n := names[id]; n != "" {
		return n
	}
	return strconv.Itoa(id)
}

// hostID is id of den's user namespace as the host knows it, through that namespace's map.
func hostID(m [][3]uint64, id int) string {
	if id < 0 {
		return "?"
	}
	for _, r := range m {
		if uint64(id) >= r[0] && uint64(id)-r[0] < r[2] {
			return strconv.FormatUint(r[1]+uint64(id)-r[0], 10)
		}
	}
	return "?"
}

// readIDMap reads a uid_map or gid_map: inside, outside and count per line.
func readIDMap(path string) [][3]uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out [][3]uint64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		var r [3]uint64
		ok := true
		for i := range f {
			n, err := strconv.ParseUint(f[i], 10, 64)
			ok = ok && err == nil
			r[i] = n
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// capNames shows a capability mask (hex, as status has it) as podman does: "full" for every
// capability the kernel knows, "none" for none, else the names, upper case.
func capNames(hex string) string {
	mask, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return "?"
	}
	if mask == 0 {
		return "none"
	}
	last, err := capability.LastCap()
	if err == nil && last < 63 && mask == (uint64(1)<<(uint(last)+1))-1 {
		return "full"
	}
	var names []string
	for _, c := range capability.ListKnown() {
		if uint(c) < 64 && mask&(1<<uint(c)) != 0 {
			names = append(names, strings.ToUpper(c.String()))
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// idNames maps the container's ids to names from its /etc/passwd or /etc/group.
func idNames(rootfs, file string) map[int]string {
	out := map[int]string{}
	b, err := os.ReadFile(filepath.Join(rootfs, "etc", file))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 {
			if n, err := strconv.Atoi(f[2]); err == nil {
				if _, seen := out[n]; !seen {
					out[n] = f[0]
				}
			}
		}
	}
	return out
}

// Top lists a running container's processes through its holder, one row of desc's columns
// each (ParseTopDescriptors). A holder from an older den answers with the default columns
// only, and does not say which: another choice is then an error that says so.
func (r *Runtime) Top(ref string, desc []string) ([][]string, error) {
	c, err := r.running(ref)
	if err != nil {
		return nil, err
	}
	rep, err := askHolder(r.runDir(c.ID), controlRequest{Op: "top", Top: desc}, time.Now().Add(10*time.Second))
	if err != nil {
		return nil, err
	}
	if !slices.Equal(rep.Columns, desc) && (rep.Columns != nil || !slices.Equal(desc, DefaultTop)) {
		return nil, fmt.Errorf("container %s: its monitor is from an older den and shows the default columns only: restart the container to choose others", c.Name)
	}
	return rep.Rows, nil
}
