package earlyexec

import (
	"testing"

	"github.com/den-project/den/config"
)

// The constructor finds a container's runtime directory with its own reading of den's
// directories: it must be config.ResolvePaths', or refuse where that refuses.
func TestDirsAreConfigsPaths(t *testing.T) {
	for _, tc := range []struct {
		name string
		uid  int
		env  map[string]string
	}{
		{"home only", 1000, map[string]string{"HOME": "/home/a"}},
		{"XDG dirs", 1000, map[string]string{"HOME": "/home/a", "XDG_DATA_HOME": "/data", "XDG_RUNTIME_DIR": "/run/user/1000"}},
		{"no runtime dir: TMPDIR", 1000, map[string]string{"HOME": "/home/a", "TMPDIR": "/var/tmp"}},
		{"no runtime dir, no TMPDIR", 1001, map[string]string{"HOME": "/home/b"}},
		{"empty TMPDIR", 1001, map[string]string{"HOME": "/home/b", "TMPDIR": ""}},
		{"relative runtime dir is ignored", 1000, map[string]string{"HOME": "/home/a", "XDG_RUNTIME_DIR": "run"}},
		{"empty XDG_DATA_HOME", 1000, map[string]string{"HOME": "/home/a", "XDG_DATA_HOME": ""}},
		{"XDG_DATA_HOME without HOME", 1000, map[string]string{"XDG_DATA_HOME": "/data"}},
		{"relative HOME", 1000, map[string]string{"HOME": "home"}},
		{"relative XDG_DATA_HOME", 1000, map[string]string{"HOME": "/home/a", "XDG_DATA_HOME": "data"}},
		{"neither HOME nor XDG_DATA_HOME", 1000, map[string]string{}},
		{"root", 0, map[string]string{"HOME": "/root", "XDG_RUNTIME_DIR": "/run/user/0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp, set := tc.env["TMPDIR"]
			if !set {
				tmp = ""
			}
			t.Setenv("TMPDIR", tmp) // config reads it through os.TempDir
			data, run, ok := Dirs(tc.uid, tc.env)
			p, err := config.ResolvePaths(tc.uid, tc.uid, func(k string) string { return tc.env[k] })
			if (err == nil) != ok {
				t.Fatalf("the constructor takes it: %v; config: %v", ok, err)
			}
			if ok && (data != p.DataDir || run != p.RuntimeDir) {
				t.Errorf("the constructor reads %s and %s, config %s and %s", data, run, p.DataDir, p.RuntimeDir)
			}
		})
	}
}
