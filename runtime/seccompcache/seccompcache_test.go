package seccompcache

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// export builds a filter the way libcontainer does (an architecture, attributes, rules with
// and without conditions) and returns its compiled program.
func export(t *testing.T, extra string) []byte {
	t.Helper()
	f, err := libseccomp.NewFilter(libseccomp.ActErrno.SetReturnCode(1))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	if err := f.AddArch(libseccomp.ArchX86); err != nil {
		t.Fatal(err)
	}
	if err := f.SetNoNewPrivsBit(false); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"read", "write", "openat", "close", extra} {
		call, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.AddRule(call, libseccomp.ActAllow); err != nil {
			t.Fatal(err)
		}
	}
	personality, _ := libseccomp.GetSyscallFromName("personality")
	cond, err := libseccomp.MakeCondition(0, libseccomp.CompareEqual, 0xffffffff)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.AddRuleConditional(personality, libseccomp.ActAllow, []libseccomp.ScmpCondition{cond}); err != nil {
		t.Fatal(err)
	}
	return exportOf(t, f)
}

// exportOf compiles f through libseccomp's export, as runc does, and returns the program.
func exportOf(t *testing.T, f *libseccomp.ScmpFilter) []byte {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := f.ExportBPF(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var out bytes.Buffer
	if _, err := out.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	if out.Len() == 0 || out.Len()%8 != 0 {
		t.Fatalf("program of %d bytes", out.Len())
	}
	return out.Bytes()
}

// useDir points this process's cache at a fresh private directory, as the init's
// constructor does.
func useDir(t *testing.T) string {
	t.Helper()
	dir := Dir(t.TempDir())
	if dir == "" {
		t.Fatal("no cache directory")
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	t.Setenv("_DEN_SECCOMP_CACHE_FD", strconv.Itoa(int(d.Fd())))
	return dir
}

func TestTheSameFilterIsCompiledOnceAndThenLoadedFromTheCache(t *testing.T) {
	dir := useDir(t)
	h0, s0 := counts()
	first := export(t, "getpid")
	h1, s1 := counts()
	if h1 != h0 || s1 != s0+1 {
		t.Fatalf("first export: hits %d->%d, stores %d->%d; want a store and no hit", h0, h1, s0, s1)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v, want one program", files)
	}
	again := export(t, "getpid")
	h2, s2 := counts()
	if h2 != h1+1 || s2 != s1 {
		t.Fatalf("second export: hits %d->%d, stores %d->%d; want a hit and no store", h1, h2, s1, s2)
	}
	if !bytes.Equal(first, again) {
		t.Fatal("the cached program differs from the compiled one")
	}
	// A different rule is a different filter: compiled and stored beside the first.
	other := export(t, "getppid")
	h3, s3 := counts()
	if h3 != h2 || s3 != s2+1 || bytes.Equal(other, first) {
		t.Fatalf("other filter: hits %d->%d, stores %d->%d, same program %v", h2, h3, s2, s3, bytes.Equal(other, first))
	}
}

func TestADamagedCacheFileIsRecompiledNotLoaded(t *testing.T) {
	dir := useDir(t)
	want := export(t, "getpid")
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("cache holds %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0xff // one byte of the program
	if err := os.WriteFile(files[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	h0, s0 := counts()
	got := export(t, "getpid")
	h1, s1 := counts()
	if h1 != h0 || s1 != s0+1 || !bytes.Equal(got, want) {
		t.Fatalf("damaged file: hits %d->%d, stores %d->%d, program intact %v", h0, h1, s0, s1, bytes.Equal(got, want))
	}
	// The program stored anew is whole again.
	h1, _ = counts()
	if again := export(t, "getpid"); !bytes.Equal(again, want) {
		t.Fatal("program from the repaired cache differs")
	}
	if h2, _ := counts(); h2 != h1+1 {
		t.Fatal("the repaired cache file was not used")
	}
}

func TestWithoutADirectoryTheFilterIsCompiledAsUsual(t *testing.T) {
	t.Setenv("_DEN_SECCOMP_CACHE_FD", "")
	h0, s0 := counts()
	export(t, "getpid")
	if h1, s1 := counts(); h1 != h0 || s1 != s0 {
		t.Fatalf("no cache directory, yet hits %d->%d stores %d->%d", h0, h1, s0, s1)
	}
}

func TestLogLevelCarriesTheDirectoryOnlyWhenThereIsOne(t *testing.T) {
	if got := LogLevel("4", ""); got != "4" {
		t.Fatalf("LogLevel without dir = %q", got)
	}
	if got := LogLevel("4", "/d/seccomp"); got != "4 den-seccomp-cache=/d/seccomp" {
		t.Fatalf("LogLevel = %q", got)
	}
}

func TestDirRefusesADirectoryOthersCanWrite(t *testing.T) {
	base := t.TempDir()
	if err := os.Mkdir(filepath.Join(base, Subdir), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(base, Subdir), 0o777); err != nil {
		t.Fatal(err)
	}
	if got := Dir(base); got != "" {
		t.Fatalf("Dir accepted a world-writable directory: %q", got)
	}
}

// With a cache directory, rules are given to libseccomp only when a filter must be compiled:
// a rule it refuses then fails the export, and nothing is stored. Without one, the rule's
// own call fails, as libseccomp has it.
func TestARefusedRuleFailsTheExportWhenRulesAreDeferred(t *testing.T) {
	build := func() (addErr, exportErr error) {
		f, err := libseccomp.NewFilter(libseccomp.ActErrno.SetReturnCode(1))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Release()
		read, _ := libseccomp.GetSyscallFromName("read")
		// An action libseccomp refuses for a rule: the default action itself.
		addErr = f.AddRule(read, libseccomp.ActErrno.SetReturnCode(1))
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		exportErr = f.ExportBPF(w)
		w.Close()
		return addErr, exportErr
	}
	t.Setenv("_DEN_SECCOMP_CACHE_FD", "")
	if addErr, _ := build(); addErr == nil {
		t.Skip("this libseccomp accepts a rule with the default action; nothing to refuse")
	}
	dir := useDir(t)
	_, s0 := counts()
	addErr, exportErr := build()
	if addErr != nil || exportErr == nil {
		t.Fatalf("deferred: rule error %v, export error %v; want the export to fail instead of the rule", addErr, exportErr)
	}
	if _, s1 := counts(); s1 != s0 {
		t.Fatal("a filter that failed was stored")
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Fatalf("cache holds %v after a failed export", files)
	}
}

// A second filter started while the first still has rules written down: the first gets its
// rules at once, and compiles to what it compiles without a cache.
func TestAFilterBuiltBesideAnotherKeepsItsRules(t *testing.T) {
	build := func() *libseccomp.ScmpFilter {
		f, err := libseccomp.NewFilter(libseccomp.ActErrno.SetReturnCode(1))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"read", "write", "getpid"} {
			call, _ := libseccomp.GetSyscallFromName(name)
			if err := f.AddRule(call, libseccomp.ActAllow); err != nil {
				t.Fatal(err)
			}
		}
		return f
	}
	t.Setenv("_DEN_SECCOMP_CACHE_FD", "")
	ref := build()
	want := exportOf(t, ref)
	ref.Release()

	useDir(t)
	first := build()
	defer first.Release()
	second, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release()
	if got := exportOf(t, first); !bytes.Equal(got, want) {
		t.Fatalf("the first filter lost its rules: %d bytes of program, want %d", len(got), len(want))
	}
}
