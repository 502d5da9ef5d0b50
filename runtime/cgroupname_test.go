package runtime

import (
	"strings"
	"testing"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs"
)

func TestRootlessCgroupIsNamedUnderDenOnCgroupV1Only(t *testing.T) {
	for _, tc := range []struct {
		what                 string
		cg                   cgroups.Cgroup
		rootless, unified    bool
		wantParent, wantPath string
	}{
		{"rootless, cgroup v1", cgroups.Cgroup{Name: "abc"}, true, false, "/den", ""},
		{"rootless, cgroup v2", cgroups.Cgroup{Name: "abc"}, true, true, "", ""},
		{"root (a path of its own already)", cgroups.Cgroup{Path: "/den/abc"}, false, false, "", "/den/abc"},
		{"root without a path", cgroups.Cgroup{Name: "abc"}, false, false, "", ""},
		{"rootless with a path", cgroups.Cgroup{Path: "/x/abc"}, true, false, "", "/x/abc"},
		{"rootless with a parent", cgroups.Cgroup{Name: "abc", Parent: "/x"}, true, false, "/x", ""},
	} {
		cg := tc.cg
		nameRootlessCgroup(&cg, tc.rootless, tc.unified)
		if cg.Parent != tc.wantParent || cg.Path != tc.wantPath || cg.Name != tc.cg.Name {
			t.Errorf("%s: parent %q path %q name %q, want parent %q path %q name %q",
				tc.what, cg.Parent, cg.Path, cg.Name, tc.wantParent, tc.wantPath, tc.cg.Name)
		}
	}
	nameRootlessCgroup(nil, true, false) // no config: nothing to name
}

// On a cgroup v1 host, libcontainer's manager places the container's cgroup of every
// hierarchy under /den, from the hierarchy's root, as it does as root.
func TestRootlessCgroupPathsOnThisHost(t *testing.T) {
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("cgroup v2 host: the name is left to libcontainer")
	}
	cg := &cgroups.Cgroup{Name: "abc", Rootless: true, Resources: &cgroups.Resources{}}
	nameRootlessCgroup(cg, true, false)
	m, err := fs.NewManager(cg, nil)
	if err != nil {
		t.Fatal(err)
	}
	paths := m.GetPaths()
	if len(paths) == 0 {
		t.Fatal("no cgroup hierarchy found")
	}
	for sub, p := range paths {
		if !strings.HasPrefix(p, "/sys/fs/cgroup/") || !strings.HasSuffix(p, "/den/abc") {
			t.Errorf("hierarchy %q: path %q, want /sys/fs/cgroup/.../den/abc", sub, p)
		}
	}
}
