package image

import (
	"errors"
	"testing"
	"time"
)

func TestParseFilters(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name    string
		in      []string
		want    Filter
		wantErr bool
	}{
		{name: "nothing filters nothing", in: nil, want: Filter{}},
		{name: "dangling=true", in: []string{"dangling=true"}, want: Filter{Dangling: &yes}},
		{name: "dangling=false", in: []string{"dangling=false"}, want: Filter{Dangling: &no}},
		{name: "dangling=1 as podman takes it", in: []string{"dangling=1"}, want: Filter{Dangling: &yes}},
		{name: "references add up", in: []string{"reference=a", "reference=b*"}, want: Filter{References: []string{"a", "b*"}}},
		{name: "a label with and without a value", in: []string{"label=k", "label=k2=v=w"}, want: Filter{Labels: []string{"k", "k2=v=w"}}},
		{name: "before and since", in: []string{"before=busybox", "since=abc123"}, want: Filter{Before: "busybox", Since: "abc123"}},
		{name: "refuses an unknown key", in: []string{"colour=red"}, wantErr: true},
		{name: "refuses a filter without =", in: []string{"dangling"}, wantErr: true},
		{name: "refuses an empty value", in: []string{"label="}, wantErr: true},
		{name: "refuses dangling=maybe", in: []string{"dangling=maybe"}, wantErr: true},
		{name: "refuses a label without a key", in: []string{"label==v"}, wantErr: true},
		{name: "refuses a broken glob", in: []string{"reference=["}, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseFilters(c.in)
			if c.wantErr {
				if !errors.Is(err, ErrBadFilter) {
					t.Fatalf("ParseFilters(%q) = %+v, %v; want ErrBadFilter", c.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFilters(%q): %v", c.in, err)
			}
			if (got.Dangling == nil) != (c.want.Dangling == nil) || got.Dangling != nil && *got.Dangling != *c.want.Dangling ||
				!equal(got.References, c.want.References) || !equal(got.Labels, c.want.Labels) ||
				got.Before != c.want.Before || got.Since != c.want.Since {
				t.Errorf("ParseFilters(%q) = %+v, want %+v", c.in, got, c.want)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFilterMatch(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	busybox := Image{Names: []string{"docker.io/library/busybox:latest"}, Labels: map[string]string{"tier": "base"}, Created: t0}
	local := Image{Names: []string{"localhost/app:1"}, Created: t0.Add(time.Hour)}
	dangling := Image{Created: t0.Add(2 * time.Hour)}
	created := map[string]time.Time{"busybox": t0, "app": t0.Add(time.Hour)}
	cases := []struct {
		filters []string
		img     Image
		want    bool
	}{
		{[]string{"dangling=true"}, dangling, true},
		{[]string{"dangling=true"}, busybox, false},
		{[]string{"dangling=false"}, busybox, true},
		{[]string{"reference=busybox"}, busybox, true},
		{[]string{"reference=busybox:latest"}, busybox, true},
		{[]string{"reference=docker.io/library/busybox"}, busybox, true},
		{[]string{"reference=library/busybox"}, busybox, true},
		{[]string{"reference=busy*"}, busybox, true},
		{[]string{"reference=app"}, local, true},
		{[]string{"reference=localhost/*"}, local, true},
		{[]string{"reference=localhost/*"}, busybox, false},
		{[]string{"reference=*:1"}, local, true},
		{[]string{"reference=box"}, busybox, false},
		{[]string{"reference=app", "reference=busybox"}, busybox, true},
		{[]string{"reference=busybox"}, dangling, false},
		{[]string{"label=tier"}, busybox, true},
		{[]string{"label=tier=base"}, busybox, true},
		{[]string{"label=tier=top"}, busybox, false},
		{[]string{"label=tier"}, local, false},
		{[]string{"label=tier", "label=other"}, busybox, false},
		{[]string{"before=app"}, busybox, true},
		{[]string{"before=app"}, local, false},
		{[]string{"since=busybox"}, local, true},
		{[]string{"since=busybox"}, busybox, false},
		{[]string{"since=busybox", "dangling=true"}, dangling, true},
		{[]string{"since=busybox", "dangling=true"}, local, false},
	}
	for _, c := range cases {
		f, err := ParseFilters(c.filters)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Bind(func(ref string) (time.Time, error) { return created[ref], nil }); err != nil {
			t.Fatal(err)
		}
		if got := f.Match(c.img); got != c.want {
			t.Errorf("filters %q on %q: Match = %v, want %v", c.filters, c.img.Names, got, c.want)
		}
	}
}

func TestFilterBindReportsAnUnknownImage(t *testing.T) {
	f, _ := ParseFilters([]string{"since=nosuch"})
	err := f.Bind(func(string) (time.Time, error) { return time.Time{}, ErrNotFound })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Bind = %v, want ErrNotFound", err)
	}
}

// FuzzParseFilters checks that no filter panics the parser or Match, and that what is
// refused is refused with ErrBadFilter.
func FuzzParseFilters(f *testing.F) {
	for _, s := range []string{"dangling=true", "reference=*box*", "label=a=b", "before=x", "since=y", "=", "", "reference=[", "label==", "a=b=c"} {
		f.Add(s)
	}
	img := Image{Names: []string{"docker.io/library/busybox:latest", "localhost/x:1"}, Labels: map[string]string{"a": "b"}}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilters([]string{s})
		if err != nil {
			if !errors.Is(err, ErrBadFilter) {
				t.Fatalf("ParseFilters(%q): %v is not ErrBadFilter", s, err)
			}
			return
		}
		if err := flt.Bind(func(string) (time.Time, error) { return time.Time{}, nil }); err != nil {
			t.Fatal(err)
		}
		flt.Match(img)
		flt.Match(Image{})
	})
}
