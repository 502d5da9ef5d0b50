#!/usr/bin/env bash
# demo.sh: from a fresh Debian/Ubuntu machine to a rootless container saying hello.
# Sets up the host (packages, subuid range, /dev/net/tun), builds bin/den and the local
# busybox image, then runs `den run --rm busybox echo hello` as a normal user: you, or the
# unprivileged test user when this runs as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-host.sh
export PATH="$PATH:/usr/local/go/bin"
make --no-print-directory build
scripts/build-testdata.sh

if [ "$(id -u)" = 0 ]; then
	user=$(scripts/test-user.sh)
	# The test user cannot read root's work tree: give it a copy of the binary and image.
	dir=$(mktemp -d /tmp/den-demo.XXXXXX)
	install -m 0755 bin/den "$dir/den"
	install -m 0644 testdata/images/busybox-oci.tar "$dir/busybox-oci.tar"
	chmod 0755 "$dir"
	run() { runuser -u "$user" -- env -i HOME="$(getent passwd "$user" | cut -d: -f6)" PATH=/usr/bin:/bin "$@"; }
	den="$dir/den"
	image="$dir/busybox-oci.tar"
else
	run() { "$@"; }
	den="$PWD/bin/den"
	image="$PWD/testdata/images/busybox-oci.tar"
fi
run "$den" load -q -i "$image"
echo "+ den run --rm busybox echo hello   (as $(run id -un), uid $(run id -u))"
run "$den" run --rm busybox echo hello
