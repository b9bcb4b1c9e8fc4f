//! Every input that once broke a target (`regressions/<target>/*.bin`, kept when the parser was
//! fixed) runs again and must end in an accepted value or an error with a code.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a failed unwrap is a failed test"
)]

use std::path::Path;

use vger_fuzz::engine::replay;
use vger_fuzz::fixture::Fixture;
use vger_fuzz::targets::all;

#[test]
fn saved_crash_inputs_stay_fixed() {
    let fx = Fixture::new().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut failures = Vec::new();
    for t in all() {
        for (path, f) in replay(&t, &fx, &dir) {
            failures.push(format!("{}: {}: {}", path.display(), f.kind, f.detail));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
