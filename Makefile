# weir: `make demo` and `make test` are the whole set-up (Go only).

GO      ?= go
BIN     := bin
DEMO    := .demo
TIMEOUT ?= 15m

.PHONY: all build gen test vet fmt-check gen-check tidy-check bench bench-state demo clean

all: build

## build: compile every package and the binaries bin/fraud and bin/weir
build:
	$(GO) build ./...
	$(GO) build -o $(BIN)/fraud ./examples/fraud/cmd/fraud
	$(GO) build -o $(BIN)/weir ./cmd/weir

## gen: regenerate weir_gen.go files (go generate)
gen:
	$(GO) generate ./...

## test: what CI runs: vet, gofmt, stale generated code, an untidy go.mod,
## every test, and the engine's tests again under the race detector (-short)
test: vet fmt-check gen-check tidy-check
	$(GO) test -timeout=$(TIMEOUT) ./...
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
	@BIN=$(BIN) DEMO=$(DEMO) ./scripts/demo-stream.sh

clean:
	rm -rf $(BIN) $(DEMO)
