package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// A container's init execs the den-init that den keeps under its data directory, sealed
// (runtime/initexec): a private file of the user's own, mode 0500, of den-init's size, in
// directories nobody else may write. Anything else planted there is not run: den replaces a
// file of another size or mode, and for the rest den-init comes from den itself, as before it
// was kept.
func TestInitRunsOnlyTheKeptDenInit(t *testing.T) {
	d := newDen(t)
	d.load(t, "busybox-oci.tar")
	wantStdout(t, d.run(t, "run", "--rm", "busybox", "echo", "hi"), "hi\n")
	kept, err := filepath.Glob(filepath.Join(d.data, "den", "init", "*", "bin", "den-init"))
	if err != nil || len(kept) != 1 {
		t.Fatalf("want one kept den-init after a run, found %q (%v)", kept, err)
	}
	file := kept[0]
	st, err := os.Lstat(file)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm() != 0o500 || ownerOf(st) != d.hostUID() {
		t.Fatalf("kept den-init: mode %v, owner %d; want a regular file, 0500, of uid %d", st.Mode(), ownerOf(st), d.hostUID())
	}
	original, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(d.home, "planted-init-ran")
	planted := plantedProgram(t, d, marker)
	bin := filepath.Dir(file)
	restore := func(t *testing.T) {
		_ = os.Chmod(bin, 0o700)
		_ = os.Remove(marker)
		d.replace(t, file, original, 0o500)
	}
	cases := []plantCase{
		{"another size", func(t *testing.T) { d.replace(t, file, planted(st.Size()+1), 0o500) }},
		{"mode 0555", func(t *testing.T) { d.replace(t, file, planted(st.Size()), 0o555) }},
		{"a directory others may write", func(t *testing.T) {
			d.replace(t, file, planted(st.Size()), 0o500)
			if err := os.Chmod(bin, 0o770); err != nil {
				t.Fatal(err)
			}
		}},
	}
	if d.user != nil && d.user.switchTo {
		cases = append(cases, plantCase{"another user's file", func(t *testing.T) {
			d.replace(t, file, planted(st.Size()), 0o500)
			if err := os.Chown(file, 0, 0); err != nil {
				t.Fatal(err)
			}
		}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			restore(t)
			tc.plant(t)
			r := d.run(t, "run", "--rm", "busybox", "echo", "hi")
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("the init ran the planted program\n%s", r)
			}
			wantStdout(t, r, "hi\n")
			// A file of another size or mode is den's to replace, and den did; so is one in a
			// directory others could write, which den makes private again.
			if tc.name != "another user's file" {
				if b, err := os.ReadFile(file); err != nil || !bytes.Equal(b, original) {
					t.Errorf("den did not put den-init back in place of the planted file (%v)", err)
				}
			}
		})
	}
	// The control: the same program as the user's own private file is run, which is what
	// shows that the cases above would have seen it run.
	restore(t)
	d.replace(t, file, planted(st.Size()), 0o500)
	d.run(t, "run", "--rm", "busybox", "echo", "hi")
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the kept den-init was not what the init ran: %v", err)
	}
	restore(t)
	wantStdout(t, d.run(t, "run", "--rm", "busybox", "echo", "hi"), "hi\n")
	d.wantNoContainers(t)
}
