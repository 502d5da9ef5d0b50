package main

import (
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
)

// den-monitor is den's runtime without the rest: what it links is what a monitor holds in
// memory for as long as its container runs.
func TestMonitorLinksNeitherTheCommandLineNorImageCopying(t *testing.T) {
	tags := ""
	for _, f := range strings.Fields(os.Getenv("GOFLAGS")) {
		if v, ok := strings.CutPrefix(f, "-tags="); ok {
			tags = v + ","
		}
	}
	gobin := filepath.Join(goruntime.GOROOT(), "bin", "go")
	out, err := exec.Command(gobin, "list", "-deps", "-tags", tags+"den_core,den_monitor",
		"github.com/den-project/den/runtime/monitorbin").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/opencontainers/runc/libcontainer") {
		t.Fatalf("go list gave no libcontainer among den-monitor's dependencies: %.300s", out)
	}
	for _, p := range []string{
		"github.com/den-project/den/cmd", "github.com/urfave/cli/v2",
		"go.podman.io/image/v5/copy", "github.com/den-project/den/store/registry",
	} {
		if slices.Contains(deps, p) {
			t.Errorf("den-monitor links %s", p)
		}
	}
}
