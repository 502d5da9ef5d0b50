package runtime

import (
	"slices"
	"strings"
	"testing"
)

func TestParseTopDescriptors(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
		bad  string
	}{
		{nil, DefaultTop, ""},
		{[]string{"pid"}, []string{"pid"}, ""},
		{[]string{"pid,user", "args"}, []string{"pid", "user", "args"}, ""},
		{[]string{"pid,,comm,"}, []string{"pid", "comm"}, ""},
		{[]string{"-eo"}, nil, `"-eo"`},
		{[]string{"pid,PID"}, nil, `"PID"`},
	} {
		got, err := ParseTopDescriptors(tc.in)
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%q: want an error naming %s, got %v", tc.in, tc.bad, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, %v", tc.in, got, err)
		}
	}
	if h := TopHeader(DefaultTop); strings.Join(h, " ") != "USER PID PPID %CPU ELAPSED TTY TIME COMMAND" {
		t.Errorf("default header %q", h)
	}
}

func TestTopColumnsOfIDsAndCapabilities(t *testing.T) {
	m := [][3]uint64{{0, 1000, 1}, {1, 100000, 65536}}
	for id, want := range map[int]string{0: "1000", 1: "100000", 2: "100001", 65536: "165535", 65537: "?", -1: "?"} {
		if got := hostID(m, id); got != want {
			t.Errorf("hostID(%d) = %s, want %s", id, got, want)
		}
	}
	if got := capNames("0000000000000000"); got != "none" {
		t.Errorf("no capabilities: %q", got)
	}
	if got := capNames("0000000000000401"); got != "CHOWN,NET_BIND_SERVICE" {
		t.Errorf("chown and net_bind_service: %q", got)
	}
	if got := capNames("zz"); got != "?" {
		t.Errorf("a bad mask: %q", got)
	}
}

func FuzzParseTopDescriptors(f *testing.F) {
	for _, s := range []string{"pid", "pid,user args", ",", "-eo pid", "capeff,hpid"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		desc, err := ParseTopDescriptors(strings.Fields(s))
		if err != nil {
			return
		}
		if len(desc) == 0 || len(TopHeader(desc)) != len(desc) || slices.Contains(TopHeader(desc), "") {
			t.Errorf("%q: descriptors %q without a header each", s, desc)
		}
	})
}
