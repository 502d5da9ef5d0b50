package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Read returns the events in the log that match filter, happened after since and before until,
// oldest file first and in the order they were appended. A zero since or until is no bound.
// Lines that are not events (a torn write) are skipped. A missing log holds no events.
func (l *Log) Read(filter Filter, since, until time.Time) ([]Event, error) {
	if _, err := os.Stat(l.Dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var out []Event
	r := &reader{dir: l.Dir, since: since}
	defer r.close()
	emit := func(ev Event) bool {
		if filter.Match(ev) && (until.IsZero() || ev.Time.Before(until)) {
			out = append(out, ev)
		}
		return true
	}
	if _, err := r.catchUp(emit); err != nil {
		return nil, err
	}
	// A last line without its newline is an event whose write is still under way, or was cut
	// short: take it if it is whole.
	for _, t := range r.tails {
		if ev, ok := decode(t.partial); ok && r.wanted(ev) {
			emit(ev)
		}
	}
	return out, nil
}

// Follow calls fn with the events that match filter and happened after since: first those
// already in the log, then each one as it is appended, across rotations, until ctx ends or fn
// returns false. Both are a normal end and return nil. The backlog is read after the watch is
// set up, so no event appended after fn was first called is missed. Follow creates Dir when
// missing, to watch it. A reader kept from reading (fn blocking) while the log rotates twice
// loses the file in between.
func (l *Log) Follow(ctx context.Context, filter Filter, since time.Time, fn func(Event) bool) error {
	if err := os.MkdirAll(l.Dir, 0o700); err != nil {
		return fmt.Errorf("creating the event log directory: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching the event log: %w", err)
	}
	defer w.Close()
	if err := w.Add(l.Dir); err != nil {
		return fmt.Errorf("watching the event log in %s: %w", l.Dir, err)
	}
	r := &reader{dir: l.Dir, since: since}
	defer r.close()
	emit := func(ev Event) bool {
		if !filter.Match(ev) {
			return true
		}
		return fn(ev)
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		more, err := r.catchUp(emit)
		if err != nil || !more {
			return err
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev, ok := <-w.Events:
				if !ok {
					return nil
				}
				if name := filepath.Base(ev.Name); name == logName || name == oldName {
					break wait
				}
			case err, ok := <-w.Errors:
				if !ok {
					return nil
				}
				// A full inotify queue lost some notices: reading again catches up.
				if !errors.Is(err, fsnotify.ErrEventOverflow) {
					return fmt.Errorf("watching the event log in %s: %w", l.Dir, err)
				}
				break wait
			}
		}
	}
}

// reader reads the log's files as they grow and rotate. It keeps each file it has opened
// until that file is neither events.log nor events.log.1 any more, so lines written into a
// file after it was rotated are still read, and a file is never read twice.
type reader struct {
	dir   string
	since time.Time
	// tails are the open files, oldest first.
	tails []*tail
}

// tail is one open file of the log and the line being written at its end.
type tail struct {
	f       *os.File
	dev     uint64
	ino     uint64
	partial []byte
}

func (r *reader) wanted(ev Event) bool { return ev.Time.After(r.since) }

func (r *reader) close() {
	for _, t := range r.tails {
		t.f.Close()
	}
	r.tails = nil
}

// catchUp reads what was appended since the last call, and opens the files that rotations
// put in place. It returns false when emit does.
func (r *reader) catchUp(emit func(Event) bool) (bool, error) {
	for _, t := range r.tails {
		if more, err := r.drain(t, emit); err != nil || !more {
			return more, err
		}
	}
	cur, curOK := fileID(filepath.Join(r.dir, logName))
	old, oldOK := fileID(filepath.Join(r.dir, oldName))
	kept := r.tails[:0]
	for _, t := range r.tails {
		id := [2]uint64{t.dev, t.ino}
		if (curOK && id == cur) || (oldOK && id == old) {
			kept = append(kept, t)
		} else {
			t.f.Close()
		}
	}
	r.tails = kept
	// events.log before events.log.1: a rotation in between then makes both the same file,
	// read once, where the other order could miss the file that was rotated.
	var added []*tail
	for _, name := range []string{logName, oldName} {
		t, err := r.open(filepath.Join(r.dir, name))
		if err != nil {
			return false, err
		}
		if t != nil {
			added = append([]*tail{t}, added...)
		}
	}
	for _, t := range added {
		r.tails = append(r.tails, t)
		if more, err := r.drain(t, emit); err != nil || !more {
			return more, err
		}
	}
	return true, nil
}

// open opens path unless it is missing or already open.
func (r *reader) open(path string) (*tail, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the event log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading the event log: %w", err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	for _, t := range r.tails {
		if t.dev == uint64(sys.Dev) && t.ino == sys.Ino {
			f.Close()
			return nil, nil
		}
	}
	// A file last written well before since holds nothing after it: skip to its end instead
	// of decoding it. The margin covers file times taken from a coarse clock.
	if !r.since.IsZero() && st.ModTime().Before(r.since.Add(-time.Second)) {
		if _, err := f.Seek(st.Size(), io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("reading the event log: %w", err)
		}
	}
	return &tail{f: f, dev: uint64(sys.Dev), ino: sys.Ino}, nil
}

// fileID is the device and inode of path, if it exists.
func fileID(path string) ([2]uint64, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return [2]uint64{}, false
	}
	sys := st.Sys().(*syscall.Stat_t)
	return [2]uint64{uint64(sys.Dev), sys.Ino}, true
}

// drain reads t to its end and passes on each whole line that decodes to a wanted event.
func (r *reader) drain(t *tail, emit func(Event) bool) (bool, error) {
	buf := make([]byte, 64<<10)
	for {
		n, err := t.f.Read(buf)
		if n > 0 {
			data := buf[:n]
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					break
				}
				line := data[:i]
				if len(t.partial) > 0 {
					line = append(t.partial, line...)
					t.partial = t.partial[:0]
				}
				data = data[i+1:]
				if ev, ok := decode(line); ok && r.wanted(ev) && !emit(ev) {
					return false, nil
				}
			}
			t.partial = append(t.partial, data...)
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("reading the event log: %w", err)
		}
	}
}

// lineStart is how every line of the log begins.
var lineStart = []byte(`{"ID":`)

// decode parses one line. A writer that died in the middle of its write leaves a line without
// its end, and the next writer's line is appended to it: the event after the torn part is
// still taken.
func decode(line []byte) (Event, bool) {
	if ev, ok := decodeOne(line); ok {
		return ev, true
	}
	if i := bytes.LastIndex(line, lineStart); i > 0 {
		return decodeOne(line[i:])
	}
	return Event{}, false
}

func decodeOne(line []byte) (Event, bool) {
	var ev Event
	if err := json.Unmarshal(line, &ev); err != nil || ev.Status == "" || ev.Type == "" {
		return Event{}, false
	}
	return ev, true
}
