package earlyexec

import (
	"testing"

	"github.com/den-project/den/config"
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
