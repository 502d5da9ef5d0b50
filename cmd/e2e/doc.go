// Package e2e holds den's end-to-end tests: they run the built den binary as a user would,
// each test against its own HOME, XDG directories and storage, and check what a podman user
// would see (output, exit codes, files inside the container).
//
// Run them with the binary from `make build`:
//
//	DEN_BINARY=$PWD/bin/den go test -count=1 -v ./cmd/e2e/
//
// Without DEN_BINARY the tests build den themselves. As root they create the unprivileged
// user of scripts/test-user.sh and run den as that user, so rootless mode is what they test;
// root mode is tested too, with --root and --runroot inside the test's directory. As a normal
// user they run den as that user, which needs a range in /etc/subuid.
package e2e
