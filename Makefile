# weir: `make demo` and `make test` are the whole set-up (Go only).

GO      ?= go
BIN     := bin
DEMO    := .demo
TIMEOUT ?= 15m

# A job binary is shipped to workers: by default bin/fraud and bin/weir are
# static (no cgo, so no libc of a given version needed), with no symbol table
# or DWARF (-s -w: 47 MB -> 31 MB) and no local paths (-trimpath). See
# "Job binary" in benchmarks/RESULTS.md. BIN_CGO=1 links Pebble's block cache
# with C malloc (less Go GC work when state spills); BIN_LDFLAGS= keeps the
# debug information.
BIN_CGO     ?= 0
BIN_LDFLAGS ?= -s -w
BUILD       = CGO_ENABLED=$(BIN_CGO) $(GO) build -trimpath

.PHONY: all build gen test vet fmt-check gen-check tidy-check static-check bench bench-state demo clean

all: build

## build: compile every package and the binaries bin/fraud, bin/enrich and bin/weir
build:
	$(BUILD) ./...
	$(BUILD) -ldflags='$(BIN_LDFLAGS)' -o $(BIN)/fraud ./examples/fraud/cmd/fraud
	$(BUILD) -ldflags='$(BIN_LDFLAGS)' -o $(BIN)/enrich ./examples/enrich/cmd/enrich
	$(BUILD) -ldflags='$(BIN_LDFLAGS)' -o $(BIN)/weir ./cmd/weir

## gen: regenerate weir_gen.go files (go generate)
gen:
	$(GO) generate ./...

## test: what CI runs: vet, gofmt, stale generated code, an untidy go.mod,
## a build without cgo, every test, the engine's tests again with every
## job placed over 2 workers joined by the network exchange, and under the
## race detector (-short)
test: vet fmt-check gen-check tidy-check static-check
	$(GO) test -timeout=$(TIMEOUT) ./...
	WEIR_NETWORK_WORKERS=2 $(GO) test -count=1 -run=Test -timeout=$(TIMEOUT) ./runner
	$(GO) test -race -short -timeout=$(TIMEOUT) ./internal/... ./runner/... ./sdk/... ./io/... ./job/... ./examples/...

vet:
	$(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))"; \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$out"; exit 1; fi

gen-check:
	$(GO) run ./cmd/weir gen -check ./...

## tidy-check: go.mod and go.sum are what go mod tidy makes of them
tidy-check:
	@if ! out="$$($(GO) mod tidy -diff 2>&1)"; then \
		case "$$out" in diff*) echo "go.mod/go.sum are not tidy: run go mod tidy and commit them (go mod tidy -diff shows what changes)";; *) echo "$$out";; esac; exit 1; fi

## static-check: everything builds without cgo (as make build ships the
## binaries), and the state backend's tests pass so (Pebble then keeps its
## block cache and memtables on the Go heap instead of C malloc)
static-check:
	CGO_ENABLED=0 $(GO) build -trimpath ./...
	CGO_ENABLED=0 $(GO) test -trimpath -short -timeout=$(TIMEOUT) ./state/...

## bench: the fraud backfill against a hand-written Go loop, and the
## micro-benchmarks (see benchmarks/Makefile; ARGS='...' passes flags)
bench:
	$(MAKE) -C benchmarks bench

## bench-state: the keyed-state and checkpoint figures (benchmarks/state,
## about 8 minutes; STATE_ARGS='...' passes flags)
bench-state:
	$(MAKE) -C benchmarks state

## demo: generate 500k transactions in 4 Parquet files and backfill them;
## then stream a sample through a development Kafka broker (weir dev) and
## check that batch and stream give identical rows (scripts/demo-stream.sh)
demo: build
	@rm -rf $(DEMO)
	$(BIN)/fraud gen --rows=500000 --users=5000 --files=4 --rows-per-group=40000 \
		--disorder=20s --late-fraction=0.0002 --bad=3 --seed=7 --out=parquet:$(DEMO)/txns
	$(BIN)/fraud run --mode=batch --in='parquet:$(DEMO)/txns/*.parquet' --out=jsonl:$(DEMO)/out --parallelism=2
	@echo
	@echo "first rows of $(DEMO)/out (of $$(cat $(DEMO)/out/*.jsonl | wc -l)):"
	@cat $(DEMO)/out/*.jsonl | sort | head -n 5
	@if ls $(DEMO)/out/late/*.jsonl >/dev/null 2>&1; then echo; echo "late records ($(DEMO)/out/late):"; cat $(DEMO)/out/late/*.jsonl | head -n 2; fi
	@if ls $(DEMO)/out/dead-letter/*.jsonl >/dev/null 2>&1; then echo; echo "dead letters ($(DEMO)/out/dead-letter):"; cat $(DEMO)/out/dead-letter/*.jsonl | head -n 3; fi
	@echo
	@echo "== enrich: 200k clicks joined with the profile version current at each click's time, and per-segment metrics a minute"
	$(BIN)/enrich gen --clicks=200000 --users=5000 --files=2 --disorder=10s --late-fraction=0.0005 --bad=1 --seed=7 --out=parquet:$(DEMO)/enrich
	$(BIN)/enrich run --in=clicks=parquet:$(DEMO)/enrich/clicks --in=profiles=parquet:$(DEMO)/enrich/profiles \
		--out=enriched=jsonl:$(DEMO)/enrich-out/enriched --out=metrics=jsonl:$(DEMO)/enrich-out/metrics \
		--dead-letter=jsonl:$(DEMO)/enrich-out/dead-letter --parallelism=2
	@echo
	@echo "enriched clicks ($(DEMO)/enrich-out/enriched), and one of a user without a profile yet:"
	@cat $(DEMO)/enrich-out/enriched/*.jsonl | grep -v '"segment":""' | head -n 2
	@cat $(DEMO)/enrich-out/enriched/*.jsonl | grep '"segment":""' | head -n 1
	@echo "metrics of one minute, per segment ($(DEMO)/enrich-out/metrics):"
	@cat $(DEMO)/enrich-out/metrics/*.jsonl | grep '"window_start":"2024-01-01T00:05:00Z"'
	@echo "dead letters ($(DEMO)/enrich-out/dead-letter):"; cat $(DEMO)/enrich-out/dead-letter/*.jsonl | cut -c1-200
	@BIN=$(BIN) DEMO=$(DEMO) ./scripts/demo-stream.sh

clean:
	rm -rf $(BIN) $(DEMO)
