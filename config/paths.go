package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/den-project/den/store/record"
)

// Paths says where den keeps its state. Persistent state (storage, container records, the
// event log) lives in DataDir; state that must not survive a reboot (locks, mounts, sockets)
// lives in RuntimeDir.
type Paths struct {
	Rootless    bool
	UID, GID    int
	DataDir     string
	RuntimeDir  string
	ConfigFiles []string
	// CacheDir holds the programs den carries and keeps as files to run them from (the whole
	// den, den-monitor; runtime/initexec's handover.c finds it the same way, before Go):
	// $XDG_CACHE_HOME/den, else ~/.cache/den, as root too; "" when neither is set.
	CacheDir string
}

// ResolvePaths derives den's directories from the environment, without creating anything.
// Rootless: $XDG_DATA_HOME/den (default ~/.local/share/den) and $XDG_RUNTIME_DIR/den. Root:
// /var/lib/den and /run/den. Inside den's own user namespace the uid is 0 but the paths are the
// invoking user's, so callers pass the host uid they were started as.
func ResolvePaths(hostUID, hostGID int, env func(string) string) (*Paths, error) {
	p := &Paths{UID: hostUID, GID: hostGID, Rootless: hostUID != 0, CacheDir: cacheDir(env)}
	if !p.Rootless {
		p.DataDir = "/var/lib/den"
		p.RuntimeDir = "/run/den"
		p.ConfigFiles = []string{"/etc/den/den.toml"}
		return p, nil
	}
	home := env("HOME")
	if home != "" && !filepath.IsAbs(home) {
		return nil, fmt.Errorf("HOME %q is not an absolute path: set HOME to your home directory", home)
	}
	data := env("XDG_DATA_HOME")
	if data != "" && !filepath.IsAbs(data) {
		return nil, fmt.Errorf("XDG_DATA_HOME %q is not an absolute path", data)
	}
	if data == "" {
		if home == "" {
			return nil, errors.New("neither XDG_DATA_HOME nor HOME is set: set HOME to your home directory")
		}
		data = filepath.Join(home, ".local", "share")
	}
	// The XDG spec says relative values are to be ignored.
	cfg := env("XDG_CONFIG_HOME")
	if !filepath.IsAbs(cfg) {
		cfg = ""
		if home != "" {
			cfg = filepath.Join(home, ".config")
		}
	}
	p.DataDir = filepath.Join(data, "den")
	if run := env("XDG_RUNTIME_DIR"); run != "" && filepath.IsAbs(run) {
		p.RuntimeDir = filepath.Join(run, "den")
	} else {
		// su, runuser and CI jobs have no logind session and so no XDG_RUNTIME_DIR.
		p.RuntimeDir = filepath.Join(os.TempDir(), "den-run-"+strconv.Itoa(hostUID))
	}
	if cfg != "" {
		p.ConfigFiles = append(p.ConfigFiles, filepath.Join(cfg, "den", "den.toml"))
	}
	p.ConfigFiles = append(p.ConfigFiles, "/etc/den/den.toml")
	return p, nil
}

// cacheDir is CacheDir: a relative XDG_CACHE_HOME or HOME is ignored, as handover.c does.
func cacheDir(env func(string) string) string {
	if c := env("XDG_CACHE_HOME"); filepath.IsAbs(c) {
		return filepath.Join(c, "den")
	}
	if h := env("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".cache", "den")
	}
	return ""
}

// EnsureRuntimeDir creates the runtime directory 0700 and refuses one that another user
// owns or that is a symlink (the /tmp fallback is shared ground). It reports whether the
// machine booted since the directory last saw den, so stale "running" states are reconciled.
func (p *Paths) EnsureRuntimeDir() (rebooted bool, err error) {
	if err := os.MkdirAll(filepath.Dir(p.RuntimeDir), 0o755); err != nil {
		return false, fmt.Errorf("creating runtime directory: %w", err)
	}
	if err := os.Mkdir(p.RuntimeDir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return false, fmt.Errorf("creating runtime directory: %w", err)
	}
	fi, err := os.Lstat(p.RuntimeDir)
	if err != nil {
		return false, fmt.Errorf("checking runtime directory: %w", err)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || st == nil || (int(st.Uid) != p.UID && int(st.Uid) != os.Geteuid()) {
		return false, fmt.Errorf("runtime directory %s is not a directory owned by uid %d: remove it or set XDG_RUNTIME_DIR", p.RuntimeDir, p.UID)
	}
	if fi.Mode().Perm()&0o077 != 0 && p.Rootless {
		if err := os.Chmod(p.RuntimeDir, 0o700); err != nil {
			return false, fmt.Errorf("securing runtime directory: %w", err)
		}
	}
	boot, err := BootID()
	if err != nil {
		return false, err
	}
	rec := filepath.Join(p.RuntimeDir, "boot-id")
	old, err := os.ReadFile(rec)
	if err == nil && bytes.Equal(bytes.TrimSpace(old), []byte(boot)) {
		return false, nil
	}
	// Many den commands may start at once after a reboot: each writes its own temp file.
	if err := record.WriteFile(rec, []byte(boot+"\n"), 0o600); err != nil {
		return false, fmt.Errorf("recording boot id: %w", err)
	}
	return len(old) > 0, nil
}

// BootID identifies the current boot of the kernel.
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("reading boot id: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// StorageRoots returns the containers/storage graph and run roots.
func (p *Paths) StorageRoots(c *Config) (graph, run string) {
	graph, run = filepath.Join(p.DataDir, "storage"), filepath.Join(p.RuntimeDir, "storage")
	if c != nil && c.Storage.GraphRoot != "" {
		graph = c.Storage.GraphRoot
	}
	if c != nil && c.Storage.RunRoot != "" {
		run = c.Storage.RunRoot
	}
	return graph, run
}
