package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// den's runtime does not publish events yet: these tests write the log themselves, in the
// format den writes (one JSON object a line, podman's field names), which pins that format.

const (
	webID = "3f2a9c00000000000000000000000000000000000000000000000000000000a1"
	dbID  = "77aa0100000000000000000000000000000000000000000000000000000000b2"
	imgID = "abcdef00000000000000000000000000000000000000000000000000000000c3"
)

// pastEvents happened on 2024-01-02 between 15:04:05 and 15:04:08 UTC.
var pastEvents = []string{
	`{"ID":"` + webID + `","Name":"web","Image":"docker.io/library/busybox:latest","Status":"create","Time":"2024-01-02T15:04:05.123456789Z","Type":"container","Attributes":{"app":"shop","image":"docker.io/library/busybox:latest","name":"web"}}`,
	`{"ID":"` + webID + `","Name":"web","Image":"docker.io/library/busybox:latest","Status":"start","Time":"2024-01-02T15:04:06.5Z","Type":"container","Attributes":{"app":"shop","image":"docker.io/library/busybox:latest","name":"web"}}`,
	`{"ID":"` + dbID + `","Name":"db","Image":"docker.io/library/busybox:latest","Status":"died","Time":"2024-01-02T16:04:07+01:00","Type":"container","ContainerExitCode":3}`,
	`{"ID":"` + imgID + `","Name":"docker.io/library/busybox:latest","Status":"pull","Time":"2024-01-02T15:04:08Z","Type":"image"}`,
}

// eventLog is where den keeps its event log for the test's user.
func (d *den) eventLog() string { return filepath.Join(d.data, "den", "events", "events.log") }

// writeEventLog replaces den's event log with lines, owned by den's user.
func (d *den) writeEventLog(t *testing.T, lines ...string) {
	t.Helper()
	rel, err := filepath.Rel(d.dir, d.eventLog())
	if err != nil {
		t.Fatal(err)
	}
	d.writeFile(t, rel, []byte(strings.Join(lines, "\n")+"\n"))
}

// appendEvent adds one line to the event log with one write, as den does.
func (d *den) appendEvent(t *testing.T, line string) {
	t.Helper()
	f, err := os.OpenFile(d.eventLog(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

func nowEvent(id, name, status string) string {
	return fmt.Sprintf(`{"ID":%q,"Name":%q,"Status":%q,"Time":%q,"Type":"container"}`,
		id, name, status, time.Now().Format(time.RFC3339Nano))
}

func TestEventsWithoutStreamPrintsTheLogAsPodmanDoes(t *testing.T) {
	d := newDen(t)
	d.writeEventLog(t, pastEvents...)
	r := d.runWith(t, execOpts{env: []string{"TZ=UTC"}}, "events", "--stream=false")
	wantStdout(t, r, strings.Join([]string{
		"2024-01-02 15:04:05.123456789 +0000 UTC container create " + webID + " (image=docker.io/library/busybox:latest, name=web, app=shop)",
		"2024-01-02 15:04:06.5 +0000 UTC container start " + webID + " (image=docker.io/library/busybox:latest, name=web, app=shop)",
		"2024-01-02 15:04:07 +0000 UTC container died " + dbID + " (image=docker.io/library/busybox:latest, name=db)",
		"2024-01-02 15:04:08 +0000 UTC image pull " + imgID + " docker.io/library/busybox:latest",
	}, "\n")+"\n")

	r = d.runWith(t, execOpts{env: []string{"TZ=UTC"}}, "events", "--stream=false", "--no-trunc=false", "--filter", "event=died")
	wantStdout(t, r, "2024-01-02 15:04:07 +0000 UTC container died "+dbID[:12]+" (image=docker.io/library/busybox:latest, name=db)\n")
}

func TestEventsWithoutStreamOnAnEmptyLogPrintsNothing(t *testing.T) {
	d := newDen(t)
	wantStdout(t, d.run(t, "events", "--stream=false"), "")
	if _, err := os.Stat(filepath.Dir(d.eventLog())); !os.IsNotExist(err) {
		t.Errorf("want a read to create nothing: %v", err)
	}
}

func TestEventsFilters(t *testing.T) {
	d := newDen(t)
	d.writeEventLog(t, pastEvents...)
	cases := []struct {
		filters []string
		want    string
	}{
		{[]string{"type=container"}, "create web,start web,died db"},
		{[]string{"type=image"}, "pull docker.io/library/busybox:latest"},
		{[]string{"event=died"}, "died db"},
		{[]string{"status=die"}, "died db"},
		{[]string{"event=create", "event=pull"}, "create web,pull docker.io/library/busybox:latest"},
		{[]string{"container=web", "event=start"}, "start web"},
		{[]string{"container=web", "container=77aa"}, "create web,start web,died db"},
		{[]string{"container=web", "event=died"}, ""},
		{[]string{"image=abcdef"}, "pull docker.io/library/busybox:latest"},
		{[]string{"image=docker.io/library/busybox:latest"}, "pull docker.io/library/busybox:latest"},
		{[]string{"label=app=shop"}, "create web,start web"},
		{[]string{"label=app"}, "create web,start web"},
		{[]string{"label=app=other"}, ""},
	}
	for _, c := range cases {
		args := []string{"events", "--stream=false", "--format", "{{.Status}} {{.Name}}"}
		for _, f := range c.filters {
			args = append(args, "--filter", f)
		}
		r := d.mustRun(t, args...)
		if got := strings.Join(lines(r.stdout), ","); got != c.want {
			t.Errorf("--filter %v: got %q, want %q\n%s", c.filters, got, c.want, r)
		}
	}
	wantError(t, d.run(t, "events", "--stream=false", "--filter", "bogus=1"), 125, `unknown key "bogus"`, "container, event")
	wantError(t, d.run(t, "events", "--stream=false", "--filter", "event"), 125, "KEY=VALUE")
}

func TestEventsSinceAndUntil(t *testing.T) {
	d := newDen(t)
	d.writeEventLog(t, pastEvents...)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--since", "2024-01-02T15:04:06Z"}, "start,died,pull"},
		{[]string{"--since", "2024-01-02T16:04:06.5+01:00"}, "died,pull"},
		{[]string{"--since", "1704207846"}, "start,died,pull"},
		{[]string{"--since", "1704207846.6"}, "died,pull"},
		{[]string{"--until", "2024-01-02T15:04:07Z"}, "create,start"},
		{[]string{"--since", "2024-01-02T15:04:05.5Z", "--until", "2024-01-02T15:04:08Z"}, "start,died"},
		{[]string{"--since", "2024-01-02"}, "create,start,died,pull"},
		{[]string{"--since", "2024-01-03"}, ""},
		{[]string{"--since", "10m"}, ""},
		{[]string{"--until", "2024-01-02"}, ""},
	}
	for _, c := range cases {
		r := d.mustRun(t, append([]string{"events", "--stream=false", "--format", "{{.Status}}"}, c.args...)...)
		if got := strings.Join(lines(r.stdout), ","); got != c.want {
			t.Errorf("%v: got %q, want %q\n%s", c.args, got, c.want, r)
		}
	}
	// With --until in the past den streams nothing: it prints and exits.
	r := d.mustRun(t, "events", "--format", "{{.Status}}", "--until", "2024-01-02T15:04:07Z")
	wantStdout(t, r, "create\nstart\n")
	wantError(t, d.run(t, "events", "--since", "yesterday"), 125, "--since", `"yesterday"`, "RFC 3339")
	wantError(t, d.run(t, "events", "--until", "5 m"), 125, "--until")
}

func TestEventsFormats(t *testing.T) {
	d := newDen(t)
	d.writeEventLog(t, pastEvents...)
	r := d.mustRun(t, "events", "--stream=false", "--format", "json")
	ls := lines(r.stdout)
	if len(ls) != len(pastEvents) {
		t.Fatalf("want %d JSON lines\n%s", len(pastEvents), r)
	}
	var died struct {
		ID, Name, Image, Status, Type string
		Time                          time.Time
		ContainerExitCode             *int
	}
	if err := json.Unmarshal([]byte(ls[2]), &died); err != nil {
		t.Fatalf("want a JSON object a line: %v\n%s", err, r)
	}
	if died.ID != dbID || died.Name != "db" || died.Status != "died" || died.Type != "container" ||
		!died.Time.Equal(time.Date(2024, 1, 2, 15, 4, 7, 0, time.UTC)) || died.ContainerExitCode == nil || *died.ContainerExitCode != 3 {
		t.Errorf("want the died event of db with exit code 3: %+v", died)
	}

	r = d.mustRun(t, "events", "--stream=false", "--filter", "type=container",
		"--format", `{{.Type}}/{{.Status}}/{{.Name}}/{{truncate .ID 6}}/{{index .Attributes "app"}}/{{.Time.UTC.Unix}}`)
	wantStdout(t, r, "container/create/web/3f2a9c/shop/1704207845\ncontainer/start/web/3f2a9c/shop/1704207846\ncontainer/died/db/77aa01//1704207847\n")

	r = d.mustRun(t, "events", "--stream=false", "--filter", "type=image", "--format", "table {{.Status}} {{.Name}}")
	wantStdout(t, r, "STATUS NAME\npull docker.io/library/busybox:latest\n")

	wantError(t, d.run(t, "events", "--format", "{{.Status"), 125, "--format")
}

func TestEventsStreamsNewEventsUntilInterrupted(t *testing.T) {
	d := newDen(t)
	d.writeEventLog(t, pastEvents...)
	s := d.startStream(t, "events", "--format", "{{.Status}} {{.Name}}")
	// den prints only events that come after it started, and the test cannot see when that
	// is: it publishes until den shows one.
	var first string
	deadline := time.After(30 * time.Second)
	for i := 0; first == ""; i++ {
		d.appendEvent(t, nowEvent(fmt.Sprintf("new%d", i), fmt.Sprintf("new%d", i), "start"))
		select {
		case l, ok := <-s.lines:
			if !ok {
				t.Fatalf("den events ended early; stderr:\n%s", s.stderr.String())
			}
			first = l
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("den events printed no new event within 30s")
		}
	}
	if !strings.HasPrefix(first, "start new") {
		t.Fatalf("want a new event first, not the log's past: %q", first)
	}
	// Across a rotation too.
	if err := os.Rename(d.eventLog(), d.eventLog()+".1"); err != nil {
		t.Fatal(err)
	}
	d.writeEventLog(t, nowEvent(dbID, "db", "stop"))
	for {
		l := s.next(10 * time.Second)
		if l == "stop db" {
			break
		}
		if !strings.HasPrefix(l, "start new") {
			t.Fatalf("want the new events only, got %q", l)
		}
	}
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, code := s.rest()
	if code != 0 || len(rest) != 0 {
		t.Errorf("want exit 0 and nothing more after ctrl-c, got %d and %q; stderr:\n%s", code, rest, s.stderr.String())
	}
}

func TestEventsWithUntilAheadFollowsThenStops(t *testing.T) {
	d := newDen(t)
	d.writeEventLog(t, pastEvents...)
	until := time.Now().Add(1500 * time.Millisecond)
	s := d.startStream(t, "events", "--format", "{{.Status}} {{.Name}}", "--until", until.Format(time.RFC3339Nano))
	// --until makes it print the past events first, as podman does.
	for _, want := range []string{"create web", "start web", "died db", "pull docker.io/library/busybox:latest"} {
		if l := s.next(10 * time.Second); l != want {
			t.Fatalf("want %q, got %q", want, l)
		}
	}
	d.appendEvent(t, nowEvent(webID, "web", "stop"))
	if l := s.next(10 * time.Second); l != "stop web" {
		t.Fatalf("want the new event, got %q", l)
	}
	rest, code := s.rest()
	if code != 0 || len(rest) != 0 || time.Now().Before(until) {
		t.Errorf("want den to exit 0 at --until with nothing more: exit %d, %q at %v; stderr:\n%s", code, rest, time.Now(), s.stderr.String())
	}
}
