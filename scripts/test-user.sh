#!/usr/bin/env bash
# test-user.sh makes sure the unprivileged user den's rootless tests run as
# exists and owns a subordinate id range, then prints its name, so tests can
# do `su "$(scripts/test-user.sh)" -c ...`. Safe to rerun.
#
# usage: scripts/test-user.sh [NAME]   (as root; NAME defaults to dentest)
# Stdout is the user name alone; notes about changes go to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib/host.sh
. "$here/lib/host.sh"

name=${1:-dentest}
if [ "$(id -u)" -ne 0 ]; then
	die "must run as root to create user $name: try \`sudo $0${1:+ $1}\`"
fi

if ! id -u "$name" >/dev/null 2>&1; then
	useradd -m -s /bin/bash "$name"
	echo "created user $name" >&2
fi
# useradd may already have allotted ranges (SUB_UID_COUNT in login.defs);
# ensure_subids then leaves them be.
ensure_subids "$name" >&2
echo "$name"
