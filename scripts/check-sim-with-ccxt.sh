#!/usr/bin/env bash
# Independent-client acceptance check of the simulated venues: installs ccxt from PyPI
# into a virtual environment (target/ccxt-venv unless SIM_CCXT_VENV says otherwise),
# then runs sim/tests/ccxt.rs, which starts the sim in plain mode and runs
# scripts/check-sim-with-ccxt.py against it. Needs python3 with venv and PyPI access.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SIM_CCXT_VENV:-target/ccxt-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# ccxt decodes MEXC's protobuf frames with the protobuf runtime it names.
"$venv/bin/pip" install --quiet --upgrade ccxt "protobuf==5.29.5"
SIM_CCXT_PYTHON="$(pwd)/$venv/bin/python" exec cargo test -p sim --test ccxt -- --nocapture
