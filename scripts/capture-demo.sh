#!/usr/bin/env bash
# Captures what the README shows of `arb demo`: the dashboard in a 120x42 terminal at
# 44 s, the text report printed at the end, and the latency plots.
#
#   scripts/capture-demo.sh [--out DIR] [--seconds N]
#
# Runs the demo (release build; ARB_BIN=path uses that binary instead) with the default
# seed inside a detached tmux session of 120x42, takes the screen at 44 s
# (DIR/dashboard.txt), lets it run to N seconds (default 50), then keeps what it printed
# after the dashboard closed (DIR/report.txt) and the histograms and plots
# (`--hgrm-dir DIR/img`: *.hgrm and latency-*.svg). Nothing else should run meanwhile:
# the figures are the machine's. Not part of the test command; needs tmux.
set -euo pipefail

out=""
seconds=50
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "capture-demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v tmux >/dev/null || { echo "capture-demo: needs tmux" >&2; exit 2; }
case "$seconds" in ''|*[!0-9]*) echo "capture-demo: --seconds takes a whole number" >&2; exit 2 ;; esac
[ "$seconds" -ge 45 ] || { echo "capture-demo: --seconds must be at least 45 (the screen is taken at 44 s)" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${out:-$root/perf/demo-capture-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out/img"
out="$(cd "$out" && pwd)"

bin="${ARB_BIN:-}"
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --release --locked --bin arb)
    bin="${CARGO_TARGET_DIR:-$root/target}/release/arb"
fi
[ -x "$bin" ] || { echo "capture-demo: no executable at $bin" >&2; exit 2; }

session="arb-capture-$$"
tmux new-session -d -s "$session" -x 120 -y 42 \
    "'$bin' demo --duration $seconds --hgrm-dir '$out/img'; echo CAPTURE-DONE; sleep 3600"
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT
tmux set-option -t "$session" history-limit 5000 >/dev/null
sleep 44
tmux capture-pane -t "$session" -p > "$out/dashboard.txt"
for _ in $(seq 1 $((seconds + 60))); do
    if tmux capture-pane -t "$session" -p -S -5000 | grep -q '^CAPTURE-DONE'; then break; fi
    sleep 1
done
tmux capture-pane -t "$session" -p -J -S -5000 | sed '/^CAPTURE-DONE/,$d' > "$out/report.txt"
echo "capture-demo: $out/dashboard.txt, $out/report.txt, $out/img/" >&2
