#!/bin/sh
# Builds the pinned FerretDB into .tools/bin (see the Makefile for why not plain `go install`).
set -eu
version="${FERRETDB_VERSION:-v1.24.1}"
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/.tools"
command -v go >/dev/null 2>&1 || { echo "build-ferretdb: the Go toolchain is needed (go not on PATH)" >&2; exit 1; }
go mod download "github.com/FerretDB/FerretDB@$version"
modcache="$(go env GOMODCACHE)"
src="$modcache/github.com/!ferret!d!b/!ferret!d!b@$version"
work="$tools/src/ferretdb-$version"
rm -rf "$work"
mkdir -p "$tools/src" "$tools/bin"
cp -R "$src" "$work"
chmod -R u+w "$work"
echo "$version" > "$work/build/version/version.txt"
(cd "$work" && GOFLAGS=-buildvcs=false go build -trimpath -o "$tools/bin/ferretdb.tmp" ./cmd/ferretdb)
mv "$tools/bin/ferretdb.tmp" "$tools/bin/ferretdb"
rm -rf "$work"
"$tools/bin/ferretdb" --version | head -1
