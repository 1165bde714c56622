#!/usr/bin/env bash
# The schema of a database as schema.sql holds it: `pg_dump --schema-only` of the database at
# the URL given (one migrated by `wallet-api migrate`), without the lines that change from run
# to run (versions, restrict keys), the user that ran the migrations written as CURRENT_USER.
#
#   scripts/schema.sh URL > schema.sql      (make schema does this on a fresh database)
set -euo pipefail
url=${1:?usage: scripts/schema.sh DATABASE_URL}
bin=$(dirname "$(command -v pg_dump || ls -d /usr/lib/postgresql/*/bin/pg_dump | sort -V | tail -n 1)")
user=$("$bin/psql" "$url" -XtAc 'SELECT current_user')
echo "-- The schema the migrations under migrations/ build, every function in its current shape:"
echo "-- written by \`make schema\` (pg_dump of a freshly migrated database). Do not edit: a"
echo "-- test fails while it differs from what the migrations build."
"$bin/pg_dump" --schema-only --exclude-table=__diesel_schema_migrations --exclude-table=__sql_files "$url" \
    | grep -vE '^-- Dumped (from|by)|^\\(un)?restrict ' \
    | sed -E "s/OWNER TO $user;/OWNER TO CURRENT_USER;/; s/; Owner: $user$/; Owner: CURRENT_USER/" \
    | cat -s
