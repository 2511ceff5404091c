#!/usr/bin/env bash
# Start a local herald cluster on loopback: 3 nats-server processes forming
# one JetStream cluster (herald's stream at 3 replicas), 2 herald nodes
# with --nats, and nginx as the load balancer in front of them.
#
#   eval "$(scripts/cluster/up.sh)"    # sets HERALD_SERVER, HERALD_TOKEN, CLUSTER_DIR
#   scripts/cluster/down.sh            # stops every process by its PID
#
# Environment:
#   CLUSTER_DIR   binaries, data, logs and PID files (default ./herald-cluster)
#   CLUSTER_PORT  nginx's port (default 8080); the herald nodes listen on
#                 +1 and +2, nats clients on +10..+12, nats routes on
#                 +20..+22, nats monitoring on +30..+32
#   CLUSTER_NGINX 0 starts no nginx (HERALD_SERVER is then node A)
# Progress goes to stderr; stdout is only the export lines. Data and the
# superadmin token ($CLUSTER_DIR/token) survive down.sh: up.sh again
# resumes the same store.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="${CLUSTER_DIR:-herald-cluster}"
mkdir -p "$run"
run="$(cd "$run" && pwd)"
port="${CLUSTER_PORT:-8080}"
want_nginx="${CLUSTER_NGINX:-1}"
bin="$run/bin"
mkdir -p "$run/logs" "$run/pids" "$run/nginx"

say() { echo "up.sh: $*" >&2; }

for f in "$run"/pids/*.pid; do
    [[ -e "$f" ]] || continue
    if kill -0 "$(cat "$f")" 2>/dev/null; then
        say "a cluster is already running in $run ($(basename "$f" .pid) pid $(cat "$f")); stop it with scripts/cluster/down.sh"
        exit 1
    fi
    rm -f "$f"
done
if [[ "$want_nginx" != 0 ]] && ! command -v nginx >/dev/null; then
    say "nginx is not installed (apt-get install nginx), or set CLUSTER_NGINX=0 to run without a load balancer"
    exit 1
fi

# On failure, show the logs and stop whatever was started; stdout gets
# "false" so that eval "$(up.sh)" fails too instead of going on without
# the exports.
started=0
cleanup() {
    if [[ $started == 0 ]]; then
        for f in "$run"/logs/*.log; do
            [[ -e "$f" ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
        done
        CLUSTER_DIR="$run" "$here/down.sh" >&2 || true
        say "failed: ${failure:-see the output above}"
        echo false
    fi
}
trap cleanup EXIT

say "building nats-server and herald into $bin"
"$here/build.sh" "$bin"

# dead: the first process up.sh started (pids/*.pid) that has exited.
dead() {
    local f
    for f in "$run"/pids/*.pid; do
        [[ -e "$f" ]] || continue
        kill -0 "$(cat "$f")" 2>/dev/null || { basename "$f" .pid; return 0; }
    done
    return 1
}

# wait_for URL SECONDS: poll until URL answers 2xx; stop at once when a
# process up.sh started has exited.
failure=""
wait_for() {
    local i gone
    for ((i = 0; i < $2 * 10; i++)); do
        curl -sf -o /dev/null --max-time 1 "$1" && return 0
        if gone="$(dead)"; then
            failure="$gone exited while waiting for $1: $(tail -n 3 "$run/logs/$gone.log" | tr '\n' ' ')"
            say "$failure"
            return 1
        fi
        sleep 0.1
    done
    failure="$1 did not answer within $2 s"
    say "$failure"
    return 1
}

routes=""
for i in 0 1 2; do routes+="${routes:+,}nats://127.0.0.1:$((port + 20 + i))"; done
nats_urls=""
for i in 0 1 2; do
    name="nats-$((i + 1))"
    nats_urls+="${nats_urls:+,}nats://127.0.0.1:$((port + 10 + i))"
    nohup "$bin/nats-server" --name "$name" --addr 127.0.0.1 --port $((port + 10 + i)) \
        --http_port $((port + 30 + i)) --jetstream --store_dir "$run/data/$name" \
        --cluster_name herald --cluster "nats://127.0.0.1:$((port + 20 + i))" --routes "$routes" \
        >"$run/logs/$name.log" 2>&1 &
    echo $! >"$run/pids/$name.pid"
done
for i in 0 1 2; do
    wait_for "http://127.0.0.1:$((port + 30 + i))/healthz" 60
done
# Wait until the JetStream meta leader counts all 3 servers current: before
# that it cannot place a stream at 3 replicas (herald would retry for 15 s,
# then stop with an error naming --replicas).
meta_ok=0
for ((i = 0; i < 600 && meta_ok == 0; i++)); do
    for m in 0 1 2; do
        jsz="$(curl -sf --max-time 1 "http://127.0.0.1:$((port + 30 + m))/jsz" || true)"
        if grep -q '"cluster_size": *3' <<<"$jsz" && [[ "$(grep -c '"current": *true' <<<"$jsz" || true)" -ge 2 ]]; then
            meta_ok=1
            break
        fi
    done
    ((meta_ok)) || sleep 0.1
done
if ((meta_ok == 0)); then
    failure="the nats servers did not all join the JetStream cluster within 60 s"
    say "$failure"
    exit 1
fi
# A restart from existing data: wait until herald's stream has a leader
# again (a herald node that asks before that waits for its start timeout).
for ((i = 0; i < 600; i++)); do
    jsz="$(curl -sf --max-time 1 "http://127.0.0.1:$((port + 30))/jsz?streams=true" || true)"
    streams="$(grep -o '"streams": *[0-9]*' <<<"$jsz" | head -n 1 | grep -o '[0-9]*$' || true)"
    leaders="$(grep -c '"leader": *"' <<<"$jsz" || true)"
    [[ "$streams" == 0 || ( -n "$streams" && "$leaders" -ge 2 ) ]] && break
    sleep 0.1
done
say "nats cluster up: $nats_urls"

token_file="$run/token"
if [[ ! -s "$token_file" ]]; then
    (umask 077; echo "hrld_$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 43)" >"$token_file")
fi
token="$(cat "$token_file")"

for node in a b; do
    p=$((port + 1)); [[ $node == b ]] && p=$((port + 2))
    nohup "$bin/herald" serve --listen "127.0.0.1:$p" --nats "$nats_urls" --replicas 3 \
        --data "$run/data/herald-$node" --bootstrap-token "$token" \
        >"$run/logs/herald-$node.log" 2>&1 &
    echo $! >"$run/pids/herald-$node.pid"
    wait_for "http://127.0.0.1:$p/readyz" 60
    say "herald node $node up: http://127.0.0.1:$p"
done

server="http://127.0.0.1:$((port + 1))"
if [[ "$want_nginx" != 0 ]]; then
    sed -e "s|@RUN@|$run|g" -e "s|@PORT@|$port|g" \
        -e "s|@HERALD_A@|$((port + 1))|g" -e "s|@HERALD_B@|$((port + 2))|g" \
        "$here/nginx.conf" >"$run/nginx/nginx.conf"
    nginx -q -t -p "$run/nginx" -c "$run/nginx/nginx.conf" 2>"$run/logs/nginx-check.log" ||
        { cat "$run/logs/nginx-check.log" >&2; exit 1; }
    nginx -p "$run/nginx" -c "$run/nginx/nginx.conf" # daemonizes; writes pids/nginx.pid
    server="http://127.0.0.1:$port"
    wait_for "$server/readyz" 30
    say "nginx up: $server (round robin over both nodes)"
fi

started=1
say "cluster ready; stop it with: CLUSTER_DIR=$run scripts/cluster/down.sh"
printf 'export HERALD_SERVER=%q HERALD_TOKEN=%q CLUSTER_DIR=%q\n' "$server" "$token" "$run"
