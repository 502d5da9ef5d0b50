package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	units "github.com/docker/go-units"
	"github.com/fsnotify/fsnotify"
)

// Container logs use podman's k8s-file format: one line per chunk of output,
// "TIMESTAMP STREAM TAG CONTENT", where TAG is F for a full line and P for a part of a line
// that continues in the next entry.

// DefaultLogMaxSize caps a container's log unless --log-opt max-size says otherwise; past it
// the log rotates to ctr.log.1, replacing the one rotated before.
const DefaultLogMaxSize = 16 << 20

// The log drivers den has (--log-driver): podman's k8s-file, the default, and none.
const (
	LogDriverFile = "k8s-file"
	LogDriverNone = "none"
)

// ParseLogDriver checks --log-driver.
func ParseLogDriver(s string) (string, error) {
	switch s {
	case "", LogDriverFile, "json-file": // podman takes json-file as k8s-file, for scripts
		return LogDriverFile, nil
	case LogDriverNone:
		return LogDriverNone, nil
	}
	return "", fmt.Errorf("--log-driver %q: den writes podman's k8s-file log, or none with --log-driver none", s)
}

// ParseLogOpt reads a --log-opt: max-size=SIZE (such as 10m, in decimal units), the size
// past which the log rotates, at least 4k. podman's path= and tag= are refused.
func ParseLogOpt(s string) (int64, error) {
	k, v, _ := strings.Cut(s, "=")
	if k != "max-size" {
		return 0, fmt.Errorf("--log-opt %q: den takes max-size=SIZE (such as 10m)", s)
	}
	// Decimal units, as podman reads them: 10m is 10,000,000 bytes.
	n, err := units.FromHumanSize(v)
	if err != nil || n < 4000 {
		return 0, fmt.Errorf("--log-opt %q: give a size of at least 4k, such as 10m", s)
	}
	return n, nil
}

// LogPath is where a container's log is kept.
func (r *Runtime) LogPath(id string) string { return r.logPath(id) }

func (r *Runtime) logPath(id string) string {
	return filepath.Join(r.recs.dir, id, "ctr.log")
}

// logWriter appends k8s-file entries for a container. Safe for concurrent streams.
type logWriter struct {
	mu   sync.Mutex
	path string
	f    *os.File // nil: --log-driver none, nothing is written
	size int64
	max  int64
}

// openLog opens c's log for the monitor to write, as its --log-driver and --log-opt say.
func (r *Runtime) openLog(c *Container) (*logWriter, error) {
	w := &logWriter{path: r.logPath(c.ID), max: DefaultLogMaxSize}
	if c.Config.LogMaxSize > 0 {
		w.max = c.Config.LogMaxSize
	}
	if c.Config.LogDriver == LogDriverNone {
		return w, nil
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening container log: %w", err)
	}
	if fi, err := f.Stat(); err == nil {
		w.size = fi.Size()
	}
	w.f = f
	return w, nil
}

// write logs one chunk of a stream: complete lines as F entries, a trailing part as P.
func (w *logWriter) write(stream string, chunk []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return
	}
	var buf bytes.Buffer
	flush := func() {
		n, err := w.f.Write(buf.Bytes())
		if err != nil && n > 0 {
			// A torn entry (a full disk) is taken back, so that the next one starts a line.
			if w.f.Truncate(w.size) == nil {
				n = 0
			}
		}
		w.size += int64(n)
		buf.Reset()
	}
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		tag, line := "P", chunk
		if i >= 0 {
			tag, line, chunk = "F", chunk[:i], chunk[i+1:]
		} else {
			chunk = nil
		}
		entry := fmt.Sprintf("%s %s %s %s\n", ts, stream, tag, line)
		// The log rotates between entries, where the next one would take it past its size:
		// a chunk of output larger than that is split over the two files.
		if pending := w.size + int64(buf.Len()); pending > 0 && pending+int64(len(entry)) > w.max {
			flush()
			w.rotate()
		}
		buf.WriteString(entry)
	}
	flush()
}

func (w *logWriter) rotate() {
	w.f.Close()
	_ = os.Rename(w.path, w.path+".1")
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		w.f, w.size = f, 0
	}
}

func (w *logWriter) close() {
	if w.f != nil {
		w.f.Close()
	}
}

// pump copies one output stream into the log, and then to sink, until it ends.
func (w *logWriter) pump(stream string, r io.Reader, sink func(string, []byte), done *sync.WaitGroup) {
	defer done.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			w.write(stream, buf[:n])
			if sink != nil {
				sink(stream, buf[:n])
			}
		}
		if err != nil {
			return
		}
	}
}

// fileIno is the inode number of an open file, 0 for none.
func fileIno(f *os.File) uint64 {
	if f == nil {
		return 0
	}
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// LogEntry is one parsed entry of a container log.
type LogEntry struct {
	Time    time.Time
	Stream  string
	Partial bool
	Content string
}

// parseLogLine reads one k8s-file line; ok is false for a malformed one.
func parseLogLine(line string) (LogEntry, bool) {
	parts := strings.SplitN(line, " ", 4)
	if len(parts) < 3 {
		return LogEntry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return LogEntry{}, false
	}
	e := LogEntry{Time: t, Stream: parts[1], Partial: parts[2] == "P"}
	if len(parts) == 4 {
		e.Content = parts[3]
	}
	return e, true
}

// LogOptions select what `logs` prints.
type LogOptions struct {
	Tail       int // -1: all
	Since      time.Time
	Until      time.Time
	Timestamps bool
	Follow     bool
	// Names marks the lines of several containers with their names instead of their short
	// IDs (podman's --names); the lines of one container are not marked.
	Names bool
	// Color gives each container's mark a color of its own (podman's --color).
	Color bool
}

// markColors are the ANSI colors of the containers' marks with LogOptions.Color, in turn.
var markColors = []string{"\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[31m"}

// readLogEntries reads the rotated and the current log, in order, joining partial entries.
func readLogEntries(path string) ([]LogEntry, error) {
	old, cur, err := openLogFiles(path)
	if err != nil {
		return nil, err
	}
	defer closeFiles(old, cur)
	entries, _ := readLogPair(old, cur)
	return entries, nil
}

// openLogFiles opens the current log at path and the one rotated before it, either nil
// where there is none, as one snapshot: opened one after the other, they could be two files
// that were never current one after the other (the log rotating twice between the opens
// made ctr.log.1 the file after the current one opened). The current log is opened again
// after ctr.log.1: the same file means no rotation came between. While a file is held
// open, its inode number is no other file's, so that is what tells them apart.
func openLogFiles(path string) (old, cur *os.File, err error) {
	for try := 0; ; try++ {
		if cur, err = openIfThere(path); err != nil {
			return nil, nil, err
		}
		if old, err = openIfThere(path + ".1"); err != nil {
			closeFiles(cur)
			return nil, nil, err
		}
		again, err := openIfThere(path)
		if err != nil {
			closeFiles(old, cur)
			return nil, nil, err
		}
		if fileIno(again) == fileIno(cur) {
			closeFiles(again)
			return old, cur, nil
		}
		closeFiles(old, cur)
		// A writer that rotates faster than this loop opens is past any reader: the file
		// current last is read alone, what came before it is lost.
		if try == 100 {
			return nil, again, nil
		}
		closeFiles(again)
	}
}

// openIfThere opens a log file for reading, nil if there is none.
func openIfThere(path string) (*os.File, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading container log: %w", err)
	}
	return f, nil
}

// readLogPair reads old, the rotated log, then cur, the current one, from their starts,
// either nil for none, and returns their entries and how far cur was read.
func readLogPair(old, cur *os.File) ([]LogEntry, int64) {
	var out []LogEntry
	if old != nil {
		_, out = scanLog(old)
	}
	if cur == nil {
		return out, 0
	}
	n, entries := scanLog(cur)
	return append(out, entries...), n
}

// scanLog parses complete lines from r and returns how many bytes they took.
func scanLog(r io.Reader) (int64, []LogEntry) {
	br := bufio.NewReaderSize(r, 64<<10)
	var consumed int64
	var out []LogEntry
	var pending *LogEntry
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break // a torn last line is read again once complete
		}
		consumed += int64(len(line))
		e, ok := parseLogLine(strings.TrimSuffix(line, "\n"))
		if !ok {
			continue
		}
		if pending != nil && pending.Stream == e.Stream {
			pending.Content += e.Content
			pending.Partial = e.Partial
		} else {
			if pending != nil {
				out = append(out, *pending)
			}
			cp := e
			pending = &cp
		}
		if !pending.Partial {
			out = append(out, *pending)
			pending = nil
		}
	}
	if pending != nil {
		out = append(out, *pending)
	}
	return consumed, out
}

// selectLog applies --since, --until and --tail.
func selectLog(entries []LogEntry, o LogOptions) []LogEntry {
	var out []LogEntry
	for _, e := range entries {
		if !o.Since.IsZero() && e.Time.Before(o.Since) {
			continue
		}
		if !o.Until.IsZero() && e.Time.After(o.Until) {
			continue
		}
		out = append(out, e)
	}
	if o.Tail >= 0 && len(out) > o.Tail {
		out = out[len(out)-o.Tail:]
	}
	return out
}

// Logs prints the logs of the containers refs names, all of them found first. Several
// containers' lines start with whose they are, the short ID or, with Names, the name, in a
// color of its own with Color, as podman's do; they come one container after the other, or,
// with Follow, as they are written, each entry in one write (a part of a line, written
// without its newline, is an entry of its own, as in podman). With Follow it keeps printing
// until the containers stop.
func (r *Runtime) Logs(ctx context.Context, refs []string, o LogOptions, stdout, stderr io.Writer) error {
	cs := make([]*Container, 0, len(refs))
	for _, ref := range refs {
		c, err := r.Lookup(ref)
		if err != nil {
			return err
		}
		if c.Config.LogDriver == LogDriverNone {
			return fmt.Errorf("container %s keeps no log: it was made with --log-driver none", c.Name)
		}
		cs = append(cs, c)
	}
	if len(cs) == 1 {
		return r.logsOf(ctx, cs[0], "", o, stdout, stderr)
	}
	mark := func(i int, c *Container) string {
		m := c.ShortID()
		if o.Names {
			m = c.Name
		}
		if o.Color {
			m = markColors[i%len(markColors)] + m + "\x1b[0m"
		}
		return m + " "
	}
	if !o.Follow {
		for i, c := range cs {
			if err := r.logsOf(ctx, c, mark(i, c), o, stdout, stderr); err != nil {
				return err
			}
		}
		return nil
	}
	var mu sync.Mutex
	out, errOut := serialWriter{&mu, stdout}, serialWriter{&mu, stderr}
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.logsOf(ctx, c, mark(i, c), o, out, errOut)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// serialWriter lets the followers of several logs write their lines one at a time.
type serialWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l serialWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logsOf prints c's log, each entry after mark, in one write; with Follow it keeps printing
// until the container stops, woken by inotify and by the holder's exit notice rather than by
// polling.
func (r *Runtime) logsOf(ctx context.Context, c *Container, mark string, o LogOptions, stdout, stderr io.Writer) error {
	path := r.logPath(c.ID)
	print := func(es []LogEntry) {
		for _, e := range es {
			w := stdout
			if e.Stream == "stderr" {
				w = stderr
			}
			var b strings.Builder
			b.WriteString(mark)
			if o.Timestamps {
				b.WriteString(e.Time.Local().Format(time.RFC3339Nano) + " ")
			}
			b.WriteString(e.Content)
			if !e.Partial {
				b.WriteByte('\n')
			}
			_, _ = io.WriteString(w, b.String())
		}
	}
	if !o.Follow || c.State.Status != StatusRunning {
		entries, err := readLogEntries(path)
		if err != nil {
			return err
		}
		print(selectLog(entries, o))
		return nil
	}
	exited := make(chan struct{})
	go func() {
		_, _ = r.Wait(ctx, c.ID)
		close(exited)
	}()
	return followLog(ctx, path, exited, o, print)
}

// followLog prints the log at path, o's selection of what is there first, then every entry
// as it is written, across rotations, until exited is closed, when it prints what is left.
//
// It reads one file at a time to its end, holding it open. A rotation is told by inotify
// (a file created at path) and by the current file at path being another than the one
// open: then the writer is done with the one open, which is read to its end, then
// ctr.log.1 if that is a file between the two (the log rotated twice since: the files
// before it are lost, as the size cap means), then the new one from its start.
func followLog(ctx context.Context, path string, exited <-chan struct{}, o LogOptions, print func([]LogEntry)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("following log: %w", err)
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		return fmt.Errorf("following log: %w", err)
	}
	old, f, err := openLogFiles(path)
	if err != nil {
		return err
	}
	entries, offset := readLogPair(old, f)
	print(selectLog(entries, o))
	o.Tail = -1
	// Without a current file (the log not made yet), the rotated one read stays open until
	// there is one, to tell it from a later one.
	read := old
	if f != nil {
		closeFiles(old)
		read = nil
	}
	defer func() { closeFiles(f, read) }()
	drain := func() {
		if f == nil {
			return
		}
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			return
		}
		n, es := scanLog(f)
		offset += n
		print(selectLog(es, o))
	}
	rotated := func() {
		mid, nf, err := openLogFiles(path)
		if err != nil || nf == nil || (f != nil && fileIno(nf) == fileIno(f)) {
			closeFiles(mid, nf)
			return
		}
		drain()
		if m := fileIno(mid); mid != nil && m != fileIno(f) && m != fileIno(read) && m != fileIno(nf) {
			_, es := scanLog(mid)
			print(selectLog(es, o))
		}
		closeFiles(mid, f, read)
		f, offset, read = nf, 0, nil
	}
	for {
		drain()
		select {
		case ev := <-w.Events:
			if ev.Name == path && ev.Has(fsnotify.Create) {
				rotated()
			}
		case <-exited:
			// The last entries may be in a file whose creation is yet to be told.
			drain()
			rotated()
			drain()
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case err := <-w.Errors:
			return fmt.Errorf("following log: %w", err)
		}
	}
}
