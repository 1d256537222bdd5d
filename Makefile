# Portico developer tasks. `make` (or `make help`) lists them.
#
# Tool versions are pinned in tools/go.mod (protoc plugins) and
# tools/buf/go.mod (buf; a module of its own because buf v1.75.0 needs a newer
# google.golang.org/protobuf than the v1.36.12 protoc-gen-go we generate with).
# google/api/*.proto imports come from the npm package google-proto-files,
# pinned in package.json / package-lock.json.

SHELL := /bin/bash
.DEFAULT_GOAL := help

GO            ?= go
BUILD_DIR     := .build
BUF           := $(BUILD_DIR)/bin/buf
GOLANGCI_LINT_VERSION := v2.15.0
FUZZTIME      ?= 30s
# package:target pairs, one per parser.
FUZZ_TARGETS  := transcoder:FuzzParsePathTemplate transcoder:FuzzRouterMatch transcoder:FuzzBindQuery \
                 transcoder:FuzzGRPCWebTextDecoder transcoder:FuzzEnvelopeReader \
                 jsonwire:FuzzWireToJSON jsonwire:FuzzJSONToWire

.PHONY: help
help: ## List targets.
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_-]+:.*?## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(BUF): tools/buf/go.mod tools/buf/go.sum
	cd tools/buf && $(GO) build -o ../../$(BUF) github.com/bufbuild/buf/cmd/buf

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts

.PHONY: generate
generate: $(BUF) node_modules/.package-lock.json ## Regenerate gen/ from proto/ (npm ci + buf generate).
	$(BUF) lint
	$(BUF) generate
	$(BUF) generate --template buf.gen.gateway.yaml

.PHONY: checkgenerate
checkgenerate: generate ## Fail if gen/ is out of date with proto/.
	git diff --exit-code -- gen/
	@# Once gen/ is tracked, new untracked generated files also mean stale.
	@if [ -n "$$(git ls-files gen/)" ] && [ -n "$$(git ls-files --others --exclude-standard gen/)" ]; then \
		echo "untracked files in gen/:"; git ls-files --others --exclude-standard gen/; exit 1; fi

.PHONY: build
build: ## Build the portico binary into .build/portico.
	$(GO) build -o $(BUILD_DIR)/portico ./cmd/portico

.PHONY: run
run: ## Run the demo (gateway in front of the in-memory Library service).
	$(GO) run ./cmd/portico demo

# The gRPC-Web browser test page (transcoder/browser_test.go): npm ci in
# browser/, then esbuild bundles browser/src/main.js into browser/dist/bundle.js.
browser/node_modules/.package-lock.json: browser/package.json browser/package-lock.json
	cd browser && npm ci --no-audit --no-fund --ignore-scripts

.PHONY: browser
browser: browser/node_modules/.package-lock.json ## Build browser/dist/bundle.js for the gRPC-Web browser test.
	cd browser && npm run --silent build

.PHONY: test
test: test-deps browser ## Run all tests with the race detector (installs the browser tests' Chromium if missing).
	$(GO) test -race -count=1 ./...

# The browser tests drive Debian's Chromium. As root with apt-get (as in CI)
# it is installed when missing; otherwise the command to run is printed.
.PHONY: test-deps
test-deps:
	@if [ "$$PORTICO_SKIP_BROWSER" != 1 ] && [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing chromium for the browser tests"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
		else \
			echo "the browser tests need Chromium: sudo apt-get install chromium (or PORTICO_SKIP_BROWSER=1 make test)"; exit 1; \
		fi; \
	fi

.PHONY: lint
lint: ## go vet + golangci-lint.
	$(GO) vet ./...
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 30s).
	@set -e; for pt in $(FUZZ_TARGETS); do \
		p=$${pt%%:*}; t=$${pt##*:}; \
		echo "== $$p $$t ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./$$p; \
	done

.PHONY: bench
bench: ## Run the benchmarks: every package's (but the large-schema ones, see bench-scale), then bench-peers.
	$(GO) test -run '^$$' -bench . -skip LargeSchema -benchmem ./...
	$(MAKE) bench-peers

.PHONY: clean
clean: ## Remove .build/ and node_modules/.
	rm -rf $(BUILD_DIR) node_modules

.PHONY: bench-scale
bench-scale: node_modules/.package-lock.json ## Large-schema benchmarks: Google APIs from google-proto-files (load, memory, routing).
	$(GO) test -run '^$$' -bench LargeSchema -benchtime=3x ./gateway/

# The peer comparison (bench/, a module of its own): Portico against
# grpc-gateway, vanguard-go, a plain httputil HTTP/2 proxy and direct gRPC,
# same backend, 3 runs; prints the tables and writes BENCHMARKS.md. About
# 6 minutes on 2 cores.
.PHONY: bench-peers
bench-peers: ## Benchmark Portico side by side with its peers; writes BENCHMARKS.md.
	cd bench && $(GO) run . -runs 3 -out ../BENCHMARKS.md
