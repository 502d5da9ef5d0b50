package runtime

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// PauseUnsupported says why den cannot pause (verb: "pausing") or unpause containers on this
// host. Rootless den gives containers no cgroup of their own, and cgroup v1 delegates no
// freezer to unprivileged users; as root, freezing through the container's holder is not
// implemented yet.
func PauseUnsupported(verb string, rootless bool) error {
	b, _ := os.ReadFile("/proc/self/cgroup")
	v2, v1Freezer := cgroupSetup(string(b))
	switch {
	case rootless && !v2:
		return fmt.Errorf("%s containers needs a cgroup freezer, which rootless den does not have on this host (cgroup v1): use den stop and den start instead", verb)
	case rootless:
		return fmt.Errorf("%s containers needs a cgroup freezer, and rootless den does not give containers a cgroup v2 of their own yet: use den stop and den start instead", verb)
	case !v2 && !v1Freezer:
		return fmt.Errorf("%s containers needs a cgroup freezer, and this host mounts none: use den stop and den start instead", verb)
	}
	return fmt.Errorf("%s containers is not supported by den yet: use den stop and den start instead", verb)
}

// cgroupSetup reads /proc/self/cgroup: whether the host is on the unified hierarchy alone
// (cgroup v2, where every cgroup has cgroup.freeze), and whether a v1 freezer hierarchy is
// mounted.
func cgroupSetup(procCgroup string) (v2, v1Freezer bool) {
	v1 := false
	sc := bufio.NewScanner(strings.NewReader(procCgroup))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[0] == "0" && f[1] == "" {
			v2 = true
			continue
		}
		v1 = true
		for _, ctl := range strings.Split(f[1], ",") {
			if ctl == "freezer" {
				v1Freezer = true
			}
		}
	}
	return v2 && !v1, v1Freezer
}
