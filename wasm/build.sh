#!/usr/bin/env bash
# Builds the npm package glimpse-web in place: the wasm engine (size-optimised release build, the
# pinned wasm-bindgen-cli) into wasm/dist/, and the TypeScript in wasm/ts/ (the pinned tsc) into
# wasm/js/ (JavaScript and generated .d.ts). Installs what it needs (wasm32 target, wasm-bindgen-cli,
# npm packages from package-lock.json); safe to run twice. Used by wasm/ci.sh and
# scripts/build-web.sh. Usage: bash wasm/build.sh
set -euo pipefail
cd "$(dirname "$0")"
# GLIMPSE_WORKSPACE: the Cargo workspace holding this crate (default: the repository root).
WS=${GLIMPSE_WORKSPACE:-$(cd .. && pwd)}
TARGET_DIR=${CARGO_TARGET_DIR:-$WS/target}
export CARGO_TERM_COLOR=never
# Must equal the exact `wasm-bindgen = "=..."` pin in Cargo.toml.
WASM_BINDGEN_VERSION=0.2.130
pin=$(grep -c "wasm-bindgen = \"=$WASM_BINDGEN_VERSION\"" Cargo.toml || true)
[ "$pin" = 1 ] || { echo "build.sh: Cargo.toml does not pin wasm-bindgen =$WASM_BINDGEN_VERSION" >&2; exit 1; }

installed=$(rustup target list --installed)
case $'\n'"$installed"$'\n' in
  *$'\n'wasm32-unknown-unknown$'\n'*) ;;
  *) rustup target add wasm32-unknown-unknown ;;
esac
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
command -v node >/dev/null || { echo "build.sh: Node.js 18+ is needed" >&2; exit 1; }
if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "== wasm build"
# Size: one codegen unit and LTO, no debug info (only for this build; the workspace profile is
# untouched).
CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_DEBUG=0 \
  cargo build -q --manifest-path "$WS/wasm/Cargo.toml" --lib --release --target wasm32-unknown-unknown
rm -rf dist
wasm-bindgen --target web --out-dir dist --out-name glimpse_wasm \
  "$TARGET_DIR/wasm32-unknown-unknown/release/glimpse_wasm.wasm"

echo "== TypeScript build"
rm -rf js
node_modules/.bin/tsc -p tsconfig.json
ls js/index.js js/index.d.ts >/dev/null
