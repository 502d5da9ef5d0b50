package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/den-project/den/runtime/initexec"
	"github.com/den-project/den/runtime/security"
	"github.com/den-project/den/runtime/userns"
	"github.com/den-project/den/store"
	"golang.org/x/sys/unix"
)

// Info describes the host as den sees it. It is gathered without entering a namespace.
type Info struct {
	Host    HostInfo  `json:"host" yaml:"host"`
	Store   StoreInfo `json:"store" yaml:"store"`
	Version string    `json:"version" yaml:"version"`
}

// HostInfo is the host part of Info.
type HostInfo struct {
	Kernel      string       `json:"kernel" yaml:"kernel"`
	OS          string       `json:"os" yaml:"os"`
	Arch        string       `json:"arch" yaml:"arch"`
	Rootless    bool         `json:"rootless" yaml:"rootless"`
	UID         int          `json:"uid" yaml:"uid"`
	IDMappings  *IDMappings  `json:"idMappings,omitempty" yaml:"idMappings,omitempty"`
	IDMapError  string       `json:"idMapError,omitempty" yaml:"idMapError,omitempty"`
	Slirp4netns HelperInfo   `json:"slirp4netns" yaml:"slirp4netns"`
	NewUIDMap   HelperInfo   `json:"newuidmap" yaml:"newuidmap"`
	Security    SecurityInfo `json:"security" yaml:"security"`
	RuntimeDir  string       `json:"runtimeDir" yaml:"runtimeDir"`
	// ContainerInit is the program a container's init runs: den-init, built into den, or
	// den itself when it was built without it (a plain go build).
	ContainerInit string `json:"containerInit" yaml:"containerInit"`
	// ImageCopy is the program that copies images (load, import, save, pull, push, login,
	// logout): the whole den carried by den's core build, or den itself.
	ImageCopy string `json:"imageCopy" yaml:"imageCopy"`
	// ContainerMonitor is the program a detached container's monitor runs: den-monitor,
	// carried by den's core build, or den itself.
	ContainerMonitor string `json:"containerMonitor" yaml:"containerMonitor"`
}

// IDMappings are the ranges den maps into its user namespace.
type IDMappings struct {
	UIDMap []userns.Mapping `json:"uidmap" yaml:"uidmap"`
	GIDMap []userns.Mapping `json:"gidmap" yaml:"gidmap"`
}

// HelperInfo says whether an external helper was found.
type HelperInfo struct {
	Path  string `json:"path" yaml:"path"`
	Found bool   `json:"found" yaml:"found"`
}

// SecurityInfo lists the isolation defaults in force.
type SecurityInfo struct {
	Seccomp             bool `json:"seccompEnabled" yaml:"seccompEnabled"`
	DefaultCapabilities int  `json:"defaultCapabilityCount" yaml:"defaultCapabilityCount"`
}

// StoreInfo is the storage part of Info.
type StoreInfo struct {
	GraphDriverName string `json:"graphDriverName" yaml:"graphDriverName"`
	OverlayMode     string `json:"overlayMode,omitempty" yaml:"overlayMode,omitempty"`
	GraphRoot       string `json:"graphRoot" yaml:"graphRoot"`
	RunRoot         string `json:"runRoot" yaml:"runRoot"`
	DataDir         string `json:"dataDir" yaml:"dataDir"`
	ConfigFile      string `json:"configFile,omitempty" yaml:"configFile,omitempty"`
	Containers      int    `json:"containers" yaml:"containers"`
}

// Info gathers the report of `den info`.
func (r *Runtime) Info(version string) Info {
	var u unix.Utsname
	_ = unix.Uname(&u)
	graph, run := r.Paths.StorageRoots(r.Config)
	in := Info{Version: version}
	in.Host = HostInfo{
		Kernel: unix.ByteSliceToString(u.Release[:]), OS: goruntime.GOOS, Arch: goruntime.GOARCH,
		Rootless: r.Paths.Rootless, UID: r.Paths.UID, RuntimeDir: r.Paths.RuntimeDir,
		Slirp4netns: helper("slirp4netns"), NewUIDMap: helper("newuidmap"),
		Security: SecurityInfo{
			Seccomp:             r.Config == nil || r.Config.Engine.Seccomp == nil || *r.Config.Engine.Seccomp,
			DefaultCapabilities: len(security.DefaultCapabilities),
		},
		ContainerInit: "den (den-init is not built in: build with make)",
	}
	if n := initexec.Size(); n > 0 {
		in.Host.ContainerInit = fmt.Sprintf("den-init (%.1f MB, built in)", float64(n)/1e6)
	}
	in.Host.ImageCopy = "den (this binary)"
	if n := initexec.TransferSize(); n > 0 {
		in.Host.ImageCopy = fmt.Sprintf("den-transfer (%.1f MB, built in)", float64(n)/1e6)
	}
	in.Host.ContainerMonitor = "den (this binary)"
	if n := initexec.MonitorSize(); n > 0 {
		in.Host.ContainerMonitor = fmt.Sprintf("den-monitor (%.1f MB, built in)", float64(n)/1e6)
	}
	if r.Paths.Rootless && !userns.InChild() {
		if m, err := userns.LookupMaps(); err == nil {
			in.Host.IDMappings = &IDMappings{UIDMap: m.UID, GIDMap: m.GID}
		} else {
			in.Host.IDMapError = err.Error()
		}
	}
	in.Store = StoreInfo{GraphRoot: graph, RunRoot: run, DataDir: r.Paths.DataDir}
	if b, err := os.ReadFile(filepath.Join(graph, "den-driver")); err == nil {
		d := strings.TrimSpace(string(b))
		in.Store.GraphDriverName = d
		switch d {
		case store.DriverOverlay:
			in.Store.OverlayMode = "native"
		case store.DriverFuseOverlay:
			in.Store.GraphDriverName, in.Store.OverlayMode = "overlay", "fuse-overlayfs"
		}
	} else {
		in.Store.GraphDriverName = "not chosen yet (first image load picks overlay, fuse-overlayfs or vfs)"
	}
	if len(r.Paths.ConfigFiles) > 0 {
		for _, f := range r.Paths.ConfigFiles {
			if _, err := os.Stat(f); err == nil {
				in.Store.ConfigFile = f
				break
			}
		}
	}
	if cs, err := r.recs.list(); err == nil {
		in.Store.Containers = len(cs)
	}
	return in
}

func helper(name string) HelperInfo {
	p, err := exec.LookPath(name)
	if err != nil {
		return HelperInfo{Path: name, Found: false}
	}
	return HelperInfo{Path: p, Found: true}
}
