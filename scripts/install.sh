#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet, with apt
# (through sudo when not root). Quiet when every one is there.
#
#   scripts/install.sh haproxy pgbackrest
set -euo pipefail

missing=()
for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install: installing ${missing[*]} with apt" >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
