package runtime

import (
	"encoding/json"
	"os"
	"sync"
	"time"

	"github.com/den-project/den/store/events"
	"github.com/opencontainers/cgroups"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/system"
)

var warmOnce, recordsOnce sync.Once

// WarmRecords has encoding/json build, on another goroutine, what reading and writing
// container records and events needs: nearly every command reads a record first thing, and
// building those by reflection took 0.58 ms of each rm (perf), on its one path.
func WarmRecords() {
	recordsOnce.Do(func() {
		go func() {
			_, _ = json.Marshal(&Container{})
			_, _ = json.Marshal(&events.Event{})
		}()
	})
}

// warmUp does, on another goroutine, what a container's creation and start would otherwise
// each do once in this process, on their one path, while the machine's other CPU waited
// (perf of run -d, CPU per run):
//   - encoding/json builds by reflection the encoders of the types they write and read:
//     den's record, the image's config, the event, libcontainer's config (sent to the
//     init) and state, the held run's handover (1.8 ms);
//   - os checks once whether pidfds work, with a fork of its own, at the first process it
//     starts, runc's (0.4 ms);
//   - libcontainer's cgroup manager reads the cgroup mounts once (0.2 ms, cgroup v1);
//   - libcontainer opens /proc through a private mount of its own, made at its first use:
//     the start's read of the container's start time, while the container waits (0.2 ms);
//   - time loads the local zone at the first time printed (0.1 ms).
//
// Most of it the libraries keep for the rest of the process; what they do not (on cgroup v2,
// the cgroup controllers; /proc where it cannot be mounted privately) is only done twice, the
// first time on the other CPU.
func warmUp() {
	WarmRecords()
	warmOnce.Do(func() {
		go func() {
			for _, v := range []any{&imgspecv1.Image{}, &configs.Config{}, &libcontainer.State{}, &heldHandover{}} {
				_, _ = json.Marshal(v)
			}
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Release()
			}
			_, _ = cgroups.GetCgroupMounts(false)
			_, _ = system.Stat(os.Getpid())
			_, _ = time.Now().Zone()
		}()
	})
}

// WarmCreate begins warmUp now, for a command about to create and start a container (cmd's
// early start of a held run -d), before its command line is parsed.
func WarmCreate() { warmUp() }
