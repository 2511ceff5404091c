#!/usr/bin/env bash
# Stop the local cluster scripts/cluster/up.sh started: nginx, the herald
# nodes, then the nats servers, each by the PID in $CLUSTER_DIR/pids
# (SIGTERM, then SIGKILL after 10 s). Data, logs and the token stay.
#
#   scripts/cluster/down.sh            # CLUSTER_DIR defaults to ./herald-cluster
set -euo pipefail

run="${CLUSTER_DIR:-herald-cluster}"
if [[ ! -d "$run/pids" ]]; then
    echo "down.sh: no cluster in $run" >&2
    exit 0
fi

stop() {
    local f="$run/pids/$1.pid" pid i
    [[ -e "$f" ]] || return 0
    pid="$(cat "$f")"
    if kill -TERM "$pid" 2>/dev/null; then
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "down.sh: $1 (pid $pid) did not stop in 10 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "down.sh: stopped $1 (pid $pid)" >&2
    fi
    rm -f "$f"
}

stop nginx
stop herald-a
stop herald-b
stop nats-1
stop nats-2
stop nats-3
