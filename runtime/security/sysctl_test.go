package security

import (
	"os"
	"strings"
	"testing"
)

func TestParseSysctl(t *testing.T) {
	for _, tc := range []struct {
		in         string
		ownNetwork bool
		name, val  string
		bad        string
	}{
		{"net.ipv4.ip_forward=1", true, "net.ipv4.ip_forward", "1", ""},
		{"net/ipv4/ping_group_range=0 1000", true, "net.ipv4.ping_group_range", "0 1000", ""},
		{"kernel.shmmax=1048576", false, "kernel.shmmax", "1048576", ""},
		{"kernel.sem=250 32000 32 128", false, "kernel.sem", "250 32000 32 128", ""},
		{"fs.mqueue.msg_max=100", false, "fs.mqueue.msg_max", "100", ""},
		{"net.ipv4.ip_forward=1", false, "", "", "network namespace"},
		{"kernel.hostname=x", true, "", "", "kernel.hostname"},
		{"vm.swappiness=1", true, "", "", "vm.swappiness"},
		{"kernel.shmmaxx=1", true, "", "", "kernel.shmmaxx"},
		{"net.ipv4.ip_forward", true, "", "", "NAME=VALUE"},
		{"net.ipv4.ip_forward=", true, "", "", "NAME=VALUE"},
		{"=1", true, "", "", "NAME=VALUE"},
		{"net..x=1", true, "", "", "not a sysctl name"},
		{"net.=1", true, "", "", "not a sysctl name"},
	} {
		name, val, err := ParseSysctl(tc.in, tc.ownNetwork)
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) || !strings.Contains(err.Error(), "--sysctl") {
				t.Errorf("ParseSysctl(%q, %v): want an error mentioning %q, got %v", tc.in, tc.ownNetwork, tc.bad, err)
			}
			continue
		}
		if err != nil || name != tc.name || val != tc.val {
			t.Errorf("ParseSysctl(%q, %v) = %q, %q, %v; want %q, %q", tc.in, tc.ownNetwork, name, val, err, tc.name, tc.val)
		}
	}
}

func FuzzParseSysctl(f *testing.F) {
	for _, s := range []string{"net.ipv4.ip_forward=1", "kernel.sem=1 2 3 4", "fs.mqueue.x=1", "a=b", "=", "net..=1"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, own bool) {
		name, _, err := ParseSysctl(s, own)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--sysctl ") {
				t.Errorf("ParseSysctl(%q): want the error to name --sysctl, got %v", s, err)
			}
			return
		}
		ok := strings.HasPrefix(name, "fs.mqueue.") || (own && strings.HasPrefix(name, "net."))
		for _, k := range ipcSysctls {
			ok = ok || name == k
		}
		if !ok || strings.Contains(name, "..") || strings.Contains(name, "/") {
			t.Errorf("ParseSysctl(%q, %v) took %q, not a sysctl of the container's namespaces", s, own, name)
		}
	})
}

func TestParseUmask(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
		bad  bool
	}{
		{"0022", 0o22, false}, {"077", 0o77, false}, {"0", 0, false}, {"0777", 0o777, false},
		{"1777", 0, true}, {"0888", 0, true}, {"", 0, true}, {"-1", 0, true}, {"22x", 0, true},
	} {
		got, err := ParseUmask(tc.in)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("ParseUmask(%q) = %o, %v", tc.in, got, err)
		}
	}
}

func FuzzParseUmask(f *testing.F) {
	for _, s := range []string{"0022", "777", "1000", "x", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseUmask(s)
		if err == nil && m > 0o777 {
			t.Errorf("ParseUmask(%q) = %o, over 0777", s, m)
		}
	})
}

func TestTimezoneFileStaysInZoneinfo(t *testing.T) {
	if _, err := os.Stat(ZoneInfoDir + "/UTC"); err != nil {
		t.Skipf("no time zones on this host (tzdata): %v", err)
	}
	if p, err := TimezoneFile("UTC"); err != nil || !strings.HasPrefix(p, ZoneInfoDir+"/") {
		t.Errorf("TimezoneFile(UTC) = %q, %v", p, err)
	}
	for _, tz := range []string{"", "/etc/passwd", "../../../etc/passwd", "Europe/../../../../etc/shadow", "Nowhere/Place", "Europe", "UTC\n"} {
		if p, err := TimezoneFile(tz); err == nil || !strings.Contains(err.Error(), "--tz") {
			t.Errorf("TimezoneFile(%q) = %q, %v: want an error naming --tz", tz, p, err)
		}
	}
}
