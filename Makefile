# clinicops — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Workspace modules, from go.work.
MODULES := $(shell go list -m -f '{{.Dir}}' 2>/dev/null)
# `make fuzz` runs every fuzz target for FUZZTIME, except those in FUZZ_SKIP.
# Minimising is capped at 100 runs: Go minimises every new interesting input for
# up to 60 s by default, which would spend a target that runs each input through
# the service and Postgres (FuzzMoneyWrites) on minimising alone.
FUZZTIME ?= 10s
FUZZ_SKIP ?=
# `make test` fuzzes briefly (the targets guard decoders against regressions)
# and skips FuzzMoneyWrites: it drives the whole billing service, and fuzzing
# needs that whole dependency tree (NATS server, River, Watermill) built again
# with coverage instrumentation, 3 minutes on a fresh machine for seconds of
# fuzzing. Its seed corpus still runs with the tests; `make fuzz` fuzzes it.
TEST_FUZZTIME ?= 5s
TEST_FUZZ_SKIP ?= FuzzMoneyWrites
# Where `make run` keeps its data.
DATA_DIR ?= .data

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

.PHONY: run
run: ## Run the whole system in one process (embedded NATS, local PostgreSQL under .data/, all services)
	@scripts/ensure-postgres.sh
	go build -o bin/clinicops ./cmd/clinicops
	./bin/clinicops dev -data-dir $(DATA_DIR)

.PHONY: test
test: ## Run every module's tests with -race, the proto staleness check and brief fuzzing
	@scripts/ensure-postgres.sh
	scripts/proto-check.sh
	@unformatted=$$(gofmt -l $(MODULES) | grep -v '\.pb\.go$$' || true); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@# vet with -race: it compiles the packages as go test -race does, so the
	@# tests reuse them (plain vet compiled everything a second time: 2-3 min
	@# on a fresh machine).
	@for m in $(MODULES); do (cd $$m && go vet -race ./...) || exit 1; done
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && go test -race -count=1 -timeout 10m ./...) || exit 1; done
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME) FUZZ_SKIP="$(TEST_FUZZ_SKIP)"

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (except FUZZ_SKIP)
	@for f in $$(grep -rl --include='*_test.go' '^func Fuzz' pkg services cmd); do \
	  dir=$$(dirname $$f); \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
	    if [[ " $(FUZZ_SKIP) " == *" $$t "* ]]; then echo "fuzz ./$$dir $$t: skipped (FUZZ_SKIP; its seeds ran with the tests)"; continue; fi; \
	    echo "fuzz ./$$dir $$t"; corpus=$$dir/testdata/fuzz/$$t; before=$$(ls $$corpus 2>/dev/null | wc -l); \
	    out=$$(cd $$dir && go test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x . 2>&1); rc=$$?; echo "$$out" | tail -3; \
	    if [ $$rc -ne 0 ]; then \
	      after=$$(ls $$corpus 2>/dev/null | wc -l); \
	      if [ "$$after" = "$$before" ] && echo "$$out" | grep -q 'context deadline exceeded'; then \
	        echo "  (Go 1.26 fuzz coordinator race at the -fuzztime deadline, golang/go#75804: no failing input was written)"; \
	      else echo "$$out"; exit 1; fi; \
	    fi; \
	  done; \
	done

.PHONY: bench
bench: ## Run the benchmarks (pipeline, registration, scheduling, billing, follow-up reminders) and print BENCH lines
	@scripts/ensure-postgres.sh
	cd cmd/clinicops && go test -run '^$$' -bench . -benchtime 1x -timeout 45m ./bench/
	cd services/scheduling && go test -run '^$$' -bench . -benchtime 1x -timeout 10m ./internal/adapters/

.PHONY: lint
lint: ## buf lint and breaking (against main), gofmt, go vet and golangci-lint over every module
	cd tools && GOWORK=off go tool buf lint ../proto
	@if git rev-parse --verify -q main >/dev/null; then \
	  cd tools && GOWORK=off go tool buf breaking ../proto --against '../.git#branch=main,subdir=proto'; fi
	@unformatted=$$(gofmt -l $(MODULES) | grep -v '\.pb\.go$$' || true); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done
	cd tools && GOWORK=off go build -o ../bin/golangci-lint github.com/golangci/golangci-lint/v2/cmd/golangci-lint
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && $(CURDIR)/bin/golangci-lint run ./...) || exit 1; done

.PHONY: proto
proto: ## Regenerate the protobuf Go code from proto/
	scripts/proto-gen.sh

.PHONY: build
build: ## Build every binary into bin/
	go build -o bin/clinicops ./cmd/clinicops
	@for s in intake scheduling billing followup; do go build -o bin/$$s ./services/$$s/cmd/$$s || exit 1; done

.PHONY: tidy
tidy: ## go mod tidy every module
	@for m in $(MODULES); do (cd $$m && go mod tidy) || exit 1; done

.PHONY: docker
docker: ## Build the service images and start docker compose (needs a Docker engine)
	docker compose up --build

.PHONY: clean
clean: ## Remove build output (keeps .data)
	rm -rf bin
