# c10k — build, test and benchmark targets. Every target works on a fresh
# Debian machine with Go; Go modules come from the module proxy.

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -ec

GO        ?= go
PKGS      ?= ./...
BIN       := bin/c10k
FUZZTIME  ?= 30s
# Minimizing a new input is capped, so that one large one (a seed
# summary.json, say) does not take a target's whole FUZZTIME.
FUZZMINTIME ?= 5s
BENCHTIME ?= 1s

BENCHFLAGS ?=

.PHONY: all build test soak bench bench-full bench-reference reference ci-bench bench-go bench-servers bench-cgi fuzz lint vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/c10k

# The full test suite: vet, then every package with the race detector.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 12m $(PKGS)

# Mixed load with faults injected (a backend killed and restarted, a
# stalling backend, hang-ups, slow clients) for SOAK_DURATION on each
# core (thread, event, cgi, nethttp), loopback only: every request sent
# must get exactly one response or one counted error, and the server's
# open descriptors and RSS must come back to baseline afterwards. make
# test runs a 3-second form of it.
SOAK_DURATION ?= 2m

soak:
	SOAK_DURATION=$(SOAK_DURATION) $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 60m ./scenarios/soak/

# The main job: the quick scenario set (static-1k, c10k-idle,
# keepalive-off, proxy-balance, cgi-vs-app) on the thread, event and cgi
# cores and the net/http baseline, server and generator pinned to
# different CPUs. Writes results/<run-id>/ with report.md, report.html,
# plots, summary.json, meta.json and the raw samples; about 6 minutes.
# BENCHFLAGS adds flags, e.g. BENCHFLAGS='--trials 3' or '--scale 2'.
bench: build
	$(BIN) bench $(BENCHFLAGS)

# Every scenario (adds static-1m, slow-clients, backend-failure, blue-green).
bench-full: build
	$(BIN) bench --full $(BENCHFLAGS)

# Debian's nginx, Apache 2.4 (event, worker, prefork MPMs) and lighttpd,
# for c10k bench --reference. Needs root and apt-get.
reference:
	scripts/reference

# The quick set on our cores and on the real servers, side by side.
bench-reference: build reference
	$(BIN) bench --reference $(BENCHFLAGS)

# The CI latency-regression gate. Benches $(BASE) (default origin/main, or
# HEAD~1 without it) from a temporary git worktree, then the working tree,
# on this machine with CI_TRIALS interleaved trials each, and judges the
# change with c10k compare: exit 0 no regression, 1 regression, 2 invalid
# or too noisy to judge (make itself exits 2 on either failure; the reason
# is the last line). Writes results/base/, results/new/,
# results/compare.md (a pull-request comment) and results/compare.xml
# (JUnit). CI_ROUNDS > 1 alternates base and change that many times
# (results/base/round-N, ...), so that drift of the machine hits both
# alike. BENCHFLAGS goes to both benches (e.g. --scenarios static-1k),
# COMPAREFLAGS to compare (e.g. --max 'p99=50ms').
# .github/workflows/bench.yml shows it on a self-hosted CI runner.
BASE         ?= $(shell git rev-parse -q --verify origin/main >/dev/null && echo origin/main || echo HEAD~1)
CI_TRIALS    ?= 5
CI_ROUNDS    ?= 1
COMPAREFLAGS ?=
CI_WORKTREE  := .ci-bench-base

ci-bench: build
	rm -rf results/base results/new results/compare.md results/compare.xml $(CI_WORKTREE)
	git worktree prune
	git worktree add --detach $(CI_WORKTREE) $(BASE)
	trap 'git worktree remove --force $(CI_WORKTREE)' EXIT; \
	(cd $(CI_WORKTREE) && $(GO) build -o bin/c10k ./cmd/c10k); \
	for r in $$(seq $(CI_ROUNDS)); do \
	  sub=; if [ $(CI_ROUNDS) -gt 1 ]; then sub=/round-$$r; fi; \
	  (cd $(CI_WORKTREE) && bin/c10k bench --trials $(CI_TRIALS) $(BENCHFLAGS) --out $(CURDIR)/results/base$$sub); \
	  $(BIN) bench --trials $(CI_TRIALS) $(BENCHFLAGS) --out results/new$$sub; \
	done
	$(BIN) compare results/base results/new --markdown results/compare.md --junit results/compare.xml $(COMPAREFLAGS)

# The Go benchmarks of the shared engine (parser, router, balancer,
# handlers) and of each core, with -benchmem, kept in
# results/<run-id>/gobench.txt.
bench-go: build
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

# Run every fuzz target for FUZZTIME each (default 30s), one at a time;
# `make test` runs their committed seed corpora (testdata/fuzz/).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINTIME) $$pkg; \
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
