#!/usr/bin/env bash
# Regenerates include/glimpse.h from ffi/src with the pinned cbindgen; version macros come from
# Cargo.toml (via `cargo pkgid`). Run from anywhere; writes $ROOT/include/glimpse.h.
set -euo pipefail
CBINDGEN_VERSION=0.29.2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ "$(cbindgen --version 2>/dev/null || true)" != "cbindgen $CBINDGEN_VERSION" ]; then
    cargo install --locked cbindgen --version "$CBINDGEN_VERSION"
fi
VERSION="$(cargo pkgid -p glimpse-ffi | sed 's/.*[#@]//')"
IFS=. read -r MAJOR MINOR PATCH <<<"${VERSION%%-*}"
CONFIG="$(mktemp)"
trap 'rm -f "$CONFIG"' EXIT
sed -e "s/@CBINDGEN_VERSION@/$CBINDGEN_VERSION/" -e "s/@VERSION@/$VERSION/" \
    -e "s/@MAJOR@/$MAJOR/" -e "s/@MINOR@/$MINOR/" -e "s/@PATCH@/$PATCH/" ffi/cbindgen.toml >"$CONFIG"
mkdir -p include
cbindgen --quiet --config "$CONFIG" --crate glimpse-ffi --output include/glimpse.h ffi
