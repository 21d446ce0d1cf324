# Switchboard — `make help` lists the targets.
GO       ?= go
PKGS     ?= ./...
FUZZTIME ?= 30s
STATICCHECK_VERSION ?= v0.8.2

.PHONY: help build run test test-race lint fmt bench fuzz bench-load bench-load-quick

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## static binary in bin/switchboard
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/switchboard ./cmd/switchboard

run: ## the quickstart gateway on :4000 (mock models, no keys needed)
	$(GO) run ./cmd/switchboard --config examples/quickstart.yaml

test: ## the test suite (the README's test command)
	$(GO) test ./...

test-race: ## the test suite under the race detector
	$(GO) test -race $(PKGS)

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

fmt: ## format the tree
	gofmt -w $$(git ls-files '*.go')

bench: ## Go micro-benchmarks of the hot path (compare runs with benchstat)
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./internal/... | tee bench/micro.txt

fuzz: ## each fuzz target for FUZZTIME
	@for t in $$(grep -rhoE '^func (Fuzz[A-Za-z0-9_]+)' --include='*_test.go' internal | sed 's/func //' | sort -u); do \
		pkg=$$(grep -rlE "^func $$t\(" --include='*_test.go' internal | head -1 | xargs dirname); \
		echo "== $$t ($$pkg)"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

bench-load: ## full load report against the fake upstream and the two floors
	$(GO) run ./bench/report -out bench/results/latest.md

bench-load-quick: ## a one-minute smoke run of the load report
	$(GO) run ./bench/report -quick -out bench/results/quick.md

.PHONY: bench-acceptance
bench-acceptance: ## acceptance report: rate limits, budgets, spend ledger under kill -9 / DB outage, 1M keys (PostgreSQL + Redis on loopback, ~15 min)
	$(GO) run ./bench/acceptance $(ACCEPTANCE_FLAGS)
