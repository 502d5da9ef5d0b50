package prefault

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const touchMB = 16

// touchFresh allocates touchMB of new heap, writes every page and returns how many minor
// page faults the writing took. (Populating counts as faults too, but it happens in the
// allocation, when the runtime maps the memory, and costs no exception per page.)
func touchFresh() int64 {
	var before, after syscall.Rusage
	b := make([]byte, touchMB<<20)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	return after.Minflt - before.Minflt
}

// faultsWith runs touchFresh in a fresh process with env added.
func faultsWith(t *testing.T, env ...string) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTouch$")
	// No collection in the helper: memory a collection freed and the scavenger returned to
	// the kernel could serve the allocation, and fault in again (seen under load).
	cmd.Env = append(os.Environ(), append(env, "DEN_PREFAULT_HELPER=1", "GOGC=off")...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "faults="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatalf("helper printed no count: %q", out)
	return 0
}

func TestHelperTouch(t *testing.T) {
	if os.Getenv("DEN_PREFAULT_HELPER") == "" {
		t.Skip("run by the tests below")
	}
	os.Stdout.WriteString("faults=" + strconv.FormatInt(touchFresh(), 10) + "\n")
}

func TestFreshHeapIsPopulatedWhenMappedAndNotWhenTurnedOff(t *testing.T) {
	pages := int64(touchMB << 20 / 4096)
	on := faultsWith(t)
	off := faultsWith(t, "DEN_PREFAULT=0")
	t.Logf("faults touching %d fresh pages: %d populated, %d not", pages, on, off)
	if off < pages*3/4 {
		t.Fatalf("without populating, want about one fault a page (%d), got %d: the test cannot tell", pages, off)
	}
	if on > pages/4 {
		t.Errorf("want the fresh heap populated when mapped (few faults), got %d for %d pages", on, pages)
	}
	// Long-lived stages keep their resident size small instead.
	for _, env := range []string{"_DEN_MONITOR=x", "_DEN_NETWORK_HOLDER=x"} {
		if n := faultsWith(t, env); n < pages*3/4 {
			t.Errorf("with %s want the heap left to fault in page by page, got %d faults for %d pages", env, n, pages)
		}
	}
}
