#!/usr/bin/env bash
# Makes the Python virtual environment with ccxt that the independent-client check
# (sim/tests/ccxt.rs) runs, once, and prints its interpreter's path on stdout.
#
# The environment is target/ccxt-venv (SIM_CCXT_VENV to put it elsewhere), with the
# packages pinned in scripts/ccxt-requirements.txt; it is made again only when that
# file changes. Needs python3 with the venv module and access to PyPI the first time
# (about 2 minutes on the 2-core VM, most of it downloading). Exits non-zero, saying
# why on stderr, when it cannot.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${SIM_CCXT_VENV:-target/ccxt-venv}
req=scripts/ccxt-requirements.txt
if [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/requirements.txt"; then
    echo "$(cd "$venv" && pwd)/bin/python"
    exit 0
fi
command -v python3 >/dev/null || { echo "python3 is not installed" >&2; exit 1; }
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
python3 -m venv "$venv" >&2 || {
    echo "python3 -m venv failed (on Debian: apt-get install python3-venv)" >&2
    rm -rf "$venv"
    exit 1
}
start=$(date +%s)
echo "installing ccxt into $venv (once, about 2 minutes)" >&2
if ! "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input --timeout 30 --retries 2 \
    -r "$req" >&2; then
    echo "pip could not install $req from PyPI" >&2
    rm -rf "$venv"
    exit 1
fi
cp "$req" "$venv/requirements.txt"
echo "ccxt installed in $(($(date +%s) - start)) s" >&2
echo "$(cd "$venv" && pwd)/bin/python"
