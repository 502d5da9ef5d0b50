package events_test

import (
	"strings"
	"testing"
	"time"

	"github.com/den-project/den/store/events"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	cases := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2024-01-02T15:04:05Z", time.Date(2024, 1, 2, 15, 4, 5, 0, time.UTC), false},
		{"2024-01-02T15:04:05.123456789Z", time.Date(2024, 1, 2, 15, 4, 5, 123456789, time.UTC), false},
		{"2024-01-02T15:04:05+02:00", time.Date(2024, 1, 2, 13, 4, 5, 0, time.UTC), false},
		{"2024-01-02T15:04:05.5-01:00", time.Date(2024, 1, 2, 16, 4, 5, 5e8, time.UTC), false},
		{"2024-01-02T15:04:05", time.Date(2024, 1, 2, 15, 4, 5, 0, time.UTC), false},
		{"2024-01-02", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), false},
		{"2024-01-02+02:00", time.Date(2024, 1, 1, 22, 0, 0, 0, time.UTC), false},
		{"1700000000", time.Unix(1700000000, 0), false},
		{"1700000000.5", time.Unix(1700000000, 5e8), false},
		{"1700000000.123456789", time.Unix(1700000000, 123456789), false},
		{"1700000000.1234567891", time.Unix(1700000000, 123456789), false},
		{"1700000000.", time.Unix(1700000000, 0), false},
		{"0", time.Unix(0, 0), false},
		{"5m", now.Add(-5 * time.Minute), false},
		{"1h30m", now.Add(-90 * time.Minute), false},
		{"1.5s", now.Add(-1500 * time.Millisecond), false},
		{"-10s", now.Add(10 * time.Second), false},
		{"", time.Time{}, true},
		{"yesterday", time.Time{}, true},
		{"5", time.Unix(5, 0), false},
		{"5 m", time.Time{}, true},
		{"-1700000000", time.Time{}, true},
		{".5", time.Time{}, true},
		{"1700000000.5.5", time.Time{}, true},
		{"2024-13-02", time.Time{}, true},
		{"99999999999999999999", time.Time{}, true},
	}
	for _, c := range cases {
		got, err := events.ParseTime(c.in, now)
		if c.wantErr {
			if err == nil {
				t.Errorf("%q: want an error, got %v", c.in, got)
			} else if !strings.Contains(err.Error(), "RFC 3339") {
				t.Errorf("%q: want the error to say what is accepted: %v", c.in, err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%q: got %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// FuzzParseTime checks that no --since value panics, that an accepted time reads back from
// its RFC 3339 form, and that unix seconds are exact.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-01-02T15:04:05Z", "2024-01-02", "1700000000.25", "5m", "-1h", "0", "", "1e9", "2024-01-02T15:04:05.999999999999Z"} {
		f.Add(s)
	}
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := events.ParseTime(s, now)
		if err != nil {
			return
		}
		if y := got.Year(); y >= 0 && y <= 9999 {
			back, err := events.ParseTime(got.Format(time.RFC3339Nano), now)
			if err != nil || !back.Equal(got) {
				t.Fatalf("%q gave %v, which reads back as %v, %v", s, got, back, err)
			}
		}
		if d, err := time.ParseDuration(s); err == nil && strings.ContainsAny(s, "hmsuµn") && !got.Equal(now.Add(-d)) {
			t.Fatalf("duration %q gave %v, want %v", s, got, now.Add(-d))
		}
	})
}
