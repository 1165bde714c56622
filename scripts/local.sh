#!/usr/bin/env bash
# The embedded default (DATABASE_URL unset): the service on the project-local cluster
# (scripts/pg-local.sh), as a least-privilege role, with a first admin key.
#
#   scripts/local.sh serve   migrate as the tables' owner, make sure of the service's role and
#                            of the key local-admin, then serve as that role, with its
#                            credentials alone (the owner's are not handed to the service)
#   scripts/local.sh key     print the secret of local-admin (creating the key if need be)
#
# The key's secret is kept in a file beside the cluster, mode 0600: .pg/local-admin.key (for
# another database than wallet_api, .pg/local-admin.DB.key). When the file is lost, or the key
# was revoked, a new key replaces the old one (which is revoked).
#
# WALLET_BIN: the binary (default target/release/wallet-api, built when missing); the cluster's
# settings are pg-local.sh's (WALLET_PG_DIR, WALLET_PG_PORT, WALLET_PG_DB).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG=$ROOT/scripts/pg-local.sh
DB=${WALLET_PG_DB:-wallet_api}
HOME_DIR=${WALLET_PG_DIR:-$ROOT/.pg}
KEY_NAME=local-admin
if [ "$DB" = wallet_api ]; then
    KEY_FILE=$HOME_DIR/$KEY_NAME.key
else
    KEY_FILE=$HOME_DIR/$KEY_NAME.$DB.key
fi

log() { echo "local: $*" >&2; }

if [ -n "${WALLET_BIN:-}" ]; then
    BIN=$WALLET_BIN
else
    BIN=$ROOT/target/release/wallet-api
    [ -x "$BIN" ] || (cd "$ROOT" && cargo build --release --quiet >&2)
fi

OWNER_URL=$("$PG" url)
as_owner() { DATABASE_URL=$OWNER_URL "$BIN" "$@"; }

# Whether the key file holds the secret of local-admin, in use (keys list: id, the secret's
# first 11 characters, then "name", scopes..., and its state last).
key_works() {
    [ -s "$KEY_FILE" ] || return 1
    local prefix
    prefix=$(head -c 11 "$KEY_FILE")
    as_owner keys list | awk -F'\t' -v prefix="$prefix" -v name="\"$KEY_NAME\"," '
        $2 == prefix && index($3, name) == 1 && $3 !~ /, (revoked|expired) [^,]*$/ { found = 1 }
        END { exit found ? 0 : 1 }'
}

ensure_key() {
    as_owner migrate >/dev/null
    key_works && return 0
    # A key in use under this name whose secret is lost is replaced.
    as_owner keys revoke "$KEY_NAME" >/dev/null 2>&1 || true
    local secret
    secret=$(as_owner keys create --name "$KEY_NAME" --scope admin | tail -n 1)
    mkdir -p "$HOME_DIR"
    (umask 077 && printf '%s\n' "$secret" >"$KEY_FILE.new")
    chmod 600 "$KEY_FILE.new"
    mv "$KEY_FILE.new" "$KEY_FILE"
    log "created the admin API key $KEY_NAME"
}

case "${1:-}" in
    serve)
        ensure_key
        SERVICE_URL=$("$PG" service-url)
        log "API key $KEY_NAME (admin): its secret is in $KEY_FILE; make -s key prints it"
        log "send it as: curl -H \"Authorization: Bearer \$(make -s key)\" ..."
        exec env -u MIGRATION_DATABASE_URL DATABASE_URL="$SERVICE_URL" "$BIN" serve
        ;;
    key)
        ensure_key
        cat "$KEY_FILE"
        ;;
    *) echo "usage: $0 serve|key" >&2; exit 2 ;;
esac
