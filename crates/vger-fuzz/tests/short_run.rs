//! The short run of every fuzz target inside `cargo test`: a fixed seed and a few thousand
//! executions each (the long campaign is `npm run fuzz`, docs/integrity.md). One test, so no
//! other test thread disturbs the allocation counts.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a failed unwrap is a failed test"
)]

use vger_fuzz::engine::{Config, run};
use vger_fuzz::fixture::Fixture;
use vger_fuzz::targets;

#[test]
fn every_target_survives_a_short_run() {
    let fx = Fixture::new().unwrap();
    let execs = std::env::var("VGER_FUZZ_SHORT_EXECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let mut failures = Vec::new();
    for t in targets::all() {
        let seeds = (t.seeds)(&fx);
        assert!(!seeds.is_empty(), "{}: no seeds from the fixture", t.name);
        let r = run(
            &t,
            &fx,
            &Config {
                seed: 11,
                max_execs: Some(execs),
                ..Config::default()
            },
        );
        assert_eq!(r.execs, execs);
        assert!(
            r.signatures > 1,
            "{}: every input ended the same way",
            t.name
        );
        for f in r.findings {
            failures.push(format!(
                "{}: {}: {} (input {})",
                t.name,
                f.kind,
                f.detail,
                hex_head(&f.input)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "fuzz findings:\n{}",
        failures.join("\n")
    );
}

fn hex_head(b: &[u8]) -> String {
    b.iter().take(64).map(|x| format!("{x:02x}")).collect()
}
