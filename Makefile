# den's build. `make build` gives bin/den, one fully static binary: cgo is needed for
# libcontainer's nsenter and libseccomp; sqlite comes from the system's static library
# instead of compiling the amalgamation on every cold build.
SHELL := /bin/bash
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
empty :=
space := $(empty) $(empty)
comma := ,
TAGS := netgo osusergo urfave_cli_no_docs exclude_graphdriver_btrfs containers_image_openpgp containers_image_docker_daemon_stub seccomp libsqlite3
export CGO_ENABLED := 1
export GOFLAGS := -mod=mod -tags=$(subst $(space),$(comma),$(TAGS))
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -linkmode external -extldflags "-static -lm" -X github.com/den-project/den/cmd.Version=$(VERSION)

.PHONY: build demo test unit e2e bench fault testdata bigimage setup clean fuzz

build: bin/den

# den carries three programs inside itself, built first and linked in by runtime/initexec:
#  - den-init (runtime/initbin), the small program a container's init becomes (den_initbin tag);
#  - den-transfer, den built whole, which the commands that copy images (load, import, save,
#    pull, push, login, logout) become. bin/den itself is den's core build (den_core tag),
#    without containers/image's copying, whose start-up every other command would otherwise pay;
#  - den-monitor (runtime/monitorbin, den_monitor tag), what detached containers' monitors
#    run: den's runtime alone, which a monitor holds in memory as long as its container runs.
# Each one's checksum goes into a generated Go file of runtime/initexec: Go's build cache does
# not look into the files the .S files include, and would link the programs of an earlier build.
INITBIN := runtime/initexec/den-init.bin
TRANSFERBIN := runtime/initexec/den-transfer.bin
MONITORBIN := runtime/initexec/den-monitor.bin
GOSRC := $(shell find . -name '*.go' -not -path './scripts/*' -not -name '*sum.go' 2>/dev/null) $(shell find . -name '*.[cS]' -not -path './scripts/*' 2>/dev/null) go.mod go.sum

bin/den: $(GOSRC) $(INITBIN) $(TRANSFERBIN) $(MONITORBIN)
	$(GO) build -tags=$(subst $(space),$(comma),$(TAGS) den_initbin den_core) -ldflags '$(LDFLAGS)' -o bin/den .

$(INITBIN): $(shell find runtime/initbin runtime/initexec runtime/prefault runtime/seccompcache runtime/sysmonslack -name '*.go' -o -name '*.c' 2>/dev/null) go.mod go.sum
	$(GO) build -ldflags '-s -w -linkmode external -extldflags "-static -lm"' -o $@ ./runtime/initbin
	sha256sum $@ | cut -c1-64 | tr -d '\n' > runtime/initexec/den-init.sum
	scripts/blob-sum.sh $@ den_initbin initBlobSum > runtime/initexec/blobsum.go

$(TRANSFERBIN): $(GOSRC)
	$(GO) build -ldflags '-s -w $(LDFLAGS)' -o $@ .
	sha256sum $@ | cut -c1-64 | tr -d '\n' > runtime/initexec/den-transfer.sum
	scripts/blob-sum.sh $@ den_core transferBlobSum > runtime/initexec/transfersum.go

$(MONITORBIN): $(GOSRC) $(INITBIN)
	$(GO) build -tags=$(subst $(space),$(comma),$(TAGS) den_initbin den_core den_monitor) -ldflags '-s -w $(LDFLAGS)' -o $@ ./runtime/monitorbin
	sha256sum $@ | cut -c1-64 | tr -d '\n' > runtime/initexec/den-monitor.sum
	scripts/blob-sum.sh $@ 'den_core && !den_monitor' monitorBlobSum > runtime/initexec/monitorsum.go

# setup prepares the host: packages, /dev/net/tun, a subuid range for you.
setup:
	scripts/setup-host.sh

testdata:
	scripts/build-testdata.sh

# bigimage: the debootstrap Debian image of the image tests and benchmarks, built once.
bigimage:
	scripts/build-debian-image.sh

# demo: everything from a fresh machine to a container saying hello, as a normal user.
demo:
	scripts/demo.sh

# Both builds are vetted: the whole den (the default, which go test tests) and den's core.
VETCORE := $(GO) vet -tags=$(subst $(space),$(comma),$(TAGS) den_core) ./...
# runtime/initexec's tests of the den-init it keeps need den-init linked in (bin/den's build
# built it).
INITTEST := $(GO) test -count=1 -tags=$(subst $(space),$(comma),$(TAGS) den_initbin) ./runtime/initexec/

unit: $(INITBIN)
	$(GO) vet ./...
	$(VETCORE)
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /cmd/e2e)
	$(INITTEST)

e2e: build testdata bigimage
	DEN_BINARY=$(CURDIR)/bin/den $(GO) test -count=1 -timeout 30m ./cmd/e2e/

# test: the whole suite (scripts/test.sh sets the host up first).
test: build testdata bigimage
	$(GO) vet ./...
	$(VETCORE)
	DEN_BINARY=$(CURDIR)/bin/den $(GO) test -count=1 -p 2 -timeout 40m ./...
	$(INITTEST)

bench: build testdata bigimage
	scripts/bench.sh

# fault: kills den's CLI at random moments of run, stop and rm, then checks den's state (root).
fault: build testdata
	scripts/fault-inject.sh

# fuzz: every go test -fuzz target for FUZZTIME each (their seeds run in every go test).
FUZZTIME ?= 30s
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
			echo "== $$(dirname $$f) $$t"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) "$$(dirname $$f)"; \
		done; \
	done

clean:
	rm -rf bin $(INITBIN) $(TRANSFERBIN) $(MONITORBIN)
