package events

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// timeLayouts are the absolute forms ParseTime takes, as podman does. Those without a zone
// are UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02Z07:00",
	"2006-01-02",
}

// ParseTime reads a --since or --until value: an RFC 3339 time (2024-01-02T15:04:05Z, with
// or without fractional seconds), a date (2024-01-02, midnight UTC), unix seconds with an
// optional fraction (1700000000.5), or a Go duration meaning that long before now (10m,
// 1h30m).
func ParseTime(s string, now time.Time) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if t, ok := parseUnix(s); ok {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("time %q: use an RFC 3339 time (2024-01-02T15:04:05Z), a date (2024-01-02), unix seconds (1700000000) or a duration before now (10m)", s)
}

// parseUnix reads "SECONDS[.FRACTION]", exactly to the nanosecond where a float would not be.
func parseUnix(s string) (time.Time, bool) {
	secs, frac, _ := strings.Cut(s, ".")
	if secs == "" || !allDigits(secs) || !allDigits(frac) {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(secs, 10, 64)
	// Past this time.Unix's seconds overflow time.Time's.
	if err != nil || sec > math.MaxInt64/2 {
		return time.Time{}, false
	}
	var nsec int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		nsec, _ = strconv.ParseInt(frac, 10, 64)
	}
	return time.Unix(sec, nsec).UTC(), true
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
