package cmd

import (
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestSplitAttachedSeparatesValuesOfShortFlagsAsPodmanReadsThem(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, tc := range []struct{ in, want string }{
		{"den stop -t0 web", "den stop -t 0 web"},
		{"den container stop -t5 web", "den container stop -t 5 web"},
		{"den run -d -p8080:80 -eA=B busybox sh", "den run -d -p 8080:80 -e A=B busybox sh"},
		{"den run -e=A=B busybox", "den run -e A=B busybox"},
		{"den run -it busybox sh", "den run -it busybox sh"},
		{"den run --name n -uroot busybox id -u0", "den run --name n -u root busybox id -u0"},
		{"den run -e X busybox env -e1", "den run -e X busybox env -e1"},
		{"den run --env A busybox -t0", "den run --env A busybox -t0"},
		{"den --root /r stop -t0 web", "den --root /r stop -t 0 web"},
		{"den logs -n5 web", "den logs -n5 web"},
		{"den exec -w/tmp web pwd", "den exec -w /tmp web pwd"},
		{"den stop -- -t0", "den stop -- -t0"},
		{"den nosuch -t0", "den nosuch -t0"},
		{"den", "den"},
	} {
		got := splitAttached(app, strings.Fields(tc.in))
		if want := strings.Fields(tc.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %q, want %q", tc.in, got, want)
		}
	}
}

func FuzzSplitAttachedKeepsEveryArgument(f *testing.F) {
	app := newApp(io.Discard, io.Discard)
	for _, s := range []string{"stop -t0 web", "run -p8080:80 busybox", "run -- -x", "exec -w/ c ls -l"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := append([]string{"den"}, strings.Fields(s)...)
		out := splitAttached(app, in)
		// Each argument is kept, or cut in two ("-t0" -> "-t" "0", "-e=A" -> "-e" "A").
		j := 0
		for _, a := range in {
			switch {
			case j < len(out) && out[j] == a:
				j++
			case j+1 < len(out) && (out[j]+out[j+1] == a || out[j]+"="+out[j+1] == a) && len(out[j]) == 2:
				j += 2
			default:
				t.Fatalf("%q became %q: %q is not kept or cut in two", in, out, a)
			}
		}
		if j != len(out) {
			t.Fatalf("%q became %q: arguments were added", in, out)
		}
	})
}
