package userns

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRootMapsToAcceptsOnlyDensOwnMapOfTheUser(t *testing.T) {
	for _, tc := range []struct {
		name, uidMap string
		host         int
		want         bool
	}{
		{"den's namespace", "         0       1002          1\n         1     165536      65536\n", 1002, true},
		{"another user's", "0 1003 1\n1 165536 65536\n", 1002, false},
		{"the host's", "         0          0 4294967295\n", 1002, false},
		{"root mapped to a range", "0 1002 100\n", 1002, false},
		{"no root", "1 1002 1\n", 1002, false},
		{"empty", "", 1002, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "uid_map")
			if err := os.WriteFile(f, []byte(tc.uidMap), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := rootMapsTo(f, tc.host); got != tc.want {
				t.Errorf("rootMapsTo(%q, %d) = %v, want %v", tc.uidMap, tc.host, got, tc.want)
			}
		})
	}
	if rootMapsTo("/nonexistent/uid_map", 1002) {
		t.Error("a missing map file maps nothing")
	}
}
