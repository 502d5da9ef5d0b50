package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// followRace has a writer log n lines into a log capped at max bytes, in chunks of random
// sizes, some far past a file's worth (a monitor that fell behind reads many lines at once
// and rotates several times in one write), while followLog follows it from before the
// first line; it returns the line numbers the follower printed.
func followRace(t *testing.T, seed uint64, n int, max int64) []int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctr.log")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	w := &logWriter{path: path, f: f, max: max}
	defer w.close()
	exited := make(chan struct{})
	var got []int
	done := make(chan error, 1)
	go func() {
		done <- followLog(context.Background(), path, exited, LogOptions{Tail: -1}, func(es []LogEntry) {
			for _, e := range es {
				var k int
				if _, err := fmt.Sscanf(e.Content, "line-%d-", &k); err == nil {
					got = append(got, k)
				}
			}
		})
	}()
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < n; {
		var chunk strings.Builder
		for m := 1 + rng.IntN(120); m > 0 && i < n; m-- {
			fmt.Fprintf(&chunk, "line-%d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", i)
			i++
		}
		w.write("stdout", []byte(chunk.String()))
		if rng.IntN(3) == 0 {
			time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
		}
	}
	close(exited)
	if err := <-done; err != nil {
		t.Fatalf("followLog: %v", err)
	}
	// The files the writer left are the last ones: the follower printed all of their lines.
	var last []int
	for _, p := range []string{path + ".1", path} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		_, es := scanLog(f)
		f.Close()
		for _, e := range es {
			var k int
			if _, err := fmt.Sscanf(e.Content, "line-%d-", &k); err == nil {
				last = append(last, k)
			}
		}
	}
	if len(last) == 0 || len(got) < len(last) || !slices.Equal(got[len(got)-len(last):], last) {
		t.Fatalf("seed %d: the follower's last lines are not the log's last files' lines %v: %v", seed, last, got)
	}
	return got
}

// A follower prints each entry once, in order, and the last one, however the rotations fall
// against its reads (logs -f printed a rotated file's lines again in a CI run).
func TestFollowLogAcrossRotations(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 40
	}
	for seed := range uint64(rounds) {
		got := followRace(t, seed, 300, 4000)
		if len(got) == 0 || got[len(got)-1] != 299 {
			t.Fatalf("seed %d: want the last line printed last, got %v", seed, got)
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("seed %d: line %d printed after line %d: %v", seed, got[i], got[i-1], got)
			}
		}
	}
}
