#!/usr/bin/env bash
# Installs what the build needs from the system when it is missing: libpq (diesel links it)
# and the rustfmt and clippy components. Quiet when everything is there.
set -euo pipefail

if ! { [ -e /usr/lib/x86_64-linux-gnu/libpq.so ] || [ -e /usr/lib/aarch64-linux-gnu/libpq.so ] \
       || pkg-config --exists libpq 2>/dev/null; }; then
    "$(dirname "$0")/install.sh" libpq-dev
fi

if command -v rustup >/dev/null 2>&1; then
    installed=$(rustup component list --installed 2>/dev/null || true)
    for component in rustfmt clippy; do
        grep -q "^$component" <<<"$installed" || rustup component add "$component" >&2
    done
fi
