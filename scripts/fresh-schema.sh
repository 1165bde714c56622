#!/usr/bin/env bash
# make schema: migrates a new database on the server of DATABASE_URL with the release build,
# prints its schema (scripts/schema.sh), and drops it.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?DATABASE_URL must be set; run make schema}"
name=wallet_api_schema_$$
with_db() { sed -E "s#^([a-z]+://[^/?]*)/[^?]*#\1/$1#" <<<"$DATABASE_URL"; }
psql=$(command -v psql || ls -d /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
"$psql" "$(with_db postgres)" -qX -c "CREATE DATABASE $name" >/dev/null
trap '"$psql" "$(with_db postgres)" -qX -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null' EXIT
target/release/wallet-api migrate --database-url "$(with_db "$name")" >/dev/null
scripts/schema.sh "$(with_db "$name")"
