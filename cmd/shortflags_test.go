package cmd

import (
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
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
		// -h is --hostname where there is one, as in podman; elsewhere it stays help's.
		{"den run -h box busybox hostname -h", "den run --hostname box busybox hostname -h"},
		{"den create -hbox -d busybox", "den create --hostname box -d busybox"},
		{"den run -h=box busybox", "den run --hostname box busybox"},
		{"den stop -h", "den stop -h"},
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
			case j < len(out) && out[j] == "--hostname" && strings.HasPrefix(a, "-h"):
				// -h, -hNAME, -h=NAME: --hostname, then NAME as the next argument, whether
				// attached or not.
				j++
				if rest := strings.TrimPrefix(a[2:], "="); len(a) > 2 {
					if j >= len(out) || out[j] != rest {
						t.Fatalf("%q became %q: %q lost its value", in, out, a)
					}
					j++
				}
			default:
				t.Fatalf("%q became %q: %q is not kept or cut in two", in, out, a)
			}
		}
		if j != len(out) {
			t.Fatalf("%q became %q: arguments were added", in, out)
		}
	})
}

func TestMoveTrailingFlagsReadsFlagsAfterArgumentsAsPodmanDoes(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, tc := range []struct{ in, want string }{
		{"den rm web -f", "den rm -f web"},
		{"den rm web db -f -v", "den rm -f -v web db"},
		{"den stop web -t 0", "den stop -t 0 web"},
		{"den stop web --time=3", "den stop --time=3 web"},
		{"den --root /r rm web -f", "den --root /r rm -f web"},
		{"den image rm busybox -f", "den image rm -f busybox"},
		{"den save busybox -o out.tar", "den save -o out.tar busybox"},
		{"den logs web --tail 5 -f", "den logs --tail 5 -f web"},
		{"den rm web -- -f", "den rm web -- -f"},
		{"den rm web -f -- -x", "den rm -f -- web -x"},
		{"den rm -f web", "den rm -f web"},
		{"den load -i -", "den load -i -"},
		{"den run busybox ls -l", "den run busybox ls -l"},
		{"den container run busybox ls -l", "den container run busybox ls -l"},
		{"den exec web ls -l", "den exec web ls -l"},
		{"den create busybox sh -c x", "den create busybox sh -c x"},
		{"den unshare ls -l", "den unshare ls -l"},
		{"den nosuch web -f", "den nosuch web -f"},
		{"den kill web -s", "den kill web -s"},
		{"den stop web -i --time", "den stop web -i --time"},
		{"den", "den"},
		{"den rm web -f --generate-bash-completion", "den rm web -f --generate-bash-completion"},
		{"den healthcheck run web --help", "den healthcheck run --help web"},
	} {
		got := moveTrailingFlags(app, strings.Fields(tc.in))
		if want := strings.Fields(tc.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %q, want %q", tc.in, got, want)
		}
	}
}

// The commands that keep what follows their first argument are those that run a command,
// wherever they sit (den container run), and no other (den healthcheck run).
func TestTakesCommandIsTheCommandsThatRunACommand(t *testing.T) {
	want := map[string]bool{
		"run": true, "create": true, "exec": true, "unshare": true,
		"container run": true, "container create": true, "container exec": true,
	}
	var walk func(string, []*cli.Command)
	walk = func(parent string, cs []*cli.Command) {
		for _, c := range cs {
			path := strings.TrimSpace(parent + " " + c.Name)
			if got := takesCommand(c); got != want[path] {
				t.Errorf("takesCommand(%s) = %v, want %v", path, got, want[path])
			}
			delete(want, path)
			walk(path, c.Subcommands)
		}
	}
	walk("", newApp(io.Discard, io.Discard).Commands)
	for path := range want {
		t.Errorf("no command %q", path)
	}
}

func FuzzMoveTrailingFlagsKeepsEveryArgument(f *testing.F) {
	app := newApp(io.Discard, io.Discard)
	for _, s := range []string{"rm web -f", "stop web -t 0 -- -x", "run busybox ls -l", "logs --tail 5 web -f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := append([]string{"den"}, strings.Fields(s)...)
		out := moveTrailingFlags(app, in)
		a, b := append([]string(nil), in...), append([]string(nil), out...)
		sort.Strings(a)
		sort.Strings(b)
		if !reflect.DeepEqual(a, b) || out[0] != "den" {
			t.Fatalf("%q became %q: not the same arguments", in, out)
		}
	})
}

func TestOneFormPerFlagRenamesAFlagGivenUnderTwoNames(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, tc := range []struct{ in, want string }{
		{"den run -e A=1 --env B=2 busybox", "den run --env A=1 --env B=2 busybox"},
		{"den run --env=A=1 -e B=2 busybox", "den run --env=A=1 --env B=2 busybox"},
		{"den run --net none --network=none busybox", "den run --network none --network=none busybox"},
		{"den run -e A=1 -e B=2 busybox", "den run -e A=1 -e B=2 busybox"},
		{"den run -it -e A=1 busybox -e x --env y", "den run -it -e A=1 busybox -e x --env y"},
		{"den run -e A busybox env -e1 --env 2", "den run -e A busybox env -e1 --env 2"},
		// A value that looks like a flag is a value.
		{"den run -e --env busybox", "den run -e --env busybox"},
		{"den exec -e A=1 --env B=2 web env", "den exec --env A=1 --env B=2 web env"},
		{"den container run -p 80:80 --publish 81:81 busybox", "den container run --publish 80:80 --publish 81:81 busybox"},
		{"den run -- -e A --env B", "den run -- -e A --env B"},
		// A group of short booleans is split where one of its flags is also given by name.
		{"den run -it --tty busybox", "den run -i --tty --tty busybox"},
		{"den run -dit --interactive --tty busybox sh", "den run -d --interactive --tty --interactive --tty busybox sh"},
		{"den run -it --rm busybox", "den run -it --rm busybox"},
		// A group's last flag may take the next argument, which stays a value.
		{"den run -de A=1 --env B=2 busybox", "den run -d --env A=1 --env B=2 busybox"},
		{"den run --interactive -de -it busybox", "den run --interactive -de -it busybox"},
		{"den run -ie -it --interactive busybox", "den run --interactive -e -it --interactive busybox"},
		{"den", "den"},
	} {
		got := oneFormPerFlag(app, strings.Fields(tc.in))
		if want := strings.Fields(tc.want); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %q, want %q", tc.in, got, want)
		}
	}
}

func FuzzOneFormPerFlagOnlyRenamesFlags(f *testing.F) {
	app := newApp(io.Discard, io.Discard)
	for _, s := range []string{"run -e A --env B busybox", "run --net=x --network y b", "exec -e=1 --env 2 c ls", "run -it --tty b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := append([]string{"den"}, strings.Fields(s)...)
		out := oneFormPerFlag(app, in)
		// Each argument is kept, renamed to a long name with its value kept, or, a group of
		// short flags, split into one argument per letter.
		j := 0
		for _, a := range in {
			if j >= len(out) {
				t.Fatalf("%q became %q: %q lost", in, out, a)
			}
			if out[j] == a {
				j++
				continue
			}
			name, value, has := strings.Cut(strings.TrimPrefix(out[j], "--"), "=")
			_, value0, has0 := strings.Cut(a, "=")
			if strings.HasPrefix(out[j], "--") && strings.HasPrefix(a, "-") && has == has0 && value == value0 && name != "" &&
				(strings.HasPrefix(a, "--") || len(strings.TrimPrefix(a, "-")) == 1 || has) {
				j++
				continue
			}
			if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 2 && j+len(a)-1 <= len(out) {
				for _, r := range a[1:] {
					if o := out[j]; o != "-"+string(r) && !strings.HasPrefix(o, "--") {
						t.Fatalf("%q became %q: group %q split into %q", in, out, a, o)
					}
					j++
				}
				continue
			}
			t.Fatalf("%q became %q at %q", in, out, a)
		}
		if j != len(out) {
			t.Fatalf("%q became %q: arguments added", in, out)
		}
	})
}
