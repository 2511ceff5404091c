#!/usr/bin/env bash
# Runs herald's whole test suite: vet, every test with the race detector,
# then each fuzz target for a bounded time (FUZZTIME, default 10s each).
# The log shows each package's result and the output of failed tests only;
# the last line is "N passed, N failed" (tests of the go test run, where a
# package failing outside any test counts as one, plus one per fuzz target
# and one for vet). The exit status is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")"
fuzztime="${FUZZTIME:-10s}"
# TEST_PKGS narrows the run (default ./...); fuzz targets are looked for
# in the same directories.
read -r -a pkgs <<<"${TEST_PKGS:-./...}"
roots=()
for p in "${pkgs[@]}"; do roots+=("${p%/...}"); done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

echo "== go vet"
if go vet "${pkgs[@]}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

echo "== go test -race"
go build -o "$tmp/testsum" ./internal/testsum || exit 2
go test -race -count=1 -timeout 25m -json "${pkgs[@]}" | "$tmp/testsum" -counts "$tmp/counts"
if [ -s "$tmp/counts" ]; then
  read -r p f _ <"$tmp/counts"
  passed=$((passed + p))
  failed=$((failed + f))
else
  failed=$((failed + 1))
fi

echo "== fuzz ($fuzztime per target)"
# package:target pairs, found from the source so new targets are not missed.
for file in $(grep -rlE --include='*_test.go' --exclude-dir=testdata '^func Fuzz' "${roots[@]}"); do
  pkg="./$(dirname "${file#./}")"
  for target in $(grep -hoE '^func Fuzz[A-Za-z0-9_]+' "$file" | cut -d' ' -f2); do
    if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$tmp/fuzz.log" 2>&1; then
      echo "ok   $pkg $target"
      passed=$((passed + 1))
    else
      cat "$tmp/fuzz.log"
      echo "FAIL $pkg $target"
      failed=$((failed + 1))
    fi
  done
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
