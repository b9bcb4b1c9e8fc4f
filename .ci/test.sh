#!/bin/sh
# The whole test suite: lints, Rust tests, TypeScript tests (unit, binding, end to end).
set -eu
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm install --no-audit --no-fund
[ -f crates/vger-napi/vger.linux-x64-gnu.node ] || npm run build:native
[ -f dist/cli/main.js ] || npm run build:ts

echo "==> lint: cargo fmt, clippy -D warnings, tsc --noEmit"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
npx tsc -p tsconfig.json --noEmit

echo "==> Rust tests"
cargo test --workspace --quiet

echo "==> TypeScript tests"
npx vitest run
