package image

import (
	"io"
	"os"
	"testing"
)

// A spool is an open file with no name: the temporary directory shows nothing of it while it
// is used, so nothing is left there whatever ends den.
func TestSpoolHasNoNameAndHoldsWhatIsWritten(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	f, err := spool("den-test-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("layer diff"); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the spool has a name in TMPDIR: %s", left[0].Name())
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(f); err != nil || string(b) != "layer diff" {
		t.Errorf("read back %q (%v), want what was written", b, err)
	}
}
