//! Runs one repository operation with a fault injected at the N-th write (see `FaultyBackend`),
//! for the crash campaigns. With N = 0 nothing is injected and the number of writes is printed,
//! so a campaign can pick crash points within range.
//!
//! Usage: vger-crashpoint REPO (backup SRC | prune | compact | repair) N (abort|torn|nospace)
//!
//! REPO is a local path or a URL (`s3+http://127.0.0.1:PORT/BUCKET/PREFIX`); for a URL the S3
//! settings come from `VGER_TEST_S3_REGION`, `VGER_TEST_S3_KEY` and `VGER_TEST_S3_SECRET`. On
//! S3 `torn` is an abort (a PUT is atomic).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use vger_core::retention::RetentionPolicy;
use vger_core::{CancelToken, CompactOptions, NoProgress, PruneOptions, RepairOptions};
use vger_testkit::{Fault, Store, backup_opts, faulty_at};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (store, op) = (Store::from_arg(&args[0]), args[1].as_str());
    let rest = &args[2..];
    let (src, rest) = if op == "backup" {
        (Some(Path::new(&rest[0])), &rest[1..])
    } else {
        (None, rest)
    };
    let at: u64 = rest[0].parse().expect("N");
    let fault = Fault::parse(&rest[1]).expect("fault");
    let (backend, repo) = faulty_at(&store, at, fault);
    let (cancel, np) = (CancelToken::new(), NoProgress);
    let result = match op {
        "backup" => vger_core::backup(&repo, &backup_opts(src.expect("src"), "data"), &np, &cancel)
            .map(|_| ()),
        "prune" => vger_core::plan_prune(
            &repo,
            &PruneOptions {
                policy: RetentionPolicy {
                    keep_last: Some(1),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .and_then(|plan| vger_core::prune(&repo, &plan))
        .map(|_| ()),
        "compact" => vger_core::plan_compact(
            &repo,
            &CompactOptions {
                threshold_pct: 0.0,
                grace: Duration::ZERO,
                ..Default::default()
            },
            &np,
            &cancel,
        )
        .and_then(|plan| vger_core::compact(&repo, plan, &np, &cancel))
        .map(|_| ()),
        // Planned, applied and checked, as the binding's `repair` does.
        "repair" => {
            vger_core::plan_repair(&repo, &RepairOptions { verify_data: true }, &np, &cancel)
                .and_then(|plan| vger_core::repair(&repo, plan, &cancel))
                .and_then(|()| vger_core::check(&repo, &Default::default(), &np, &cancel))
                .map(|_| ())
        }
        other => panic!("unknown operation {other}"),
    };
    let ops = backend.ops();
    match result {
        Ok(()) => {
            std::io::Write::write_all(&mut std::io::stdout(), format!("ops={ops}\n").as_bytes())
                .ok();
            ExitCode::SUCCESS
        }
        Err(e) => {
            std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("{}: {e}\n", e.code().as_str()).as_bytes(),
            )
            .ok();
            ExitCode::from(1)
        }
    }
}
