// Package config owns den's settings: where state lives on disk (Paths) and the optional
// den.toml file. It reads the environment and files only; it creates nothing except the
// runtime directory fallback, which must exist before any lock can be taken in it.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is den.toml. Every field is optional; zero values mean "den's default".
type Config struct {
	Storage StorageConfig `toml:"storage"`
	Engine  EngineConfig  `toml:"engine"`
}

// StorageConfig selects the containers/storage driver.
type StorageConfig struct {
	// Driver is "overlay", "vfs" or empty for automatic choice (overlay, then
	// fuse-overlayfs, then vfs).
	Driver string `toml:"driver"`
	// GraphRoot overrides where images and layers live.
	GraphRoot string `toml:"graphroot"`
	// RunRoot overrides where storage keeps its runtime state.
	RunRoot string `toml:"runroot"`
}

// EngineConfig holds runtime defaults.
type EngineConfig struct {
	// Seccomp turns the default seccomp profile on (the default) or off.
	Seccomp *bool `toml:"seccomp"`
	// LogLevel is logrus's level name for den's own diagnostics.
	LogLevel string `toml:"log_level"`
}

var typeErrRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)`)

var knownDrivers = map[string]bool{"": true, "overlay": true, "vfs": true}

// Parse reads den.toml's contents. name labels errors; an unknown key or a wrong type is an
// error naming the file, the line and the key.
func Parse(name string, data []byte) (*Config, error) {
	var c Config
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("%s:%d: %s", name, perr.Position.Line, oneLine(perr.Message))
		}
		// Type mismatches come back as plain errors: "toml: line 2 (last key "a.b"): ...".
		if m := typeErrRE.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: key %q: %s", name, m[1], m[2], oneLine(m[3]))
		}
		return nil, fmt.Errorf("%s: %s", name, oneLine(strings.TrimPrefix(err.Error(), "toml: ")))
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		key := undec[0]
		line := lineOfKey(data, key)
		return nil, fmt.Errorf("%s:%d: unknown key %q: remove it or check its spelling", name, line, key.String())
	}
	if !knownDrivers[c.Storage.Driver] {
		return nil, fmt.Errorf("%s:%d: storage.driver %q is not supported: use \"overlay\" or \"vfs\"",
			name, lineOfKey(data, toml.Key{"storage", "driver"}), c.Storage.Driver)
	}
	for _, p := range []struct{ key, val string }{{"graphroot", c.Storage.GraphRoot}, {"runroot", c.Storage.RunRoot}} {
		if p.val != "" && !filepath.IsAbs(p.val) {
			return nil, fmt.Errorf("%s:%d: storage.%s %q must be an absolute path",
				name, lineOfKey(data, toml.Key{"storage", p.key}), p.key, p.val)
		}
	}
	return &c, nil
}

// oneLine keeps toml's multi-line diagnostics to the single line den promises.
func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// lineOfKey finds the line that sets the last element of key inside its table, for error
// messages only; 0 when it cannot tell.
func lineOfKey(data []byte, key toml.Key) int {
	table := strings.Join(key[:len(key)-1], ".")
	leaf := key[len(key)-1]
	cur := ""
	for i, raw := range strings.Split(string(data), "\n") {
		l, _, _ := strings.Cut(raw, "#")
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			cur = strings.Trim(l, "[] \t")
			continue
		}
		k, _, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		k = strings.Trim(strings.TrimSpace(k), `"'`)
		if (cur == table && k == leaf) || (cur == "" && k == key.String()) {
			return i + 1
		}
	}
	if len(key) > 1 {
		return lineOfKey(data, key[:len(key)-1])
	}
	return 0
}

// Load finds and parses den.toml: $XDG_CONFIG_HOME/den/den.toml (or ~/.config) for a
// normal user, then /etc/den/den.toml. The first file that exists wins; none is fine.
func Load(p *Paths) (*Config, string, error) {
	for _, f := range p.ConfigFiles {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, f, fmt.Errorf("reading config %s: %w", f, err)
		}
		c, err := Parse(f, data)
		return c, f, err
	}
	return &Config{}, "", nil
}
