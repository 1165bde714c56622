#!/usr/bin/env bash
# Backups and point-in-time restore with pgBackRest: continuous WAL archiving, full and
# incremental base backups. Of the embedded default (scripts/pg-local.sh's cluster), or with
# WALLET_BACKUP_OF=cluster of the formation `make cluster` runs (scripts/cluster.sh; its
# nodes archive from creation on, whichever is primary).
#
#   scripts/backup.sh backup            a base backup (full the first time and every
#                                       FULL_EVERY days, else incremental); on the embedded
#                                       default the first run turns WAL archiving on (one
#                                       restart of PostgreSQL)
#   scripts/backup.sh info              the backups held and the WAL archived
#   scripts/backup.sh restore TIME [DIR]   restore the database as it was at TIME (any time
#                                       PostgreSQL reads, e.g. '2026-12-01 21:30:00+00') into
#                                       a new data directory (default backup/restored beside
#                                       the data), started on a port of its own; prints its URL
#   scripts/backup.sh restore TIME in-place   the embedded default itself, rewound to TIME
#                                       (stopped, restored with --delta, started again)
#   scripts/backup.sh stop-restored [DIR]  stop a restored copy
#   scripts/backup.sh configure         write the configuration, create the stanza, check
#
# The repository is backup/repo beside the data (WALLET_BACKUP_REPO), on the same disk: a
# copy elsewhere (repo2-*, an object store) is one more repository in the configuration this
# writes, backup/pgbackrest.conf. Two full backups are kept, with every incremental and all
# WAL since the older one: any time since then can be restored.
#
# Settings: pg-local.sh's (WALLET_PG_DIR, WALLET_PG_PORT, WALLET_PG_DB), or cluster.sh's.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STANZA=wallet
FULL_EVERY=${FULL_EVERY:-7}
OF=${WALLET_BACKUP_OF:-local}
BINDIR=$(ls -d /usr/lib/postgresql/*/bin | sort -t/ -k5 -n -r | head -n 1)

log() { echo "backup: $*" >&2; }

"$ROOT/scripts/install.sh" pgbackrest
if [ "$OF" = cluster ]; then
    # The formation: its home, the owner's multi-host URL (the primary), both nodes.
    PGHOME=$("$ROOT/scripts/cluster.sh" home)
    URL=$("$ROOT/scripts/cluster.sh" url owner)
    DB=wallet_api
    PG_PORT=${WALLET_CLUSTER_PG_PORT:-55430}
    SOCKETS=/var/run/postgresql
    RESTORED_PORT=$((PG_PORT + 9))
    NODES="pg1-path=$PGHOME/node1
pg1-port=$((PG_PORT + 1))
pg1-user=postgres
pg2-path=$PGHOME/node2
pg2-port=$((PG_PORT + 2))
pg2-user=postgres"
else
    PORT=${WALLET_PG_PORT:-54329}
    DB=${WALLET_PG_DB:-wallet_api}
    URL=$("$ROOT/scripts/pg-local.sh" url)
    # The cluster's home as pg-local.sh placed it (under /var/tmp when the project directory
    # is out of the postgres user's reach).
    PGHOME=$(sed -e 's/.*host=\([^&]*\)\/run.*/\1/' <<<"$URL")
    SOCKETS=$PGHOME/run
    RESTORED_PORT=$((PORT + 1))
    NODES="pg1-path=$PGHOME/data
pg1-socket-path=$SOCKETS
pg1-port=$PORT
pg1-user=postgres"
fi
BACKUP=$PGHOME/backup
REPO=${WALLET_BACKUP_REPO:-$BACKUP/repo}
CONF=$BACKUP/pgbackrest.conf
PG=$ROOT/scripts/pg-local.sh

if [ "$(id -u)" -eq 0 ]; then
    as_owner() { runuser -u postgres -- "$@"; }
else
    as_owner() { "$@"; }
fi
psql_db() { "$BINDIR/psql" "$URL" -qtAX -v ON_ERROR_STOP=1 "$@"; }
backrest() { as_owner pgbackrest --config="$CONF" --stanza="$STANZA" "$@"; }

archive_command() { echo "pgbackrest --config=$CONF --stanza=$STANZA archive-push %p"; }

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
$NODES
CONF
    local command
    command=$(archive_command)
    if [ "$OF" = cluster ]; then
        [ "$(psql_db -c "SHOW archive_command")" = "$command" ] || {
            log "the formation's nodes do not archive to $CONF (created before archiving was set up?)"
            exit 1
        }
    elif [ "$(psql_db -c "SHOW archive_mode")" != on ] \
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
    local time=$1 into=${2:-$BACKUP/restored}
    [ -f "$CONF" ] || { log "no backup yet: run scripts/backup.sh backup first"; exit 1; }
    local began=$SECONDS
    archive_now
    if [ "$into" = in-place ]; then
        if [ "$OF" = cluster ]; then
            log "a formation is not rewound in place: restore into a new directory, then see \
docs/operations.md (Backups and restore) for making it the formation's primary"
            exit 2
        fi
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
    local port=$RESTORED_PORT
    # On a socket only, and not as a member of any formation: no replication settings.
    as_owner "$BINDIR/pg_ctl" -D "$into" -l "$into/restore.log" -w -t 300 \
        -o "-p $port -k $SOCKETS -c listen_addresses='' -c synchronous_standby_names='' -c hot_standby=on" start >/dev/null \
        || { tail -n 20 "$into/restore.log" >&2; exit 1; }
    # Recovery ends with a promotion; wait until the copy takes writes.
    for _ in $(seq 1 600); do
        [ "$("$BINDIR/psql" -h "$SOCKETS" -p "$port" -U postgres -d "$DB" -qtAX -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ] && break
        sleep 0.1
    done
    log "restored to $time in $((SECONDS - began)) s, into $into"
    echo "postgresql://postgres@/$DB?host=$SOCKETS&port=$port"
}

stop_restored() {
    local into=${1:-$BACKUP/restored}
    if as_owner test -f "$into/postmaster.pid"; then
        as_owner "$BINDIR/pg_ctl" -D "$into" -m fast -w stop >/dev/null || true
    fi
}

case "${1:-}" in
    backup) backup ;;
    configure) configure ;;
    archive-command) archive_command ;;
    info) backrest info ;;
    restore)
        [ -n "${2:-}" ] || { echo "usage: $0 restore TIME [DIR|in-place]" >&2; exit 2; }
        restore "$2" "${3:-}" ;;
    stop-restored) stop_restored "${2:-}" ;;
    *) echo "usage: $0 backup|info|restore TIME [DIR|in-place]|stop-restored [DIR]" >&2; exit 2 ;;
esac
