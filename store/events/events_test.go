package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/den-project/den/store/events"
)

func newLog(t *testing.T, maxSize int64) *events.Log {
	t.Helper()
	return &events.Log{Dir: filepath.Join(t.TempDir(), "events"), MaxSize: maxSize}
}

// numbered is container event i, one second after a fixed start.
func numbered(i int) events.Event {
	return events.Event{
		ID: fmt.Sprintf("%064x", i), Name: fmt.Sprintf("c%d", i), Image: "docker.io/library/busybox:latest",
		Status: events.StatusStart, Type: events.TypeContainer,
		Time:       time.Date(2024, 1, 2, 15, 4, 5, 123456789, time.UTC).Add(time.Duration(i) * time.Second),
		Attributes: map[string]string{"seq": strconv.Itoa(i)},
	}
}

func mustAppend(t *testing.T, l *events.Log, evs ...events.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
}

func mustRead(t *testing.T, l *events.Log) []events.Event {
	t.Helper()
	evs, err := l.Read(events.Filter{}, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// seqs are the "seq" attributes of evs, to compare event lists briefly.
func seqs(evs []events.Event) string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		s[i] = ev.Attributes["seq"]
	}
	return strings.Join(s, ",")
}

func TestAppendedEventsReadBackWhole(t *testing.T) {
	l := newLog(t, 0)
	code := 3
	died := numbered(1)
	died.Status, died.ContainerExitCode = events.StatusDied, &code
	health := numbered(2)
	health.Status, health.HealthStatus = events.StatusHealthStatus, "unhealthy"
	want := []events.Event{numbered(0), died, health}
	mustAppend(t, l, want...)

	got := mustRead(t, l)
	if len(got) != len(want) {
		t.Fatalf("read %d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Name != w.Name || g.Image != w.Image || g.Status != w.Status || g.Type != w.Type ||
			!g.Time.Equal(w.Time) || g.HealthStatus != w.HealthStatus || fmt.Sprint(g.Attributes) != fmt.Sprint(w.Attributes) ||
			(g.ContainerExitCode == nil) != (w.ContainerExitCode == nil) {
			t.Errorf("event %d: got %+v, want %+v", i, g, w)
		}
	}
	if got[1].ContainerExitCode == nil || *got[1].ContainerExitCode != 3 {
		t.Errorf("want exit code 3 on the died event: %+v", got[1])
	}
	st, err := os.Stat(filepath.Join(l.Dir, "events.log"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("want events.log with mode 0600: %v %v", st, err)
	}
}

// Events appended together are lines in order, each stamped, in one write: nothing of
// another writer's comes between them.
func TestEventsAppendedTogetherAreLinesInOrder(t *testing.T) {
	l := newLog(t, 0)
	mustAppend(t, l, numbered(0))
	if err := l.Append(numbered(1), numbered(2), numbered(3)); err != nil {
		t.Fatal(err)
	}
	got := mustRead(t, l)
	if seqs(got) != "0,1,2,3" {
		t.Fatalf("read %s, want 0,1,2,3", seqs(got))
	}
	for _, ev := range got {
		if ev.Time.IsZero() {
			t.Errorf("event %s without a time", ev.Attributes["seq"])
		}
	}
}

func TestLinesUsePodmansFieldNames(t *testing.T) {
	l := newLog(t, 0)
	code := 0
	ev := numbered(0)
	ev.ContainerExitCode = &code
	mustAppend(t, l, ev, events.Event{Type: events.TypeImage, Status: events.StatusPull, ID: "abc", Time: ev.Time})
	b, err := os.ReadFile(filepath.Join(l.Dir, "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := []string{
		`{"ID":"` + ev.ID + `","Name":"c0","Image":"docker.io/library/busybox:latest","Status":"start","Time":"2024-01-02T15:04:05.123456789Z","Type":"container","Attributes":{"seq":"0"},"ContainerExitCode":0}`,
		`{"ID":"abc","Status":"pull","Time":"2024-01-02T15:04:05.123456789Z","Type":"image"}`,
	}
	if len(lines) != 2 || lines[0] != want[0] || lines[1] != want[1] {
		t.Errorf("got lines\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestAppendStampsEventsWithoutATime(t *testing.T) {
	l := newLog(t, 0)
	before := time.Now()
	mustAppend(t, l, events.Event{ID: "x", Type: events.TypeSystem, Status: "refresh"})
	got := mustRead(t, l)
	if len(got) != 1 || got[0].Time.Before(before) || got[0].Time.After(time.Now()) {
		t.Errorf("want one event stamped with the time of the append: %+v", got)
	}
}

func TestAMissingLogHoldsNoEvents(t *testing.T) {
	l := newLog(t, 0)
	if got := mustRead(t, l); len(got) != 0 {
		t.Errorf("want no events: %+v", got)
	}
	if _, err := os.Stat(l.Dir); !os.IsNotExist(err) {
		t.Errorf("reading must not create the log directory: %v", err)
	}
}

func TestReadKeepsEventsStrictlyBetweenSinceAndUntil(t *testing.T) {
	l := newLog(t, 0)
	for i := range 5 {
		mustAppend(t, l, numbered(i))
	}
	cases := []struct {
		since, until time.Time
		want         string
	}{
		{time.Time{}, time.Time{}, "0,1,2,3,4"},
		{numbered(1).Time, time.Time{}, "2,3,4"},
		{time.Time{}, numbered(3).Time, "0,1,2"},
		{numbered(1).Time, numbered(3).Time, "2"},
		{numbered(1).Time.Add(-time.Nanosecond), numbered(3).Time.Add(time.Nanosecond), "1,2,3"},
		{numbered(4).Time, time.Time{}, ""},
	}
	for _, c := range cases {
		got, err := l.Read(events.Filter{}, c.since, c.until)
		if err != nil {
			t.Fatal(err)
		}
		if seqs(got) != c.want {
			t.Errorf("since %v until %v: got %s, want %s", c.since, c.until, seqs(got), c.want)
		}
	}
}

func TestReadAppliesTheFilter(t *testing.T) {
	l := newLog(t, 0)
	mustAppend(t, l, numbered(0), numbered(1), events.Event{ID: "i1", Name: "busybox", Type: events.TypeImage, Status: events.StatusPull})
	f, err := events.ParseFilters([]string{"type=container", "container=c1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Read(f, time.Time{}, time.Time{})
	if err != nil || seqs(got) != "1" {
		t.Errorf("want event 1 alone: %+v %v", got, err)
	}
}

func TestRotationKeepsTheNewestEventsInTwoFiles(t *testing.T) {
	l := newLog(t, 1000)
	const n = 40
	for i := range n {
		mustAppend(t, l, numbered(i))
	}
	for _, name := range []string{"events.log", "events.log.1"} {
		st, err := os.Stat(filepath.Join(l.Dir, name))
		if name == "events.log" && os.IsNotExist(err) {
			continue // the last append rotated it: the next one creates it
		}
		if err != nil {
			t.Fatalf("want %s after rotations: %v", name, err)
		}
		if st.Size() > 1000+300 {
			t.Errorf("%s is %d bytes, past the cap and one line", name, st.Size())
		}
	}
	got := mustRead(t, l)
	if len(got) == 0 || len(got) >= n {
		t.Fatalf("want the newest events only, got %d of %d", len(got), n)
	}
	first := n - len(got)
	for i, ev := range got {
		if ev.Attributes["seq"] != strconv.Itoa(first+i) {
			t.Fatalf("want events %d to %d in order, got %s", first, n-1, seqs(got))
		}
	}
	// events.log.1 holds the older part.
	old := &events.Log{Dir: t.TempDir()}
	b, _ := os.ReadFile(filepath.Join(l.Dir, "events.log.1"))
	if err := os.WriteFile(filepath.Join(old.Dir, "events.log"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if o := mustRead(t, old); len(o) == 0 || o[0].Attributes["seq"] != strconv.Itoa(first) {
		t.Errorf("want events.log.1 to start at event %d: %s", first, seqs(o))
	}
}

func TestReadSkipsTornAndMalformedLines(t *testing.T) {
	l := newLog(t, 0)
	mustAppend(t, l, numbered(0))
	f, err := os.OpenFile(filepath.Join(l.Dir, "events.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(numbered(9))
	// A writer killed in the middle of its line, then garbage, then an empty object.
	f.WriteString(string(line[:40]))
	f.Close()
	mustAppend(t, l, numbered(1))
	f, _ = os.OpenFile(filepath.Join(l.Dir, "events.log"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("not json\n{}\n\n[1,2]\n")
	f.Close()
	mustAppend(t, l, numbered(2))
	f, _ = os.OpenFile(filepath.Join(l.Dir, "events.log"), os.O_APPEND|os.O_WRONLY, 0)
	// And a last line cut short.
	f.WriteString(string(line[:len(line)-3]))
	f.Close()

	if got := mustRead(t, l); seqs(got) != "0,1,2" {
		t.Errorf("got events %s, want 0,1,2", seqs(got))
	}
}

func TestReadTakesALastLineThatLacksOnlyItsNewline(t *testing.T) {
	l := newLog(t, 0)
	mustAppend(t, l, numbered(0))
	line, _ := json.Marshal(numbered(1))
	f, _ := os.OpenFile(filepath.Join(l.Dir, "events.log"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write(line)
	f.Close()
	if got := mustRead(t, l); seqs(got) != "0,1" {
		t.Errorf("got events %s, want 0,1", seqs(got))
	}
}

// follow runs Follow in the background and hands over what it sees.
func follow(t *testing.T, l *events.Log, f events.Filter, since time.Time) (<-chan events.Event, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan events.Event, 1000)
	done := make(chan error, 1)
	go func() {
		done <- l.Follow(ctx, f, since, func(ev events.Event) bool {
			ch <- ev
			return true
		})
	}()
	t.Cleanup(cancel)
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Follow did not return after its context ended")
			return nil
		}
	}
	return ch, stop
}

func next(t *testing.T, ch <-chan events.Event) events.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return events.Event{}
	}
}

func TestFollowSeesTheBacklogThenEventsAppendedLater(t *testing.T) {
	l := newLog(t, 0)
	mustAppend(t, l, numbered(0), numbered(1))
	ch, stop := follow(t, l, events.Filter{}, time.Time{})
	// Once the backlog arrived, the watch is in place.
	for i := range 2 {
		if ev := next(t, ch); ev.Attributes["seq"] != strconv.Itoa(i) {
			t.Fatalf("want backlog event %d first, got %+v", i, ev)
		}
	}
	for i := 2; i < 6; i++ {
		mustAppend(t, l, numbered(i))
		if ev := next(t, ch); ev.Attributes["seq"] != strconv.Itoa(i) {
			t.Fatalf("want event %d, got %+v", i, ev)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("want nil when the context ends, got %v", err)
	}
}

func TestFollowWaitsForTheLogToBeCreated(t *testing.T) {
	l := newLog(t, 0)
	ch, stop := follow(t, l, events.Filter{}, time.Time{})
	// Whether Follow reads it as backlog or sees it appended, the first event arrives.
	mustAppend(t, l, numbered(0))
	if ev := next(t, ch); ev.Attributes["seq"] != "0" {
		t.Fatalf("want event 0, got %+v", ev)
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

func TestFollowSkipsTheBacklogBeforeSinceAndWhatTheFilterRejects(t *testing.T) {
	l := newLog(t, 0)
	mustAppend(t, l, numbered(0), numbered(1), numbered(2))
	img := events.Event{ID: "i", Type: events.TypeImage, Status: events.StatusPull, Attributes: map[string]string{"seq": "img"}}
	f, _ := events.ParseFilters([]string{"type=container"})
	ch, stop := follow(t, l, f, numbered(1).Time)
	if ev := next(t, ch); ev.Attributes["seq"] != "2" {
		t.Fatalf("want event 2 first, got %+v", ev)
	}
	mustAppend(t, l, img, numbered(3))
	if ev := next(t, ch); ev.Attributes["seq"] != "3" {
		t.Fatalf("want event 3 after skipping the image event, got %+v", ev)
	}
	stop()
}

func TestFollowContinuesAcrossRotations(t *testing.T) {
	l := newLog(t, 600) // about two events a file
	mustAppend(t, l, numbered(0))
	ch, stop := follow(t, l, events.Filter{}, time.Time{})
	next(t, ch)
	for i := 1; i < 30; i++ {
		mustAppend(t, l, numbered(i))
		if ev := next(t, ch); ev.Attributes["seq"] != strconv.Itoa(i) {
			t.Fatalf("want event %d, got %+v", i, ev)
		}
	}
	if _, err := os.Stat(filepath.Join(l.Dir, "events.log.1")); err != nil {
		t.Fatalf("want the log rotated: %v", err)
	}
	stop()
}

func TestFollowReadsLinesWrittenIntoTheRotatedFile(t *testing.T) {
	l := newLog(t, 0)
	mustAppend(t, l, numbered(0))
	ch, stop := follow(t, l, events.Filter{}, time.Time{})
	next(t, ch)
	// A writer opens events.log, then another writer rotates it before the first one writes.
	late, err := os.OpenFile(filepath.Join(l.Dir, "events.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	if err := os.Rename(filepath.Join(l.Dir, "events.log"), filepath.Join(l.Dir, "events.log.1")); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, numbered(1))
	if ev := next(t, ch); ev.Attributes["seq"] != "1" {
		t.Fatalf("want event 1 from the new file, got %+v", ev)
	}
	line, _ := json.Marshal(numbered(2))
	if _, err := late.Write(append(line, '\n')); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ch); ev.Attributes["seq"] != "2" {
		t.Fatalf("want event 2 from the rotated file, got %+v", ev)
	}
	stop()
	if got := mustRead(t, l); seqs(got) != "0,2,1" {
		t.Errorf("want Read to take events.log.1 then events.log: %s", seqs(got))
	}
}

func TestFollowStopsWhenTheCallbackSaysSo(t *testing.T) {
	l := newLog(t, 0)
	mustAppend(t, l, numbered(0), numbered(1), numbered(2))
	var seen []events.Event
	err := l.Follow(context.Background(), events.Filter{}, time.Time{}, func(ev events.Event) bool {
		seen = append(seen, ev)
		return ev.Attributes["seq"] != "1"
	})
	if err != nil || seqs(seen) != "0,1" {
		t.Errorf("want events 0 and 1 and no error: %s %v", seqs(seen), err)
	}
}

// The helper process: tests re-execute this test binary with helperEnv set, so that the log
// is written by real processes at once, as concurrent den commands write it.
const (
	helperEnv      = "DEN_EVENTS_TEST_HELPER"
	helperDir      = "DEN_EVENTS_TEST_DIR"
	helperMax      = "DEN_EVENTS_TEST_MAX"
	helperProc     = "DEN_EVENTS_TEST_PROC"
	processes      = 8
	eventsPerProc  = 200
	helperPadBytes = 200
)

func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "append" {
		return
	}
	maxSize, _ := strconv.ParseInt(os.Getenv(helperMax), 10, 64)
	l := &events.Log{Dir: os.Getenv(helperDir), MaxSize: maxSize}
	proc := os.Getenv(helperProc)
	pad := strings.Repeat("x", helperPadBytes)
	for i := range eventsPerProc {
		ev := events.Event{
			ID: proc + "-" + strconv.Itoa(i), Name: "proc" + proc, Type: events.TypeContainer, Status: events.StatusStart,
			Attributes: map[string]string{"proc": proc, "seq": strconv.Itoa(i), "pad": pad},
		}
		if err := l.Append(ev); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

// appendFromProcesses runs the appending helpers at once and waits for them.
func appendFromProcesses(t *testing.T, dir string, maxSize int64) {
	t.Helper()
	cmds := make([]*exec.Cmd, processes)
	outs := make([]bytes.Buffer, processes)
	for p := range processes {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"=append", helperDir+"="+dir,
			helperMax+"="+strconv.FormatInt(maxSize, 10), helperProc+"="+strconv.Itoa(p))
		cmd.Stdout, cmd.Stderr = &outs[p], &outs[p]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[p] = cmd
	}
	for p, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("appending process %d: %v\n%s", p, err, outs[p].String())
		}
	}
}

// rawLines are the lines of events.log.1 then events.log, each checked to be a whole JSON
// event line: no line torn, none mixed with another.
func rawLines(t *testing.T, dir string) [][]byte {
	t.Helper()
	var all [][]byte
	for _, name := range []string{"events.log.1", "events.log"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			t.Errorf("%s does not end with a newline", name)
		}
		for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			if !json.Valid(line) {
				t.Fatalf("%s line %d is not JSON: %.200q", name, i+1, line)
			}
			all = append(all, line)
		}
	}
	return all
}

// checkOncePerProcessInOrder decodes lines and fails unless each (process, seq) appears at
// most once and each process's events come in the order it appended them.
func checkOncePerProcessInOrder(t *testing.T, lines [][]byte) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]int{}
	for _, line := range lines {
		var ev events.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		proc, seq := ev.Attributes["proc"], ev.Attributes["seq"]
		key := proc + "/" + seq
		if seen[key] {
			t.Fatalf("event %s appears twice", key)
		}
		seen[key] = true
		n, _ := strconv.Atoi(seq)
		if prev, ok := last[proc]; ok && n <= prev {
			t.Fatalf("process %s: event %d after %d", proc, n, prev)
		}
		last[proc] = n
	}
	return seen
}

func TestProcessesAppendingAtOnceWhileRotatingLeaveOnlyWholeLines(t *testing.T) {
	dir := t.TempDir()
	appendFromProcesses(t, dir, 64<<10)
	lines := rawLines(t, dir)
	checkOncePerProcessInOrder(t, lines)
	// 1600 lines of about 330 bytes are eight times the cap: the log must have rotated.
	if len(lines) == 0 || len(lines) >= processes*eventsPerProc {
		t.Errorf("want the older events rotated away, have %d lines", len(lines))
	}
	for _, name := range []string{"events.log.1", "events.log"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() > 2*(64<<10) {
			t.Errorf("%s: want at most about the cap: %v %v", name, st, err)
		}
	}
	got, err := (&events.Log{Dir: dir}).Read(events.Filter{}, time.Time{}, time.Time{})
	if err != nil || len(got) != len(lines) {
		t.Errorf("Read returned %d events of %d lines: %v", len(got), len(lines), err)
	}
}

func TestProcessesAppendingAtOnceLoseNoEvent(t *testing.T) {
	dir := t.TempDir()
	appendFromProcesses(t, dir, 1<<40)
	lines := rawLines(t, dir)
	if len(lines) != processes*eventsPerProc {
		t.Fatalf("want %d lines, have %d", processes*eventsPerProc, len(lines))
	}
	seen := checkOncePerProcessInOrder(t, lines)
	for p := range processes {
		for i := range eventsPerProc {
			if !seen[fmt.Sprintf("%d/%d", p, i)] {
				t.Errorf("event %d of process %d is missing", i, p)
			}
		}
	}
}
