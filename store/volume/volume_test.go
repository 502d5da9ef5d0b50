package volume

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestValidateNameRefusesPathsAndOddNames(t *testing.T) {
	for _, ok := range []string{"data", "db-1", "a.b_c", "0abc"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", "-x", "x y", "..", strings.Repeat("a", 256)} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
}

func TestCreateGetListRemove(t *testing.T) {
	s := New(t.TempDir())
	v, err := s.Create(CreateOptions{Name: "data", Labels: map[string]string{"app": "db"}})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || !st.IsDir() || filepath.Base(v.Mountpoint) != "_data" {
		t.Fatalf("mountpoint %s: %v", v.Mountpoint, err)
	}
	if _, err := s.Create(CreateOptions{Name: "data"}); !errors.Is(err, ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	anon, err := s.Create(CreateOptions{Anonymous: true})
	if err != nil || len(anon.Name) != 64 || !anon.Anonymous {
		t.Fatalf("anonymous volume %+v, %v", anon, err)
	}
	got, err := s.Get("data")
	if err != nil || got.Labels["app"] != "db" || !got.NeedsCopyUp {
		t.Errorf("Get = %+v, %v", got, err)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %v, %v", list, err)
	}
	if err := s.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("data"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove: %v", err)
	}
	if err := s.Remove("data"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v", err)
	}
	if _, err := s.Get("../volumes/data"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a path: %v", err)
	}
}

func TestCreateRefusesUnknownOptionsAndLeavesNothing(t *testing.T) {
	s := New(t.TempDir())
	for _, opts := range []map[string]string{{"type": "nfs"}, {"uid": "x"}, {"gid": "-1"}} {
		if _, err := s.Create(CreateOptions{Name: "v", Options: opts}); err == nil {
			t.Errorf("options %v accepted", opts)
		}
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("a refused create left %v", list)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "v")); !os.IsNotExist(err) {
		t.Errorf("a refused create left its directory: %v", err)
	}
}

func TestConcurrentCreatesOfOneNameLetOneWin(t *testing.T) {
	s := New(t.TempDir())
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Create(CreateOptions{Name: "same"}); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, ErrExists) {
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d creates of one name succeeded, want 1", wins)
	}
}

func TestFilters(t *testing.T) {
	v := &Volume{Name: "pgdata", Driver: "local", Labels: map[string]string{"app": "db", "tier": ""}}
	for _, tc := range []struct {
		filters []string
		inUse   bool
		want    bool
	}{
		{[]string{"name=pg"}, false, true},
		{[]string{"name=web"}, false, false},
		{[]string{"label=app"}, false, true},
		{[]string{"label=app=db"}, false, true},
		{[]string{"label=app=web"}, false, false},
		{[]string{"driver=local"}, false, true},
		{[]string{"dangling=true"}, false, true},
		{[]string{"dangling=true"}, true, false},
		{[]string{"dangling=false"}, true, true},
		// Same key: any; different keys: all.
		{[]string{"name=web", "name=pg"}, false, true},
		{[]string{"name=pg", "label=app=web"}, false, false},
	} {
		var fs []Filter
		for _, f := range tc.filters {
			p, err := ParseFilter(f)
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, p)
		}
		if got := MatchAll(fs, v, tc.inUse); got != tc.want {
			t.Errorf("%v (in use %v) = %v, want %v", tc.filters, tc.inUse, got, tc.want)
		}
	}
	for _, bad := range []string{"name", "name=", "colour=red", "dangling=maybe", "=x"} {
		if _, err := ParseFilter(bad); err == nil {
			t.Errorf("ParseFilter(%q) accepted", bad)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"name=x", "label=a=b", "dangling=true", "=", "driver=local"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseFilter(s)
		if err != nil {
			return
		}
		_ = p.Match(&Volume{Name: "v", Labels: map[string]string{"a": "b"}}, false)
	})
}
