//! The long fuzzing campaign (`npm run fuzz`): every target in turn, on one thread.
//!
//! Usage: vger-fuzz [--seconds N] [--execs N] [--target NAME]... [--seed N] [--crashes DIR]
//!                  [--json FILE] [--list] [--write-seeds DIR]
//! `--seconds` is per target (default 3600: the one CPU-hour per target of docs/integrity.md);
//! `VGER_FUZZ_SECONDS` sets the same. Findings are saved under `--crashes` (default
//! `target/fuzz-crashes`); the exit code is 1 when there is any.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool reports on its terminal"
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use vger_fuzz::engine::{self, Config, Report};
use vger_fuzz::fixture::Fixture;
use vger_fuzz::targets;

struct Args {
    seconds: u64,
    execs: Option<u64>,
    targets: Vec<String>,
    seed: u64,
    crashes: PathBuf,
    json: Option<PathBuf>,
    list: bool,
    write_seeds: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seconds: std::env::var("VGER_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3600),
        execs: None,
        targets: Vec::new(),
        seed: 1,
        crashes: PathBuf::from("target/fuzz-crashes"),
        json: None,
        list: false,
        write_seeds: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--seconds" => a.seconds = number(value()?)?,
            "--execs" => a.execs = Some(number(value()?)?),
            "--seed" => a.seed = number(value()?)?,
            "--target" => a.targets.extend(value()?.split(',').map(str::to_string)),
            "--crashes" => a.crashes = PathBuf::from(value()?),
            "--json" => a.json = Some(PathBuf::from(value()?)),
            "--list" => a.list = true,
            "--write-seeds" => a.write_seeds = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn json(r: &Report) -> String {
    let rejected: Vec<String> = r
        .rejected
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    let findings: Vec<String> = r
        .findings
        .iter()
        .map(|f| {
            format!(
                "{{\"kind\":\"{}\",\"detail\":{:?},\"saved\":{}}}",
                f.kind,
                f.detail,
                f.saved.as_ref().map_or("null".to_string(), |p| format!(
                    "{:?}",
                    p.display().to_string()
                ))
            )
        })
        .collect();
    format!(
        "{{\"target\":\"{}\",\"execs\":{},\"seconds\":{:.1},\"seeds\":{},\"corpus\":{},\"signatures\":{},\
         \"accepted\":{},\"rejected\":{{{}}},\"peak_alloc_percent\":{},\"slowest_ms\":{:.2},\"findings\":[{}]}}",
        r.target,
        r.execs,
        r.seconds,
        r.seeds,
        r.corpus,
        r.signatures,
        r.accepted,
        rejected.join(","),
        r.peak_alloc_percent,
        r.slowest.as_secs_f64() * 1000.0,
        findings.join(",")
    )
}

/// Each target's seeds as files `<dir>/<target>/seed-<n>`, a starting corpus for libFuzzer.
fn write_seeds(fx: &Fixture, dir: &std::path::Path) -> std::io::Result<usize> {
    let mut n = 0;
    for t in targets::all() {
        let d = dir.join(t.name);
        std::fs::create_dir_all(&d)?;
        for (i, s) in (t.seeds)(fx).iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i}")), s)?;
            n += 1;
        }
    }
    Ok(n)
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("vger-fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    let all = targets::all();
    if args.list {
        for t in &all {
            println!("{:<16} {}", t.name, t.about);
        }
        return ExitCode::SUCCESS;
    }
    if let Some(bad) = args
        .targets
        .iter()
        .find(|n| !all.iter().any(|t| t.name == n.as_str()))
    {
        eprintln!("vger-fuzz: unknown target {bad} (--list shows them)");
        return ExitCode::from(2);
    }
    let fx = match Fixture::new() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("vger-fuzz: cannot build the seed repository: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &args.write_seeds {
        return match write_seeds(&fx, dir) {
            Ok(n) => {
                println!("{n} seeds written under {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vger-fuzz: cannot write seeds under {}: {e}", dir.display());
                ExitCode::from(2)
            }
        };
    }
    let cfg = Config {
        seed: args.seed,
        max_execs: args.execs,
        time: Some(Duration::from_secs(args.seconds)),
        crashes: Some(args.crashes.clone()),
        ..Config::default()
    };
    println!(
        "{:<16} {:>11} {:>8} {:>9} {:>7} {:>6} {:>6} {:>9} {:>8}",
        "target", "execs", "seconds", "execs/s", "corpus", "sigs", "alloc%", "slowest", "findings"
    );
    let mut lines = Vec::new();
    let mut findings = 0;
    for t in all
        .iter()
        .filter(|t| args.targets.is_empty() || args.targets.iter().any(|n| n == t.name))
    {
        let r = engine::run(t, &fx, &cfg);
        println!(
            "{:<16} {:>11} {:>8.0} {:>9.0} {:>7} {:>6} {:>6} {:>7.1}ms {:>8}",
            r.target,
            r.execs,
            r.seconds,
            r.execs as f64 / r.seconds.max(1e-9),
            r.corpus,
            r.signatures,
            r.peak_alloc_percent,
            r.slowest.as_secs_f64() * 1000.0,
            r.findings.len()
        );
        for f in &r.findings {
            println!("  {}: {} ({:?})", f.kind, f.detail, f.saved);
        }
        findings += r.findings.len();
        lines.push(json(&r));
    }
    if let Some(path) = &args.json
        && let Err(e) = std::fs::write(path, lines.join("\n") + "\n")
    {
        eprintln!("vger-fuzz: cannot write {}: {e}", path.display());
    }
    if findings > 0 {
        println!(
            "{findings} finding(s) saved under {}",
            args.crashes.display()
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
