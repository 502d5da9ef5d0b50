package port

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseReadsPodmanSyntax(t *testing.T) {
	tcp := func(ip string, h, c uint16) Mapping {
		return Mapping{HostIP: ip, HostPort: h, ContainerPort: c, Protocol: "tcp"}
	}
	udp := func(ip string, h, c uint16) Mapping {
		return Mapping{HostIP: ip, HostPort: h, ContainerPort: c, Protocol: "udp"}
	}
	for _, tc := range []struct {
		in   string
		want []Mapping
	}{
		{"80", []Mapping{tcp("", 0, 80)}},
		{"8080:80", []Mapping{tcp("", 8080, 80)}},
		{"8080:80/tcp", []Mapping{tcp("", 8080, 80)}},
		{"5353:53/udp", []Mapping{udp("", 5353, 53)}},
		{"53/tcp,udp", []Mapping{tcp("", 0, 53), udp("", 0, 53)}},
		{"127.0.0.1:8080:80", []Mapping{tcp("127.0.0.1", 8080, 80)}},
		{"127.0.0.1::80", []Mapping{tcp("127.0.0.1", 0, 80)}},
		{":80", []Mapping{tcp("", 0, 80)}},
		{"[::1]:8080:80", []Mapping{tcp("::1", 8080, 80)}},
		{"[::1]::80/udp", []Mapping{udp("::1", 0, 80)}},
		{"8000-8002:80-82", []Mapping{tcp("", 8000, 80), tcp("", 8001, 81), tcp("", 8002, 82)}},
		{"80-81", []Mapping{tcp("", 0, 80), tcp("", 0, 81)}},
		{"65535:1", []Mapping{tcp("", 65535, 1)}},
	} {
		got, err := Parse(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRejectsMalformedSpecsNamingThem(t *testing.T) {
	for _, tc := range []struct{ in, mention string }{
		{"", "missing"},
		{"bad", `"bad" is not a number`},
		{"0", "out of range"},
		{"65536", "out of range"},
		{"8080:70000", "out of range"},
		{"-1:80", "host port is missing"},
		{"+80", "not a number"},
		{"80/sctp", "not tcp or udp"},
		{"80/tcp,tcp", "twice"},
		{"80/", "not tcp or udp"},
		{"1.2.3:80:80", "not an IPv4 address"},
		{"::1:80:80", "too many colons"},
		{"[::1:80:80", "unclosed"},
		{"[1.2.3.4]:80:80", "not an IPv6"},
		{"8000-8001:80", "differ in length"},
		{"82-80", "ends before it starts"},
		{"1:2:3:4", "too many colons"},
	} {
		_, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q): want an error", tc.in)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), `"`+tc.in+`"`) {
			t.Errorf("Parse(%q) = %v; want it to name the spec and say %q", tc.in, err, tc.mention)
		}
	}
}

func TestParseAllRejectsHostPortPublishedTwice(t *testing.T) {
	for _, specs := range [][]string{
		{"8080:80", "8080:81"},
		{"127.0.0.1:8080:80", "8080:81"},
		{"8000-8002:80-82", "8001:90"},
	} {
		if _, err := ParseAll(specs); err == nil || !strings.Contains(err.Error(), "published twice") {
			t.Errorf("ParseAll(%q) = %v; want a duplicate error", specs, err)
		}
	}
	for _, specs := range [][]string{
		{"8080:80", "8080:80/udp"},
		{"127.0.0.1:8080:80", "127.0.0.2:8080:80"},
		{"80", "81"},
	} {
		if _, err := ParseAll(specs); err != nil {
			t.Errorf("ParseAll(%q) = %v; want no error", specs, err)
		}
	}
}

func TestMappingStringIsPodmansPsForm(t *testing.T) {
	for _, tc := range []struct {
		m    Mapping
		want string
	}{
		{Mapping{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, "0.0.0.0:8080->80/tcp"},
		{Mapping{HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 53, Protocol: "udp"}, "127.0.0.1:53->53/udp"},
		{Mapping{HostIP: "::1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"}, "[::1]:8080->80/tcp"},
	} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.m, got, tc.want)
		}
	}
}

// FuzzParse checks that Parse never panics and that what it accepts is in range.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"80", "8080:80/udp", "127.0.0.1::80", "[::1]:1-2:3-4/tcp,udp", "1:2:3:4", "[", "-", "0-65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := Parse(s)
		if err != nil {
			return
		}
		if len(ms) == 0 {
			t.Fatalf("Parse(%q) accepted nothing", s)
		}
		for _, m := range ms {
			if m.ContainerPort == 0 || (m.Protocol != "tcp" && m.Protocol != "udp") {
				t.Fatalf("Parse(%q) gave %+v", s, m)
			}
		}
	})
}

func TestParseExposeReadsPortsRangesAndProtocols(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"80", []string{"80/tcp"}},
		{"53/udp", []string{"53/udp"}},
		{"8080/tcp", []string{"8080/tcp"}},
		{"3300-3302", []string{"3300/tcp", "3301/tcp", "3302/tcp"}},
		{"7-7/udp", []string{"7/udp"}},
		{"65535", []string{"65535/tcp"}},
	} {
		got, err := ParseExpose(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseExpose(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseExposeRejectsMalformedValuesNamingThem(t *testing.T) {
	for _, tc := range []struct{ in, mention string }{
		{"", "missing"},
		{"web", `"web" is not a number`},
		{"0", "out of range"},
		{"65536", "out of range"},
		{"80/sctp", `"sctp" is not tcp or udp`},
		{"80/", "is not tcp or udp"},
		{"90-80", "ends before it starts"},
		{"80-", "missing"},
		{"8080:80", "not a number"},
		{"+80", "not a number"},
	} {
		_, err := ParseExpose(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), "--expose") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseExpose(%q) = %v; want one line naming --expose and %q", tc.in, err, tc.mention)
		}
	}
}

// FuzzParseExpose checks that ParseExpose never panics and that what it accepts is a run of
// ports in range, each once, with one protocol.
func FuzzParseExpose(f *testing.F) {
	for _, s := range []string{"80", "53/udp", "1-3/tcp", "90-80", "/", "-", "1-65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseExpose(s)
		if err != nil {
			return
		}
		if len(ps) == 0 {
			t.Fatalf("ParseExpose(%q) accepted nothing", s)
		}
		prev, proto := 0, ""
		for i, p := range ps {
			num, pr, _ := strings.Cut(p, "/")
			n, err := strconv.Atoi(num)
			if err != nil || n < 1 || n > 65535 || (pr != "tcp" && pr != "udp") || (i > 0 && (n != prev+1 || pr != proto)) {
				t.Fatalf("ParseExpose(%q) gave %q", s, ps)
			}
			prev, proto = n, pr
		}
	})
}
