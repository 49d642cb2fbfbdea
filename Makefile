# fibd — the project's one entry point for building, testing and the demo.
# Every target works on a fresh Debian machine as root after `make deps`.

SHELL     := /bin/bash
GO        ?= go
BIN       := bin
PKGS      := ./...
# Every external command the tests, the benchmarks and the demo run, with
# its Debian package, is listed in internal/testenv/tools.txt (a test keeps
# the list complete). The proto tooling (buf, protoc-gen-go, -grpc) comes
# from pinned Go modules through control/gen.sh, not from Debian.
TOOLS     := internal/testenv/tools.txt
DEB_PKGS  := $(sort $(shell awk '!/^\#/ && NF >= 2 { print $$2 }' $(TOOLS)) ca-certificates)
# FUZZTIME is an execution count, not a duration: Go 1.26's fuzz
# coordinator can fail a clean run with "context deadline exceeded" when a
# duration ends while a starved worker is mid-call (golang/go#75804, fixed
# in Go 1.27). A target that runs slowly says its own count with a
# "// fuzzsmoke: Nx" line just above its func.
FUZZTIME  ?= 20000x
BENCHTIME ?= 1x
# The RouteViews source data that TestGenerateReproduces regenerates the
# tables from: the shared folder beside the clone, as CI has it.
FIBD_ROUTEVIEWS_DIR ?= $(abspath ../shared/data/routeviews-asn)
export FIBD_ROUTEVIEWS_DIR
# Every go test run of `make test` appends to TALLY; `make tally` prints
# one line counting what ran and what skipped.
TALLY     := $(BIN)/test-tally.txt
GOTEST     = $(BIN)/testtally -tally $(TALLY) -- $(GO) test -json

.PHONY: all deps build test unit bench report benchsmoke fuzz fuzzsmoke lint buflint breaking proto proto-baseline protocheck bpf bpfcheck demo clean tally tally-reset testtally

all: build

# deps installs what is missing (nothing when everything is there), then
# checks that every listed command is on the PATH. A package counts as
# present only when installed: `dpkg -s` also answers for a removed one
# whose configuration files remain.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
		[ "$$(dpkg-query -W -f='$${Status}' $$p 2>/dev/null)" = "install ok installed" ] || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi
	@bad=0; while read -r cmd pkg _; do \
		case "$$cmd" in ""|\#*) continue;; esac; \
		command -v "$$cmd" >/dev/null 2>&1 || { echo "deps: $$cmd is not on the PATH (Debian package $$pkg)"; bad=1; }; \
	done < $(TOOLS); \
	command -v $(GO) >/dev/null 2>&1 || { echo "deps: $(GO) is not on the PATH (Go 1.26, /usr/local/go/bin)"; bad=1; }; \
	[ $$bad = 0 ] && echo "deps: every command in $(TOOLS) is on the PATH"; exit $$bad

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

# test is what CI runs: lint, the API's lint, breaking-change check, the
# freshness of the generated gRPC code and of the fast-path BPF object,
# every unit and root integration test under the race detector, every
# benchmark once, a short run of every fuzz target, and the demo; it ends
# with one line counting the tests run and skipped.
test: deps tally-reset lint buflint breaking protocheck bpfcheck unit benchsmoke fuzzsmoke demo tally

testtally:
	@mkdir -p $(BIN)
	@$(GO) build -o $(BIN)/testtally ./internal/cmd/testtally

tally-reset: testtally
	@rm -f $(TALLY)

tally: testtally
	@$(BIN)/testtally -tally $(TALLY) -summary

# unit runs everything under the race detector; the few tests whose size
# makes them minutes long under it, and whose concurrency other tests cover
# under it, run once more without (internal/testenv/skips.txt lists them).
NORACE_TESTS := TestGenerateReproduces|TestRunQuick|TestFIBDForwards|TestGoldenRandom|TestGoldenRandomParallel
# The isolation scenarios calibrate their load to what this machine
# forwards (the storm runs at 80 % of a rate measured just before it), so
# they run alone, after the rest: another package's tests must not take
# the cycles the calibration counted on.
ALONE_PKGS := ./bench/isolation/
unit: testtally
	$(GOTEST) -race -count=1 -timeout 20m $$($(GO) list $(PKGS) | grep -v '/bench/isolation$$')
	$(GOTEST) -race -count=1 -timeout 20m $(ALONE_PKGS)
	$(GOTEST) -count=1 -timeout 20m -run '^($(NORACE_TESTS))$$' ./bench/tables/gen/ ./bench/report/ ./bench/fwdbench/ ./fib/

benchsmoke: testtally
	$(GOTEST) -run '^$$' -bench . -benchtime=$(BENCHTIME) -timeout 20m $(PKGS)

# fuzzsmoke runs every fuzz target for FUZZTIME executions, or its own
# "// fuzzsmoke: Nx" count (go test -fuzz takes one target at a time).
# FUZZTIME=60s (make fuzz) overrides every count with a duration.
fuzzsmoke:
	@mkdir -p $(BIN); set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		dir=$$(dirname $$f); \
		for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
			n=$(FUZZTIME); \
			case "$(FUZZTIME)" in *x) own=$$(grep -B1 "^func $$t(" $$f | grep -o 'fuzzsmoke: [0-9]*x' | cut -d' ' -f2); n=$${own:-$(FUZZTIME)};; esac; \
			echo "fuzz $$dir $$t ($$n)"; \
			if $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $$n -fuzzminimizetime 10x ./$$dir >$(BIN)/fuzz.log 2>&1; then \
				echo "pass github.com/fibd/fibd/$${dir#./} $$t/fuzzing" >> $(TALLY); \
			else cat $(BIN)/fuzz.log; echo "fuzz $$dir $$t failed"; exit 1; fi; \
		done; \
	done

fuzz:
	$(MAKE) fuzzsmoke FUZZTIME=60s

bench: build
	$(BIN)/fibbench fib

# report runs every benchmark (2–3 minutes, as root) and writes
# bench/results/<date>/report.md, report.json and plots. Run it on a quiet
# machine: the load average at start and end is in the report.
report: build
	$(BIN)/fibbench report

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
		if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# The proto tooling is buf and the protoc plugins at pinned versions,
# built from their Go modules into a cache by control/gen.sh.
proto:
	sh control/gen.sh gen

# protocheck fails when the committed generated gRPC code is stale.
protocheck:
	sh control/gen.sh check

# bpf rebuilds the fast-path XDP program and its Go bindings with clang
# (bpf2go, pinned in go.mod); bpfcheck fails when the committed ones are
# stale. Building fibd itself never needs clang.
bpf:
	sh dataplane/xdp/bpf/gen.sh gen

bpfcheck:
	sh dataplane/xdp/bpf/gen.sh check

buflint:
	sh control/gen.sh lint

# breaking compares fibd.v1 with control/proto/breaking/fibd.v1.txtpb.
breaking:
	sh control/gen.sh breaking

# proto-baseline rewrites the baseline: only for a deliberate break, in the
# same commit, named in its message.
proto-baseline:
	sh control/gen.sh baseline

demo: deps build
	./scripts/demo.sh

clean:
	rm -rf $(BIN)
