package runtime

import (
	"bufio"
	"os"
	"testing"
)

func TestAMonitorSeesItsPipeAbandonedOnlyWhenNothingIsLeftToRead(t *testing.T) {
	for _, c := range []struct {
		name  string
		write []byte
		close bool
		read  bool // the monitor has read the pipe, and holds what was there
		want  bool
	}{
		{"den still creating the container", nil, false, false, false},
		{"den gave the container up", nil, true, false, true},
		{"den said go and went on", []byte{monitorGo}, false, false, false},
		{"den said go and exited", []byte{monitorGo}, true, false, false},
		{"den said go and exited, the monitor holds the go", []byte{'{', '}', '\n', monitorGo}, true, true, false},
		{"den gave up after the line the monitor read", []byte{'{', '}', '\n'}, true, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if len(c.write) > 0 {
				if _, err := w.Write(c.write); err != nil {
					t.Fatal(err)
				}
			}
			if c.close {
				w.Close()
			} else {
				defer w.Close()
			}
			in := bufio.NewReader(r)
			if c.read {
				if _, err := in.ReadBytes('\n'); err != nil {
					t.Fatal(err)
				}
			}
			if got := abandoned(in, r); got != c.want {
				t.Fatalf("abandoned = %v, want %v", got, c.want)
			}
		})
	}
}
