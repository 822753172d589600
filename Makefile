# The two commands a new machine needs are `make run` and `make test`; each
# installs and starts what it needs first (see scripts/setup-postgres.sh).

export PATH := $(PATH):/usr/local/go/bin
GO ?= go
FUZZTIME ?= 10s

.PHONY: run test build setup lint fuzz

## run: set up the local database unless DATABASE_URL is given, then serve.
run: build
	@if [ -z "$$DATABASE_URL" ]; then scripts/setup-postgres.sh; fi
	./bin/clearmap serve

## test: set up the local database unless CLEARMAP_TEST_DATABASE_URL is given, then run every test.
test: setup-for-test lint
	$(GO) test -count=1 ./...
	$(MAKE) --no-print-directory fuzz

build:
	$(GO) build -o bin/clearmap ./cmd/clearmap

setup:
	scripts/setup-postgres.sh

.PHONY: setup-for-test
setup-for-test:
	@if [ -z "$$CLEARMAP_TEST_DATABASE_URL" ]; then scripts/setup-postgres.sh; fi

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

## fuzz: run each fuzz target briefly (FUZZTIME each).
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParseDistricts$$' -fuzztime=$(FUZZTIME) ./internal/boundaries
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeAndCheck$$' -fuzztime=$(FUZZTIME) ./internal/ingest
	$(GO) test -run='^$$' -fuzz='^FuzzParsers$$' -fuzztime=$(FUZZTIME) ./internal/features
