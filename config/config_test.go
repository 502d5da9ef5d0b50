package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseAcceptsAValidFile(t *testing.T) {
	data := `# den settings
[storage]
driver = "vfs"
graphroot = "/srv/den/storage"
runroot = "/run/den-storage"

[engine]
seccomp = false
log_level = "debug"
`
	c, err := Parse("den.toml", []byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Storage.Driver != "vfs" || c.Storage.GraphRoot != "/srv/den/storage" || c.Storage.RunRoot != "/run/den-storage" {
		t.Errorf("storage = %+v", c.Storage)
	}
	if c.Engine.Seccomp == nil || *c.Engine.Seccomp {
		t.Errorf("engine.seccomp = %v, want pointer to false", c.Engine.Seccomp)
	}
	if c.Engine.LogLevel != "debug" {
		t.Errorf("engine.log_level = %q, want debug", c.Engine.LogLevel)
	}
}

func TestParseAcceptsAnEmptyFileAsAllDefaults(t *testing.T) {
	for _, data := range []string{"", "\n\n", "# only a comment\n"} {
		c, err := Parse("den.toml", []byte(data))
		if err != nil {
			t.Fatalf("Parse(%q): %v", data, err)
		}
		if c == nil || c.Storage != (StorageConfig{}) || c.Engine.Seccomp != nil || c.Engine.LogLevel != "" {
			t.Errorf("Parse(%q) = %+v, want the zero Config", data, c)
		}
	}
}

func TestParseLeavesSeccompUnsetWhenTheFileDoesNotMentionIt(t *testing.T) {
	c, err := Parse("den.toml", []byte("[engine]\nlog_level = \"info\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Engine.Seccomp != nil {
		t.Errorf("engine.seccomp = %v, want nil so that den's default applies", *c.Engine.Seccomp)
	}
}

func TestParseAcceptsEveryKnownDriver(t *testing.T) {
	for _, d := range []string{"", "overlay", "vfs"} {
		c, err := Parse("den.toml", []byte("[storage]\ndriver = \""+d+"\"\n"))
		if err != nil {
			t.Errorf("driver %q: %v", d, err)
			continue
		}
		if c.Storage.Driver != d {
			t.Errorf("driver %q parsed as %q", d, c.Storage.Driver)
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name string
		data string
		// want are substrings the error must contain, in order of importance.
		want []string
	}{
		{
			name: "an unknown key with the file, line and dotted key",
			data: "[storage]\ndriverr = \"vfs\"\n",
			want: []string{`den.toml:2: unknown key "storage.driverr"`},
		},
		{
			name: "an unknown key further down the file",
			data: "# comment\n\n[engine]\nlog_level = \"info\"\n\n[storage]\ndriver = \"vfs\"\nsize = 10\n",
			want: []string{`den.toml:8: unknown key "storage.size"`},
		},
		{
			name: "an unknown top-level table",
			data: "[network]\nmode = \"slirp\"\n",
			want: []string{`den.toml:`, `unknown key "network`},
		},
		{
			name: "an unknown key written as a dotted key at the top",
			data: "storage.driverr = \"vfs\"\n",
			want: []string{`den.toml:1: unknown key "storage.driverr"`},
		},
		{
			name: "an unknown key in a table whose header carries a comment",
			data: "[storage] # where images live\ndriverr = \"vfs\"\n",
			want: []string{`den.toml:2: unknown key "storage.driverr"`},
		},
		{
			name: "a number where the driver name belongs, with file, line and key",
			data: "[storage]\ndriver = 5\n",
			want: []string{`den.toml:2:`, `storage.driver`},
		},
		{
			name: "a string where seccomp's boolean belongs",
			data: "[engine]\nlog_level = \"info\"\nseccomp = \"yes\"\n",
			want: []string{`den.toml:3:`, `engine.seccomp`},
		},
		{
			name: "a driver den does not support",
			data: "[storage]\ndriver = \"btrfs\"\n",
			want: []string{`den.toml:2:`, `"btrfs"`, `not supported`},
		},
		{
			name: "fuse-overlayfs, which is chosen automatically, not by name",
			data: "[storage]\ndriver = \"fuse-overlayfs\"\n",
			want: []string{`den.toml:2:`, `"fuse-overlayfs"`},
		},
		{
			name: "a relative graphroot",
			data: "[storage]\ndriver = \"vfs\"\ngraphroot = \"var/lib/den\"\n",
			want: []string{`den.toml:3:`, `storage.graphroot`, `absolute`},
		},
		{
			name: "a relative runroot",
			data: "[storage]\nrunroot = \"./run\"\n",
			want: []string{`den.toml:2:`, `storage.runroot`, `absolute`},
		},
		{
			name: "broken TOML syntax with its line",
			data: "[storage]\ndriver = \"vfs\n",
			want: []string{`den.toml:2:`},
		},
		{
			name: "a table given as a scalar",
			data: "storage = 5\n",
			want: []string{`den.toml:1:`, `storage`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("den.toml", []byte(c.data))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", c.data, cfg)
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q spans several lines; den promises one", msg)
			}
		})
	}
}

func TestParseLabelsErrorsWithTheGivenName(t *testing.T) {
	_, err := Parse("/etc/den/den.toml", []byte("[storage]\nbogus = 1\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "/etc/den/den.toml:2: ") {
		t.Fatalf("err = %v, want it to start with the file name and line", err)
	}
}

func TestResolvePaths(t *testing.T) {
	// The /tmp fallback goes through os.TempDir, which honours TMPDIR.
	t.Setenv("TMPDIR", "")
	cases := []struct {
		name     string
		uid, gid int
		env      map[string]string
		want     Paths
	}{
		{
			name: "rootless with every XDG variable set uses them",
			uid:  1000, gid: 1000,
			env: map[string]string{
				"HOME": "/home/alice", "XDG_DATA_HOME": "/data/alice",
				"XDG_RUNTIME_DIR": "/run/user/1000", "XDG_CONFIG_HOME": "/cfg/alice",
				"XDG_CACHE_HOME": "/cache/alice",
			},
			want: Paths{
				Rootless: true, UID: 1000, GID: 1000,
				DataDir: "/data/alice/den", RuntimeDir: "/run/user/1000/den",
				ConfigFiles: []string{"/cfg/alice/den/den.toml", "/etc/den/den.toml"},
				CacheDir:    "/cache/alice/den",
			},
		},
		{
			name: "rootless without XDG variables falls back to HOME",
			uid:  1000, gid: 100,
			env: map[string]string{"HOME": "/home/alice", "XDG_RUNTIME_DIR": "/run/user/1000"},
			want: Paths{
				Rootless: true, UID: 1000, GID: 100,
				DataDir: "/home/alice/.local/share/den", RuntimeDir: "/run/user/1000/den",
				ConfigFiles: []string{"/home/alice/.config/den/den.toml", "/etc/den/den.toml"},
				CacheDir:    "/home/alice/.cache/den",
			},
		},
		{
			name: "rootless without XDG_RUNTIME_DIR uses a per-uid directory in /tmp",
			uid:  1234, gid: 1234,
			env: map[string]string{"HOME": "/home/bob"},
			want: Paths{
				Rootless: true, UID: 1234, GID: 1234,
				DataDir: "/home/bob/.local/share/den", RuntimeDir: "/tmp/den-run-1234",
				ConfigFiles: []string{"/home/bob/.config/den/den.toml", "/etc/den/den.toml"},
				CacheDir:    "/home/bob/.cache/den",
			},
		},
		{
			name: "rootless with a relative XDG_RUNTIME_DIR or XDG_CACHE_HOME ignores it",
			uid:  1234, gid: 1234,
			env: map[string]string{"HOME": "/home/bob", "XDG_RUNTIME_DIR": "run", "XDG_CACHE_HOME": "cache"},
			want: Paths{
				Rootless: true, UID: 1234, GID: 1234,
				DataDir: "/home/bob/.local/share/den", RuntimeDir: "/tmp/den-run-1234",
				ConfigFiles: []string{"/home/bob/.config/den/den.toml", "/etc/den/den.toml"},
				CacheDir:    "/home/bob/.cache/den",
			},
		},
		{
			name: "rootless with XDG_DATA_HOME but no HOME still works",
			uid:  1000, gid: 1000,
			env: map[string]string{"XDG_DATA_HOME": "/data", "XDG_RUNTIME_DIR": "/run/user/1000"},
			want: Paths{
				Rootless: true, UID: 1000, GID: 1000,
				DataDir: "/data/den", RuntimeDir: "/run/user/1000/den",
				ConfigFiles: []string{"/etc/den/den.toml"},
			},
		},
		{
			name: "root uses the system directories whatever the environment says",
			uid:  0, gid: 0,
			env: map[string]string{"HOME": "/root", "XDG_DATA_HOME": "/elsewhere", "XDG_RUNTIME_DIR": "/run/user/0"},
			want: Paths{
				Rootless: false, UID: 0, GID: 0,
				DataDir: "/var/lib/den", RuntimeDir: "/run/den",
				ConfigFiles: []string{"/etc/den/den.toml"},
				CacheDir:    "/root/.cache/den",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ResolvePaths(c.uid, c.gid, func(k string) string { return c.env[k] })
			if err != nil {
				t.Fatalf("ResolvePaths: %v", err)
			}
			if p.Rootless != c.want.Rootless || p.UID != c.want.UID || p.GID != c.want.GID {
				t.Errorf("identity = rootless %v uid %d gid %d, want %v %d %d",
					p.Rootless, p.UID, p.GID, c.want.Rootless, c.want.UID, c.want.GID)
			}
			if p.DataDir != c.want.DataDir {
				t.Errorf("DataDir = %q, want %q", p.DataDir, c.want.DataDir)
			}
			if p.RuntimeDir != c.want.RuntimeDir {
				t.Errorf("RuntimeDir = %q, want %q", p.RuntimeDir, c.want.RuntimeDir)
			}
			if p.CacheDir != c.want.CacheDir {
				t.Errorf("CacheDir = %q, want %q", p.CacheDir, c.want.CacheDir)
			}
			if strings.Join(p.ConfigFiles, ",") != strings.Join(c.want.ConfigFiles, ",") {
				t.Errorf("ConfigFiles = %q, want %q", p.ConfigFiles, c.want.ConfigFiles)
			}
		})
	}
}

func TestResolvePathsRejects(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    string
		notWant string
	}{
		{"a relative XDG_DATA_HOME", map[string]string{"HOME": "/home/a", "XDG_DATA_HOME": "data"}, "XDG_DATA_HOME", ""},
		{"neither XDG_DATA_HOME nor HOME", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, "HOME", ""},
		// XDG_DATA_HOME is unset here, so blaming it would send the user to the wrong variable.
		{"a relative HOME, naming HOME and not XDG_DATA_HOME", map[string]string{"HOME": "home/a"}, "HOME", "XDG_DATA_HOME"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ResolvePaths(1000, 1000, func(k string) string { return c.env[k] })
			if err == nil {
				t.Fatalf("ResolvePaths = %+v, want an error", p)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %s", err, c.want)
			}
			if c.notWant != "" && strings.Contains(err.Error(), c.notWant) {
				t.Errorf("error %q blames %s", err, c.notWant)
			}
		})
	}
}

func TestResolvePathsNeverReturnsARelativeConfigFile(t *testing.T) {
	// A relative XDG_CONFIG_HOME would make den read den.toml from wherever it was started;
	// the XDG spec says such a value is to be ignored.
	env := map[string]string{"HOME": "/home/a", "XDG_CONFIG_HOME": "cfg", "XDG_RUNTIME_DIR": "/run/user/1000"}
	p, err := ResolvePaths(1000, 1000, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("ResolvePaths: %v", err)
	}
	for _, f := range p.ConfigFiles {
		if !filepath.IsAbs(f) {
			t.Errorf("config file %q is relative; ConfigFiles = %q", f, p.ConfigFiles)
		}
	}
}

func TestStorageRoots(t *testing.T) {
	p := &Paths{DataDir: "/data/den", RuntimeDir: "/run/user/1000/den"}
	cases := []struct {
		name            string
		cfg             *Config
		wantGraph, want string
	}{
		{"default to the data and runtime directories without a config", nil, "/data/den/storage", "/run/user/1000/den/storage"},
		{"default to the data and runtime directories with an empty config", &Config{}, "/data/den/storage", "/run/user/1000/den/storage"},
		{"use graphroot alone when only it is set", &Config{Storage: StorageConfig{GraphRoot: "/g"}}, "/g", "/run/user/1000/den/storage"},
		{"use runroot alone when only it is set", &Config{Storage: StorageConfig{RunRoot: "/r"}}, "/data/den/storage", "/r"},
		{"use both overrides", &Config{Storage: StorageConfig{GraphRoot: "/g", RunRoot: "/r"}}, "/g", "/r"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, r := p.StorageRoots(c.cfg)
			if g != c.wantGraph || r != c.want {
				t.Errorf("StorageRoots = %q, %q; want %q, %q", g, r, c.wantGraph, c.want)
			}
		})
	}
}

// FuzzParse checks that no den.toml makes Parse panic and that whatever it accepts is
// something den can act on.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"[storage]\ndriver = \"vfs\"\n",
		"[storage]\ndriver = \"overlay\"\ngraphroot = \"/g\"\nrunroot = \"/r\"\n",
		"[engine]\nseccomp = true\nlog_level = \"warn\"\n",
		"[storage]\ndriverr = 1\n",
		"[storage] # c\ndriver = 5\n",
		"storage.driver = \"vfs\"\n",
		"storage = { driver = \"vfs\" }\n",
		"[[storage]]\n",
		"x = [\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		c, err := Parse("den.toml", []byte(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "den.toml") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if !knownDrivers[c.Storage.Driver] {
			t.Errorf("accepted unknown driver %q from %q", c.Storage.Driver, data)
		}
		for _, p := range []string{c.Storage.GraphRoot, c.Storage.RunRoot} {
			if p != "" && !filepath.IsAbs(p) {
				t.Errorf("accepted relative storage path %q from %q", p, data)
			}
		}
	})
}
