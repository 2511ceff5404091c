#!/usr/bin/env bash
# Run nginx + nchan on loopback in the foreground, for `herald bench --peer nchan`.
#
#   scripts/nchan/run.sh [--port 8089] [--workers 2] [--keepalive 15] [--prefix DIR]
#
# Installs the Debian packages nginx and libnginx-mod-nchan when nginx or
# the nchan module is missing (needs root and apt). The configuration is
# scripts/nchan/nginx.conf with its @PORT@, @WORKERS@, @KEEPALIVE@ and
# @PREFIX@ placeholders filled in; nginx's pid file, logs and temporary
# files go to --prefix (default: a new directory under /tmp, removed on
# exit). nginx replaces this shell (exec), so the script's pid is the
# nginx master's: SIGTERM or SIGQUIT it to stop.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port=8089
workers=2
keepalive=15
prefix=""

while [[ $# -gt 0 ]]; do
    case "$1" in
        --port) port="$2"; shift 2 ;;
        --workers) workers="$2"; shift 2 ;;
        --keepalive) keepalive="$2"; shift 2 ;;
        --prefix) prefix="$2"; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

module=/usr/lib/nginx/modules/ngx_nchan_module.so
if ! command -v nginx >/dev/null 2>&1 || [[ ! -f "$module" ]]; then
    echo "run.sh: installing nginx and libnginx-mod-nchan" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends nginx libnginx-mod-nchan >&2
    # The package may start a system nginx on port 80: it is not ours.
fi

if [[ -z "$prefix" ]]; then
    prefix="$(mktemp -d /tmp/nchan-bench.XXXXXX)"
fi
mkdir -p "$prefix"
conf="$prefix/nginx.conf"
sed -e "s|@PORT@|$port|g" -e "s|@WORKERS@|$workers|g" \
    -e "s|@KEEPALIVE@|$keepalive|g" -e "s|@PREFIX@|$prefix|g" \
    "$here/nginx.conf" > "$conf"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nginx -t -q -c "$conf" -p "$prefix" -g 'daemon off;'
exec nginx -c "$conf" -p "$prefix" -g 'daemon off;'
