#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time (FUZZ_SECONDS, default 30 each), seeded from
# fuzz/seeds/<target>/. Any crash artifact is copied to core/tests/crashers/<target>/ (replayed by
# `cargo test` from then on) and the script fails. Safe to run twice.
#
# Toolchain: cargo-fuzz needs nightly flags (-Z sanitizer). A nightly toolchain is used when rustup
# lists one; otherwise stable with RUSTC_BOOTSTRAP=1, which was tested to work (stable ships the ASan
# runtime) and needs no download, so a fresh CI machine with only stable runs this as is.
# FUZZ_INSTALL_NIGHTLY=1 installs a minimal nightly instead.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)
seconds=${FUZZ_SECONDS:-30}
targets=(${FUZZ_TARGETS:-packet_parse decoder roundtrip})

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

toolchain=()
toolchains=$(rustup toolchain list 2>/dev/null || true)
if grep -q '^nightly' <<<"$toolchains"; then
  toolchain=(+nightly)
elif [ "${FUZZ_INSTALL_NIGHTLY:-0}" = 1 ] && rustup toolchain install nightly --profile minimal; then
  toolchain=(+nightly)
else
  echo "no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
fi

failed=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  echo "== fuzz $target for ${seconds}s ${toolchain[*]:-stable}"
  # Debug assertions stay on (overflow checks are part of what we look for).
  if ! cargo ${toolchain[@]+"${toolchain[@]}"} fuzz run --debug-assertions "$target" "corpus/$target" ${seeds[@]+"${seeds[@]}"} -- \
      -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1; then
    failed=1
  fi
  shopt -s nullglob
  artifacts=("artifacts/$target"/*)
  shopt -u nullglob
  if [ ${#artifacts[@]} -gt 0 ]; then
    mkdir -p "$root/core/tests/crashers/$target"
    for a in "${artifacts[@]}"; do
      cp "$a" "$root/core/tests/crashers/$target/"
      echo "crasher kept: core/tests/crashers/$target/$(basename "$a")"
    done
    rm -f "artifacts/$target"/*
    failed=1
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzzing found problems: see above and core/tests/crashers/" >&2
  exit 1
fi
echo "fuzzing finished: no crash"
