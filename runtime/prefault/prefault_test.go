package prefault

import (
	"os"
	"os/exec"
	"slices"
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
	return helperValue(t, "faults", env...)
}

func TestHelperTouch(t *testing.T) {
	if os.Getenv("DEN_PREFAULT_HELPER") == "" {
		t.Skip("run by the tests below")
	}
	os.Stdout.WriteString("faults=" + strconv.FormatInt(touchFresh(), 10) + "\n")
	// Mappings still advised to take huge pages ("hg" among smaps' VmFlags).
	if smaps, err := os.ReadFile("/proc/self/smaps"); err == nil {
		n := 0
		for _, l := range strings.Split(string(smaps), "\n") {
			if v, ok := strings.CutPrefix(l, "VmFlags:"); ok && slices.Contains(strings.Fields(v), "hg") {
				n++
			}
		}
		os.Stdout.WriteString("hgvmas=" + strconv.Itoa(n) + "\n")
	}
	rollup, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(rollup), "\n") {
		if v, ok := strings.CutPrefix(l, "AnonHugePages:"); ok {
			os.Stdout.WriteString("hugekb=" + strings.TrimSpace(strings.TrimSuffix(v, "kB")) + "\n")
		}
	}
}

// helperValue runs TestHelperTouch in a fresh process with env added and returns the number
// it printed after key=.
func helperValue(t *testing.T, key string, env ...string) int64 {
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
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("helper printed %q", l)
			}
			return n
		}
	}
	t.Fatalf("helper printed no %s: %q", key, out)
	return 0
}

// thpMode is the kernel's transparent huge page policy for anonymous memory: always,
// madvise or never ("" where the kernel has none).
func thpMode() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	s := string(b)
	if i := strings.IndexByte(s, '['); i >= 0 {
		if j := strings.IndexByte(s[i:], ']'); j > 0 {
			return s[i+1 : i+j]
		}
	}
	return ""
}

func TestFreshHeapIsPopulatedWithHugePagesWhereTheKernelHasThem(t *testing.T) {
	mode := thpMode()
	if mode != "madvise" && mode != "always" {
		t.Skipf("the kernel's transparent huge pages are %q", mode)
	}
	on := helperValue(t, "hugekb")
	off := helperValue(t, "hugekb", "DEN_PREFAULT=0")
	t.Logf("anonymous memory in huge pages after %d MB of fresh heap: %d kB populated, %d kB not (policy %s)", touchMB, on, off, mode)
	// Huge pages are a wish: the kernel may find no free 2 MB. With 16 MB written, at least
	// half of it in huge pages shows the heap asked for them.
	if on < touchMB<<10/2 {
		t.Errorf("want the populated heap in huge pages (at least %d kB), got %d kB", touchMB<<10/2, on)
	}
	if mode == "madvise" && off != 0 {
		t.Errorf("policy madvise: without den's advice want no huge pages, got %d kB: the test cannot tell", off)
	}
	// The advice is taken back once populated, so that khugepaged does not fill again what
	// the runtime returns to the kernel.
	if n := helperValue(t, "hgvmas"); n != 0 {
		t.Errorf("want no mapping left advised to take huge pages, got %d", n)
	}
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

func TestWhichMappingsArePopulated(t *testing.T) {
	for _, c := range []struct {
		what  string
		n     uintptr
		fixed bool
		want  bool
	}{
		{"a heap piece", 4 << 20, true, true},
		{"a large heap piece", 64 << 20, true, true},
		{"a heap piece too large to be touched soon", 64<<20 + 4096, true, false},
		{"persistentalloc's chunk", 256 << 10, false, true},
		{"span records", 64 << 10, false, true},
		{"the page allocator's chunk index", 1 << 20, false, false},
		{"the memory profiler's bucket table", 179999 * 8, false, false},
		{"the heap arena index", 32 << 20, false, false},
	} {
		if got := wanted(c.n, c.fixed); got != c.want {
			t.Errorf("%s (%d bytes, fixed %v): populated %v, want %v", c.what, c.n, c.fixed, got, c.want)
		}
	}
}
