#!/usr/bin/env bash
# Soak run: the demo under heavy faults for a while, sampled every 10 s.
#
#   scripts/soak.sh [--minutes N] [--out DIR] [--faults SPEC]
#
# Runs `arb demo` (release build; ARB_BIN=path uses that binary instead, e.g. a debug
# build for a quick check) with the fault mix below and its metrics endpoint on, and
# every SOAK_EVERY_S seconds (default 10) writes one CSV row to DIR/soak.csv: resident
# memory (VmRSS from /proc), books synced, operations finished, open operations and open
# exposure (from /metrics, see deploy/METRICS.md), venues halted for a balance drift,
# and how often the soak reset the breakers. At the end: DIR/soak.svg (through
# `arb plot`), DIR/report.json (the demo's final report), DIR/summary.txt.
#
# The breakers: under this fault mix (30% of orders rejected) operations fail three in a
# row every few minutes, and the consecutive-failures breaker, which only an operator
# closes, would end trading for the rest of the run. A soak is meant to trade under the
# faults for its whole length, so the script acts as the operator: when that breaker is
# open at a sample it runs `arb ctl reset-breakers` on the demo's control socket, and
# counts and logs each reset (CSV column breaker_resets, DIR/breaker_resets.log, the
# summary). The engine's defaults are unchanged. SOAK_RESET_BREAKERS=0 leaves it open.
#
# Exits non-zero if the engine dies before its time, fails to stop cleanly, halts a
# venue for a balance drift, grows in memory (the last sample above the one at a
# quarter of the run by more than SOAK_MAX_GROWTH_PCT, default 10), or leaves exposure
# unhedged after its orderly stop: the report's `unhedged_exposure_usd` (the open
# exposure less the dust below every venue's minimum order, reported apart as
# `dust_usd`) must be below 0.01 USD. Not part of the test command.
set -euo pipefail

minutes=30
out=""
faults='reject=0.3,partial=0.5,gap=0.05,disconnect_every_s=5,stall_every_s=7,delay_ms=50'
every="${SOAK_EVERY_S:-10}"
reset_breakers="${SOAK_RESET_BREAKERS:-1}"
max_growth_pct="${SOAK_MAX_GROWTH_PCT:-10}"
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --faults) faults="$2"; shift 2 ;;
        -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "soak: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$minutes" in ''|*[!0-9]*) echo "soak: --minutes takes a whole number, not '$minutes'" >&2; exit 2 ;; esac
[ "$minutes" -ge 1 ] || { echo "soak: --minutes must be at least 1" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${out:-$root/perf/soak-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

bin="${ARB_BIN:-}"
if [ -z "$bin" ]; then
    echo "soak: building the release binary (the first build takes several minutes)" >&2
    (cd "$root" && cargo build --release --locked --bin arb)
    bin="${CARGO_TARGET_DIR:-$root/target}/release/arb"
fi
[ -x "$bin" ] || { echo "soak: no executable at $bin" >&2; exit 2; }

# A free loopback port for /metrics.
port=""
for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "soak: no free port found" >&2; exit 2; }

# GET http://127.0.0.1:$port$1 (curl when there is one, else bash's /dev/tcp).
fetch() {
    if command -v curl >/dev/null; then
        curl -fsS --max-time 5 "http://127.0.0.1:$port$1"
    else
        exec 5<>"/dev/tcp/127.0.0.1/$port" || return 1
        printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$1" >&5
        timeout 5 cat <&5 | sed '1,/^\r$/d'
        exec 5<&-
    fi
}

# The sum of every sample of one metric (all label sets), or empty when absent.
metric() {
    awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF; f = 1 } END { if (f) printf "%.10g\n", s }' "$2"
}

# The value of one sample with exactly these labels (`name{labels}`), or empty.
labelled() {
    awk -v k="$1" '$1 == k { print $NF; exit }' "$2"
}

duration=$((minutes * 60))
csv="$out/soak.csv"
echo "elapsed_s,rss_kb,books_synced,books_total,ops_finished,ops_open,open_exposure_usd,drift_halted,breaker_resets" > "$csv"
echo "soak: $minutes min, faults $faults, metrics on 127.0.0.1:$port, into $out" >&2

# The journal (and the control socket in it) in a directory of its own, removed at the end.
journal="$(mktemp -d "${TMPDIR:-/tmp}/arb-soak.XXXXXX")"
socket="$journal/journal/arb.sock"
resets=0
: > "$out/breaker_resets.log"

"$bin" demo --duration "$duration" --faults "$faults" --no-tui --report json --metrics "127.0.0.1:$port" \
    --journal "$journal/journal" > "$out/demo.out" 2> "$out/demo.err" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$journal"' INT TERM

start=$(date +%s)
next=$start
died=""
while kill -0 "$pid" 2>/dev/null; do
    now=$(date +%s)
    if [ "$now" -ge "$next" ]; then
        next=$((next + every))
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        if fetch /metrics > "$out/.metrics" 2>/dev/null; then
            m="$out/.metrics"
            open_cf=$(labelled 'arb_breaker_open{breaker="consecutive_failures"}' "$m")
            if [ "$reset_breakers" = 1 ] && [ "$open_cf" = 1 ]; then
                if answer=$("$bin" ctl --socket "$socket" reset-breakers 2>&1); then
                    resets=$((resets + 1))
                    echo "$((now - start)) s: consecutive_failures open; reset-breakers: $answer" >> "$out/breaker_resets.log"
                else
                    echo "$((now - start)) s: consecutive_failures open; reset-breakers FAILED: $answer" >> "$out/breaker_resets.log"
                fi
            fi
            echo "$((now - start)),${rss},$(metric arb_books_synced "$m"),$(metric arb_books_total "$m"),$(metric arb_operations_finished_total "$m"),$(metric arb_operations_open "$m"),$(metric arb_open_exposure_usd "$m"),$(metric arb_drift_halted "$m"),$resets" >> "$csv"
        elif [ -n "$rss" ]; then
            # Not serving yet (start-up) or not answering: memory alone.
            echo "$((now - start)),${rss},,,,,,,$resets" >> "$csv"
        fi
    fi
    sleep 1
done
rc=0
wait "$pid" || rc=$?
trap - INT TERM
rm -f "$out/.metrics"
rm -rf "$journal"
elapsed=$(( $(date +%s) - start ))
if [ "$rc" -ne 0 ]; then
    died="the engine exited with status $rc after ${elapsed} s"
elif [ "$elapsed" -lt "$duration" ]; then
    died="the engine stopped after ${elapsed} s of ${duration} s"
fi

tail -n 1 "$out/demo.out" > "$out/report.json" || true
# The report's exact decimal strings.
field() { { grep -o "\"$1\":[^,}]*" "$out/report.json" || true; } | head -n 1 | cut -d: -f2- | tr -d '"'; }
exposure=$(field open_exposure_usd)
dust=$(field dust_usd)
unhedged=$(field unhedged_exposure_usd)
open_ops=$(field open_operations)

"$bin" plot "$csv" --out "$out/soak.svg" --title "soak: $minutes min, $faults" \
    || echo "soak: the plot failed" >&2

resync="p50 $(field resync_p50_ms) ms, p99 $(field resync_p99_ms) ms, every book synced $(field all_books_synced_share) of the time"
# Memory from the first sample with the engine serving (start-up excluded).
# Memory "at a quarter": the first sample serving at or after a quarter of the run (the
# start-up's allocations and the first trades are behind it).
quarter=$((duration / 4))
summary=$(awk -F, -v exposure="${exposure:-?}" -v dust="${dust:-?}" -v unhedged="${unhedged:-?}" \
    -v open_ops="${open_ops:-?}" -v resync="$resync" -v quarter="$quarter" '
    NR == 1 { next }
    $2 != "" && $3 != "" {
        if (first == "") first = $2; last = $2; last_t = $1; if ($2 + 0 > max + 0) max = $2
        if (q == "" && $1 + 0 >= quarter) { q = $2; q_t = $1 }
    }
    $3 != "" { if (minb == "" || $3 + 0 < minb + 0) minb = $3; total = $4 }
    $5 != "" { ops = $5 }
    $8 != "" && $8 + 0 > 0 { halted++ }
    $9 != "" { resets = $9 }
    END {
        printf "samples: %d\n", NR - 1
        printf "rss_kb: first %s, at %s s %s, last %s, max %s (last/first %.3f, last/at-a-quarter %.3f)\n", first, q_t, q, last, max, (first > 0 ? last / first : 0), (q > 0 ? last / q : 0)
        printf "books synced: min %s of %s (at the samples)\n", minb, total
        printf "operations finished: %s\n", ops
        printf "samples with a venue halted for a balance drift: %d\n", halted
        printf "consecutive-failures breaker resets by the soak: %d (breaker_resets.log)\n", resets
        printf "final open exposure (report): %s USD, of it dust below the venues minimum orders %s USD, unhedged %s USD; open operations %s\n", exposure, dust, unhedged, open_ops
        printf "resync (report): %s\n", resync
    }' "$csv")
{
    echo "soak run: $minutes min, faults $faults, binary $bin"
    echo "$summary"
    [ -n "$died" ] && echo "FAIL: $died (see demo.err)"
} > "$out/summary.txt"
cat "$out/summary.txt"

[ -z "$died" ] || exit 1
if [ -z "$exposure" ] || [ -z "$unhedged" ]; then
    echo "FAIL: no final report (see demo.err)" | tee -a "$out/summary.txt" >&2
    exit 1
fi
failed=""
fail() { echo "FAIL: $1" | tee -a "$out/summary.txt" >&2; failed=1; }
# Below a cent in any exact spelling: 0, 0.0000001.
if ! [[ "$unhedged" =~ ^0*(\.00[0-9]*)?$ ]]; then
    fail "unhedged exposure $unhedged USD after the orderly stop (open $exposure USD, dust $dust USD)"
fi
if awk -F, 'NR > 1 && $8 != "" && $8 + 0 > 0 { f = 1 } END { exit !f }' "$csv"; then
    fail "a venue was halted for a balance drift (see soak.csv, demo.err)"
fi
growth=$(awk -F, -v quarter="$quarter" 'NR > 1 && $2 != "" && $3 != "" { if (q == "" && $1 + 0 >= quarter) q = $2; last = $2 }
    END { if (q > 0) printf "%.1f", (last / q - 1) * 100 }' "$csv")
if [ -n "$growth" ] && awk -v g="$growth" -v m="$max_growth_pct" 'BEGIN { exit !(g > m) }'; then
    fail "memory grew ${growth}% from a quarter of the run to its end (more than ${max_growth_pct}%)"
fi
[ -z "$failed" ] || exit 1
echo "soak: ok" >&2
