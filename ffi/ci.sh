#!/usr/bin/env bash
# CI of the C library (libglimpse). Run from the repository root: `bash ffi/ci.sh`.
# Idempotent; everything it builds goes to target/ffi-ci. Steps:
#   1. Rust unit tests of glimpse-ffi; a build in the test profile (debug assertions on, the
#      dependencies `cargo test` built); install to a staging prefix (with glimpse.pc).
#   2. Regenerate include/glimpse.h with the pinned cbindgen and fail if it differs from git.
#   3. Exported symbols: every dynamic symbol of libglimpse.so starts with glimpse_, and every
#      function of the header is exported.
#   4. The header compiles as C99 and as C++ (g++ -Wall -Wextra -Werror).
#   5. examples/c (share, view, quick_share) built with -std=c99 -Wall -Wextra -Werror against the
#      static and the shared library; share -> view round trips must be pixel-exact (synthesized
#      frames, callback and poll; a corpus recording; share ends with
#      glimpse_encoder_top_off_bound_frames still frames, so video regions are re-sent losslessly).
#   6. Quick connect: glimpse-relay and glimpse-view (test profile) are built and a relay started on a
#      free port of 127.0.0.1; quick_share (static, then shared) shares to it and glimpse-view
#      joins: the viewer's last screen must equal quick_share's final frame, pixel for pixel.
#   7. The C test suite (ffi/tests-c) under AddressSanitizer+UBSan and under valgrind, with that
#      relay (GLIMPSE_TEST_RELAY), glimpse-view (GLIMPSE_TEST_VIEW) and glimpse-relay
#      (GLIMPSE_TEST_RELAY_BIN, for a relay the suite starts and stops itself).
# Every process it starts is bounded by `timeout` and stopped on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/target/ffi-ci"
PREFIX="$OUT/prefix"
CFLAGS=(-std=c99 -Wall -Wextra -Werror -O1 -g)
mkdir -p "$OUT"

step() { printf '\n== ffi: %s (at %d s)\n' "$*" "$SECONDS"; }

# Background processes (relay, quick_share): stopped on exit, however the script ends.
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# Waits (at most 60 s) for a line starting with $2 in file $1 and prints the rest of it.
wait_line() {
    local file="$1" prefix="$2" line _
    for _ in $(seq 600); do
        if [ -f "$file" ]; then
            while IFS= read -r line; do
                if [ "${line#"$prefix"}" != "$line" ]; then
                    printf '%s\n' "${line#"$prefix"}"
                    return 0
                fi
            done <"$file"
        fi
        sleep 0.1
    done
    echo "no line '$prefix' in $file within 60 s:" >&2
    cat "$file" >&2 || true
    return 1
}

step "Rust tests"
# scripts/test.sh has run them with the whole workspace (GLIMPSE_WORKSPACE_TESTED=1).
if [ "${GLIMPSE_WORKSPACE_TESTED:-0}" = 1 ]; then
    echo "run by cargo test --workspace"
else
    cargo test -p glimpse-ffi --quiet
fi

step "build (test profile, debug assertions on) and staging install ($PREFIX)"
GLIMPSE_PROFILE=dev bash ffi/install.sh "$PREFIX"
NATIVE="$(sed -n 's/^Libs.private: //p' "$PREFIX/lib/pkgconfig/glimpse.pc")"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
test "$(pkg-config --modversion glimpse)" = "$(cargo pkgid -p glimpse-ffi | sed 's/.*[#@]//')"

step "header is up to date (cbindgen, pinned in ffi/gen-header.sh)"
bash ffi/gen-header.sh
if ! git diff --exit-code -- include/; then
    echo "include/glimpse.h is stale: run 'bash ffi/gen-header.sh' and commit it" >&2
    exit 1
fi
if [ -n "$(git ls-files --others --exclude-standard -- include/)" ]; then
    echo "include/ has files not in git" >&2
    exit 1
fi
echo "include/glimpse.h: $(wc -l <include/glimpse.h) lines, unchanged"

step "exported symbols"
SO="$PREFIX/lib/libglimpse.so"
nm -D --defined-only "$SO" | awk '{print $3}' | sort >"$OUT/exported.txt"
if grep -v '^glimpse_' "$OUT/exported.txt"; then
    echo "libglimpse.so exports symbols without the glimpse_ prefix (above)" >&2
    exit 1
fi
grep -o '\bglimpse_[a-z_]*(' include/glimpse.h | tr -d '(' | sort -u >"$OUT/declared.txt"
if ! diff -u "$OUT/declared.txt" "$OUT/exported.txt"; then
    echo "header declarations and exported symbols differ" >&2
    exit 1
fi
# The static library's own C entry points are the same set (the rest are Rust-mangled internals).
nm -g --defined-only "$PREFIX/lib/libglimpse.a" 2>/dev/null | awk '$2 == "T" && $3 ~ /^glimpse_/ {print $3}' |
    sort -u | diff -u "$OUT/declared.txt" -
echo "$(wc -l <"$OUT/exported.txt") exported functions, all glimpse_*, all declared"

step "header compiles as C99 and as C++"
printf '#include <glimpse.h>\nint main(void) { return glimpse_version() == 0; }\n' >"$OUT/hdr.c"
gcc "${CFLAGS[@]}" -pedantic -I"$PREFIX/include" -c "$OUT/hdr.c" -o "$OUT/hdr_c.o"
g++ -Wall -Wextra -Werror -pedantic -I"$PREFIX/include" ffi/tests-c/header_cpp.cpp -o "$OUT/header_cpp" \
    -L"$PREFIX/lib" -lglimpse -Wl,-rpath,"$PREFIX/lib"
"$OUT/header_cpp"

step "examples/c against the static and the shared library"
for prog in share view quick_share; do
    # shellcheck disable=SC2086 # NATIVE is a list of flags
    gcc "${CFLAGS[@]}" -I"$PREFIX/include" "examples/c/$prog.c" "$PREFIX/lib/libglimpse.a" $NATIVE \
        -o "$OUT/${prog}_static"
    # shellcheck disable=SC2046
    gcc "${CFLAGS[@]}" "examples/c/$prog.c" $(pkg-config --cflags --libs glimpse) -Wl,-rpath,"$PREFIX/lib" \
        -o "$OUT/${prog}_shared"
done
# ldd's output is captured in a variable first: piping it straight into a quiet grep fails under
# pipefail when grep stops reading early.
for prog in share quick_share; do
    LDD="$(ldd "$OUT/${prog}_static")"
    if [[ "$LDD" == *libglimpse* ]]; then
        echo "${prog}_static depends on libglimpse.so" >&2
        exit 1
    fi
    LDD="$(ldd "$OUT/${prog}_shared")"
    if [[ "$LDD" != *"$PREFIX/lib/libglimpse.so"* ]]; then
        echo "${prog}_shared does not load $PREFIX/lib/libglimpse.so:" >&2
        echo "$LDD" >&2
        exit 1
    fi
done

step "share -> view round trips (pixel-exact)"
roundtrip() { # name, share arguments...
    local name="$1" kind
    shift
    for kind in static shared; do
        "$OUT/share_$kind" "$OUT/$name.$kind.glim" "$OUT/$name.expected.ppm" "$@"
        "$OUT/view_$kind" "$OUT/$name.$kind.glim" "$OUT/$name.$kind.ppm"
        cmp "$OUT/$name.expected.ppm" "$OUT/$name.$kind.ppm"
    done
    cmp "$OUT/$name.static.glim" "$OUT/$name.shared.glim"
    echo "round trip $name: pixel-exact ($(stat -c %s "$OUT/$name.static.glim") bytes of packets)"
}
roundtrip synth
roundtrip synth-poll --poll
cmp "$OUT/synth.static.glim" "$OUT/synth-poll.static.glim" # callback and poll give the same stream
CORPUS=""
for dir in "$ROOT/../shared/corpus/out/1280x720" "$ROOT/testdata/corpus/1280x720"; do
    if [ -f "$dir/typing_editor.bgra.zst" ]; then
        CORPUS="$dir/typing_editor.bgra.zst"
        break
    fi
done
if [ -n "$CORPUS" ]; then
    echo "corpus: $CORPUS"
    zstd -q -d -f --long=27 "$CORPUS" -o "$OUT/corpus.bgra"
    roundtrip corpus "$OUT/corpus.bgra" 1280 720
    rm -f "$OUT/corpus.bgra"
else
    echo "no corpus recording found: synthesized frames only"
fi

step "quick connect: quick_share -> glimpse-relay -> glimpse-view (pixel-exact)"
# The same build as connect/ci.sh (features and targets) in the test profile, which `cargo test
# --workspace` has already built: CI compiles the programs once, and only the corpus report in release.
cargo ws-build --quiet --bins --examples
RELAY_BIN="$ROOT/target/debug/glimpse-relay"
VIEW_BIN="$ROOT/target/debug/glimpse-view"
rm -f "$OUT/relay.log"
timeout 1800 "$RELAY_BIN" --listen 127.0.0.1:0 >"$OUT/relay.log" 2>"$OUT/relay.err" &
RELAY_PID=$!
PIDS+=("$RELAY_PID")
RELAY_URL="$(wait_line "$OUT/relay.log" "relay listening on ")"
echo "relay: $RELAY_URL"
QW=320
QH=200
for kind in static shared; do
    rm -f "$OUT/quick_share.$kind.log" "$OUT/quick.$kind.bgra"
    # quick_share waits for the viewer, shares 30 frames at 15 fps, tops off, writes its final
    # frame, stays 2 s more and ends the session; glimpse-view then compares its last screen.
    timeout 180 "$OUT/quick_share_$kind" --relay "$RELAY_URL" --frames 30 --fps 15 --size "${QW}x${QH}" \
        --wait-viewers 1 --final "$OUT/quick.$kind.bgra" --linger 2 >"$OUT/quick_share.$kind.log" 2>&1 &
    QS_PID=$!
    PIDS+=("$QS_PID")
    KEY="$(wait_line "$OUT/quick_share.$kind.log" "code: ")"
    VIEW_RC=0
    timeout 180 "$VIEW_BIN" --relay "$RELAY_URL" --code "$KEY" --seconds 150 --name "ffi ci" \
        --expect "$OUT/quick.$kind.bgra" --expect-size "${QW}x${QH}" --snapshot "$OUT/quick.$kind.png" \
        --stats "$OUT/quick.$kind.json" >"$OUT/view.$kind.log" 2>&1 || VIEW_RC=$?
    if [ "$VIEW_RC" -ne 0 ]; then
        echo "glimpse-view exited $VIEW_RC (3: its last screen differs from quick_share's final frame)" >&2
        cat "$OUT/view.$kind.log" "$OUT/quick_share.$kind.log" >&2
        exit 1
    fi
    if ! wait "$QS_PID"; then
        echo "quick_share_$kind failed" >&2
        cat "$OUT/quick_share.$kind.log" >&2
        exit 1
    fi
    echo "quick_share ($kind) -> glimpse-view: pixel-exact"
    sed -n 's/^quick_share: \([0-9]* frames.*\)/  host: \1/p; s/^quick_share: \(viewer .*\)/  host: \1/p' \
        "$OUT/quick_share.$kind.log"
    sed -n 's/^glimpse-view: \([0-9]* updates.*\)/  viewer: \1/p' "$OUT/view.$kind.log"
done

export GLIMPSE_TEST_RELAY="$RELAY_URL" GLIMPSE_TEST_VIEW="$VIEW_BIN" GLIMPSE_TEST_RELAY_BIN="$RELAY_BIN"
TESTS_C=(ffi/tests-c/test_glimpse.c ffi/tests-c/test_host.c)

step "C test suite under AddressSanitizer + UBSan"
gcc "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    -I"$PREFIX/include" "${TESTS_C[@]}" "$PREFIX/lib/libglimpse.a" $NATIVE -o "$OUT/test_asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 timeout 900 "$OUT/test_asan" | tee "$OUT/test_asan.log"
passed() { # the suite's last line says that nothing failed
    local last
    last="$(tail -n 1 "$1")"
    [[ "$last" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]
}
passed "$OUT/test_asan.log"

step "C test suite under valgrind"
if ! command -v valgrind >/dev/null; then
    apt-get update -qq && apt-get install -y -qq valgrind
fi
gcc "${CFLAGS[@]}" -I"$PREFIX/include" "${TESTS_C[@]}" "$PREFIX/lib/libglimpse.a" $NATIVE \
    -o "$OUT/test_plain"
# valgrind.supp: one false report in a dependency (http's header lookup), explained there.
timeout 1800 valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --suppressions=ffi/tests-c/valgrind.supp --log-file="$OUT/valgrind.log" "$OUT/test_plain" |
    tee "$OUT/test_valgrind.log"
passed "$OUT/test_valgrind.log"
grep -E 'ERROR SUMMARY|All heap blocks|definitely lost|indirectly lost|still reachable' "$OUT/valgrind.log" |
    sed 's/^==[0-9]*== //'

kill "$RELAY_PID" 2>/dev/null || true
wait "$RELAY_PID" 2>/dev/null || true

printf '\n== ffi: all C library checks passed (%d s)\n' "$SECONDS"
