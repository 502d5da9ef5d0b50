package e2e

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// A den command populates its own code and data when it starts (runtime/prefault), but not
// the programs den carries (den-init, the whole den, den-monitor: some 55 MB), which it never
// reads: populating them would cost every command time and make each hold their pages.
func TestCommandsPopulateTheirCodeButNotTheProgramsDenCarries(t *testing.T) {
	d := newDen(t)
	f, err := elf.Open(denBinary)
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	text := f.Section(".text")
	f.Close()
	if err != nil || text == nil {
		t.Fatalf("reading den's symbols and code section: %v", err)
	}
	addr := map[string]uint64{}
	for _, s := range syms {
		addr[s.Name] = s.Value
	}

	pid := d.startedDen(t)

	pagemap, err := os.Open(fmt.Sprintf("/proc/%d/pagemap", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer pagemap.Close()
	// resident counts the pages of [lo, hi) mapped in den's page tables, every 64th one.
	resident := func(lo, hi uint64) (n, of int) {
		var e [8]byte
		for a := lo &^ 4095; a < hi; a += 64 << 12 {
			if _, err := pagemap.ReadAt(e[:], int64(a/4096*8)); err != nil {
				t.Fatal(err)
			}
			if binary.LittleEndian.Uint64(e[:])&(1<<63) != 0 {
				n++
			}
			of++
		}
		return n, of
	}

	// The control: den's code is there, all of it, which shows the pages can be seen.
	if n, of := resident(text.Addr, text.Addr+text.Size); n != of {
		t.Errorf("%d of %d sampled pages of den's code resident, want all: is prefaulting on?", n, of)
	}
	for _, blob := range []string{"den_init_blob", "den_transfer_blob", "den_monitor_blob"} {
		lo, hi := addr[blob], addr[blob+"_end"]
		if lo == 0 || hi <= lo {
			t.Errorf("den under test carries no %s", blob)
			continue
		}
		// Its first and last 2 MB may be mapped with a page of den's own beside them: the
		// page cache holds a file in folios of up to 2 MB, and the kernel maps a folio whole
		// when a page of it is read.
		if n, of := resident(lo+2<<20, hi-2<<20); of == 0 || n != 0 {
			t.Errorf("%d of %d sampled pages of %s (%d MB) resident, want none", n, of, blob, (hi-lo)>>20)
		}
	}
}

// startedDen starts `den events`, which waits for events: a den process that has started
// and stays until the test ends. It returns its pid.
func (d *den) startedDen(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := d.command(ctx, "events")
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	if !waitUntil(5*time.Second, func() bool { return threadsOf(pid) > 2 }) {
		t.Fatal("den events did not start")
	}
	return pid
}

// threadsOf is the number of threads of pid, 0 when it is gone.
func threadsOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		var n int
		if _, err := fmt.Sscanf(l, "Threads: %d", &n); err == nil {
			return n
		}
	}
	return 0
}
