#!/usr/bin/env bash
# Installs libglimpse (release build) under PREFIX: include/glimpse.h, lib/libglimpse.{a,so},
# lib/pkgconfig/glimpse.pc. Usage: bash ffi/install.sh PREFIX   (run from anywhere)
set -euo pipefail
PREFIX="${1:?usage: install.sh PREFIX}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
cargo build --release -p glimpse-ffi
VERSION="$(cargo pkgid -p glimpse-ffi | sed 's/.*[#@]//')"
# The system libraries the static library needs, as rustc reports them for this target.
NATIVE="$(cargo rustc -p glimpse-ffi --release --crate-type staticlib -- --print native-static-libs 2>&1 |
    sed -n 's/.*native-static-libs: //p' | tail -n 1)"
if [ -z "$NATIVE" ]; then
    touch ffi/src/lib.rs
    NATIVE="$(cargo rustc -p glimpse-ffi --release --crate-type staticlib -- --print native-static-libs 2>&1 |
        sed -n 's/.*native-static-libs: //p' | tail -n 1)"
fi
mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"
PREFIX="$(cd "$PREFIX" && pwd)"
cp include/glimpse.h "$PREFIX/include/"
cp target/release/libglimpse.a target/release/libglimpse.so "$PREFIX/lib/"
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@VERSION@|$VERSION|" -e "s|@NATIVE_STATIC_LIBS@|$NATIVE|" \
    ffi/glimpse.pc.in >"$PREFIX/lib/pkgconfig/glimpse.pc"
echo "installed libglimpse $VERSION to $PREFIX (static needs: $NATIVE)"
