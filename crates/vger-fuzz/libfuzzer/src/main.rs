//! One libFuzzer binary for every vger-fuzz target, chosen by `VGER_FUZZ_TARGET`. A panic, a
//! broken property or a rejection without a code aborts, which libFuzzer saves as a crash.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vger_fuzz::fixture::Fixture;
use vger_fuzz::targets::{Outcome, Target, all};

static SETUP: OnceLock<(Fixture, Target)> = OnceLock::new();

fn setup() -> &'static (Fixture, Target) {
    SETUP.get_or_init(|| {
        let name = std::env::var("VGER_FUZZ_TARGET").unwrap_or_default();
        let target = all()
            .into_iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| {
                panic!("VGER_FUZZ_TARGET={name:?} is not a target (vger-fuzz --list)")
            });
        let fixture = Fixture::new().unwrap_or_else(|e| panic!("seed repository: {e}"));
        (fixture, target)
    })
}

// The seed repository is built in LLVMFuzzerInitialize, before coverage is counted.
fuzz_target!(init: { setup(); }, |data: &[u8]| {
    let (fx, t) = setup();
    let mut input = data.to_vec();
    if let Some(fix) = t.fixup {
        fix(&mut input);
    }
    if let Outcome::Violation(v) = (t.run)(fx, &input) {
        panic!("{}: {v}", t.name);
    }
});
