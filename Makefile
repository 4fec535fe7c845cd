# wardsync — the README's two commands are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
GOFLAGS_TEST ?= -p 2 -count=1 -timeout 20m
ADDR ?= 127.0.0.1:8420

export PATH := /usr/local/go/bin:$(PATH)

# What the binaries say they are (package version): the release from the
# newest vMAJOR.MINOR.PATCH tag (git describe: 1.3.0, or 1.3.0-4-g497cf88
# four commits later), or 0.0.0-<commits>-g<commit> before the first tag;
# -dirty when the tree has changes. A plain `go build` says "dev".
ifndef VERSION
GIT_DESCRIBE := $(shell git describe --tags --match 'v[0-9]*.[0-9]*.[0-9]*' --dirty 2>/dev/null)
ifneq ($(GIT_DESCRIBE),)
VERSION := $(patsubst v%,%,$(GIT_DESCRIBE))
else
VERSION := 0.0.0-$(shell git rev-list --count HEAD 2>/dev/null || echo 0)-g$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
endif
endif
ifndef COMMIT
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
endif
GO_LDFLAGS := -X wardsync/version.Version=$(VERSION) -X wardsync/version.Commit=$(COMMIT)
export VERSION COMMIT

# Parts of the build (frontend, desktop app, browser tests) live in mk/*.mk;
# each appends to TEST_PRE what must be built before the Go tests (the
# frontend bundle), to TEST_EXTRA its own test targets, to DEPS_EXTRA the
# apt packages it needs.
TEST_PRE :=
TEST_EXTRA :=
DEPS_EXTRA :=
RUN_EXTRA :=
-include mk/*.mk

.PHONY: all deps db db-stop migrate seed run serve server test test-go vet fmt-check bench clean placeholder

all: server

# Installs what a fresh Debian machine lacks (PostgreSQL is installed by
# scripts/pg.sh itself when missing).
deps:
	@bash scripts/deps.sh $(DEPS_EXTRA)

placeholder:
	@mkdir -p frontend/dist && [ -n "$$(ls -A frontend/dist 2>/dev/null)" ] || touch frontend/dist/.keep

db:
	@bash scripts/pg.sh start >/dev/null && echo "DATABASE_URL=$$(bash scripts/pg.sh url)"

db-stop:
	@bash scripts/pg.sh stop

build/wardsync-server: placeholder $(shell find server workflow syncproto migrations frontend -name '*.go' -o -name '*.sql' 2>/dev/null) go.mod go.sum
	@mkdir -p build
	$(GO) build -ldflags "$(GO_LDFLAGS)" -o build/wardsync-server ./server/cmd/wardsync-server

server: build/wardsync-server

dburl = $${DATABASE_URL:-$$(bash scripts/pg.sh start)}

migrate: server
	@DATABASE_URL=$(dburl) ./build/wardsync-server migrate

seed: migrate
	@DATABASE_URL=$(dburl) ./build/wardsync-server seed

run: deps server $(RUN_EXTRA)
	@bash scripts/run.sh $(ADDR)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^frontend/node_modules')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: placeholder
	$(GO) vet ./...

# WARDSYNC_BENCH_SMOKE=1: bench/'s TestBenchSmoke runs every benchmark once
# at tiny size, to keep `make bench` working (docs/bench.md).
test-go: placeholder
	@export DATABASE_URL=$(dburl) WARDSYNC_BENCH_SMOKE=1; $(GO) test $(GOFLAGS_TEST) ./...

test: deps fmt-check $(TEST_PRE) vet test-go $(TEST_EXTRA)

# Every row, the 1,000,000-appointment initial sync included (~8 min on a
# quiet machine); BENCH_LARGE=0 make bench leaves that one out.
bench: deps placeholder
	@BENCH_LARGE=$${BENCH_LARGE:-1} bash scripts/bench.sh

clean:
	rm -rf build dist
