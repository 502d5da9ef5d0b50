// Package events is den's event bus: an append-only log of JSON lines in podman's event format,
// kept under the data directory. Any den process publishes by appending one line; `den events`,
// and den itself (wait, restart policies, healthchecks, compose dependency waits), read the log
// or follow it with inotify instead of polling state files.
//
// On disk, in Log.Dir:
//
//	events.log     the current file: one JSON object per line
//	events.log.1   the file before it, kept after a rotation (one old file, no more)
//	events.lock    flock(2)ed by a writer that rotates, so two writers never rotate twice
//
// Appends take no lock: each line is one write(2) on a file opened O_APPEND, which the kernel
// places at the end whole, so lines from concurrent processes never interleave. A writer that
// opened events.log just before a rotation writes into events.log.1, which readers still read.
// The log is best effort: it is not fsynced, and a crash can lose the last events.
//
// fsnotify does the watching; the format, the rotation and the tailing across rotations are
// written here, since no library keeps a multi-process, size-capped JSON-lines log.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/den-project/den/store/record"
)

// Event is one thing that happened, with podman's JSON field names.
type Event struct {
	// ID is the container's, image's, volume's or network's id. It comes first in every line,
	// which lets a reader find the start of a line written after a torn one.
	ID    string `json:"ID"`
	Name  string `json:"Name,omitempty"`
	Image string `json:"Image,omitempty"`
	// Status is what happened: one of the Status constants.
	Status string    `json:"Status"`
	Time   time.Time `json:"Time"`
	// Type is what it happened to: one of the Type constants.
	Type string `json:"Type"`
	// Attributes hold the image, the name and the labels of a container, and what else a
	// publisher wants readers to filter on.
	Attributes map[string]string `json:"Attributes,omitempty"`
	// ContainerExitCode is set on died events.
	ContainerExitCode *int `json:"ContainerExitCode,omitempty"`
	// HealthStatus is set on health_status events: healthy, unhealthy or starting.
	HealthStatus string `json:"HealthStatus,omitempty"`
}

// Types of events.
const (
	TypeContainer = "container"
	TypeImage     = "image"
	TypeVolume    = "volume"
	TypeNetwork   = "network"
	TypeSystem    = "system"
	TypePod       = "pod"
)

// Statuses of events, as podman names them.
const (
	StatusCreate       = "create"
	StatusInit         = "init"
	StatusStart        = "start"
	StatusAttach       = "attach"
	StatusExec         = "exec"
	StatusExecDied     = "exec_died"
	StatusDied         = "died"
	StatusStop         = "stop"
	StatusKill         = "kill"
	StatusPause        = "pause"
	StatusUnpause      = "unpause"
	StatusRestart      = "restart"
	StatusRemove       = "remove"
	StatusCleanup      = "cleanup"
	StatusHealthStatus = "health_status"
	StatusRename       = "rename"
	StatusPull         = "pull"
	StatusLoad         = "load"
	StatusTag          = "tag"
	StatusUntag        = "untag"
	StatusImport       = "import"
	// A container joining or leaving a network (Type network).
	StatusConnect    = "connect"
	StatusDisconnect = "disconnect"
)

// DefaultMaxSize is the size past which events.log is rotated when Log.MaxSize is zero.
const DefaultMaxSize int64 = 1 << 20

const (
	logName  = "events.log"
	oldName  = "events.log.1"
	lockName = "events.lock"
)

// Log is the event log in Dir. Its methods are safe to call from any number of goroutines and
// processes at once.
type Log struct {
	Dir string
	// MaxSize is the size in bytes past which an append rotates events.log; zero means
	// DefaultMaxSize.
	MaxSize int64
}

// New returns the log kept under den's data directory.
func New(dataDir string) *Log {
	return &Log{Dir: filepath.Join(dataDir, "events"), MaxSize: DefaultMaxSize}
}

func (l *Log) maxSize() int64 {
	if l.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return l.MaxSize
}

// Append publishes ev, and more after it, stamping each with the current time when its Time
// is zero. They go in one write: lines of one lifecycle step (a start's init and start) cost
// one append, and no other writer's line comes between them. It creates Dir when missing.
func (l *Log) Append(ev Event, more ...Event) error {
	var line []byte
	for _, e := range append([]Event{ev}, more...) {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encoding %s event: %w", e.Status, err)
		}
		line = append(append(line, b...), '\n')
	}
	path := filepath.Join(l.Dir, logName)
	f, err := openAppend(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(l.Dir, 0o700); err != nil {
			return fmt.Errorf("creating the event log directory: %w", err)
		}
		f, err = openAppend(path)
	}
	if err != nil {
		return fmt.Errorf("opening the event log: %w", err)
	}
	// One write: O_APPEND moves to the end and writes the whole line as one step, so lines of
	// concurrent writers never mix. (os.File.Write makes one write(2) on a regular file unless
	// the kernel takes less, which only a full disk does.)
	_, err = f.Write(line)
	var size int64
	if st, serr := f.Stat(); serr == nil {
		size = st.Size()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing to the event log %s: %w", path, err)
	}
	if size > l.maxSize() {
		return l.rotate()
	}
	return nil
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
}

// rotate renames events.log to events.log.1, replacing the old one. The lock and the second
// look at the size make concurrent writers that all saw a full file rotate it once.
func (l *Log) rotate() error {
	lk, err := record.Acquire(filepath.Join(l.Dir, lockName))
	if err != nil {
		return fmt.Errorf("rotating the event log: %w", err)
	}
	defer lk.Release()
	path := filepath.Join(l.Dir, logName)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rotating the event log: %w", err)
	}
	if st.Size() <= l.maxSize() {
		return nil
	}
	if err := os.Rename(path, filepath.Join(l.Dir, oldName)); err != nil {
		return fmt.Errorf("rotating the event log: %w", err)
	}
	return nil
}
