#!/usr/bin/env bash
# The project's test command: formatting, lints with warnings denied, every test.
# CI (.ci/run) runs exactly this. Finishes in well under 30 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> cargo fmt --check"
cargo fmt --all --check

echo "==> cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "==> cargo test"
cargo test --workspace --locked
