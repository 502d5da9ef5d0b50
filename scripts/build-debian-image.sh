#!/usr/bin/env bash
# build-debian-image.sh builds den's big test image, testdata/images/debian-oci.tar
# (localhost/debian:latest): a minbase root filesystem of the host's own distribution
# and release made with debootstrap from the mirror apt already uses, with iperf3 for
# the network benchmarks and files owned by many uids for the id-mapping tests.
#
# It is built once: an existing archive is kept (delete it to rebuild). debootstrap
# needs root; as a normal user the script re-runs itself with sudo, and without sudo
# it builds nothing (the tests that need the image skip and say why).
#
# usage: scripts/build-debian-image.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=testdata/images/debian-oci.tar
[ -s "$out" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null; then
		exec sudo "$0" "$@"
	fi
	# The tests that need the image say so and skip; everything else still runs.
	echo "build-debian-image.sh: not building $out: debootstrap needs root (run as root or install sudo)" >&2
	exit 0
fi
command -v debootstrap >/dev/null || {
	echo "build-debian-image.sh: debootstrap is missing: run scripts/setup-host.sh" >&2
	exit 1
}

# shellcheck source=/dev/null
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}

# The first mirror apt is configured with, in either sources format.
mirror=$(
	{
		grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
		grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			sed -E 's/^deb (\[[^]]*\] )?//' | awk '{print $1}'
	} | grep -v security | head -n 1
) || true
if [ -z "$mirror" ]; then
	case ${ID:-} in
	ubuntu) mirror=http://archive.ubuntu.com/ubuntu ;;
	*) mirror=http://deb.debian.org/debian ;;
	esac
fi

work=$(mktemp -d /var/tmp/den-debian.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

echo "building $out: debootstrap --variant=minbase $suite from $mirror" >&2
# A slow or unreachable mirror must not hold the test suite hostage: after the time limit
# (DEN_DEBOOTSTRAP_TIMEOUT seconds) the image is left out, the tests that need it skip and
# say why, and the next run tries again.
if ! DEBIAN_FRONTEND=noninteractive timeout "${DEN_DEBOOTSTRAP_TIMEOUT:-900}" debootstrap --variant=minbase --include=iperf3 \
	"$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
	tail -n 20 "$work/debootstrap.log" >&2
	echo "build-debian-image.sh: WARNING: debootstrap from $mirror failed or took over ${DEN_DEBOOTSTRAP_TIMEOUT:-900} s (log above): not building $out; the tests that need it will skip" >&2
	exit 0
fi
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log

# Files and a directory owned by ids across the whole 16-bit range the image may use.
install -d -m 0755 "$rootfs/srv/owners"
for id in 1 2 33 100 999 1000 4242 65534; do
	echo "owned by $id" >"$rootfs/srv/owners/file-$id"
	chown "$id:$id" "$rootfs/srv/owners/file-$id"
done
install -d -m 0750 -o 1000 -g 1000 "$rootfs/srv/owners/dir-1000"
echo secret >"$rootfs/srv/owners/dir-1000/inside"
chown 1000:1000 "$rootfs/srv/owners/dir-1000/inside"

tar --numeric-owner --xattrs --sort=name -C "$rootfs" -cf "$work/layer.tar" .
mkdir -p "$(dirname "$out")"
go=$(command -v go || echo /usr/local/go/bin/go)
"$go" run ./scripts/mkimage -wrap "$work/layer.tar" -ref debian:latest -cmd bash -out "$out"
# A later normal-user run must be able to read and replace it.
if [ -n "${SUDO_UID:-}" ]; then
	chown "$SUDO_UID:$SUDO_GID" "$out"
fi
echo "built $out ($(du -h "$out" | cut -f1))" >&2
