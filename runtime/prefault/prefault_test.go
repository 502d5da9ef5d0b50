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
	n, _ := touchFreshResident()
	return n
}

// touchFreshResident is touchFresh that also returns how much anonymous memory, in kB, the
// allocation alone made resident, before any page was written.
func touchFreshResident() (faults int64, allocKB int) {
	var before, after syscall.Rusage
	anon0 := anonKB("Anonymous:")
	b := make([]byte, touchMB<<20)
	allocKB = anonKB("Anonymous:") - anon0
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	return after.Minflt - before.Minflt, allocKB
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
	size, rss := zeroed()
	os.Stdout.WriteString("zeroedsize=" + strconv.Itoa(size) + "\nzeroedkb=" + strconv.Itoa(rss) + "\n")
	early := 0
	if earlyRan() {
		early = 1
	}
	os.Stdout.WriteString("early=" + strconv.Itoa(early) + "\n")
	if os.Getenv("DEN_PREFAULT_TEST_COLD") != "" {
		markCold()
	}
	os.Stdout.WriteString("hugekb0=" + strconv.Itoa(anonHugeKB()) + "\n")
	faults, allocKB := touchFreshResident()
	os.Stdout.WriteString("faults=" + strconv.FormatInt(faults, 10) + "\nallockb=" + strconv.Itoa(allocKB) + "\n")
	os.Stdout.WriteString("hugekb=" + strconv.Itoa(anonHugeKB()) + "\n")
	c := 0
	if cold() {
		c = 1
	}
	os.Stdout.WriteString("cold=" + strconv.Itoa(c) + "\n")
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
}

// anonHugeKB is this process's anonymous memory in huge pages, in kB (-1 if unknown).
func anonHugeKB() int { return anonKB("AnonHugePages:") }

// anonKB is the figure of smaps_rollup's line key for this process, in kB (-1 if unknown).
func anonKB(key string) int {
	rollup, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(rollup), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(v, "kB")))
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// zeroed is the size and resident size, in kB, of the zeroed part of this program's
// writable segment (.bss): the anonymous mapping that starts where the program's last file
// mapping ends. -1, -1 where there is none.
func zeroed() (size, rss int) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return -1, -1
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return -1, -1
	}
	var fileEnd string
	in := false
	size = -1
	for _, l := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && strings.Contains(f[0], "-") {
			lo, hi, _ := strings.Cut(f[0], "-")
			in = fileEnd != "" && lo == fileEnd && len(f) == 5
			if len(f) == 6 && f[5] == exe {
				fileEnd = hi
			}
			continue
		}
		if in && len(f) == 3 {
			switch f[0] {
			case "Size:":
				size, _ = strconv.Atoi(f[1])
			case "Rss:":
				rss, _ = strconv.Atoi(f[1])
				return size, rss
			}
		}
	}
	return -1, -1
}

// helperValues runs TestHelperTouch in a fresh process with env added and returns the
// numbers it printed, by key.
func helperValues(t *testing.T, env ...string) map[string]int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperTouch$")
	// No collection in the helper: memory a collection freed and the scavenger returned to
	// the kernel could serve the allocation, and fault in again (seen under load).
	cmd.Env = append(os.Environ(), append(env, "DEN_PREFAULT_HELPER=1", "GOGC=off")...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	vals := map[string]int64{}
	for _, l := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("helper printed %q", l)
		}
		vals[k] = n
	}
	return vals
}

// helperValue runs TestHelperTouch in a fresh process with env added and returns the number
// it printed after key=.
func helperValue(t *testing.T, key string, env ...string) int64 {
	t.Helper()
	vals := helperValues(t, env...)
	v, ok := vals[key]
	if !ok {
		t.Fatalf("helper printed no %s: %v", key, vals)
	}
	return v
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
	// A huge page the host has to back again comes slow, and the process takes small pages
	// after it (TestAfterASlowHugePage...): tried a few times for a run where none did.
	var vals map[string]int64
	for try := 0; try < 3; try++ {
		vals = helperValues(t)
		if vals["cold"] == 0 {
			break
		}
	}
	if vals["cold"] != 0 {
		t.Skip("a huge page came slow in each of 3 processes: the host is backing free memory again now")
	}
	on := vals["hugekb"] - vals["hugekb0"]
	off := helperValues(t, "DEN_PREFAULT=0")
	offKB := off["hugekb"] - off["hugekb0"]
	t.Logf("anonymous memory in huge pages from %d MB of fresh heap: %d kB populated, %d kB not (policy %s)", touchMB, on, offKB, mode)
	// Huge pages are a wish: the kernel may find no free 2 MB. With 16 MB written, at least
	// half of it in huge pages shows the heap asked for them.
	if on < touchMB<<10/2 {
		t.Errorf("want the populated heap in huge pages (at least %d kB), got %d kB", touchMB<<10/2, on)
	}
	if mode == "madvise" && off["hugekb"] != 0 {
		t.Errorf("policy madvise: without den's advice want no huge pages, got %d kB: the test cannot tell", off["hugekb"])
	}
	// The advice is taken back once populated, so that khugepaged does not fill again what
	// the runtime returns to the kernel.
	if n := vals["hgvmas"]; n != 0 {
		t.Errorf("want no mapping left advised to take huge pages, got %d", n)
	}
}

func TestDenInitPopulatesOnlyTheFirstHugePageOfAPiece(t *testing.T) {
	mode := thpMode()
	if mode != "madvise" && mode != "always" {
		t.Skipf("the kernel's transparent huge pages are %q", mode)
	}
	// As TestFreshHeapIsPopulatedWithHugePages...: a run where no huge page came slow.
	// _LIBCONTAINER_INITPIPE makes this program den-init (as TestOnlyAnInitWithout...).
	var init, den map[string]int64
	for try := 0; try < 3; try++ {
		init, den = helperValues(t, "_LIBCONTAINER_INITPIPE=9"), helperValues(t)
		if init["cold"] == 0 && den["cold"] == 0 {
			break
		}
	}
	if init["cold"] != 0 || den["cold"] != 0 {
		t.Skip("a huge page came slow in each of 3 tries: the host is backing free memory again now")
	}
	if init["early"] != 1 {
		t.Fatalf("the helper did not run as den-init: %v", init)
	}
	t.Logf("%d MB of fresh heap: resident when allocated %d kB as den-init, %d kB as den; as den-init after writing it, %d faults, %d kB in huge pages",
		touchMB, init["allockb"], den["allockb"], init["faults"], init["hugekb"]-init["hugekb0"])
	// den populates the whole piece; den-init its first 2 MB (and whatever else the
	// allocation maps).
	if den["allockb"] < touchMB<<10*3/4 {
		t.Fatalf("as den, want the %d MB piece resident when allocated, got %d kB: the test cannot tell", touchMB, den["allockb"])
	}
	if init["allockb"] > 4<<10 {
		t.Errorf("as den-init, want only the piece's first 2 MB resident when allocated, got %d kB", init["allockb"])
	}
	// The rest is still advised: writing it takes huge pages, a fault each.
	if init["faults"] > int64(touchMB) {
		t.Errorf("as den-init, want a fault per 2 MB written at most (%d), got %d", touchMB/2, init["faults"])
	}
	if huge := init["hugekb"] - init["hugekb0"]; huge < touchMB<<10/2 {
		t.Errorf("as den-init, want the written heap in huge pages (at least %d kB), got %d kB", touchMB<<10/2, huge)
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

func TestAfterASlowHugePageTheHeapTakesSmallPagesStillPopulated(t *testing.T) {
	if mode := thpMode(); mode != "madvise" && mode != "always" {
		t.Skipf("the kernel's transparent huge pages are %q", mode)
	}
	pages := int64(touchMB << 20 / 4096)
	v := helperValues(t, "DEN_PREFAULT_TEST_COLD=1")
	huge := v["hugekb"] - v["hugekb0"]
	t.Logf("after a slow huge page, %d MB of fresh heap: %d faults, %d kB in huge pages", touchMB, v["faults"], huge)
	if v["faults"] > pages/4 {
		t.Errorf("want the fresh heap populated still (few faults), got %d for %d pages", v["faults"], pages)
	}
	if huge > 0 {
		t.Errorf("want the heap mapped after a slow huge page in small pages, got %d kB in huge pages", huge)
	}
	if v["hgvmas"] != 0 {
		t.Errorf("want no mapping left advised to take huge pages, got %d", v["hgvmas"])
	}
}

func TestZeroedDataIsPopulatedUpToItsLimit(t *testing.T) {
	size := helperValue(t, "zeroedsize")
	on := helperValue(t, "zeroedkb")
	off := helperValue(t, "zeroedkb", "DEN_PREFAULT=0")
	t.Logf("resident zeroed data (.bss) of %d kB at start: %d kB populated, %d kB not", size, on, off)
	if size < 0 || on < 0 || off < 0 {
		t.Fatal("the helper found no zeroed part after the program's writable segment")
	}
	// The zeroed bytes in the last page of the file mapping are not in this mapping.
	want := min(size, 512)
	if off >= want {
		t.Fatalf("without populating, %d kB of zeroed data is resident already: the test cannot tell", off)
	}
	if on < want-4 {
		t.Errorf("want %d kB of zeroed data populated, got %d kB", want, on)
	}
	// Go's FIPS random generator keeps 32 MB there: no more than the limit is populated,
	// where the kernel gives no huge page unasked.
	if thpMode() != "always" && on > want {
		t.Errorf("want no more than %d kB of zeroed data populated, got %d kB", want, on)
	}
}

func TestOnlyAnInitWithoutNsenterPopulatesInItsFirstConstructor(t *testing.T) {
	// This test program does not link runc's nsenter, as den-init does not.
	if n := helperValue(t, "early", "_LIBCONTAINER_INITPIPE=9"); n != 1 {
		t.Errorf("with an init pipe, want the binary populated in the first constructor, got early=%d", n)
	}
	if n := helperValue(t, "early"); n != 0 {
		t.Errorf("without an init pipe, want the binary populated at the runtime's first mapping, got early=%d", n)
	}
}
