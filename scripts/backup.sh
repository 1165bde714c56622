#!/usr/bin/env bash
# Backups and point-in-time restore of the embedded default (scripts/pg-local.sh's cluster)
# with pgBackRest: continuous WAL archiving, full and incremental base backups.
#
#   scripts/backup.sh backup            a base backup (full the first time and every
#                                       FULL_EVERY days, else incremental); the first run
#                                       turns WAL archiving on (one restart of PostgreSQL)
#   scripts/backup.sh info              the backups held and the WAL archived
#   scripts/backup.sh restore TIME [DIR]   restore the database as it was at TIME (any time
#                                       PostgreSQL reads, e.g. '2026-12-01 21:30:00+00') into
#                                       a new data directory (default .pg/restored), started
#                                       on the next port; prints its URL
#   scripts/backup.sh restore TIME in-place   the cluster itself, rewound to TIME (it is
#                                       stopped, restored with --delta and started again)
#   scripts/backup.sh stop-restored [DIR]  stop a restored copy
#
# The repository is .pg/backup/repo (WALLET_BACKUP_REPO), on the same disk as the data: a
# copy elsewhere (repo2-*, an object store) is one more repository in the configuration this
# writes, .pg/backup/pgbackrest.conf. Two full backups are kept, with every incremental and
# all WAL since the older one: any time since then can be restored.
#
# Settings are pg-local.sh's (WALLET_PG_DIR, WALLET_PG_PORT, WALLET_PG_DB).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG=$ROOT/scripts/pg-local.sh
PORT=${WALLET_PG_PORT:-54329}
DB=${WALLET_PG_DB:-wallet_api}
STANZA=wallet
FULL_EVERY=${FULL_EVERY:-7}

log() { echo "backup: $*" >&2; }

"$ROOT/scripts/install.sh" pgbackrest
URL=$("$PG" url)
# The cluster's home and data, as pg-local.sh placed them (under /var/tmp when the project
# directory is out of the postgres user's reach).
PGHOME=$(sed -e 's/.*host=\([^&]*\)\/run.*/\1/' <<<"$URL")
DATA=$PGHOME/data
BACKUP=$PGHOME/backup
REPO=${WALLET_BACKUP_REPO:-$BACKUP/repo}
CONF=$BACKUP/pgbackrest.conf
BINDIR=$(ls -d /usr/lib/postgresql/*/bin | sort -t/ -k5 -n -r | head -n 1)

if [ "$(id -u)" -eq 0 ]; then
    as_owner() { runuser -u postgres -- "$@"; }
else
    as_owner() { "$@"; }
fi
psql_db() { "$BINDIR/psql" "$URL" -qtAX -v ON_ERROR_STOP=1 "$@"; }
backrest() { as_owner pgbackrest --config="$CONF" --stanza="$STANZA" "$@"; }

configure() {
    as_owner mkdir -p "$BACKUP/log" "$BACKUP/lock" "$BACKUP/spool" "$REPO"
    as_owner tee "$CONF" >/dev/null <<CONF
# Written by scripts/backup.sh.
[global]
repo1-path=$REPO
repo1-retention-full=2
log-path=$BACKUP/log
lock-path=$BACKUP/lock
spool-path=$BACKUP/spool
log-level-console=warn
log-level-file=info
start-fast=y
compress-type=lz4

[$STANZA]
pg1-path=$DATA
pg1-socket-path=$PGHOME/run
pg1-port=$PORT
pg1-user=postgres
CONF
    local command="pgbackrest --config=$CONF --stanza=$STANZA archive-push %p"
    if [ "$(psql_db -c "SHOW archive_mode")" != on ] \
        || [ "$(psql_db -c "SHOW archive_command")" != "$command" ]; then
        log "turning WAL archiving on (PostgreSQL restarts once)"
        psql_db -c "ALTER SYSTEM SET archive_mode = on" \
            -c "ALTER SYSTEM SET archive_command = '$command'" \
            -c "ALTER SYSTEM SET archive_timeout = '60s'"
        "$PG" stop
        "$PG" start
    fi
    backrest stanza-create >/dev/null 2>&1 || backrest stanza-upgrade >/dev/null
    backrest check
}

backup() {
    configure
    local type=incr
    local newest
    newest=$(backrest info --output=json | python3 -c '
import json, sys
backups = [b for b in json.load(sys.stdin)[0]["backup"] if b["type"] == "full"]
print(max((b["timestamp"]["stop"] for b in backups), default=0))')
    if [ $(( $(date +%s) - newest )) -ge $((FULL_EVERY * 86400)) ]; then type=full; fi
    local began=$SECONDS
    backrest backup --type="$type"
    log "$type backup done in $((SECONDS - began)) s"
    backrest info
}

# The next free port after the cluster's, for a restored copy.
restored_port() { echo $((PORT + 1)); }

# Everything the cluster committed until now goes to the archive: a commit stamped now (so
# that recovery to any earlier time meets a commit past it, where it stops), then the
# current WAL segment closed and archived.
archive_now() {
    psql_db -c "SELECT txid_current()" >/dev/null
    local segment
    segment=$(psql_db -c "SELECT pg_walfile_name(pg_switch_wal())")
    for _ in $(seq 1 300); do
        [ "$(psql_db -c "SELECT last_archived_wal >= '$segment' FROM pg_stat_archiver")" = t ] && return 0
        sleep 0.1
    done
    log "WAL segment $segment is not archived after 30 s (see pg_stat_archiver)"
    exit 1
}

restore() {
    local time=$1 into=${2:-$PGHOME/restored}
    [ -f "$CONF" ] || { log "no backup yet: run scripts/backup.sh backup first"; exit 1; }
    local began=$SECONDS
    archive_now
    if [ "$into" = in-place ]; then
        "$PG" stop
        backrest restore --delta --type=time --target="$time" --target-action=promote
        "$PG" start
        log "restored the cluster in place to $time in $((SECONDS - began)) s"
        echo "$URL"
        return
    fi
    stop_restored "$into"
    as_owner rm -rf "$into"
    as_owner mkdir -p "$into"
    as_owner chmod 700 "$into"
    # The copy does not archive: its WAL would mix with the cluster's in the repository.
    backrest restore --pg1-path="$into" --type=time --target="$time" \
        --target-action=promote --archive-mode=off
    local port
    port=$(restored_port)
    as_owner "$BINDIR/pg_ctl" -D "$into" -l "$into/restore.log" -w -t 300 \
        -o "-p $port -k $PGHOME/run -c listen_addresses=''" start >/dev/null \
        || { tail -n 20 "$into/restore.log" >&2; exit 1; }
    # Recovery ends with a promotion; wait until the copy takes writes.
    for _ in $(seq 1 600); do
        [ "$("$BINDIR/psql" -h "$PGHOME/run" -p "$port" -U postgres -d "$DB" -qtAX -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ] && break
        sleep 0.1
    done
    log "restored to $time in $((SECONDS - began)) s, into $into"
    echo "postgresql://postgres@/$DB?host=$PGHOME/run&port=$port"
}

stop_restored() {
    local into=${1:-$PGHOME/restored}
    if as_owner test -f "$into/postmaster.pid"; then
        as_owner "$BINDIR/pg_ctl" -D "$into" -m fast -w stop >/dev/null || true
    fi
}

case "${1:-}" in
    backup) backup ;;
    info) backrest info ;;
    restore)
        [ -n "${2:-}" ] || { echo "usage: $0 restore TIME [DIR|in-place]" >&2; exit 2; }
        restore "$2" "${3:-}" ;;
    stop-restored) stop_restored "${2:-}" ;;
    *) echo "usage: $0 backup|info|restore TIME [DIR|in-place]|stop-restored [DIR]" >&2; exit 2 ;;
esac
