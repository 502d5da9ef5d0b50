package security

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The sysctls a container may set: those of the namespaces it has of its own, as podman and
// runc allow them. The IPC namespace's: kernel.msg*, kernel.sem, kernel.shm* and fs.mqueue.*;
// the network namespace's: net.*.
var (
	ipcSysctls       = []string{"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}
	ipcSysctlPrefix  = "fs.mqueue."
	netSysctlPrefix  = "net."
	sysctlsAllowedIn = "kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.* and net.*"
)

// ParseSysctl reads --sysctl NAME=VALUE as podman does. NAME must be a sysctl of a namespace
// the container has of its own; net.* ones need a network namespace of its own, which
// ownNetwork says (not --network host, nor another container's).
func ParseSysctl(s string, ownNetwork bool) (name, value string, err error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.TrimSpace(value) == "" {
		return "", "", fmt.Errorf("--sysctl %q: use NAME=VALUE, such as net.ipv4.ip_unprivileged_port_start=0", s)
	}
	// /proc/sys takes slashes too: net/ipv4/... is net.ipv4....
	name = strings.ReplaceAll(name, "/", ".")
	switch {
	case strings.HasPrefix(name, netSysctlPrefix):
		if !ownNetwork {
			return "", "", fmt.Errorf("--sysctl %q: a net.* sysctl needs a network namespace of the container's own, not the host's or another container's", s)
		}
	case strings.HasPrefix(name, ipcSysctlPrefix):
	default:
		known := false
		for _, k := range ipcSysctls {
			known = known || k == name
		}
		if !known {
			return "", "", fmt.Errorf("--sysctl %q: a container may only set %s, the sysctls of its own namespaces", s, sysctlsAllowedIn)
		}
	}
	if strings.Contains(name, "..") || strings.ContainsAny(name, " \t\n\x00") || strings.HasSuffix(name, ".") {
		return "", "", fmt.Errorf("--sysctl %q: %q is not a sysctl name", s, name)
	}
	return name, value, nil
}

// ParseUmask reads --umask: an octal mask of at most 0777, such as 0022 or 077.
func ParseUmask(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o777 {
		return 0, fmt.Errorf("--umask %q: give an octal mask from 0000 to 0777, such as 0022", s)
	}
	return uint32(n), nil
}

// ZoneInfoDir holds the host's time zones, which --tz names.
const ZoneInfoDir = "/usr/share/zoneinfo"

// TimezoneFile is the host's file of time zone tz (--tz): "local", the host's own
// (/etc/localtime), or a name under ZoneInfoDir such as Europe/Paris or UTC. The file must be
// a regular file there after its symlinks; a name with ".." or a leading "/" is refused.
func TimezoneFile(tz string) (string, error) {
	if tz == "local" {
		p, err := filepath.EvalSymlinks("/etc/localtime")
		if err != nil {
			return "", fmt.Errorf("--tz local: the host has no time zone of its own: %w", err)
		}
		return regularZone(tz, p)
	}
	if tz == "" || strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") || strings.ContainsAny(tz, " \t\n\x00") {
		return "", fmt.Errorf("--tz %q: give a time zone name such as Europe/Paris or UTC (see %s), or local", tz, ZoneInfoDir)
	}
	p, err := filepath.EvalSymlinks(filepath.Join(ZoneInfoDir, tz))
	if err != nil {
		return "", fmt.Errorf("--tz %q: no such time zone in %s; give one such as Europe/Paris or UTC, or local", tz, ZoneInfoDir)
	}
	if !strings.HasPrefix(p, ZoneInfoDir+"/") {
		return "", fmt.Errorf("--tz %q: it leads out of %s, to %s", tz, ZoneInfoDir, p)
	}
	return regularZone(tz, p)
}

func regularZone(tz, p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("--tz %q: %w", tz, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("--tz %q: %s is not a time zone file; give one such as Europe/Paris or UTC", tz, p)
	}
	return p, nil
}
