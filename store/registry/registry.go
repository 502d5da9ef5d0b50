// Package registry owns how den reaches images outside its storage: the containers/image
// system context made from flags and the configuration files podman reads (registries.conf,
// policy.json, certs.d, auth.json), parsing what users type (references, --creds,
// --platform), and logging in to and out of registries. It stores no images itself:
// store/image copies with what it builds. containers/image does the protocol work; written
// here is only the choice of files and the merging of den's own configuration directory
// with the containers ones.
package registry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/den-project/den/config"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// Env is where one invocation finds configuration and keeps caches: den's own
// configuration directories first, then the containers tools' ones.
type Env struct {
	// DenDirs are den's configuration directories, most preferred first
	// ($XDG_CONFIG_HOME/den, /etc/den).
	DenDirs []string
	// ContainersDirs are podman's ($XDG_CONFIG_HOME/containers, /etc/containers).
	ContainersDirs []string
	// Home is the user's home directory, for ~/.config/containers/certs.d.
	Home string
	// AuthFile is the default credentials file; empty leaves containers/image's default,
	// $XDG_RUNTIME_DIR/containers/auth.json, which also reads ~/.docker/config.json.
	AuthFile string
	// CacheDir keeps containers/image's blob-info cache.
	CacheDir string
}

// NewEnv derives the directories from den's paths and the environment.
func NewEnv(p *config.Paths, getenv func(string) string) Env {
	e := Env{Home: getenv("HOME"), CacheDir: filepath.Join(p.DataDir, "cache")}
	for _, f := range p.ConfigFiles {
		e.DenDirs = append(e.DenDirs, filepath.Dir(f))
	}
	if p.Rootless {
		cfg := getenv("XDG_CONFIG_HOME")
		if !filepath.IsAbs(cfg) && e.Home != "" {
			cfg = filepath.Join(e.Home, ".config")
		}
		if cfg != "" {
			e.ContainersDirs = append(e.ContainersDirs, filepath.Join(cfg, "containers"))
		}
	}
	e.ContainersDirs = append(e.ContainersDirs, "/etc/containers")
	e.AuthFile = getenv("REGISTRY_AUTH_FILE")
	if e.AuthFile == "" && p.Rootless && getenv("XDG_RUNTIME_DIR") == "" {
		// Inside den's user namespace the uid is 0, and containers/image would pick root's
		// /run/containers/0/auth.json: keep the credentials in den's own runtime directory.
		e.AuthFile = filepath.Join(p.RuntimeDir, "auth.json")
	}
	return e
}

// Options are the user's choices for one registry operation; zero values mean the
// configuration files' defaults.
type Options struct {
	Env Env
	// TLSVerify, when set, overrides registries.conf's "insecure" for every registry.
	TLSVerify types.OptionalBool
	// CertDir replaces the per-registry certs.d lookup (podman's --cert-dir).
	CertDir string
	// AuthFile replaces Env.AuthFile (--authfile).
	AuthFile string
	// Creds are used for this operation instead of stored credentials (--creds).
	Creds *types.DockerAuthConfig
	// Platform picks the image of a multi-architecture index.
	Platform Platform
}

// SystemContext builds containers/image's view of the configuration. The returned func
// removes what it made and must be called when the operation ends.
func (o *Options) SystemContext() (*types.SystemContext, func(), error) {
	// den never prompts: short names resolve to an alias, else to every
	// unqualified-search registry in order (podman's behaviour without a terminal).
	mode := types.ShortNameModeDisabled
	sys := &types.SystemContext{
		AuthFilePath:                o.Env.AuthFile,
		DockerCertPath:              o.CertDir,
		DockerAuthConfig:            o.Creds,
		DockerInsecureSkipTLSVerify: invert(o.TLSVerify),
		OSChoice:                    o.Platform.OS,
		ArchitectureChoice:          o.Platform.Arch,
		VariantChoice:               o.Platform.Variant,
		BlobInfoCacheDir:            o.Env.CacheDir,
		ShortNameMode:               &mode,
		SystemRegistriesConfPath:    firstExisting(o.Env.DenDirs, "registries.conf"),
		SystemRegistriesConfDirPath: firstExisting(o.Env.DenDirs, "registries.conf.d"),
		SignaturePolicyPath:         firstExisting(append(o.Env.DenDirs, o.Env.ContainersDirs...), "policy.json"),
	}
	if o.AuthFile != "" {
		sys.AuthFilePath = o.AuthFile
	}
	cleanup := func() {}
	if o.CertDir == "" && firstExisting(o.Env.DenDirs, "certs.d") != "" {
		dir, err := o.mergeCertDirs()
		if err != nil {
			return nil, nil, err
		}
		sys.DockerPerHostCertDirPath = dir
		cleanup = func() { os.RemoveAll(dir) }
	}
	return sys, cleanup, nil
}

func invert(b types.OptionalBool) types.OptionalBool {
	switch b {
	case types.OptionalBoolTrue:
		return types.OptionalBoolFalse
	case types.OptionalBoolFalse:
		return types.OptionalBoolTrue
	}
	return types.OptionalBoolUndefined
}

// firstExisting returns name in the first directory that has it, or "".
func firstExisting(dirs []string, name string) string {
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// mergeCertDirs makes one certs.d view where each registry's directory comes from the first
// of den's and the containers tools' certs.d that has it: containers/image takes a single
// per-host directory, and den's own must not hide /etc/containers/certs.d.
func (o *Options) mergeCertDirs() (string, error) {
	var bases []string
	for _, d := range append(append([]string{}, o.Env.DenDirs...), o.Env.ContainersDirs...) {
		bases = append(bases, filepath.Join(d, "certs.d"))
	}
	if o.Env.Home != "" {
		bases = append(bases, filepath.Join(o.Env.Home, ".config", "containers", "certs.d"))
	}
	bases = append(bases, "/etc/docker/certs.d")
	dir, err := os.MkdirTemp("", "den-certs.d-")
	if err != nil {
		return "", fmt.Errorf("preparing certs.d: %w", err)
	}
	for _, b := range bases {
		entries, err := os.ReadDir(b)
		if err != nil {
			continue
		}
		for _, e := range entries {
			link := filepath.Join(dir, e.Name())
			if _, err := os.Lstat(link); err == nil {
				continue
			}
			if err := os.Symlink(filepath.Join(b, e.Name()), link); err != nil {
				os.RemoveAll(dir)
				return "", fmt.Errorf("preparing certs.d: %w", err)
			}
		}
	}
	return dir, nil
}

// PolicyContext reads policy.json from den's directory, else the containers ones; without
// any, every image is accepted, as the policy.json that podman installs says.
func PolicyContext(sys *types.SystemContext) (*signature.PolicyContext, error) {
	var pol *signature.Policy
	if sys.SignaturePolicyPath == "" {
		pol = &signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}}
	} else {
		var err error
		pol, err = signature.NewPolicyFromFile(sys.SignaturePolicyPath)
		if errors.Is(err, fs.ErrNotExist) {
			pol = &signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}}
		} else if err != nil {
			return nil, fmt.Errorf("reading %s: %w", sys.SignaturePolicyPath, err)
		}
	}
	pc, err := signature.NewPolicyContext(pol)
	if err != nil {
		return nil, fmt.Errorf("using signature policy: %w", err)
	}
	return pc, nil
}
