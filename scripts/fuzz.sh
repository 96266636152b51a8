#!/usr/bin/env bash
# Open-ended fuzzing of the decoders with cargo-fuzz (libFuzzer), seeded from the
# recorded frames. The bounded pass that CI runs is adapters/tests/fuzz_decoders.rs.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP lets the stable toolchain
# accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gate_md mexc_spot_md mexc_futures_md decimal)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

seed() {
    local dir=fuzz/corpus/$1
    mkdir -p "$dir"
    shift
    local i=0
    for f in "$@"; do
        case $f in
            *.hex) while read -r line; do echo -n "$line" | xxd -r -p > "$dir/seed-$i"; i=$((i+1)); done < "$f" ;;
            *) while IFS= read -r line; do printf '%s' "$line" > "$dir/seed-$i"; i=$((i+1)); done < "$f" ;;
        esac
    done
}
seed gate_md adapters/test_data/gateio/*_ws_*.jsonl
seed mexc_spot_md adapters/test_data/mexc/spot_ws_*.hex adapters/test_data/mexc/spot_ws_control.jsonl
seed mexc_futures_md adapters/test_data/mexc/futures_ws_*.jsonl

for t in "${targets[@]}"; do
    echo "==> fuzzing $t for ${secs}s"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048
done
