package userns

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSubIDs(t *testing.T) {
	cases := []struct {
		name    string
		data    string
		want    []Range
		wantErr bool
	}{
		{"by name", "alice:100000:65536\n", []Range{{100000, 65536}}, false},
		{"by uid", "1000:200000:1000\n", []Range{{200000, 1000}}, false},
		{"two ranges in order", "alice:100000:10\nbob:1:2\nalice:300000:20\n", []Range{{100000, 10}, {300000, 20}}, false},
		{"other users only", "bob:100000:65536\n", nil, false},
		{"comments and blanks", "# x\n\n  alice:5:6  \n", []Range{{5, 6}}, false},
		{"bad count for user", "alice:100000:x\n", nil, true},
		{"zero count for user", "alice:100000:0\n", nil, true},
		{"missing field for user", "alice:100000\n", nil, true},
		{"overflow", "alice:4294967295:2\n", nil, true},
		{"bad line of another user is ignored", "bob:x\nalice:1:1\n", []Range{{1, 1}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSubIDs(strings.NewReader(c.data), "alice", 1000)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if !c.wantErr && !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestBuildMappingsPutsTheUserAtZeroAndRangesAfter(t *testing.T) {
	got := BuildMappings(1000, []Range{{100000, 10}, {300000, 5}})
	want := []Mapping{{0, 1000, 1}, {1, 100000, 10}, {11, 300000, 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if Size(got) != 16 {
		t.Fatalf("size = %d, want 16", Size(got))
	}
}

func FuzzParseSubIDs(f *testing.F) {
	f.Add("alice:100000:65536\n")
	f.Add("1000:1:1\nalice:x:y")
	f.Fuzz(func(t *testing.T, data string) {
		rs, err := ParseSubIDs(strings.NewReader(data), "alice", 1000)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.Count <= 0 || r.Start < 0 || r.Start+r.Count > 1<<32-1 {
				t.Fatalf("accepted invalid range %v from %q", r, data)
			}
		}
	})
}
