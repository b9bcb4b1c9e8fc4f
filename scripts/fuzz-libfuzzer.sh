#!/bin/sh
# Coverage-guided runs of the vger-fuzz targets under libFuzzer (docs/integrity.md, "Fuzzing").
# SanitizerCoverage flags work on stable Rust (no nightly needed); libfuzzer-sys builds libFuzzer
# itself with the C++ compiler. Overflow checks and debug assertions are on, as in a test build.
#
#   npm run fuzz:libfuzzer                         1 CPU-hour per target
#   VGER_FUZZ_SECONDS=60 VGER_FUZZ_TARGETS="tree-plain lock-plain" npm run fuzz:libfuzzer
#
# The corpus grows in crates/vger-fuzz/libfuzzer/corpus/<target>/ (seeded from the real encoders);
# crashes, logs and the final statistics land in crates/vger-fuzz/libfuzzer/artifacts/.
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${VGER_FUZZ_SECONDS:-3600}
DIR=crates/vger-fuzz/libfuzzer
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
  cargo build --quiet --release --manifest-path "$DIR/Cargo.toml" --target "$TRIPLE"
BIN="$DIR/target/$TRIPLE/release/vger-libfuzzer"
cargo run --quiet --release -p vger-fuzz --bin vger-fuzz -- --write-seeds "$DIR/corpus"
TARGETS=${VGER_FUZZ_TARGETS:-$(cargo run --quiet --release -p vger-fuzz --bin vger-fuzz -- --list | cut -d' ' -f1)}
status=0
for t in $TARGETS; do
  mkdir -p "$DIR/artifacts/$t"
  if ! VGER_FUZZ_TARGET=$t "$BIN" "$DIR/corpus/$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=20 \
    -artifact_prefix="$DIR/artifacts/$t/" -print_final_stats=1 >"$DIR/artifacts/$t.log" 2>&1; then
    status=1
    echo "$t: FAILED (see $DIR/artifacts/$t.log and the input saved beside it)"
  fi
  done_line=$(grep -E '^#[0-9]+' "$DIR/artifacts/$t.log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$DIR/artifacts/$t.log")
  echo "$t: $execs executions; last: $done_line"
done
exit $status
