#!/usr/bin/env bash
# A project-local PostgreSQL cluster for development, tests and benchmarks.
#
#   scripts/pg-local.sh start   create the cluster (first time), start it, create the database
#   scripts/pg-local.sh url     print the connection URL of that database (implies start), as the
#                               cluster's superuser, who owns the tables and runs the migrations
#   scripts/pg-local.sh service-url   the URL the service connects with: the login role
#                               wallet_api, a member of wallet_service (created here the first
#                               time; the migrations create wallet_service)
#   scripts/pg-local.sh stop    stop the cluster
#   scripts/pg-local.sh stop-immediate   stop it as a crash would (fault tests)
#   scripts/pg-local.sh psql    open psql on the database
#
# The cluster lives in .pg/ beside the project, listens only on a unix socket in .pg/run
# (so clusters of two checkouts never collide on a TCP port) and is reused across runs and
# reboots. initdb refuses to run as root, so as root every server-side command runs as the
# `postgres` user; as anyone else it runs as that user.
#
# Settings: WALLET_PG_DIR (cluster home, default .pg), WALLET_PG_PORT (socket number, default
# 54329), WALLET_PG_DB (database name, default wallet_api).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${WALLET_PG_PORT:-54329}
DB=${WALLET_PG_DB:-wallet_api}
PGHOME=${WALLET_PG_DIR:-$ROOT/.pg}

log() { echo "pg-local: $*" >&2; }

find_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
    done
    command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && { pg_config --bindir; return 0; }
    return 1
}

BINDIR=$(find_bindir || true)
if [ -z "$BINDIR" ]; then
    log "PostgreSQL server binaries not found; installing them with apt"
    "$ROOT/scripts/install.sh" postgresql postgresql-contrib
    BINDIR=$(find_bindir) || { log "no initdb after installing PostgreSQL"; exit 1; }
fi

# Run a server-side command as the cluster's owner.
if [ "$(id -u)" -eq 0 ]; then
    as_owner() { runuser -u postgres -- "$@"; }
else
    as_owner() { "$@"; }
fi

# As root the cluster belongs to `postgres`, which must be able to reach the project directory.
# When it cannot (a checkout under /root, say), keep the cluster under /var/tmp instead.
prepare_home() {
    mkdir -p "$PGHOME"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$PGHOME"
        if ! as_owner test -w "$PGHOME"; then
            PGHOME=/var/tmp/wallet-api-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
            mkdir -p "$PGHOME"
            chown postgres:postgres "$PGHOME"
        fi
    fi
    # A unix socket path is limited to 107 bytes.
    if [ ${#PGHOME} -gt 80 ]; then
        log "cluster path $PGHOME is too long for a unix socket; set WALLET_PG_DIR"
        exit 1
    fi
    as_owner mkdir -p "$PGHOME/run" "$PGHOME/log"
}

initialise() {
    [ -f "$PGHOME/data/PG_VERSION" ] && return 0
    log "creating a PostgreSQL cluster in $PGHOME/data"
    as_owner "$BINDIR/initdb" -D "$PGHOME/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C >"$PGHOME/initdb.log" 2>&1 \
        || { cat "$PGHOME/initdb.log" >&2; exit 1; }
    # Durable defaults (fsync and synchronous_commit stay on: this cluster holds money too);
    # room for parallel tests and the benchmark's connections.
    as_owner tee -a "$PGHOME/data/postgresql.conf" >/dev/null <<CONF

# wallet-api local cluster
listen_addresses = ''
unix_socket_directories = '$PGHOME/run'
port = $PORT
max_connections = 400
shared_buffers = 512MB
max_wal_size = 4GB
log_min_messages = warning
log_min_error_statement = panic
CONF
}

is_running() { as_owner "$BINDIR/pg_ctl" -D "$PGHOME/data" status >/dev/null 2>&1; }

start() {
    prepare_home
    initialise
    if ! is_running; then
        as_owner "$BINDIR/pg_ctl" -D "$PGHOME/data" -l "$PGHOME/log/postgres.log" -w -t 60 start >/dev/null \
            || { tail -n 20 "$PGHOME/log/postgres.log" >&2; exit 1; }
    fi
    if [ -z "$("$BINDIR/psql" -h "$PGHOME/run" -p "$PORT" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]; then
        "$BINDIR/createdb" -h "$PGHOME/run" -p "$PORT" -U postgres "$DB"
    fi
}

url() { echo "postgresql://postgres@/$DB?host=$PGHOME/run&port=$PORT"; }

# The service's login role: neither a superuser nor the tables' owner (docs/operations.md,
# "Database roles"). The socket's trust authentication needs no password.
service_url() {
    local psql=("$BINDIR/psql" -h "$PGHOME/run" -p "$PORT" -U postgres -d "$DB" -qtAX -v ON_ERROR_STOP=1)
    if [ -z "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = 'wallet_service'")" ]; then
        log "the database is not migrated yet (no role wallet_service): run wallet-api migrate first"
        exit 1
    fi
    "${psql[@]}" -c "DO \$\$ BEGIN CREATE ROLE wallet_api LOGIN IN ROLE wallet_service;
        EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
    echo "postgresql://wallet_api@/$DB?host=$PGHOME/run&port=$PORT"
}

case "${1:-}" in
    start) start ;;
    url) start; url ;;
    service-url) start; service_url ;;
    stop)
        prepare_home
        if [ -f "$PGHOME/data/PG_VERSION" ] && is_running; then
            as_owner "$BINDIR/pg_ctl" -D "$PGHOME/data" -m fast -w stop >/dev/null
            log "stopped"
        fi
        ;;
    stop-immediate)
        # A crash, for fault tests: no shutdown checkpoint, clients cut off.
        prepare_home
        as_owner "$BINDIR/pg_ctl" -D "$PGHOME/data" -m immediate -w stop >/dev/null
        ;;
    psql) start; exec "$BINDIR/psql" "$(url)" ;;
    *) echo "usage: $0 start|url|service-url|stop|stop-immediate|psql" >&2; exit 2 ;;
esac
