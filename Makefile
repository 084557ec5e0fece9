# secretfs — the two commands a newcomer needs: `make demo` and `make test`.
# Everything else they need (apt packages, kube-apiserver, etcd, csi-sanity)
# is installed or built here and cached outside the work tree.

GO      ?= go
BIN     := bin/secretfs
PKGS    := ./...
# Tests mount FUSE and tmpfs: they run as root (CI does).
TESTFLAGS ?= -race -count=1 -timeout 20m

include tools.mk

.PHONY: all build demo test unit lint vet fmt-check windows deps bench bench-quick clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/secretfs

## demo: start the Key Vault emulator, mount a demo volume at /tmp/secretfs-demo, rotate a secret.
demo: deps build
	./$(BIN) demo

## test: every check and every test, as CI runs them.
test: deps tools lint
	$(GO) test $(TESTFLAGS) $(PKGS)

## unit: the tests alone, without the lint steps (tools must be built).
unit: tools
	$(GO) test $(TESTFLAGS) $(PKGS)

lint: fmt-check vet windows

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^tools/')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

windows:
	GOOS=windows $(GO) build $(PKGS)

# deps: what the tests and the demo need from Debian: mount/umount (util-linux)
# and fusermount3 (fuse3) for clearing stuck mounts. Installed only if missing.
deps:
	@if ! command -v fusermount3 >/dev/null || ! command -v mount >/dev/null; then \
		echo "installing fuse3 and util-linux"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3 util-linux; \
	fi
	@test -e /dev/fuse || echo "note: /dev/fuse is missing; the FUSE tests need it (the files backend does not)"

clean:
	rm -rf bin

## bench: every performance claim of design.md against its baseline (< 15 min, root); writes bench/results/.
bench:
	$(GO) run ./bench/cmd/secretfs-bench -out bench/results

## bench-quick: the same harness in its < 2 minute mode (TestQuickBench runs it under `make test`).
bench-quick:
	$(GO) run ./bench/cmd/secretfs-bench -quick -out $${BENCH_OUT:-/tmp/secretfs-bench-quick}
