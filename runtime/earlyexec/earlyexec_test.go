package earlyexec

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/den-project/den/config"
	"golang.org/x/sys/unix"
)

// The constructor finds a container's runtime directory with its own reading of den's
// directories: where it takes the environment (take), it must find config.ResolvePaths'
// directories; elsewhere it leaves exec to the CLI.
func TestDirsAreConfigsPaths(t *testing.T) {
	for _, tc := range []struct {
		name string
		uid  int
		env  map[string]string
		take bool
	}{
		{"home only", 1000, map[string]string{"HOME": "/home/a"}, true},
		{"XDG dirs", 1000, map[string]string{"HOME": "/home/a", "XDG_DATA_HOME": "/data", "XDG_RUNTIME_DIR": "/run/user/1000"}, true},
		{"no runtime dir: TMPDIR", 1000, map[string]string{"HOME": "/home/a", "TMPDIR": "/var/tmp"}, true},
		{"no runtime dir, no TMPDIR", 1001, map[string]string{"HOME": "/home/b"}, true},
		{"empty TMPDIR", 1001, map[string]string{"HOME": "/home/b", "TMPDIR": ""}, true},
		{"empty XDG_DATA_HOME", 1000, map[string]string{"HOME": "/home/a", "XDG_DATA_HOME": ""}, true},
		{"XDG_DATA_HOME without HOME", 1000, map[string]string{"XDG_DATA_HOME": "/data"}, true},
		{"root", 0, map[string]string{"HOME": "/root", "XDG_RUNTIME_DIR": "/run/user/0"}, true},
		{"relative runtime dir", 1000, map[string]string{"HOME": "/home/a", "XDG_RUNTIME_DIR": "run"}, false},
		{"runtime dir with a trailing slash", 1000, map[string]string{"HOME": "/home/a", "XDG_RUNTIME_DIR": "/run/user/1000/"}, false},
		{"home with a trailing slash", 1000, map[string]string{"HOME": "/home/a/"}, false},
		{"home /", 1000, map[string]string{"HOME": "/"}, false},
		{"data dir with //", 1000, map[string]string{"HOME": "/home/a", "XDG_DATA_HOME": "/data//x"}, false},
		{"TMPDIR with ..", 1000, map[string]string{"HOME": "/home/a", "TMPDIR": "/var/tmp/../tmp"}, false},
		{"relative TMPDIR", 1000, map[string]string{"HOME": "/home/a", "TMPDIR": "tmp"}, false},
		{"relative HOME", 1000, map[string]string{"HOME": "home"}, false},
		{"relative XDG_DATA_HOME", 1000, map[string]string{"HOME": "/home/a", "XDG_DATA_HOME": "data"}, false},
		{"neither HOME nor XDG_DATA_HOME", 1000, map[string]string{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp, set := tc.env["TMPDIR"]
			if !set {
				tmp = ""
			}
			t.Setenv("TMPDIR", tmp) // config reads it through os.TempDir
			data, run, ok := Dirs(tc.uid, tc.env)
			if ok != tc.take {
				t.Fatalf("the constructor takes it: %v, want %v", ok, tc.take)
			}
			if !ok {
				return
			}
			p, err := config.ResolvePaths(tc.uid, tc.uid, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatalf("the constructor takes what config refuses: %v", err)
			}
			if data != p.DataDir || run != p.RuntimeDir {
				t.Errorf("the constructor reads %s and %s, config %s and %s", data, run, p.DataDir, p.RuntimeDir)
			}
		})
	}
}

// den exits from the constructor only on the monitor's plain answers for a process that ran,
// however they arrive; on anything else every byte is left for the Go side to read.
func TestAnsweredExitsOnlyOnPlainAnswersAndLeavesTheRestToGo(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string // written in turn, 20 ms apart, then the monitor's end closes
		ok     bool
		code   int
	}{
		{"plain, at once", []string{"{\"pid\":42}\n{\"exit\":3}\n"}, true, 3},
		{"plain, the exit later", []string{"{\"pid\":42}\n", "{\"exit\":0}\n"}, true, 0},
		{"plain, split inside a line", []string{"{\"pid\":42}\n{\"ex", "it\":137}\n"}, true, 137},
		{"an error", []string{"{\"error\":\"nosuch: command not found in the container\",\"code\":127}\n"}, false, 0},
		{"the monitor went away", []string{"{\"pid\":42}\n"}, false, 0},
		{"nothing", nil, false, 0},
		{"a field it does not know", []string{"{\"pid\":42,\"tty\":1}\n{\"exit\":0}\n"}, false, 0},
		{"spaces", []string{"{\"pid\": 42}\n{\"exit\":0}\n"}, false, 0},
		{"a negative code", []string{"{\"pid\":42}\n{\"exit\":-1}\n"}, false, 0},
		{"no pid", []string{"{\"pid\":0}\n{\"exit\":0}\n"}, false, 0},
		{"more after the exit", []string{"{\"pid\":42}\n{\"exit\":0}\n{}"}, false, 0},
		{"a long line", []string{strings.Repeat("x", 300) + "\n"}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			den := os.NewFile(uintptr(fds[0]), "den")
			defer den.Close()
			monitor := os.NewFile(uintptr(fds[1]), "monitor")
			go func() {
				defer monitor.Close()
				for i, c := range tc.chunks {
					if i > 0 {
						time.Sleep(20 * time.Millisecond)
					}
					if _, err := monitor.Write([]byte(c)); err != nil {
						return
					}
				}
			}()
			code, ok := Answered(int(den.Fd()))
			if ok != tc.ok || code != tc.code {
				t.Fatalf("answered %v with code %d, want %v with %d", ok, code, tc.ok, tc.code)
			}
			if ok {
				return
			}
			rest, err := io.ReadAll(den)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Join(tc.chunks, ""); string(rest) != want {
				t.Fatalf("the Go side would read %q, want every byte the monitor sent: %q", rest, want)
			}
		})
	}
}
