# The two commands a new machine needs are `make run` and `make test`; each
# installs and starts what it needs first (see scripts/setup-postgres.sh).

export PATH := $(PATH):/usr/local/go/bin
GO ?= go
# Fuzz budgets are counts of inputs, not durations: with a duration, Go
# 1.26's fuzz coordinator can fail a target at the deadline with "context
# deadline exceeded" though nothing was found (golang/go#75804).
FUZZTIME ?= 200000x
# staticcheck is pinned so that a new release cannot turn a green main red;
# `go run` fetches it through the module proxy without adding it to go.mod.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test build setup lint fuzz web bench

## run: set up the local database unless DATABASE_URL is given, then serve.
run: build
	@if [ -z "$$DATABASE_URL" ]; then scripts/setup-postgres.sh; fi
	./bin/clearmap serve

## test: set up the local database (unless CLEARMAP_TEST_DATABASE_URL is
## given), Chromium, GDAL's tools and QGIS's Python bindings, then run every
## test, the browser's included.
## The API package alone takes 8-9 minutes under the race detector, near go
## test's default 10-minute limit per package, hence -timeout.
test: setup-for-test lint
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) --no-print-directory fuzz

build: web
	$(GO) build -o bin/clearmap ./cmd/clearmap

## web: build the front end into web/dist, which the binary embeds.
web: web/dist/index.html

WEB_SOURCES := $(wildcard web/src/* web/public/*) web/index.html web/vite.config.js

web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

setup:
	scripts/setup-postgres.sh

.PHONY: setup-for-test
setup-for-test:
	@if [ -z "$$CLEARMAP_TEST_DATABASE_URL" ]; then scripts/setup-postgres.sh; fi
	scripts/setup-browser.sh
	scripts/setup-gis-tools.sh

lint: web
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## bench: measure ingest (beside ogr2ogr), memory, growth with the archive
## (beside ogr2ogr + SQL), figures and tiles at a million fields on this
## machine, and print one table.
bench:
	scripts/bench.sh

## fuzz: run each fuzz target briefly (FUZZTIME each).
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParseDistricts$$' -fuzztime=$(FUZZTIME) ./internal/boundaries
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeAndCheck$$' -fuzztime=$(FUZZTIME) ./internal/ingest
	$(GO) test -run='^$$' -fuzz='^FuzzParsers$$' -fuzztime=$(FUZZTIME) ./internal/features
	$(GO) test -run='^$$' -fuzz='^FuzzQueryParsers$$' -fuzztime=$(FUZZTIME) ./internal/api
