# wallet-api: the two commands are `make run` and `make test`.
#
# When DATABASE_URL is unset, every target that needs a database uses a project-local
# PostgreSQL cluster (scripts/pg-local.sh), created and started on first use.

SHELL := /bin/bash
PG := scripts/pg-local.sh
# The database: $DATABASE_URL, or the local cluster's (started on demand).
WITH_DB = export DATABASE_URL="$${DATABASE_URL:-$$($(PG) url)}" &&

.PHONY: run key test lint build deps db-start db-stop db-url psql migrate verify repair bench profile e2e fuzz openapi schema docs cluster cluster-down cluster-status backup restore bench-cluster bench-events bench-webhooks bench-history

## run: build in release mode and serve on HOST:PORT. Without DATABASE_URL: start the local
## cluster, migrate it as the tables' owner, serve as the least-privilege role wallet_api, with
## the admin key local-admin (make -s key prints its secret)
run: deps
	cargo build --release
	@if [ -n "$${DATABASE_URL:-}" ]; then ./target/release/wallet-api serve; else scripts/local.sh serve; fi

## key: the secret of the local cluster's admin key local-admin (KEY=$$(make -s key))
key: deps
	@scripts/local.sh key

## test: lint, then every test against a real PostgreSQL (the write paths' modules again with
## coalescing off), then the
## curl walkthrough and a JSON:API client library against a live server
test: deps lint
	$(WITH_DB) cargo test --all-targets
	$(WITH_DB) TEST_COALESCE=off cargo test --test integration -- transactions:: holds:: \
	    transfers:: exchanges:: operations:: idempotency:: coalescing:: credit:: wallets:: \
	    currencies:: metadata:: limits::
	$(WITH_DB) scripts/e2e.sh

## lint: formatting and clippy, warnings as errors
lint: deps
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

build: deps
	cargo build --release

## deps: what the build needs from the system (libpq for diesel, rustfmt, clippy)
deps:
	@scripts/deps.sh

db-start:
	@$(PG) start
db-stop:
	@$(PG) stop
## db-url: the connection URL of the local database (make -s db-url)
db-url:
	@$(PG) url
## psql: a psql session on the local database
psql:
	@$(PG) psql

migrate: deps
	cargo build --release
	$(WITH_DB) ./target/release/wallet-api migrate

## verify: compare every balance with its transactions and its journal; fails on any mismatch
verify: deps
	cargo build --release
	$(WITH_DB) ./target/release/wallet-api verify

## repair: what `wallet-api repair` would put right (a dry run); `make repair APPLY=1` writes it
repair: deps
	cargo build --release
	$(WITH_DB) ./target/release/wallet-api repair $(if $(APPLY),--apply)

e2e: deps
	$(WITH_DB) scripts/e2e.sh

## fuzz: the end-to-end run with a long schemathesis campaign (FUZZ_EXAMPLES, FUZZ_SEED)
fuzz: deps
	$(WITH_DB) FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-500} FUZZ_SEED=$${FUZZ_SEED:-random} scripts/e2e.sh

## schema: rewrite schema.sql, the schema the migrations build (pg_dump of a fresh database)
schema: deps
	cargo build --release
	$(WITH_DB) scripts/fresh-schema.sh > schema.sql

## docs: rewrite the parts of docs/ written from the code (settings, error codes)
docs: deps
	cargo run --quiet -- docs

## openapi: rewrite openapi.json from the code (the route table and resource declarations)
openapi: deps
	cargo run --quiet -- openapi > openapi.json

## cluster: on loopback, a pg_auto_failover formation (monitor, primary, synchronous standby),
## two service instances and haproxy in front of them on :8090 (STANDBY_READS=on: reads from
## the standby, read-your-writes kept). The key: make -s key. Data in .cluster/
cluster: deps
	cargo build --release
	scripts/cluster.sh up
## cluster-down: stop every part of the cluster (its data stays; make cluster starts it again)
cluster-down:
	@scripts/cluster.sh down
## cluster-status: the front, each node (name, role, port, data directory), each instance,
## then replication state and lag
cluster-status:
	@scripts/cluster.sh status

## backup: a base backup with pgBackRest (WAL is archived continuously from the first one on)
## of the embedded default, or with CLUSTER=1 of the cluster's formation
backup: deps
	cargo build --release
	$(if $(CLUSTER),WALLET_BACKUP_OF=cluster) scripts/backup.sh backup
## restore: TIME='2026-12-01 21:30:00+00': the database as it was then, into a new data
## directory started beside it (prints its URL); INTO=in-place rewinds the embedded default
## itself; CLUSTER=1 restores the cluster's formation
restore: deps
	@[ -n "$(TIME)" ] || { echo "make restore TIME='YYYY-MM-DD HH:MM:SS+00' [INTO=in-place|DIR] [CLUSTER=1]" >&2; exit 2; }
	$(if $(CLUSTER),WALLET_BACKUP_OF=cluster) scripts/backup.sh restore "$(TIME)" $(INTO)

## bench: the benchmark suite beside pgbench; writes BENCHMARKS.md
bench: deps
	scripts/bench.sh

## bench-events: the events scenarios alone (feed paging, events and monitors on bookings,
## a stream's lag, bulk), on a database of their own; prints the figures BENCHMARKS.md quotes
bench-events: deps
	command -v wrk >/dev/null 2>&1 || scripts/install.sh wrk
	$(WITH_DB) python3 scripts/bench/events.py

## bench-webhooks: bookings with one webhook endpoint and with none, deliveries per second and
## their lag behind the feed (also run by make bench)
bench-webhooks: deps
	command -v wrk >/dev/null 2>&1 || scripts/install.sh wrk
	$(WITH_DB) python3 scripts/bench/webhooks.py

## bench-history: balance-history of a wallet with 10 journal entries and of one with
## 1,000,000 (also run by make bench)
bench-history: deps
	$(WITH_DB) python3 scripts/bench/history.py

## bench-cluster: bookings and reads with 1 and 2 instances, reads from the primary and
## from the standby, the standby's lag: a formation of its own; writes docs/SCALING.md's figures
bench-cluster: deps
	python3 scripts/bench/cluster.py

## profile: statements and CPU per request, coalescing on and off (a cluster of its own
## with pg_stat_statements); prints a report that BENCHMARKS.md quotes
profile: deps
	python3 scripts/bench/profile.py
