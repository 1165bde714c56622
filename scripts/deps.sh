#!/usr/bin/env bash
# Installs what the build needs from the system when it is missing: libpq (diesel links it)
# and the rustfmt and clippy components. Quiet when everything is there.
set -euo pipefail

apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "deps: installing $* with apt" >&2
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

if ! { [ -e /usr/lib/x86_64-linux-gnu/libpq.so ] || [ -e /usr/lib/aarch64-linux-gnu/libpq.so ] \
       || pkg-config --exists libpq 2>/dev/null; }; then
    apt_install libpq-dev
fi

if command -v rustup >/dev/null 2>&1; then
    installed=$(rustup component list --installed 2>/dev/null || true)
    for component in rustfmt clippy; do
        grep -q "^$component" <<<"$installed" || rustup component add "$component" >&2
    done
fi
