#!/usr/bin/env bash
# Installs libglimpse (release build) under PREFIX: include/glimpse.h, lib/libglimpse.{a,so},
# lib/pkgconfig/glimpse.pc. Usage: bash ffi/install.sh PREFIX   (run from anywhere)
# GLIMPSE_PROFILE=dev installs the test profile's build instead (debug assertions on; CI uses it).
set -euo pipefail
PREFIX="${1:?usage: install.sh PREFIX}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# Where cargo puts its output: CARGO_TARGET_DIR or build.target-dir when set, else target/.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
case "${GLIMPSE_PROFILE:-release}" in
  release) PROFILE=(--release); DIR="$TARGET_DIR/release" ;;
  dev) PROFILE=(); DIR="$TARGET_DIR/debug" ;;
  *) echo "install.sh: GLIMPSE_PROFILE is release or dev, not ${GLIMPSE_PROFILE}" >&2; exit 2 ;;
esac
cargo build ${PROFILE[@]+"${PROFILE[@]}"} -p glimpse-ffi
VERSION="$(cargo pkgid -p glimpse-ffi | sed 's/.*[#@]//')"
# The system libraries the static library needs, as rustc reports them for this target.
NATIVE="$(cargo rustc -p glimpse-ffi ${PROFILE[@]+"${PROFILE[@]}"} --crate-type staticlib -- --print native-static-libs 2>&1 |
    sed -n 's/.*native-static-libs: //p' | tail -n 1)"
if [ -z "$NATIVE" ]; then
    touch ffi/src/lib.rs
    NATIVE="$(cargo rustc -p glimpse-ffi ${PROFILE[@]+"${PROFILE[@]}"} --crate-type staticlib -- --print native-static-libs 2>&1 |
        sed -n 's/.*native-static-libs: //p' | tail -n 1)"
fi
mkdir -p "$PREFIX/include" "$PREFIX/lib/pkgconfig"
PREFIX="$(cd "$PREFIX" && pwd)"
cp include/glimpse.h "$PREFIX/include/"
cp "$DIR/libglimpse.a" "$DIR/libglimpse.so" "$PREFIX/lib/"
sed -e "s|@PREFIX@|$PREFIX|" -e "s|@VERSION@|$VERSION|" -e "s|@NATIVE_STATIC_LIBS@|$NATIVE|" \
    ffi/glimpse.pc.in >"$PREFIX/lib/pkgconfig/glimpse.pc"
echo "installed libglimpse $VERSION to $PREFIX (static needs: $NATIVE)"
