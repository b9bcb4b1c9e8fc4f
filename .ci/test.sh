#!/bin/sh
# The whole test suite: lints, Rust tests, TypeScript tests (unit, binding, end to end).
set -eu
cd "$(dirname "$0")/.."

[ -d node_modules ] || npm install --no-audit --no-fund
[ -f crates/vger-napi/vger.linux-x64-gnu.node ] || npm run build:native
[ -f dist/cli/main.js ] || npm run build:ts

echo "==> lint: formatters, clippy -D warnings, tsc --noEmit (library and tests)"
npm run lint

echo "==> the generated loader and declarations match the Rust binding"
# The build regenerates them from the #[napi] items; a difference means the committed TypeScript view
# of the addon drifted from the Rust one (docs/binding.md).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git diff --exit-code -- crates/vger-napi/index.cjs crates/vger-napi/index.d.cts
fi

echo "==> Rust tests"
cargo test --workspace --quiet

echo "==> TypeScript tests"
npx vitest run
