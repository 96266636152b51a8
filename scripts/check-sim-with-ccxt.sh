#!/usr/bin/env bash
# Independent-client acceptance check of the simulated venues on its own (scripts/test.sh
# runs it too): makes the ccxt virtual environment (scripts/ccxt-venv.sh), then runs
# sim/tests/ccxt.rs, which starts the sim in plain mode and runs
# scripts/check-sim-with-ccxt.py against it. Needs python3 with venv and PyPI access the
# first time.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/ccxt-venv.sh)
SIM_CCXT_PYTHON="$python" exec cargo test -p sim --test ccxt -- --nocapture
