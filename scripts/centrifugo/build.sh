#!/usr/bin/env bash
# Build Centrifugo, the second peer of `herald bench --peer centrifugo`,
# from its Go module and install the binary into DIR:
#
#   scripts/centrifugo/build.sh DIR      # makes DIR/centrifugo
#
# Needs only Go and the Go module proxy (GOPROXY): `go install` of the
# pinned module version below, checked against the checksum database as
# usual (GOSUMDB). Its version string is set as Centrifugo's release
# builds set it (-X …/internal/build.Version). Does nothing when
# DIR/centrifugo already reports that version.
#
# A first build downloads ~900 MB of modules and compiles for several
# minutes (about 14 on 2 busy cores with empty module and build caches).
set -euo pipefail

version=v6.9.1
module=github.com/centrifugal/centrifugo/v6

if [[ $# -ne 1 || "$1" == -h || "$1" == --help ]]; then
    sed -n '2,16p' "$0"
    exit 2
fi
dir="$1"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

if [[ -x "$dir/centrifugo" ]] && "$dir/centrifugo" version 2>/dev/null | grep -q "${version#v}"; then
    exit 0
fi

# Build outside any module (this repository's go.mod is not involved) and
# without the caller's GOFLAGS (e.g. -mod=vendor would not apply).
cd "$dir"
GOFLAGS= GO111MODULE=on GOBIN="$dir" go install \
    -ldflags "-X $module/internal/build.Version=${version#v}" "$module@$version"
"$dir/centrifugo" version >&2
