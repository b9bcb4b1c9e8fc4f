#!/bin/sh
# One command from a fresh clone: install dependencies, build the Rust addon and the TypeScript CLI,
# then make a first backup of ./docs into a demo repository and restore it.
set -eu
cd "$(dirname "$0")/.."

echo "==> installing npm dependencies"
# `npm install` honours package-lock.json; `npm ci` is not used because the lock cannot list the
# optional platform packages of @napi-rs/cli's own dependencies that the registry mirror lacks.
npm install --no-audit --no-fund

echo "==> building the native engine (Rust, release) and the CLI (TypeScript)"
npm run build

demo=.vger-quickstart
rm -rf "$demo"
mkdir -p "$demo"
export VGER_PASSPHRASE="${VGER_PASSPHRASE:-quickstart-demo-passphrase}"
cat > "$demo/vger.yaml" <<YAML
repositories:
  - url: $PWD/$demo/repo
    label: demo
sources:
  - path: $PWD/docs
    label: docs
YAML
vger() { node dist/cli/main.js --config "$demo/vger.yaml" "$@"; }

echo "==> vger init"
vger init
echo "==> vger backup"
vger backup
echo "==> vger list"
vger list
echo "==> vger restore latest $demo/restore"
vger restore latest "$demo/restore"
diff -r docs "$demo/restore"
echo
echo "Done: ./docs was backed up into $demo/repo and restored identically into $demo/restore."
echo "Try it yourself:  node dist/cli/main.js --help   (or: npm link, then vger --help)"
