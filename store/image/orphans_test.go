//go:build !den_core

package image

import (
	"errors"
	"io/fs"
	"testing"
)

func TestCopyErrorNamesTheLayerAndTheCauseOnly(t *testing.T) {
	orig := errors.Join(fs.ErrNotExist, errors.New(`writing blob: adding layer with blob "sha256:4c14d2558aa1a2218c7de22d48e7f25f4530800e7f0f376ed24dda081784e950"/""/"sha256:4c14d2558aa1a2218c7de22d48e7f25f4530800e7f0f376ed24dda081784e950": unpacking failed (error: exit status 1; output: no such file or directory)`))
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unpack failure", errors.New(`writing blob: adding layer with blob "sha256:4c14d2558aa1a2218c7de22d48e7f25f4530800e7f0f376ed24dda081784e950"/""/"sha256:4c14d2558aa1a2218c7de22d48e7f25f4530800e7f0f376ed24dda081784e950": unpacking failed (error: exit status 1; output: no such file or directory)`),
			"layer sha256:4c14d2558aa1 cannot be unpacked: no such file or directory"},
		{"other errors unchanged", errors.New("reading manifest: 404"), "reading manifest: 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := copyError(tc.err).Error(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if copyError(nil) != nil {
		t.Error("copyError(nil) is not nil")
	}
	if got := copyError(orig); got.Error() == orig.Error() || !errors.Is(got, fs.ErrNotExist) {
		t.Errorf("rewritten error %q lost its cause", got)
	}
}
