#!/usr/bin/env bash
# setup-host.sh prepares a Debian or Ubuntu machine to build and run den
# rootless: packages, a Go toolchain, device permissions, user namespace
# sysctls and a subordinate id range for the invoking user.
#
# Run it as root, or as a user with sudo (used only for privileged steps).
# It is safe to rerun: it prints one line per change and nothing when the
# host is already set up.
#
# usage: scripts/setup-host.sh [--bench]
#   --bench   also install podman and runc, to benchmark den against
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib/host.sh
. "$here/lib/host.sh"

# docker-registry is the real registry that den's pull, push and login tests run against.
packages=(uidmap slirp4netns busybox-static fuse-overlayfs libseccomp-dev libsqlite3-dev
	gcc make file iproute2 ca-certificates git debootstrap docker-registry catatonit tzdata)
bench_packages=(podman runc iperf3)

# Persisted sysctls go here so one file shows what this script changed.
sysctl_file=/etc/sysctl.d/60-den-rootless.conf

# Toolchain to bootstrap when the distribution's Go predates GOTOOLCHAIN,
# if go.mod cannot tell us.
fallback_go=go1.26.0

usage() {
	sed -n 's/^# \{0,1\}//; 10,11p' "${BASH_SOURCE[0]}"
}

# installed succeeds when package $1 is fully installed; a removed package
# whose config files remain also answers dpkg -s, so check its status line.
installed() {
	local status
	status=$(dpkg -s "$1" 2>/dev/null) || return 1
	grep -qx 'Status: install ok installed' <<<"$status"
}

install_packages() {
	local p missing=()
	for p in "$@"; do
		installed "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	# Refresh only when installing: a fresh machine's lists are often empty
	# or stale, and a host that is already set up stays quiet and offline.
	quiet as_root apt-get update
	quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
	echo "installed packages: ${missing[*]}"
}

# find_go prints the Go command to use, if any.
find_go() {
	command -v go || { [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go; }
}

# wanted_go prints the toolchain go.mod asks for, e.g. go1.26.0.
wanted_go() {
	local v
	v=$(awk '$1 == "toolchain" { t = $2 } $1 == "go" { g = "go" $2 } END { print t ? t : g }' \
		"$here/../go.mod" 2>/dev/null || true)
	if [ -z "$v" ]; then
		v=$fallback_go
	fi
	# A bare language version (go1.26) names no download; .0 is its first release.
	if [[ $v =~ ^go[0-9]+\.[0-9]+$ ]]; then
		v=$v.0
	fi
	echo "$v"
}

# go_switches succeeds when GO is new enough (1.21+) to fetch the toolchain
# go.mod asks for by itself (GOTOOLCHAIN=auto).
go_switches() {
	local v
	v=$("$1" env GOVERSION 2>/dev/null) || return 1
	[[ $v =~ ^go1\.([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 21 ]
}

# bootstrap_go GO VERSION DEST uses an old GO to download toolchain VERSION
# from the module proxy (checked against sum.golang.org, the same module
# GOTOOLCHAIN=auto would fetch) and installs it at DEST. Debian 12 ships
# Go 1.19, which builds nothing in a go 1.26 module and cannot switch.
bootstrap_go() {
	local gobin=$1 version=$2 dest=$3 tmp mod src
	mod=golang.org/toolchain@v0.0.1-$version.linux-$("$gobin" env GOARCH)
	tmp=$(mktemp -d)
	# Module zips drop permission bits and the cache makes files read-only;
	# -modcacherw lets us clean up, the chmods below restore what Go does.
	(cd "$tmp" && quiet env GOPATH="$tmp/gopath" GOMODCACHE="$tmp/mod" GOFLAGS=-modcacherw \
		GO111MODULE=on GOTOOLCHAIN=local "$gobin" mod download "$mod") || {
		rm -rf "$tmp"
		die "downloading $mod with $gobin failed: install Go $version by hand into $dest"
	}
	src=$tmp/mod/$mod
	find "$src/bin" "$src/pkg/tool" -type f -exec chmod +x {} +
	find "$src/lib" -type f -name 'go_?*_?*_exec' -exec chmod +x {} + 2>/dev/null || true
	as_root mkdir -p "$(dirname "$dest")"
	as_root rm -rf "$dest.new"
	as_root cp -R "$src" "$dest.new"
	as_root mv "$dest.new" "$dest"
	rm -rf "$tmp"
}

# setup_go makes sure the Go found can build den, bootstrapping a newer
# toolchain when it is too old to fetch one itself.
setup_go() {
	local gobin want b
	gobin=$(find_go) || die "no go command found, though golang-go should be installed"
	if go_switches "$gobin"; then
		return 0
	fi
	want=$(wanted_go)
	if [ -e /usr/local/go ]; then
		echo "warning: $gobin is $("$gobin" env GOVERSION), too old to fetch $want itself, and /usr/local/go exists; install $want there by hand" >&2
		return 0
	fi
	bootstrap_go "$gobin" "$want" /usr/local/go
	# /usr/local/bin precedes /usr/bin in the default PATH, so these win
	# over the distribution's go.
	for b in go gofmt; do
		if [ ! -e "/usr/local/bin/$b" ]; then
			as_root ln -s "/usr/local/go/bin/$b" "/usr/local/bin/$b"
		fi
	done
	echo "installed $want from the Go module proxy into /usr/local/go (linked from /usr/local/bin)"
}

# A normal user's slirp4netns opens /dev/net/tun and fuse-overlayfs opens
# /dev/fuse; some images ship them 0600. devtmpfs forgets this on reboot,
# so rerun after one.
open_devices() {
	local dev user mode
	for dev in /dev/net/tun:slirp4netns /dev/fuse:fuse-overlayfs; do
		user=${dev#*:} dev=${dev%%:*}
		[ -e "$dev" ] || continue
		mode=$(stat -c %a "$dev")
		if [ "$mode" != 666 ]; then
			as_root chmod 0666 "$dev"
			echo "chmod 0666 $dev (was $mode) so $user run by a normal user can open it"
		fi
	done
}

# set_sysctl KEY VALUE sets KEY now and persists it in sysctl_file,
# replacing any line for KEY we wrote before.
set_sysctl() {
	local key=$1 value=$2
	# Through /proc rather than sysctl(8): minimal images lack procps.
	echo "$value" | as_root tee "/proc/sys/${key//.//}" >/dev/null
	{
		[ -r "$sysctl_file" ] && grep -v "^$key *=" "$sysctl_file"
		echo "$key = $value"
	} | as_root tee "$sysctl_file.new" >/dev/null
	as_root mv "$sysctl_file.new" "$sysctl_file"
}

# read_sysctl KEY prints KEY's value, or nothing when this kernel lacks it.
read_sysctl() {
	local f=/proc/sys/${1//.//}
	[ -r "$f" ] && cat "$f"
	return 0
}

enable_userns() {
	# Debian kernels before 6.1-ish gate unprivileged user namespaces here.
	if [ "$(read_sysctl kernel.unprivileged_userns_clone)" = 0 ]; then
		set_sysctl kernel.unprivileged_userns_clone 1
		echo "set kernel.unprivileged_userns_clone=1 (persisted in $sysctl_file) so normal users can create user namespaces"
	fi
	# Ubuntu 23.10+ lets only AppArmor-profiled programs create them.
	if [ "$(read_sysctl kernel.apparmor_restrict_unprivileged_userns)" = 1 ]; then
		set_sysctl kernel.apparmor_restrict_unprivileged_userns 0
		cat >&2 <<-EOF
			warning: set kernel.apparmor_restrict_unprivileged_userns=0 (persisted in $sysctl_file).
			  Ubuntu's AppArmor otherwise denies user namespaces to unprofiled programs such as den.
			  This loosens a system-wide hardening. To restore it, delete that line from $sysctl_file,
			  run \`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=1\`, and give den an
			  AppArmor profile with the \`userns,\` rule instead.
		EOF
	fi
}

# invoking_user prints who will run den: the sudo caller, or us when not
# root. Root alone gets no range; it does not need one.
invoking_user() {
	if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
		echo "$SUDO_USER"
	elif [ "$(id -u)" -ne 0 ]; then
		echo "${USER:-$(id -un)}"
	fi
}

main() {
	local bench=false arg user
	for arg in "$@"; do
		case $arg in
		--bench) bench=true ;;
		-h | --help)
			usage
			return 0
			;;
		*)
			usage >&2
			die "unknown argument: $arg"
			;;
		esac
	done
	if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
		die "run as root, or as a user with sudo"
	fi

	if $bench; then
		packages+=("${bench_packages[@]}")
	fi
	# The go.mod's go line plus GOTOOLCHAIN=auto fetch the right toolchain
	# from any Go 1.21+; setup_go covers older distribution packages.
	if ! find_go >/dev/null; then
		packages+=(golang-go)
	fi
	install_packages "${packages[@]}"
	setup_go
	open_devices
	enable_userns
	user=$(invoking_user)
	if [ -n "$user" ]; then
		ensure_subids "$user"
	fi
}

# Sourcing the script (for tests) defines the functions without running them.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	main "$@"
fi
