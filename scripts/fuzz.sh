#!/usr/bin/env bash
# Open-ended fuzzing of every decoder and parser that reads venue or operator input, with
# cargo-fuzz (libFuzzer), seeded from the recorded frames (scripts/fuzz-seeds.py).
#
#   scripts/fuzz.sh [--list] [SECONDS_PER_TARGET] [TARGET...]
#
# Runs each target (all of them by default) for SECONDS_PER_TARGET (default 60) in one
# process, goes on to the next target when one crashes, and ends with a table of target,
# executions, corpus size and crashes (with the crash files). Exits 1 when any target
# crashed, 2 when a target could not be built or run.
#
# The target bodies are fuzz/checks/*.rs; every crash input worth keeping goes to
# fuzz/regressions/<target>/ and is run on stable by tests/fuzz_regressions.rs (part of
# scripts/test.sh): reproduce one with `cargo +nightly fuzz run TARGET FILE`.
#
# Needs a nightly toolchain (rustup's `nightly`; without it RUSTC_BOOTSTRAP=1 lets the
# stable compiler take cargo-fuzz's flags) and cargo-fuzz (installed when missing).
# Environment: FUZZ_MAX_LEN (default 16384 bytes per input), FUZZ_RSS_MB (2048),
# FUZZ_TIMEOUT_S (10, per input).
set -uo pipefail
cd "$(dirname "$0")/.."

all_targets() {
    sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^arb-fuzz$'
}

if [ "${1:-}" = "--list" ]; then
    all_targets
    exit 0
fi
secs=${1:-60}
shift || true
case $secs in
    '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [--list] [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    echo "no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1" >&2
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked || exit 2

python3 scripts/fuzz-seeds.py || exit 2

echo "==> building ${#targets[@]} targets (release, debug assertions on)"
for t in "${targets[@]}"; do
    "${fuzz[@]}" build "$t" || { echo "building $t failed" >&2; exit 2; }
done

logs=target/fuzz-logs
mkdir -p "$logs"
declare -A execs corpus crashes
failed=0
for t in "${targets[@]}"; do
    mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
    before=$(ls "fuzz/artifacts/$t")
    echo "==> fuzzing $t for ${secs}s"
    "${fuzz[@]}" run "$t" -- -max_total_time="$secs" -max_len="${FUZZ_MAX_LEN:-16384}" \
        -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout="${FUZZ_TIMEOUT_S:-10}" -print_final_stats=1 \
        >"$logs/$t.log" 2>&1
    rc=$?
    execs[$t]=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    [ -n "${execs[$t]}" ] || execs[$t]=$(grep -o '^#[0-9]*' "$logs/$t.log" | tail -1 | tr -d '#')
    corpus[$t]=$(ls "fuzz/corpus/$t" | wc -l)
    new=$(comm -13 <(echo "$before" | sort) <(ls "fuzz/artifacts/$t" | sort) | sed "s|^|fuzz/artifacts/$t/|")
    crashes[$t]=$(echo "$new" | sed '/^$/d' | tr '\n' ' ')
    if [ -n "${crashes[$t]}" ]; then
        failed=1
        echo "    CRASH: ${crashes[$t]}(log: $logs/$t.log)"
        grep -m1 -A3 "panicked at\|ERROR: libFuzzer" "$logs/$t.log" | sed 's/^/    /'
    elif [ $rc -ne 0 ]; then
        failed=1
        crashes[$t]="exit $rc, see $logs/$t.log"
        echo "    FAILED: ${crashes[$t]}"
    fi
done

echo
printf '%-16s %8s %14s %8s  %s\n' target seconds execs corpus crashes
for t in "${targets[@]}"; do
    printf '%-16s %8s %14s %8s  %s\n' "$t" "$secs" "${execs[$t]:-?}" "${corpus[$t]}" "${crashes[$t]:-none}"
done
exit $failed
