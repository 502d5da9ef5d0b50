package events_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/den-project/den/store/events"
)

func TestParseFilters(t *testing.T) {
	cases := []struct {
		args    []string
		want    events.Filter
		wantErr string
	}{
		{nil, events.Filter{}, ""},
		{[]string{"type=container"}, events.Filter{Type: []string{"container"}}, ""},
		{[]string{"TYPE=image", "Type=volume"}, events.Filter{Type: []string{"image", "volume"}}, ""},
		{[]string{"container=web", "container=3f2a"}, events.Filter{Container: []string{"web", "3f2a"}}, ""},
		{[]string{"event=start", "status=died"}, events.Filter{Event: []string{"start", "died"}}, ""},
		{[]string{"event=die"}, events.Filter{Event: []string{"died"}}, ""},
		{[]string{"image=busybox"}, events.Filter{Image: []string{"busybox"}}, ""},
		{[]string{"volume=data"}, events.Filter{Volume: []string{"data"}}, ""},
		{[]string{"label=app", "label=tier=web=1"}, events.Filter{Label: []string{"app", "tier=web=1"}}, ""},
		{[]string{"container="}, events.Filter{Container: []string{""}}, ""},
		{[]string{"event"}, events.Filter{}, `filter "event": want KEY=VALUE`},
		{[]string{"=start"}, events.Filter{}, `want KEY=VALUE`},
		{[]string{"pod=x"}, events.Filter{}, `unknown key "pod": use container, event, image, label, type or volume`},
		{[]string{"type=container", "since=5m"}, events.Filter{}, `filter "since=5m": unknown key "since"`},
		{[]string{"type=containers"}, events.Filter{}, `unknown event type "containers": use container, image`},
	}
	for _, c := range cases {
		got, err := events.ParseFilters(c.args)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: want an error containing %q, got %v", c.args, c.wantErr, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %+v, %v; want %+v", c.args, got, err, c.want)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	web := events.Event{ID: "3f2a9c", Name: "web", Image: "busybox", Type: "container", Status: "start",
		Attributes: map[string]string{"app": "shop", "tier": "front"}}
	db := events.Event{ID: "77aa01", Name: "db", Type: "container", Status: "died"}
	img := events.Event{ID: "abcdef", Name: "docker.io/library/busybox:latest", Type: "image", Status: "pull"}
	vol := events.Event{ID: "v1", Name: "data-1", Type: "volume", Status: "create"}
	all := []events.Event{web, db, img, vol}
	names := func(evs []events.Event) string {
		var s []string
		for _, ev := range evs {
			s = append(s, ev.Name)
		}
		return strings.Join(s, " ")
	}
	cases := []struct {
		args []string
		want string
	}{
		{nil, "web db docker.io/library/busybox:latest data-1"},
		{[]string{"type=container"}, "web db"},
		{[]string{"type=image", "type=volume"}, "docker.io/library/busybox:latest data-1"},
		{[]string{"container=web"}, "web"},
		{[]string{"container=77a"}, "db"},
		{[]string{"container=web", "container=db"}, "web db"},
		{[]string{"container=abc"}, ""}, // an image's id is no container's
		{[]string{"event=died"}, "db"},
		{[]string{"event=start", "event=pull"}, "web docker.io/library/busybox:latest"},
		{[]string{"type=container", "event=died"}, "db"},
		{[]string{"container=web", "event=died"}, ""},
		{[]string{"image=docker.io/library/busybox:latest"}, "docker.io/library/busybox:latest"},
		{[]string{"image=abc"}, "docker.io/library/busybox:latest"},
		{[]string{"image=busybox"}, ""}, // matches image events only, by full name or id, as podman does
		{[]string{"volume=data"}, "data-1"},
		{[]string{"label=app"}, "web"},
		{[]string{"label=app=shop"}, "web"},
		{[]string{"label=app=other"}, ""},
		{[]string{"label=app=other", "label=tier=front"}, "web"},
		{[]string{"label=tier=front", "event=died"}, ""},
	}
	for _, c := range cases {
		f, err := events.ParseFilters(c.args)
		if err != nil {
			t.Fatal(err)
		}
		var got []events.Event
		for _, ev := range all {
			if f.Match(ev) {
				got = append(got, ev)
			}
		}
		if names(got) != c.want {
			t.Errorf("%q: matched %q, want %q", c.args, names(got), c.want)
		}
	}
}

// FuzzParseFilters checks that no --filter values make ParseFilters or Match panic, that only
// known keys are accepted, and that a container= filter matches that container by name.
func FuzzParseFilters(f *testing.F) {
	for _, s := range [][2]string{
		{"type=container", "event=start"}, {"label=a=b", "label=a"}, {"container=", "image=x"},
		{"=", "=="}, {"status=die", "TYPE=image"}, {"bogus=1", ""}, {"volume=v", "container=\x00"},
	} {
		f.Add(s[0], s[1])
	}
	known := map[string]bool{"type": true, "container": true, "event": true, "status": true, "image": true, "volume": true, "label": true}
	f.Fuzz(func(t *testing.T, a, b string) {
		filter, err := events.ParseFilters([]string{a, b})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		for _, arg := range []string{a, b} {
			k, v, _ := strings.Cut(arg, "=")
			if !known[strings.ToLower(k)] {
				t.Fatalf("accepted unknown key %q", k)
			}
			if strings.ToLower(k) == "container" {
				ev := events.Event{ID: "0123", Name: v, Type: "container", Status: "start"}
				if only, err := events.ParseFilters([]string{arg}); err != nil || !only.Match(ev) {
					t.Fatalf("%q does not match container %q: %v", arg, v, err)
				}
			}
		}
		for _, ev := range []events.Event{
			{}, {ID: a, Name: b, Type: "container", Status: "start"},
			{Name: a, Type: "image", Status: b, Attributes: map[string]string{a: b, b: a}},
		} {
			filter.Match(ev)
		}
	})
}
