#!/usr/bin/env bash
# Builds the pages the relay serves into web/dist/: index.html (view a session by key) and
# share.html (share this browser's screen), their scripts compiled from web/viewer/*.ts, and the
# packed npm package glimpse-web under web/dist/glimpse-web/. Build the relay afterwards and it
# embeds them (connect/build.rs), or serve the folder with `glimpse-relay --web web/dist`.
#
# Installs what it needs (wasm32 target, the pinned wasm-bindgen-cli, npm packages; see
# wasm/build.sh); safe to run twice.
#
# Usage: bash scripts/build-web.sh [--tarball glimpse-web-X.tgz] [--out DIR]
#   --tarball: use this packed package instead of building one (wasm/ci.sh tests its tarball so)
#   --out:     write the pages there instead of web/dist
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/web/dist"
TARBALL=""
while [ $# -gt 0 ]; do
  case $1 in
    --tarball) TARBALL=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
    --out) mkdir -p "$2"; OUT=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: bash scripts/build-web.sh [--tarball FILE.tgz] [--out DIR]" >&2; exit 2 ;;
  esac
done

if [ -z "$TARBALL" ]; then
  bash wasm/build.sh
  PACK="$ROOT/wasm/build/pack"
  rm -rf "$PACK"
  mkdir -p "$PACK"
  name=$(cd wasm && npm pack --silent --pack-destination "$PACK")
  TARBALL="$PACK/${name##*$'\n'}"
elif [ ! -x wasm/node_modules/.bin/tsc ]; then
  (cd wasm && npm ci --no-audit --no-fund --loglevel=error)
fi
[ -f "$TARBALL" ] || { echo "build-web.sh: no tarball at $TARBALL" >&2; exit 1; }

echo "== pages into $OUT"
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
tar -xzf "$TARBALL" -C "$STAGE"
rm -rf "$OUT"
mkdir -p "$OUT"
mv "$STAGE/package" "$OUT/glimpse-web"
cp web/viewer/index.html web/viewer/share.html "$OUT/"
# './glimpse-web/js/index.js' in the page sources resolves to the package's generated types: the
# sources and OUT are one folder for the compiler (rootDirs, which only a tsconfig file can set).
cat > "$STAGE/tsconfig.json" <<JSON
{
  "extends": "$ROOT/web/viewer/tsconfig.json",
  "compilerOptions": { "rootDir": "$ROOT/web/viewer", "outDir": "$OUT", "rootDirs": ["$ROOT/web/viewer", "$OUT"] },
  "files": ["$ROOT/web/viewer/viewer.ts", "$ROOT/web/viewer/share.ts"]
}
JSON
wasm/node_modules/.bin/tsc -p "$STAGE/tsconfig.json"
for f in index.html viewer.js share.html share.js glimpse-web/js/index.js glimpse-web/dist/glimpse_wasm_bg.wasm; do
  [ -f "$OUT/$f" ] || { echo "build-web.sh: $OUT/$f is missing" >&2; exit 1; }
done
wasm_bytes=$(wc -c < "$OUT/glimpse-web/dist/glimpse_wasm_bg.wasm")
wasm_gzip=$(gzip -9c "$OUT/glimpse-web/dist/glimpse_wasm_bg.wasm" | wc -c)
echo "pages built in $OUT (wasm $wasm_bytes bytes, $wasm_gzip gzip); build the relay now to embed them"
