# Surge: `make demo` runs the quickstart end to end; `make test` is what CI runs.
GO        ?= go
BUF       := $(GO) tool -modfile=tools/go.mod buf
FUZZTIME  ?= 20s
GOFILES    = $(shell git ls-files '*.go' | grep -v '^proto/gen/')

.PHONY: all help build test unit test-under-load test-targets-under-load lint proto proto-check demo fuzz bench faults clean

all: build

## help: list the make targets (the ## lines of this Makefile)
help:
	@sed -n 's/^## //p' Makefile

## build: compile the three binaries into bin/
build:
	$(GO) build -o bin/ ./cmd/...

## test: lint, check generated code, then every test with the race detector (installs xmllint for the JUnit schema tests)
test: lint proto-check unit

unit:
	bash scripts/install-xmllint.sh
	bash scripts/install-prometheus.sh
	$(GO) test -race -count=1 -timeout 8m ./...

## test-under-load: the unit step with a CPU hog on every core, to catch tests that trust the wall clock (CI runs plain `make test`)
test-under-load:
	bash scripts/install-xmllint.sh
	bash scripts/install-prometheus.sh
	GO=$(GO) bash scripts/test-under-load.sh

## test-targets-under-load: go test ./targets/... with a busy loop on every core; fails if any test fails (simulated time must hold on a loaded host)
test-targets-under-load:
	bash scripts/cpu-hog.sh $(GO) test -count=1 -timeout 8m ./targets/...

## lint: go vet, gofmt and buf lint (buf is pinned in tools/go.mod and built on first use)
lint:
	$(GO) vet ./...
	$(GO) vet -tags faults ./faults
	$(GO) vet -tags reference,browser ./reporters
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(BUF) lint

## proto: regenerate proto/gen from proto/surge/v1 (needs only Go: buf and plugins are go tools)
proto:
	$(BUF) generate

## proto-check: fail if the committed generated code is stale
proto-check:
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; \
	$(BUF) generate -o $$tmp && diff -r $$tmp/proto/gen proto/gen && echo "proto/gen is up to date"

## demo: the quickstart: coordinator + 2 embedded agents + the bundled echo target
demo:
	$(GO) run ./cmd/coordinator run examples/quickstart.yaml

## fuzz: run every fuzz target for FUZZTIME each. The report.json targets take inputs of kilobytes
## and milliseconds per run: minimizing each new input for the default 60s would leave no time to fuzz.
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzDecodeHistogram -fuzztime=$(FUZZTIME) ./internal/metrics
	$(GO) test -run='^$$' -fuzz=FuzzDecodeSparse -fuzztime=$(FUZZTIME) ./internal/metrics
	$(GO) test -run='^$$' -fuzz=FuzzSessionResponse -fuzztime=$(FUZZTIME) ./internal/wire
	$(GO) test -run='^$$' -fuzz=FuzzSessionRequest -fuzztime=$(FUZZTIME) ./internal/wire
	$(GO) test -run='^$$' -fuzz=FuzzDecodeMeta -fuzztime=$(FUZZTIME) ./internal/cluster
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./scenario
	$(GO) test -run='^$$' -fuzz=FuzzParseThreshold -fuzztime=$(FUZZTIME) ./scenario
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./internal/template
	$(GO) test -run='^$$' -fuzz=FuzzLoadCSV -fuzztime=$(FUZZTIME) ./internal/template
	$(GO) test -run='^$$' -fuzz=FuzzLoadJSONL -fuzztime=$(FUZZTIME) ./internal/template
	$(GO) test -run='^$$' -fuzz=FuzzParsePath -fuzztime=$(FUZZTIME) ./internal/extract
	$(GO) test -run='^$$' -fuzz=FuzzExtract -fuzztime=$(FUZZTIME) ./internal/extract
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) ./internal/har
	$(GO) test -run='^$$' -fuzz=FuzzConvert -fuzztime=$(FUZZTIME) ./internal/har
	$(GO) test -run='^$$' -fuzz=FuzzYAMLString -fuzztime=$(FUZZTIME) ./internal/har
	$(GO) test -run='^$$' -fuzz=FuzzTemplateField -fuzztime=$(FUZZTIME) ./internal/har
	$(GO) test -run='^$$' -fuzz=FuzzReadResponse -fuzztime=$(FUZZTIME) ./internal/h1
	$(GO) test -run='^$$' -fuzz=FuzzLoopParse -fuzztime=$(FUZZTIME) ./internal/h1
	$(GO) test -run='^$$' -fuzz=FuzzParseTargetMetrics -fuzztime=$(FUZZTIME) ./internal/probe
	$(GO) test -run='^$$' -fuzz=FuzzReadReport -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./reporters
	$(GO) test -run='^$$' -fuzz=FuzzJUnitNames -fuzztime=$(FUZZTIME) ./reporters
	$(GO) test -run='^$$' -fuzz='^FuzzReport$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./cmd/coordinator
	$(GO) test -run='^$$' -fuzz=FuzzParseAllowlist -fuzztime=$(FUZZTIME) ./internal/engine
	$(GO) test -run='^$$' -fuzz=FuzzClockFilter -fuzztime=$(FUZZTIME) ./internal/coordinator
	$(GO) test -run='^$$' -fuzz=FuzzDistText -fuzztime=$(FUZZTIME) ./targets/resource
	$(GO) test -run='^$$' -fuzz=FuzzParseHeader -fuzztime=$(FUZZTIME) ./internal/push

## faults: process-level fault tests with the real binaries: SIGKILL/SIGSTOP of agents and the
## coordinator, and (as root) a network-namespace partition. The short ones also run in `make test`.
faults:
	bash scripts/install-faults-deps.sh
	$(GO) test -tags faults -count=1 -timeout 10m -v ./faults

## bench: Go benchmarks of the hot paths (schedule generation, templates, recorder, echo target)
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

clean:
	rm -rf bin surge-results

## bench-peers: Surge's agent (its own client, net/http, precise timing) against wrk2 (built from ../shared/vendor), vegeta, k6 and wrk on a loopback nginx, up to 100k req/s; writes bench/RESULTS.md
.PHONY: bench-peers
bench-peers:
	bash bench/peers.sh

## soak: Surge's agent at SOAK_RATE req/s (10000) for SOAK_DURATION s (600) on a loopback nginx, RSS sampled; writes bench/SOAK.md
.PHONY: soak
soak:
	bash bench/soak.sh

## staircase: examples/staircase.yaml against the eight bundled topologies, then each stage's capacity searched; writes bench/STAIRCASE.md (~30 min)
.PHONY: staircase
staircase:
	bash bench/staircase.sh

## browser-test: render report.html (fixed model) in headless Chromium, network off; checks charts and console (installs Debian's chromium if missing)
.PHONY: browser-test
browser-test:
	bash scripts/install-chromium.sh
	timeout 300 $(GO) test -tags browser -run '^TestHTMLInBrowser$$' -count=1 -v ./reporters

## reference-check: outputs read back by reference implementations: latency.hlog and percentiles by hdr-histogram-js (installs it from npm)
.PHONY: reference-check
reference-check:
	bash scripts/install-hdrjs.sh
	$(GO) test -tags reference -run 'Reference' -count=1 -v ./reporters

## soak-coordinator: the coordinator's RSS over 16 request names at 200 req/s, 1 name at 10k req/s and 1 at 1k/s (SOAKC_DURATION s each, 600), and a 24 h day at 1k req/s measured by bench/daymem (about 5 min); writes its section of bench/SOAK.md
.PHONY: soak-coordinator
soak-coordinator:
	bash bench/soak-coordinator.sh

## bench-scale: 200 agent processes + a coordinator on loopback (discovery, connect, T0, exact counts, CPU/RSS) and 1,000 memberlist nodes in one process (convergence); writes bench/SCALE.md (~10 min)
.PHONY: bench-scale
bench-scale:
	bash bench/scale.sh
