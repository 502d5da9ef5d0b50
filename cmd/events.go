package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/den-project/den/store/events"
	"github.com/urfave/cli/v2"
)

// eventsOptions is what `den events` was asked for.
type eventsOptions struct {
	filter       events.Filter
	since, until time.Time
	format       string
	stream       bool
	noTrunc      bool
}

func eventsCmd() *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "show what happened to containers, images and volumes",
		Description: `Prints den's events as they happen, until interrupted: containers created, started and
stopped, images pulled and removed, and so on. With --since or --until the events already in
the log come first; with --until den stops at that time; with --stream=false it prints the
events in the log and exits. Read-only: it enters no namespace.

--since and --until take an RFC 3339 time (2024-01-02T15:04:05Z), a date (2024-01-02), unix
seconds (1700000000.5) or a duration meaning that long ago (10m, 1h30m). --filter takes
container=NAME|ID, event=STATUS, image=NAME|ID, label=KEY[=VALUE], type=TYPE and
volume=NAME; values of one key match either, different keys must all match.

Examples:
   den events
   den events --filter event=died --filter type=container
   den events --since 1h --stream=false
   den events --since 2024-01-02 --until 2024-01-03 --format json
   den events --format '{{.Time}} {{.Status}} {{.Name}}'`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "filter", Aliases: []string{"f"}, Usage: "show only matching events (KEY=VALUE)"},
			&cli.StringFlag{Name: "since", Usage: "show events after this time"},
			&cli.StringFlag{Name: "until", Usage: "show events before this time, then exit"},
			&cli.StringFlag{Name: "format", Usage: "Go template or \"json\" (one object a line)"},
			&cli.BoolFlag{Name: "stream", Value: true, Usage: "keep printing new events; false prints the log and exits"},
			&cli.BoolFlag{Name: "no-trunc", Value: true, Usage: "show whole ids"},
		},
		Action: func(c *cli.Context) error {
			now := time.Now()
			o := eventsOptions{format: c.String("format"), stream: c.Bool("stream"), noTrunc: c.Bool("no-trunc")}
			var err error
			if o.filter, err = events.ParseFilters(c.StringSlice("filter")); err != nil {
				return withCode(125, err)
			}
			if o.since, err = timeFlag(c, "since", now); err != nil {
				return err
			}
			if o.until, err = timeFlag(c, "until", now); err != nil {
				return err
			}
			e, err := newEnv(c)
			if err != nil {
				return err
			}
			return showEvents(c.Context, c.App.Writer, events.New(e.rt.Paths.DataDir), o, now)
		},
	}
}

// timeFlag reads --since or --until; unset is the zero time.
func timeFlag(c *cli.Context, name string, now time.Time) (time.Time, error) {
	s := c.String(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := events.ParseTime(s, now)
	if err != nil {
		return time.Time{}, withCode(125, fmt.Errorf("--%s: %w", name, err))
	}
	return t, nil
}

// showEvents prints the log, or follows it, as podman's events does: streaming shows only new
// events unless --since or --until ask for the past too, and stops at --until.
func showEvents(ctx context.Context, w io.Writer, log *events.Log, o eventsOptions, now time.Time) error {
	p := &eventPrinter{w: bufio.NewWriter(w), format: o.format, trunc: !o.noTrunc}
	if err := p.check(); err != nil {
		return err
	}
	if !o.stream || (!o.until.IsZero() && !o.until.After(now)) {
		evs, err := log.Read(o.filter, o.since, o.until)
		if err != nil {
			return withCode(125, err)
		}
		if err := p.print(evs...); err != nil {
			return err
		}
		return p.w.Flush()
	}
	if o.since.IsZero() && o.until.IsZero() {
		o.since = now
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if !o.until.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, o.until)
		defer cancel()
	}
	if err := p.startStream(); err != nil {
		return err
	}
	var printErr error
	err := log.Follow(ctx, o.filter, o.since, func(ev events.Event) bool {
		if !o.until.IsZero() && !ev.Time.Before(o.until) {
			return true
		}
		if printErr = p.print(ev); printErr == nil {
			printErr = p.w.Flush()
		}
		return printErr == nil
	})
	if err != nil {
		return withCode(125, err)
	}
	return printErr
}

// eventPrinter writes events as podman's line of text, JSON objects one a line, or a Go
// template (a "table" one too).
type eventPrinter struct {
	w      *bufio.Writer
	format string
	trunc  bool
}

// eventColumns head a "table" format.
var eventColumns = []column{{"TIME", "Time"}, {"TYPE", "Type"}, {"STATUS", "Status"}, {"ID", "ID"}, {"NAME", "Name"}, {"IMAGE", "Image"}}

func (p *eventPrinter) template() bool { return p.format != "" && p.format != "json" }

// check reports a bad template before any event is read.
func (p *eventPrinter) check() error {
	if !p.template() {
		return nil
	}
	return printList(io.Discard, p.format, eventColumns, []events.Event{}, nil)
}

// startStream prepares for events that come one at a time: a table's header is printed once
// now, and its rows then come without alignment, since none can wait for the next.
func (p *eventPrinter) startStream() error {
	if !p.template() || !strings.HasPrefix(p.format, "table") {
		return nil
	}
	if err := printList(p.w, p.format, eventColumns, []events.Event{}, nil); err != nil {
		return err
	}
	p.format = strings.TrimSpace(strings.TrimPrefix(p.format, "table"))
	if p.format == "" {
		p.format = strings.TrimPrefix(defaultTable(eventColumns), "table ")
	}
	return p.w.Flush()
}

func (p *eventPrinter) print(evs ...events.Event) error {
	if p.template() {
		return printList(p.w, p.format, eventColumns, evs, nil)
	}
	for _, ev := range evs {
		if p.format == "json" {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			p.w.Write(append(b, '\n'))
		} else {
			p.w.WriteString(humanEvent(ev, p.trunc) + "\n")
		}
	}
	return nil
}

// humanEvent is podman's line for an event:
// "2024-01-02 15:04:05.123456789 +0000 UTC container start ID (image=..., name=...)".
func humanEvent(ev events.Event, trunc bool) string {
	id := ev.ID
	if trunc && len(id) > 12 {
		id = id[:12]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", ev.Time.Local().Format("2006-01-02 15:04:05.999999999 -0700 MST"), ev.Type, ev.Status)
	switch ev.Type {
	case events.TypeContainer, events.TypePod, events.TypeNetwork:
		fmt.Fprintf(&b, " %s (", id)
		if ev.Type != events.TypeNetwork {
			fmt.Fprintf(&b, "image=%s, ", ev.Image)
		}
		fmt.Fprintf(&b, "name=%s", ev.Name)
		if ev.HealthStatus != "" {
			fmt.Fprintf(&b, ", health_status=%s", ev.HealthStatus)
		}
		keys := make([]string, 0, len(ev.Attributes))
		for k := range ev.Attributes {
			if k != "image" && k != "name" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, ", %s=%s", k, ev.Attributes[k])
		}
		b.WriteString(")")
	case events.TypeImage:
		fmt.Fprintf(&b, " %s %s", id, ev.Name)
	default:
		if ev.Name != "" {
			b.WriteString(" " + ev.Name)
		}
	}
	return b.String()
}
