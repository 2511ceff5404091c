#!/usr/bin/env bash
# Runs herald's whole test suite: vet, every test with the race detector,
# then each fuzz target for a bounded time (FUZZTIME, default 10s each).
set -euo pipefail
cd "$(dirname "$0")"
fuzztime="${FUZZTIME:-10s}"

echo "== go vet"
go vet ./...
echo "== go test -race"
go test -race -count=1 -timeout 25m ./...
echo "== fuzz ($fuzztime per target)"
# package:target pairs, found from the source so new targets are not missed.
grep -rhoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' . >/dev/null || exit 0
for file in $(grep -rlE --include='*_test.go' '^func Fuzz' .); do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -hoE '^func Fuzz[A-Za-z0-9_]+' "$file" | cut -d' ' -f2); do
    echo "-- $pkg $target"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
