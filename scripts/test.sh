#!/usr/bin/env bash
# test.sh: the whole test suite, as CI runs it. Sets up the host first (packages, the
# unprivileged test user), builds den and the test images, then runs vet, the unit tests and
# the end-to-end tests (rootless as the test user, and root mode when run as root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup-host.sh
export PATH="$PATH:/usr/local/go/bin"
if [ "$(id -u)" = 0 ]; then
	scripts/test-user.sh >/dev/null
fi
make --no-print-directory test
