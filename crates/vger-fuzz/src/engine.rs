//! The loop: pick a corpus input, mutate it, run the target under `catch_unwind` with a clock and
//! an allocation counter, keep inputs that show something new, and save every finding.
//!
//! Feedback is a proxy for coverage, not coverage: an input joins the corpus when its outcome
//! signature is new. The signature is the error code, the error's detail with numbers and quoted
//! text removed and the position it names bucketed (exact below byte 128, by power of two
//! above), or for an accepted input a shape number from the target (entry counts, kinds). Parse
//! failures at a new depth or for a new reason are what a mutation of a length-prefixed format
//! mostly uncovers, so this steers the search much as edge coverage would for these decoders.

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use stats_alloc::Region;
use vger_types::VgerError;

use crate::fixture::Fixture;
use crate::mutate::{Rng, fields, mutate};
use crate::targets::{Outcome, Target};

#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    /// Stop after this many executions...
    pub max_execs: Option<u64>,
    /// ...or after this long, whichever comes first (at least one must be set).
    pub time: Option<Duration>,
    /// Where findings are written (`<dir>/<target>/<kind>-<hash>.bin`); `None` keeps them in memory.
    pub crashes: Option<PathBuf>,
    /// An input slower than this is a finding.
    pub slow: Duration,
    /// An input still running after this is a hang: it is saved and the process exits (code 70).
    pub hang: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 1,
            max_execs: Some(1000),
            time: None,
            crashes: None,
            slow: Duration::from_secs(1),
            hang: Duration::from_secs(20),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Finding {
    /// `panic`, `slow`, `alloc` or `violation`.
    pub kind: &'static str,
    pub detail: String,
    pub input: Vec<u8>,
    pub saved: Option<PathBuf>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub target: &'static str,
    pub execs: u64,
    pub seconds: f64,
    pub seeds: usize,
    pub corpus: usize,
    /// Distinct outcome signatures seen (the coverage proxy).
    pub signatures: usize,
    pub accepted: u64,
    /// Rejections by error code.
    pub rejected: BTreeMap<&'static str, u64>,
    pub findings: Vec<Finding>,
    /// The largest allocation total of one execution relative to its budget, in percent.
    pub peak_alloc_percent: u64,
    pub slowest: Duration,
}

static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// What the watchdog sees: when the current execution started, and its input.
struct Watch {
    current: Mutex<(Option<Instant>, Vec<u8>)>,
    done: AtomicBool,
}

fn normalise(detail: &str) -> (String, u64) {
    let pos = detail
        .split("at byte ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(0, |p| {
            if p < 128 {
                p
            } else {
                128 + u64::from(p.ilog2())
            }
        });
    // Numbers and quoted text (an entry name, a path) vary without the parser doing anything new.
    let words = detail.split('"').next().unwrap_or_default();
    let text = words.chars().filter(|c| !c.is_ascii_digit()).collect();
    (text, pos)
}

fn signature(o: &Outcome) -> u64 {
    let mut h = DefaultHasher::new();
    match o {
        Outcome::Accepted(n) => ("ok", n).hash(&mut h),
        Outcome::Rejected(e) => {
            e.code().as_str().hash(&mut h);
            if let VgerError::Corrupt { detail, .. } = e {
                normalise(detail).hash(&mut h);
            }
        }
        Outcome::Violation(v) => ("violation", v).hash(&mut h),
    }
    h.finish()
}

fn save(dir: &Option<PathBuf>, target: &str, kind: &str, input: &[u8]) -> Option<PathBuf> {
    let dir = dir.as_ref()?.join(target);
    std::fs::create_dir_all(&dir).ok()?;
    let hash = blake3::hash(input).to_hex();
    let path = dir.join(format!("{kind}-{}.bin", &hash[..16]));
    std::fs::write(&path, input).ok()?;
    Some(path)
}

fn watchdog(watch: Arc<Watch>, hang: Duration, dir: Option<PathBuf>, target: &'static str) {
    while !watch.done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let cur = watch.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(start), input) = (cur.0, &cur.1)
            && start.elapsed() > hang
        {
            let saved = save(
                &dir.clone().or_else(|| Some(std::env::temp_dir())),
                target,
                "hang",
                input,
            );
            #[allow(
                clippy::print_stderr,
                reason = "the process is about to exit; this is its last word"
            )]
            {
                eprintln!(
                    "vger-fuzz: {target} hangs (over {hang:?}) on the input saved at {saved:?}"
                );
            }
            std::process::exit(70);
        }
    }
}

/// Whether an input that ran slowly is slow every time: on a shared machine one slow run is often
/// a scheduling stall, so it counts only if two more runs are slow too.
fn confirm_slow(target: &Target, fx: &Fixture, input: &[u8], slow: Duration) -> bool {
    (0..2).all(|_| {
        let start = Instant::now();
        let _ = catch_unwind(AssertUnwindSafe(|| (target.run)(fx, input)));
        start.elapsed() > slow
    })
}

/// Runs one input and returns its outcome plus any finding.
fn execute(
    target: &Target,
    fx: &Fixture,
    input: &[u8],
    cfg: &Config,
    watch: &Watch,
    report: &mut Report,
) -> (Outcome, Option<(&'static str, String)>) {
    {
        let mut cur = watch.current.lock().unwrap_or_else(PoisonError::into_inner);
        cur.1.clear();
        cur.1.extend_from_slice(input);
        cur.0 = Some(Instant::now());
    }
    let region = Region::new(crate::allocator());
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| (target.run)(fx, input)));
    let took = start.elapsed();
    let stats = region.change();
    watch
        .current
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .0 = None;
    report.slowest = report.slowest.max(took);
    let allocated = stats.bytes_allocated + stats.bytes_reallocated.max(0) as usize;
    let budget = (target.alloc_budget)(input.len());
    report.peak_alloc_percent = report
        .peak_alloc_percent
        .max((allocated as u64 * 100) / budget.max(1) as u64);
    let outcome = match result {
        Ok(o) => o,
        Err(_) => {
            let msg =
                std::mem::take(&mut *LAST_PANIC.lock().unwrap_or_else(PoisonError::into_inner));
            return (Outcome::Violation(msg.clone()), Some(("panic", msg)));
        }
    };
    let finding = match &outcome {
        Outcome::Violation(v) => Some(("violation", v.clone())),
        _ if took > cfg.slow && confirm_slow(target, fx, input, cfg.slow) => {
            Some(("slow", format!("{took:?} for {} bytes", input.len())))
        }
        _ if allocated > budget => Some((
            "alloc",
            format!(
                "{allocated} bytes allocated for {} bytes of input (budget {budget})",
                input.len()
            ),
        )),
        _ => None,
    };
    (outcome, finding)
}

/// Fuzzes one target.
pub fn run(target: &Target, fx: &Fixture, cfg: &Config) -> Report {
    let mut report = Report {
        target: target.name,
        ..Report::default()
    };
    let seeds = (target.seeds)(fx);
    report.seeds = seeds.len();
    let max_len = seeds
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0)
        .saturating_mul(2)
        .max(4096);
    let mut corpus: Vec<Vec<u8>> = seeds;
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    let mut seen = HashSet::new();
    let mut found = HashSet::new();
    let mut rng = Rng::new(cfg.seed ^ blake3::hash(target.name.as_bytes()).as_bytes()[0] as u64);

    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        *LAST_PANIC.lock().unwrap_or_else(PoisonError::into_inner) = format!("{payload}{at}");
    }));
    let watch = Arc::new(Watch {
        current: Mutex::new((None, Vec::new())),
        done: AtomicBool::new(false),
    });
    let dog = {
        let (w, hang, dir, name) = (
            Arc::clone(&watch),
            cfg.hang,
            cfg.crashes.clone(),
            target.name,
        );
        std::thread::spawn(move || watchdog(w, hang, dir, name))
    };

    let start = Instant::now();
    let mut pending: Vec<Vec<u8>> = corpus.clone();
    let mut input = Vec::new();
    loop {
        if cfg.max_execs.is_some_and(|m| report.execs >= m)
            || cfg.time.is_some_and(|t| start.elapsed() >= t)
        {
            break;
        }
        if let Some(seed) = pending.pop() {
            input = seed;
        } else {
            input.clone_from(&corpus[rng.below(corpus.len())]);
            if rng.one_in(32) {
                // A seed's first bytes (magic, version) then generated well-formed fields.
                input.truncate(rng.below(input.len().min(64) + 1));
                input.extend(fields(&mut rng, 512));
            } else {
                mutate(&mut rng, &mut input, &corpus, max_len);
            }
            if let Some(fix) = target.fixup {
                fix(&mut input);
            }
        }
        let (outcome, finding) = execute(target, fx, &input, cfg, &watch, &mut report);
        report.execs += 1;
        match &outcome {
            Outcome::Accepted(_) => report.accepted += 1,
            Outcome::Rejected(e) => *report.rejected.entry(e.code().as_str()).or_default() += 1,
            Outcome::Violation(_) => {}
        }
        if let Some((kind, detail)) = finding {
            if found.insert((kind, normalise(&detail).0)) && report.findings.len() < 50 {
                let saved = save(&cfg.crashes, target.name, kind, &input);
                report.findings.push(Finding {
                    kind,
                    detail,
                    input: input.clone(),
                    saved,
                });
            }
            continue;
        }
        if seen.insert(signature(&outcome)) && corpus.len() < 20_000 {
            corpus.push(input.clone());
        }
    }
    report.seconds = start.elapsed().as_secs_f64();
    report.corpus = corpus.len();
    report.signatures = seen.len();
    watch.done.store(true, Ordering::Relaxed);
    let _ = dog.join();
    std::panic::set_hook(previous_hook);
    report
}

/// Runs every saved input under `dir/<target>/` once; returns the findings (none when fixed).
pub fn replay(target: &Target, fx: &Fixture, dir: &Path) -> Vec<(PathBuf, Finding)> {
    let mut out = Vec::new();
    let Ok(files) = std::fs::read_dir(dir.join(target.name)) else {
        return out;
    };
    let cfg = Config::default();
    let watch = Watch {
        current: Mutex::new((None, Vec::new())),
        done: AtomicBool::new(false),
    };
    let mut report = Report::default();
    let mut paths: Vec<PathBuf> = files.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Ok(input) = std::fs::read(&path) else {
            continue;
        };
        if let (_, Some((kind, detail))) = execute(target, fx, &input, &cfg, &watch, &mut report) {
            out.push((
                path,
                Finding {
                    kind,
                    detail,
                    input,
                    saved: None,
                },
            ));
        }
    }
    out
}
