//! The engine reports what it promises to: a panic, a broken property, an allocation over budget
//! and a slow input are each a finding saved with its input, and a run is repeatable by its seed.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a failed unwrap is a failed test"
)]

use std::time::Duration;

use vger_fuzz::engine::{Config, run};
use vger_fuzz::fixture::Fixture;
use vger_fuzz::targets::{Outcome, Target, all};

fn seeds(_: &Fixture) -> Vec<Vec<u8>> {
    vec![b"\x01\x02\x03\x04\x05\x06\x07\x08".to_vec()]
}

fn target(run: fn(&Fixture, &[u8]) -> Outcome) -> Target {
    Target {
        name: "test",
        about: "a target with a planted defect",
        seeds,
        fixup: None,
        run,
        alloc_budget: |len| 1024 + len,
    }
}

fn panics(_: &Fixture, input: &[u8]) -> Outcome {
    if input.len() > 9 {
        let v: Vec<u8> = Vec::new();
        return Outcome::Accepted(u64::from(v[input.len()]));
    }
    Outcome::Accepted(0)
}

fn allocates(_: &Fixture, input: &[u8]) -> Outcome {
    let big = vec![1u8; 1 << 20];
    Outcome::Accepted(u64::from(big[input.len() % 7]))
}

fn breaks_a_property(_: &Fixture, input: &[u8]) -> Outcome {
    if input.first() == Some(&0) {
        Outcome::Violation("first byte zero".into())
    } else {
        Outcome::Accepted(0)
    }
}

fn slow(_: &Fixture, _: &[u8]) -> Outcome {
    std::thread::sleep(Duration::from_millis(30));
    Outcome::Accepted(0)
}

#[test]
fn planted_defects_are_found_and_saved_and_runs_repeat() {
    let fx = Fixture::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        max_execs: Some(2000),
        crashes: Some(dir.path().to_path_buf()),
        ..Config::default()
    };
    for (run_fn, kind) in [
        (panics as fn(&Fixture, &[u8]) -> Outcome, "panic"),
        (allocates, "alloc"),
        (breaks_a_property, "violation"),
    ] {
        let r = run(&target(run_fn), &fx, &cfg);
        let f = r
            .findings
            .iter()
            .find(|f| f.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} finding: {:?}", r.findings));
        let saved = f.saved.as_ref().unwrap();
        assert_eq!(
            std::fs::read(saved).unwrap(),
            f.input,
            "{kind}: the saved input is the one that failed"
        );
        assert!(saved.starts_with(dir.path().join("test")));
    }
    let r = run(
        &target(slow),
        &fx,
        &Config {
            max_execs: Some(3),
            slow: Duration::from_millis(10),
            ..Config::default()
        },
    );
    assert_eq!(r.findings.first().map(|f| f.kind), Some("slow"));

    let tree = all().into_iter().find(|t| t.name == "tree-plain").unwrap();
    let a = run(
        &tree,
        &fx,
        &Config {
            seed: 5,
            max_execs: Some(500),
            ..Config::default()
        },
    );
    let b = run(
        &tree,
        &fx,
        &Config {
            seed: 5,
            max_execs: Some(500),
            ..Config::default()
        },
    );
    assert_eq!(
        (a.corpus, a.signatures, a.accepted),
        (b.corpus, b.signatures, b.accepted)
    );
    assert!(a.corpus > a.seeds, "new outcomes grow the corpus");
}
