#!/usr/bin/env bash
# Build nats-server (from the github.com/nats-io/nats-server/v2 module that
# go.mod already requires, so it works offline from the module cache) and
# herald into a directory.
#
#   scripts/cluster/build.sh DIR      # writes DIR/nats-server and DIR/herald
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
out="$(cd "$1" && pwd)"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
go build -o "$out/nats-server" github.com/nats-io/nats-server/v2
go build -o "$out/herald" ./cmd/herald
