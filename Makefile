# The two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin
GOFLAGS_BUILD := -trimpath

.PHONY: all build run test test-short vet fmt check-services deps clean bench chaos

all: build

deps:
	$(GO) mod download

build: deps
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ingress ./ingress
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/dispatcher ./dispatcher
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/runner-sim ./runner-sim

# The whole stack on this machine: embedded NATS inside the ingress, Postgres
# from DATABASE_URL (default: the local server, database created on first
# start), a demo project seeded, and a ready-to-paste curl printed.
run: build
	./deploy/dev.sh

# Every test, against the real Postgres (TEST_DATABASE_URL, default the local
# server) and embedded NATS servers. Fails, never skips, when Postgres is down.
test: build check-services
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 9m ./...
	@$(MAKE) --no-print-directory fuzz-smoke

# Every fuzz target for FUZZTIME each (test/fuzz-smoke.sh, which says how a
# failure is kept and why a bare deadline error is run once more).
FUZZTIME ?= 10s
.PHONY: fuzz-smoke
fuzz-smoke: check-services
	GO=$(GO) FUZZTIME=$(FUZZTIME) test/fuzz-smoke.sh

# The chaos suite (test/chaos, build tag chaos): each case breaks one thing
# under load (dispatcher, ingress, NATS, Postgres, runner) and checks
# exactly-once pipelines, jobs and fan-outs and the recovery time. Builds the
# binaries itself, prints every case's figures and writes docs/RELIABILITY.md.
chaos: check-services
	$(GO) test -tags chaos -count=1 -v -timeout 30m -run '^TestChaos$$' ./test/chaos

# The benchmarks: the whole stack on this machine driven by the load tool
# (test/load), against the ceiling handler (test/ceiling); writes
# docs/BENCHMARKS.md from that one run. Takes eight to fourteen minutes here.
bench: build check-services
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ceiling ./test/ceiling
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/load ./test/load
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/bench ./test/bench
	$(BIN)/bench -bin $(BIN) -out docs/BENCHMARKS.md

check-services:
	@pg_isready -q -h $${PGHOST:-127.0.0.1} -p $${PGPORT:-5432} || { \
	  echo "Postgres is not reachable at $${PGHOST:-127.0.0.1}:$${PGPORT:-5432}."; \
	  echo "Start it: pg_ctlcluster --skip-systemctl-redirect \$$(ls /etc/postgresql) main start"; exit 1; }

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
