# c10k — build, test and benchmark targets. Every target works on a fresh
# Debian machine with Go; Go modules come from the module proxy.

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -ec

GO        ?= go
PKGS      ?= ./...
BIN       := bin/c10k
FUZZTIME  ?= 30s
BENCHTIME ?= 1s

.PHONY: all build test bench bench-servers bench-cgi fuzz lint vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/c10k

# The full test suite: vet, then every package with the race detector.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

# Until the scenario runner lands, the benchmark job is the Go benchmarks
# of the shared engine (parser, router, balancer, handlers) and of each
# core (1 KB static file over 100 keep-alive connections), with -benchmem.
# The output is also kept in results/<run-id>/gobench.txt.
bench: build
	@id=$${RUN_ID:-$$(date -u +%Y%m%dT%H%M%SZ)-$$(git rev-parse --short HEAD 2>/dev/null || echo nogit)}; \
	mkdir -p results/$$id; \
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./servers/... | tee results/$$id/gobench.txt; \
	echo "results written to results/$$id/gobench.txt"

# nginx (one worker) and the event, thread and net/http cores side by side:
# 1 KB throughput with wrk, then 10,000 idle keep-alive connections (RSS per
# connection, probe latency). Installs nginx-light and wrk with apt-get if
# missing; writes results/<run-id>/. About four minutes.
bench-cgi: build
	scripts/bench-cgi

bench-servers:
	./scripts/bench-servers

# Run every fuzz target for FUZZTIME each (default 30s).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
