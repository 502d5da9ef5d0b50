#!/usr/bin/env bash
# build-testdata.sh builds den's test images into testdata/images from the
# host's static busybox, like make: only when an archive is missing or older
# than busybox or the mkimage source. Prints a line when it rebuilt.
#
# usage: scripts/build-testdata.sh   (BUSYBOX=path overrides /bin/busybox)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

busybox=${BUSYBOX:-/bin/busybox}
out=testdata/images
outputs=(rootfs.tar busybox-oci.tar busybox-docker.tar busybox-docker.tar.gz tool-oci.tar)

if [ ! -x "$busybox" ]; then
	echo "build-testdata.sh: no busybox at $busybox: run scripts/setup-host.sh (it installs busybox-static)" >&2
	exit 1
fi

# Tests do not shape the output, so editing them triggers no rebuild.
inputs=("$busybox")
for f in scripts/mkimage/*.go; do
	case $f in *_test.go) ;; *) inputs+=("$f") ;; esac
done

stale() {
	local o i
	for o in "${outputs[@]}"; do
		[ -e "$out/$o" ] || return 0
		for i in "${inputs[@]}"; do
			[ "$i" -nt "$out/$o" ] && return 0
		done
	done
	return 1
}

if stale; then
	go=$(command -v go || echo /usr/local/go/bin/go)
	"$go" run ./scripts/mkimage -busybox "$busybox" -out "$out"
	echo "built $out from $busybox"
fi
