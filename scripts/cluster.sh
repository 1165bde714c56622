#!/usr/bin/env bash
# Past one machine, on one machine: a pg_auto_failover formation (a monitor, a primary and a
# synchronous standby), service instances on it, and haproxy in front of them. Loopback only.
#
#   scripts/cluster.sh up       create what is missing (installing the packages first), start
#                               what is stopped, migrate, and wait until every part is healthy
#   scripts/cluster.sh down     stop everything (the data stays; `up` starts it again)
#   scripts/cluster.sh status   one line per part: `front URL`, `node NAME ROLE PORT PGDATA`,
#                               `instance URL STATUS`, then the replication state and lag
#   scripts/cluster.sh key      the admin key's secret (the embedded default's: `make -s key`)
#   scripts/cluster.sh home     the directory holding the formation's data, logs and backups
#   scripts/cluster.sh url [owner|service|standby]   a connection URL of the formation: the
#                               tables' owner (default), the service's role, or a read one
#                               that prefers the standby
#   scripts/cluster.sh wait-formation   wait until the formation has a primary and a secondary
#   scripts/cluster.sh kill-primary     kill -9 the primary's postmaster and its pg_autoctl
#                               (the machine dies); `restart-node NAME` brings it back
#   scripts/cluster.sh failover         a clean failover (pg_autoctl perform failover)
#   scripts/cluster.sh restart-instances   restart the service instances with this call's
#                               environment (STANDBY_READS=on, ...)
#   scripts/cluster.sh autoctl ARGS...  any pg_autoctl command against the monitor
#
# Settings: WALLET_CLUSTER_DIR (default .cluster), WALLET_CLUSTER_PG_PORT (the monitor's port;
# the nodes take the next two, default 55430), WALLET_CLUSTER_HTTP_PORT (haproxy's; the
# instances take the next ones, default 8090), WALLET_CLUSTER_INSTANCES (default 2),
# WALLET_BIN (default target/release/wallet-api, built when missing), STANDBY_READS (`on`:
# the instances serve reads from the standby, with read-your-writes; default off). Each
# instance serves with the rest of the environment it is started in (COALESCE, ...).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOME_DIR=${WALLET_CLUSTER_DIR:-$ROOT/.cluster}
PG_PORT=${WALLET_CLUSTER_PG_PORT:-55430}
HTTP_PORT=${WALLET_CLUSTER_HTTP_PORT:-8090}
INSTANCES=${WALLET_CLUSTER_INSTANCES:-2}
DB=wallet_api
BINDIR=/usr/lib/postgresql/15/bin
BIN=${WALLET_BIN:-$ROOT/target/release/wallet-api}
NODES=(node1 node2)

log() { echo "cluster: $*" >&2; }
node_port() { echo $((PG_PORT + 1 + $1)); }
instance_port() { echo $((HTTP_PORT + 1 + $1)); }

if [ "$(id -u)" -eq 0 ]; then
    as_owner() { runuser -u postgres -- env PATH="$BINDIR:$PATH" XDG_CONFIG_HOME="$HOME_DIR/xdg/config" XDG_DATA_HOME="$HOME_DIR/xdg/data" XDG_RUNTIME_DIR="$HOME_DIR/xdg/run" "$@"; }
else
    as_owner() { env PATH="$BINDIR:$PATH" XDG_CONFIG_HOME="$HOME_DIR/xdg/config" XDG_DATA_HOME="$HOME_DIR/xdg/data" XDG_RUNTIME_DIR="$HOME_DIR/xdg/run" "$@"; }
fi

monitor_uri() { echo "postgres://autoctl_node@localhost:$PG_PORT/pg_auto_failover?sslmode=disable"; }
hosts() { echo "localhost:$(node_port 0),localhost:$(node_port 1)"; }
url() {
    case "${1:-owner}" in
        owner) echo "postgresql://postgres@$(hosts)/$DB?target_session_attrs=read-write&connect_timeout=2" ;;
        service) echo "postgresql://wallet_api@$(hosts)/$DB?target_session_attrs=read-write&connect_timeout=2" ;;
        standby) echo "postgresql://wallet_api@$(hosts)/$DB?target_session_attrs=prefer-standby&connect_timeout=2" ;;
        *) log "url: owner, service or standby"; exit 2 ;;
    esac
}
autoctl() { as_owner pg_autoctl "$@" --monitor "$(monitor_uri)"; }
psql_node() { "$BINDIR/psql" "postgresql://postgres@localhost:$1/$DB" -qtAX -v ON_ERROR_STOP=1 "${@:2}"; }

prepare_home() {
    # pg_autoctl's nodes keep their unix sockets where PostgreSQL's packages put them; on a
    # machine that never ran a packaged server the directory may be missing. (As a user other
    # than root, that user must be able to write it: a member of the group postgres.)
    if [ ! -d /var/run/postgresql ] && [ "$(id -u)" -eq 0 ]; then
        install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    fi
    mkdir -p "$HOME_DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$HOME_DIR"
        if ! runuser -u postgres -- test -w "$HOME_DIR"; then
            HOME_DIR=/var/tmp/wallet-api-cluster-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
            mkdir -p "$HOME_DIR"
            chown postgres:postgres "$HOME_DIR"
        fi
    fi
    as_owner mkdir -p "$HOME_DIR/log" "$HOME_DIR/run" "$HOME_DIR/xdg/config" "$HOME_DIR/xdg/data" "$HOME_DIR/xdg/run"
    as_owner chmod 700 "$HOME_DIR/xdg/run"
    mkdir -p "$HOME_DIR/instances"
}

# A pg_autoctl service (the monitor's or a node's) in the background, unless it runs already,
# in a session of its own: its pid is its process group, which holds its PostgreSQL too.
keeper_pid() { cat "$HOME_DIR/run/$1.pid" 2>/dev/null || true; }
keeper_running() {
    local pid
    pid=$(keeper_pid "$1")
    [ -n "$pid" ] && kill -0 -- "-$pid" 2>/dev/null
}
run_keeper() {
    local name=$1
    keeper_running "$name" && return 0
    as_owner bash -c "cd '$HOME_DIR'; setsid nohup pg_autoctl run --pgdata '$HOME_DIR/$name' </dev/null >>'$HOME_DIR/log/$name.log' 2>&1 & echo \$! > '$HOME_DIR/run/$name.pid'"
}

wait_for() {
    local what=$1 seconds=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            log "timed out after ${seconds}s waiting for $what"
            return 1
        fi
        sleep 0.5
    done
}

create_monitor() {
    if [ ! -f "$HOME_DIR/monitor/PG_VERSION" ]; then
        log "creating the pg_auto_failover monitor on port $PG_PORT"
        as_owner pg_autoctl create monitor --pgdata "$HOME_DIR/monitor" --pgport "$PG_PORT" \
            --pgctl "$BINDIR/pg_ctl" --hostname localhost --auth trust --no-ssl \
            >>"$HOME_DIR/log/create.log" 2>&1 || { tail -n 20 "$HOME_DIR/log/create.log" >&2; exit 1; }
        as_owner pg_autoctl config set --pgdata "$HOME_DIR/monitor" postgresql.listen_addresses localhost \
            >>"$HOME_DIR/log/create.log" 2>&1
        # Failover within seconds of a node's death, not the default 20-30 s: the monitor
        # checks each node every second and gives up on one silent for 4 s.
        as_owner tee -a "$HOME_DIR/monitor/postgresql.conf" >/dev/null <<CONF

# wallet-api cluster: quick failure detection
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 4000
pgautofailover.startup_grace_period = 4000
# The standby is promoted 5 s after the primary was asked to demote, not 30 s: a primary
# that is cut off but alive cannot acknowledge a commit meanwhile (synchronous replication
# waits for the standby), so nothing acknowledged is lost by not waiting longer.
pgautofailover.primary_demote_timeout = 5000
CONF
    fi
    run_keeper monitor
    wait_for "the monitor" 60 "$BINDIR/psql" "$(monitor_uri)" -c "SELECT 1"
}

# Every node archives its WAL with pgBackRest (scripts/backup.sh) from its first start:
# whichever is primary does.
archive() {
    local conf=$HOME_DIR/$1/postgresql.conf
    as_owner grep -q "^# wallet-api: archiving" "$conf" && return 0
    local command
    command=$(WALLET_BACKUP_OF=cluster "$ROOT/scripts/backup.sh" archive-command)
    as_owner tee -a "$conf" >/dev/null <<CONF

# wallet-api: archiving (scripts/backup.sh)
archive_mode = on
archive_command = '$command'
archive_timeout = 60s
CONF
}

create_node() {
    local n=$1 name=${NODES[$1]} port
    port=$(node_port "$n")
    if [ ! -f "$HOME_DIR/$name/PG_VERSION" ]; then
        log "creating the PostgreSQL node $name on port $port"
        as_owner pg_autoctl create postgres --pgdata "$HOME_DIR/$name" --pgport "$port" \
            --pgctl "$BINDIR/pg_ctl" --hostname localhost --listen localhost --name "$name" \
            --dbname "$DB" --auth trust --no-ssl --monitor "$(monitor_uri)" \
            >>"$HOME_DIR/log/create.log" 2>&1 || { tail -n 20 "$HOME_DIR/log/create.log" >&2; exit 1; }
        # A primary cut off from the monitor and its standby demotes itself after 3 s (not
        # 20 s): before DB_STATEMENT_TIMEOUT (5 s) cancels a commit's wait for the standby,
        # which PostgreSQL would then keep locally and the service acknowledge.
        as_owner pg_autoctl config set --pgdata "$HOME_DIR/$name" timeout.network_partition_timeout 3 \
            >>"$HOME_DIR/log/create.log" 2>&1
    fi
    archive "$name"
    run_keeper "$name"
}

# The nodes' states as the monitor has them: name, reported state, goal state.
states() { "$BINDIR/psql" "$(monitor_uri)" -qtAX -F ' ' -c "SELECT nodename, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodeid"; }
formation_ready() {
    local s
    s=$(states)
    grep -q ' primary primary$' <<<"$s" && grep -q ' secondary secondary$' <<<"$s"
}
primary_port() { "$BINDIR/psql" "$(monitor_uri)" -qtAX -c "SELECT nodeport FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary', 'single') AND goalstate = reportedstate LIMIT 1"; }

migrate() {
    DATABASE_URL=$(url owner) "$BIN" migrate >/dev/null
    "$BINDIR/psql" "$(url owner)" -qtAX -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN CREATE ROLE wallet_api LOGIN IN ROLE wallet_service;
        EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
}

# The cluster accepts the embedded default's admin key: the same name, prefix and hash.
share_key() {
    local secret prefix
    secret=$("$ROOT/scripts/local.sh" key)
    prefix=$(head -c 11 <<<"$secret")
    local hash
    hash=$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)
    "$BINDIR/psql" "$(url owner)" -qtAX -v ON_ERROR_STOP=1 >/dev/null <<SQL
UPDATE api_keys SET revoked_at = now() WHERE name = 'local-admin' AND prefix <> '$prefix' AND revoked_at IS NULL;
INSERT INTO api_keys (name, prefix, secret_hash, scopes)
SELECT 'local-admin', '$prefix', decode('$hash', 'hex'), '{admin}'
WHERE NOT EXISTS (SELECT 1 FROM api_keys WHERE prefix = '$prefix' AND revoked_at IS NULL);
SQL
}

instance_pid() { cat "$HOME_DIR/instances/$1.pid" 2>/dev/null || true; }
start_instance() {
    local n=$1 pid port
    pid=$(instance_pid "$n")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && return 0
    port=$(instance_port "$n")
    local standby=()
    [ "${STANDBY_READS:-off}" = on ] && standby=(STANDBY_DATABASE_URL="$(url standby)")
    # The service's credentials alone (up migrated as the owner); haproxy, on loopback, says
    # who the client is in X-Forwarded-For.
    env -u MIGRATION_DATABASE_URL DATABASE_URL="$(url service)" "${standby[@]}" \
        PORT="$port" HOST=127.0.0.1 TRUSTED_PROXIES=${TRUSTED_PROXIES:-127.0.0.1} \
        BASE_URL=${BASE_URL:-http://127.0.0.1:$HTTP_PORT} RUST_LOG=${RUST_LOG:-warn} \
        nohup "$BIN" serve </dev/null >>"$HOME_DIR/log/instance$n.log" 2>&1 &
    echo $! >"$HOME_DIR/instances/$n.pid"
}

# Every instance started (with this call's environment), then healthy.
start_instances() {
    local n
    for ((n = 0; n < INSTANCES; n++)); do start_instance "$n"; done
    for ((n = 0; n < INSTANCES; n++)); do
        wait_for "instance $n" 60 healthy "http://127.0.0.1:$(instance_port "$n")"
    done
}

stop_instances() {
    local pidfile
    for pidfile in "$HOME_DIR"/instances/*.pid; do
        [ -e "$pidfile" ] && stop_pid "$(cat "$pidfile")" && rm -f "$pidfile"
    done
}

# haproxy sends each request to an instance whose /health passes (its database answers).
# When none passes (the formation is between primaries), it sends them to any instance that
# lives (/health/live), which answers 503 with the JSON:API error that says why; should no
# instance live at all, haproxy answers that 503 itself. A request that reached an instance is
# never sent again (retries only for connections that were refused).
write_haproxy() {
    local servers="" n
    for ((n = 0; n < INSTANCES; n++)); do
        servers+="    server instance$n 127.0.0.1:$(instance_port "$n") check"$'\n'
    done
    cat >"$HOME_DIR/no-instance.http" <<'HTTP'
HTTP/1.1 503 Service Unavailable
Content-Type: application/vnd.api+json
Cache-Control: no-store
Retry-After: 1
Connection: close

{"errors":[{"status":"503","code":"no-instance","title":"No instance","detail":"No wallet-api instance is reachable behind this address; retry later."}],"jsonapi":{"version":"1.1"}}
HTTP
    cat >"$HOME_DIR/haproxy.cfg" <<CFG
# Written by scripts/cluster.sh: the front of the wallet-api instances.
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
    option forwardfor
    retries 2
    option redispatch
    errorfile 503 $HOME_DIR/no-instance.http
frontend wallet_api
    bind 127.0.0.1:$HTTP_PORT
    use_backend ready if { nbsrv(ready) gt 0 }
    default_backend live
backend ready
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
$servers
backend live
    balance roundrobin
    option httpchk GET /health/live
    http-check expect status 200
    default-server inter 1s fall 2 rise 1
$servers
CFG
}
haproxy_pid() { cat "$HOME_DIR/haproxy.pid" 2>/dev/null || true; }
start_haproxy() {
    local pid
    pid=$(haproxy_pid)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && return 0
    write_haproxy
    haproxy -q -D -f "$HOME_DIR/haproxy.cfg" -p "$HOME_DIR/haproxy.pid"
}

healthy() { curl -sf -o /dev/null --max-time 2 "$1/health"; }

up() {
    "$ROOT/scripts/install.sh" postgresql-15-auto-failover haproxy pgbackrest curl
    [ -x "$BIN" ] || (cd "$ROOT" && cargo build --release --quiet >&2)
    prepare_home
    create_monitor
    create_node 0
    wait_for "the first node to be primary" 120 primary_port
    create_node 1
    wait_for "a primary and a synchronous standby" 180 formation_ready
    # The monitor may still hold the states from before a restart: wait for a node that
    # takes writes.
    wait_for "the primary to take writes" 120 "$BINDIR/psql" "$(url owner)" -c "SELECT 1"
    migrate
    share_key
    WALLET_BACKUP_OF=cluster "$ROOT/scripts/backup.sh" configure
    start_instances
    start_haproxy
    wait_for "the front" 60 healthy "http://127.0.0.1:$HTTP_PORT"
    log "up: http://127.0.0.1:$HTTP_PORT (make cluster-status; the key: make -s key)"
}

stop_pid() {
    local pid=$1
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

down() {
    prepare_home
    stop_pid "$(haproxy_pid)"
    stop_instances
    for name in node2 node1 monitor; do
        [ -f "$HOME_DIR/$name/PG_VERSION" ] || continue
        as_owner pg_autoctl stop --pgdata "$HOME_DIR/$name" >/dev/null 2>&1 || true
        for _ in $(seq 1 150); do keeper_running "$name" || break; sleep 0.1; done
        if keeper_running "$name"; then
            kill -TERM -- "-$(keeper_pid "$name")" 2>/dev/null || true
            sleep 1
            kill -KILL -- "-$(keeper_pid "$name")" 2>/dev/null || true
        fi
        as_owner "$BINDIR/pg_ctl" -D "$HOME_DIR/$name" -m fast -w stop >/dev/null 2>&1 || true
    done
    log "stopped"
}

status() {
    prepare_home
    local front="http://127.0.0.1:$HTTP_PORT"
    echo "front $front $(healthy "$front" && echo up || echo down)"
    "$BINDIR/psql" "$(monitor_uri)" -qtAX -F ' ' -c \
        "SELECT 'node', nodename, reportedstate, nodeport FROM pgautofailover.node ORDER BY nodeid" 2>/dev/null \
        | while read -r word name role port; do echo "$word $name $role $port $HOME_DIR/$name"; done \
        || echo "monitor down"
    for ((n = 0; n < INSTANCES; n++)); do
        local url="http://127.0.0.1:$(instance_port "$n")"
        echo "instance $url $(healthy "$url" && echo up || echo down)"
    done
    local port
    port=$(primary_port 2>/dev/null || true)
    if [ -n "$port" ]; then
        psql_node "$port" -F ' ' -c "SELECT 'replication', application_name, state, sync_state,
            'replay_lag', coalesce(replay_lag::text, '0'), 'bytes_behind',
            pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication" 2>/dev/null || true
        psql_node "$port" -F ' ' -c "SELECT 'synchronous_standby_names', current_setting('synchronous_standby_names')" 2>/dev/null || true
    fi
}

# The postmaster's pid of a node (its postmaster.pid's first line).
postmaster_pid() { as_owner head -n 1 "$HOME_DIR/$1/postmaster.pid" 2>/dev/null || true; }
primary_name() { "$BINDIR/psql" "$(monitor_uri)" -qtAX -c "SELECT nodename FROM pgautofailover.node WHERE reportedstate IN ('primary', 'wait_primary', 'single') ORDER BY nodeid LIMIT 1"; }

kill_primary() {
    prepare_home
    local name pid
    name=$(primary_name)
    [ -n "$name" ] || { log "no primary"; exit 1; }
    pid=$(postmaster_pid "$name")
    # The machine dies, all of it at once: PostgreSQL (frozen first, so that its postmaster
    # cannot react, then its backends and itself) and the keeper's whole process group, so
    # that nothing restarts PostgreSQL there.
    if [ -n "$pid" ]; then
        kill -STOP "$pid"
        pkill -9 -P "$pid" || true
        kill -9 "$pid"
    fi
    kill -9 -- "-$(keeper_pid "$name")" 2>/dev/null || true
    echo "$name"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    key) "$ROOT/scripts/local.sh" key ;;
    home) prepare_home; echo "$HOME_DIR" ;;
    url) url "${2:-owner}" ;;
    wait-formation) prepare_home; wait_for "a primary and a synchronous standby" "${2:-180}" formation_ready ;;
    kill-primary) kill_primary ;;
    restart-node) prepare_home; run_keeper "$2" ;;
    restart-instances)
        # With the environment of this call (STANDBY_READS, COALESCE, ...).
        prepare_home
        stop_instances
        start_instances
        ;;
    failover) prepare_home; autoctl perform failover >/dev/null 2>&1 ;;
    autoctl) prepare_home; shift; autoctl "$@" ;;
    *) echo "usage: $0 up|down|status|key|url|wait-formation|kill-primary|restart-node NAME|failover|autoctl ARGS" >&2; exit 2 ;;
esac
