package sysmonslack

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// threadSlacks maps each thread of this process to its timer slack in ns (which /proc has
// under the thread's id, not under task/).
func threadSlacks(t *testing.T) map[int]uint64 {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]uint64{}
	for _, e := range tasks {
		tid, _ := strconv.Atoi(e.Name())
		b, err := os.ReadFile("/proc/" + e.Name() + "/timerslack_ns")
		if err != nil {
			continue // gone meanwhile
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		m[tid] = v
	}
	return m
}

func ownSlack(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/timerslack_ns")
	if err != nil {
		t.Skipf("no timer slack in /proc here: %v", err)
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if v >= 1000000 {
		t.Skipf("this test runs with a timer slack of %d ns already", v)
	}
	return v
}

func TestOnlySysmonSleepsWithTheWideSlack(t *testing.T) {
	own := ownSlack(t)
	if got := slack(); got != 1000000 {
		t.Fatalf("sysmon was started with a slack of %d ns, want 1000000", got)
	}
	wide := 0
	var sysmon int
	for tid, v := range threadSlacks(t) {
		switch v {
		case 1000000:
			wide++
			sysmon = tid
		case own:
		default:
			t.Errorf("thread %d has a timer slack of %d ns, want %d like the main thread", tid, v, own)
		}
	}
	if wide != 1 || sysmon == os.Getpid() {
		t.Fatalf("%d threads have the wide slack (the last %d, the main thread %d), want one, not the main one", wide, sysmon, os.Getpid())
	}
	// sysmon spends its life in nanosleep (syscall 35 on x86-64, 101 on arm64).
	for range 200 {
		b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(sysmon) + "/syscall")
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(b)); len(f) > 0 && (f[0] == "35" || f[0] == "101") {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("thread %d, the one with the wide slack, was never seen in nanosleep: not sysmon", sysmon)
}

// Children come from whatever thread runs the goroutine that starts them; none is sysmon.
func TestChildrenKeepTheSlackOfTheProcess(t *testing.T) {
	own := ownSlack(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			out, err := exec.Command("cat", "/proc/self/timerslack_ns").Output()
			if err != nil {
				t.Error(err)
				return
			}
			if got := strings.TrimSpace(string(out)); got != strconv.FormatUint(own, 10) {
				t.Errorf("a child has a timer slack of %s ns, want %d", got, own)
			}
		})
	}
	wg.Wait()
}

func TestHelperSlack(t *testing.T) {
	if os.Getenv("DEN_SYSMON_SLACK_HELPER") == "" {
		t.Skip("run by TestZeroLeavesSysmonAsItIs")
	}
	os.Stdout.WriteString("slack=" + strconv.FormatUint(slack(), 10) + "\n")
}

func TestZeroLeavesSysmonAsItIs(t *testing.T) {
	ownSlack(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSlack$")
	cmd.Env = append(os.Environ(), "DEN_SYSMON_SLACK_HELPER=1", "DEN_SYSMON_SLACK=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "slack=0\n") {
		t.Fatalf("with DEN_SYSMON_SLACK=0 the helper says %q, want slack=0", out)
	}
}
