# fibd — the project's one entry point for building, testing and the demo.
# Every target works on a fresh Debian machine as root after `make deps`.

SHELL     := /bin/bash
GO        ?= go
BIN       := bin
PKGS      := ./...
# Debian packages the tests and the demo use: iproute2 (ip, namespaces,
# veth), iputils-ping, curl, traceroute and ethtool (the integration tests
# and the demo act as real hosts with them), xz-utils (regenerating the
# tables), protobuf-compiler (make proto and its freshness check).
DEB_PKGS  := iproute2 iputils-ping curl traceroute ethtool xz-utils protobuf-compiler ca-certificates
FUZZTIME  ?= 5s
BENCHTIME ?= 1x

.PHONY: all deps build test unit bench report benchsmoke fuzz fuzzsmoke lint proto protocheck demo clean

all: build

# deps installs what is missing, and nothing when everything is there.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

# test is what CI runs: lint, every unit and root integration test under
# the race detector, every benchmark once, a short run of every fuzz
# target, and the demo.
test: deps lint protocheck unit benchsmoke fuzzsmoke demo

# unit runs everything under the race detector; the few tests that only
# check determinism and would take minutes under it run once more without.
unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(GO) test -count=1 -run '^TestGenerateReproduces$$' ./bench/tables/gen/

benchsmoke:
	$(GO) test -run '^$$' -bench . -benchtime=$(BENCHTIME) -timeout 20m $(PKGS)

# fuzzsmoke runs every fuzz target for FUZZTIME (go test -fuzz takes one
# target at a time).
fuzzsmoke:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		dir=$$(dirname $$f); \
		for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
			echo "fuzz $$dir $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10x ./$$dir >/dev/null \
				|| { $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10x ./$$dir; exit 1; }; \
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

proto:
	sh control/gen.sh

# protocheck fails when the committed generated gRPC code is stale.
protocheck:
	sh control/gen.sh check

demo: deps build
	./scripts/demo.sh

clean:
	rm -rf $(BIN)
