#!/usr/bin/env bash
# Run Centrifugo on loopback in the foreground, for `herald bench --peer centrifugo`.
#
#   scripts/centrifugo/run.sh --secret HMAC --api-key KEY [--port 8090]
#                             [--keepalive 15] [--prefix DIR] [--bin PATH]
#
# Subscribers use the unidirectional SSE transport (GET /connection/uni_sse
# with cf_connect={"token":JWT}); the connection JWT, HS256-signed with
# --secret, lists the channels in its "channels" claim (server-side
# subscriptions). The publisher uses the server HTTP API
# (POST /api/publish, X-API-Key: --api-key). --keepalive is the ping
# interval in seconds (Centrifugo sends each uni_sse connection "{}" as a
# ping). Channels keep a history of 1000 publications for 10 minutes with
# recovery forced on, as nchan's buffer (scripts/nchan/nginx.conf).
#
# The binary is --bin, else $HERALD_CENTRIFUGO, else the one
# scripts/centrifugo/build.sh puts into ${XDG_CACHE_HOME:-~/.cache}/herald-bench/centrifugo-v6.9.1
# (built there first when missing). The configuration is written to
# --prefix/config.json (default: a new directory under /tmp, removed on
# exit). Centrifugo replaces this shell (exec), so the script's pid is
# Centrifugo's: SIGTERM it to stop.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port=8090
keepalive=15
prefix=""
bin="${HERALD_CENTRIFUGO:-}"
secret=""
apikey=""

while [[ $# -gt 0 ]]; do
    case "$1" in
        --port) port="$2"; shift 2 ;;
        --keepalive) keepalive="$2"; shift 2 ;;
        --prefix) prefix="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --secret) secret="$2"; shift 2 ;;
        --api-key) apikey="$2"; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [[ -z "$secret" || -z "$apikey" ]]; then
    echo "run.sh: --secret and --api-key are required" >&2
    exit 2
fi

if [[ -z "$bin" ]]; then
    dir="${XDG_CACHE_HOME:-$HOME/.cache}/herald-bench/centrifugo-v6.9.1"
    bin="$dir/centrifugo"
    if [[ ! -x "$bin" ]]; then
        echo "run.sh: building Centrifugo into $dir" >&2
        "$here/build.sh" "$dir" >&2
    fi
fi

if [[ -z "$prefix" ]]; then
    prefix="$(mktemp -d /tmp/centrifugo-bench.XXXXXX)"
fi
mkdir -p "$prefix"

# Centrifugo v6 configuration (key names: `centrifugo defaultconfig`).
# ping_interval must exceed pong_timeout; pongs do not apply to
# unidirectional transports, so pong checks are off.
cat > "$prefix/config.json" <<JSON
{
  "http_server": {"address": "127.0.0.1", "port": $port},
  "log": {"level": "error"},
  "client": {
    "token": {"hmac_secret_key": "$secret"},
    "ping_interval": "${keepalive}s",
    "pong_timeout": "-1s"
  },
  "channel": {
    "without_namespace": {
      "history_size": 1000,
      "history_ttl": "600s",
      "force_recovery": true
    }
  },
  "http_api": {"key": "$apikey"},
  "uni_sse": {"enabled": true},
  "websocket": {"disabled": true},
  "health": {"enabled": true},
  "usage_stats": {"disabled": true}
}
JSON

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$bin" --config "$prefix/config.json"
