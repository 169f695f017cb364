#!/usr/bin/env bash
# Builds the Web SDK files the viewer page loads (js/index.js, dist/glimpse_wasm*.js/.wasm) into
# quick/build/pkg, for machines where wasm/ci.sh has not built wasm/dist. The relay serves wasm/ when
# it is built, else quick/build/pkg. Installs the wasm32 target and the pinned wasm-bindgen CLI when
# missing. Safe to run twice. Usage: bash quick/build_web.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PKG="$ROOT/quick/build/pkg"
version=$(sed -n 's/^WASM_BINDGEN_VERSION=//p' wasm/ci.sh)
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $version" ]; then
  cargo install -q wasm-bindgen-cli --version "$version"
fi
cargo build -q --manifest-path wasm/Cargo.toml --lib --release --target wasm32-unknown-unknown
rm -rf "$PKG" && mkdir -p "$PKG/js"
wasm-bindgen --target web --out-dir "$PKG/dist" --out-name glimpse_wasm \
  "${CARGO_TARGET_DIR:-$ROOT/target}/wasm32-unknown-unknown/release/glimpse_wasm.wasm"
cp wasm/js/index.js "$PKG/js/"
echo "Web SDK built in $PKG"
