//! Leases: `locks/<32 hex random>` objects, sealed (kind Lock) so the storage host learns only
//! that some client holds a lease. A lease has a random identity (not hostname and pid, which
//! repeat across containers and reboots), a kind, and an expiry that a background thread pushes
//! forward by writing a fresh object and removing the previous one (create-only, like every
//! other write).
//!
//! Shared leases (backup, restore, prune, snapshot delete) coexist; a maintenance lease (compact)
//! coexists with shared ones but not with another maintenance lease, so backups go on while a
//! compaction runs (docs/architecture.md, "Backups beside compaction"); an exclusive lease
//! (repair, delete) excludes every other. Taking a lease is "write, then look": a client writes its
//! lock, lists the others, and backs off if a conflicting live one exists, so two racing clients
//! can both back off but never both proceed. An operation that may have lost its lease (its
//! process was paused past the expiry, or its lock was broken) re-checks before every critical
//! step ([`Lease::ensure`]) and stops writing if a conflicting lease appeared meanwhile (fencing).
//!
//! Plaintext: `u8 version (2) ‖ lease id 16 ‖ kind u8 (1 shared, 2 exclusive, 3 maintenance) ‖ created ns i64 ‖
//! expires ns i64 ‖ hostname ‖ pid u32 ‖ operation ‖ boot id ‖ pid namespace ‖ start time u64`.
//! The lease id is the identity. Hostname, pid and operation are shown to people; with boot id,
//! pid namespace and start time they also tell whether the holder still exists when it ran on
//! this host (see [`super::process`]): the lock of a process that is gone is removed at once
//! instead of stalling everyone until its lease expires. Version 1 locks (without the last three
//! fields) still decode; their holder's state is unknown, so they expire by their lease.
//!
//! Reading operations take their lease with [`Lease::acquire_for_reading`]: where the lock cannot
//! be written (a read-only or full repository) they read without one ([`ReadLease::LockFree`]),
//! with a warning that states the risk. Writing operations never go without a lock.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};
use vger_crypto::random_bytes;
use vger_types::codec::{Reader, Writer};
use vger_types::{Result, VgerError};

use super::Repository;
use super::context::{ObjectKind, context};
use super::lock_wait::{Waiting, lock_free_warning, unwritable};
use super::process::{self, ProcessStamp, ProcessState};
use crate::clock::{duration_ns, now_ns, ns_since_epoch};
use crate::progress::{Event, Progress, Warning};

const VERSION: u8 = 2;
/// Tolerated clock difference between clients before a lock counts as expired.
const SKEW: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    Shared = 1,
    Exclusive = 2,
    /// Compact: beside shared leases, never beside another maintenance or an exclusive one.
    Maintenance = 3,
}

impl LockKind {
    /// Whether a lease of this kind may be held while `other` is.
    pub fn coexists_with(self, other: LockKind) -> bool {
        use LockKind::*;
        matches!(
            (self, other),
            (Shared, Shared) | (Shared, Maintenance) | (Maintenance, Shared)
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            LockKind::Shared => "shared",
            LockKind::Exclusive => "exclusive",
            LockKind::Maintenance => "maintenance",
        }
    }
}

/// How long leases last and how long to wait for a conflicting one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseSettings {
    /// Lifetime of a lock object; it is renewed every third of it.
    pub ttl: Duration,
    /// How long to keep retrying while a conflicting lease is held (0: fail at once).
    pub wait: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(180),
            wait: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub key: String,
    pub lease: [u8; 16],
    pub kind: LockKind,
    pub created_ns: i64,
    pub expires_ns: i64,
    pub hostname: String,
    pub pid: u32,
    pub operation: String,
    /// Boot id, pid namespace and start time of the holder (empty and 0 in version 1 locks).
    pub process: ProcessStamp,
}

impl LockInfo {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(VERSION)
            .raw(&self.lease)
            .u8(self.kind as u8)
            .i64(self.created_ns)
            .i64(self.expires_ns);
        w.str(&self.hostname).u32(self.pid).str(&self.operation);
        w.str(&self.process.boot_id)
            .str(&self.process.pid_namespace)
            .u64(self.process.start_time);
        w.finish()
    }

    pub fn decode(key: &str, plain: &[u8]) -> Result<Self> {
        let what = format!("lock {key}");
        let mut r = Reader::new(plain, &what);
        let v = r.u8()?;
        if v > VERSION {
            return Err(VgerError::NewerFormat {
                object: what,
                found: v.into(),
                supported: VERSION.into(),
            });
        }
        let lease = r.array()?;
        let kind = match r.u8()? {
            1 => LockKind::Shared,
            2 => LockKind::Exclusive,
            3 => LockKind::Maintenance,
            _ => return Err(VgerError::corrupt(&what, "unknown lock kind")),
        };
        let mut info = LockInfo {
            key: key.to_string(),
            lease,
            kind,
            created_ns: r.i64()?,
            expires_ns: r.i64()?,
            hostname: r.string(4096)?,
            pid: r.u32()?,
            operation: r.string(4096)?,
            process: ProcessStamp::default(),
        };
        if v >= 2 {
            info.process = ProcessStamp {
                boot_id: r.string(4096)?,
                pid_namespace: r.string(4096)?,
                start_time: r.u64()?,
            };
        }
        r.finish()?;
        Ok(info)
    }

    /// Whether its lease has not expired (whatever became of its process).
    pub fn live(&self, now_ns: i64) -> bool {
        now_ns < self.expires_ns.saturating_add(duration_ns(SKEW))
    }

    /// Whether the process that wrote it is alive, gone, or cannot be judged from here.
    pub fn process_state(&self) -> ProcessState {
        process::state(&self.hostname, self.pid, &self.process)
    }

    /// Whether it protects an operation: its lease is live and its process not known to be gone.
    pub fn holds(&self, now_ns: i64) -> bool {
        self.live(now_ns) && self.process_state() != ProcessState::Dead
    }

    pub fn describe(&self) -> String {
        format!(
            "{} ({} lock, pid {} on {})",
            self.operation,
            self.kind.name(),
            self.pid,
            self.hostname
        )
    }
}

fn lock_id(key: &str) -> Option<[u8; 16]> {
    let h = key.strip_prefix("locks/")?;
    let mut out = [0u8; 16];
    hex::decode_to_slice(h, &mut out).ok()?;
    Some(out)
}

/// Looks repeated when listed locks vanish before they are read (see [`list_locks`]).
const LOOKS: usize = 5;

/// Every lock object. One that cannot be read (damaged, or from another key) is reported as an
/// exclusive lock that is live while its object is younger than the lease lifetime.
///
/// A lock that is listed but gone before it is read was released, or renewed: a renewal writes
/// the lease's new object before it removes the old one, so the holder is still there, under a
/// name this listing may not have. Skipping it would let a client take a conflicting lease beside
/// a live holder, so the look is repeated until every listed lock is read; if locks still vanish
/// after [`LOOKS`] looks, each one counts as a live exclusive lock.
pub fn list_locks(repo: &Repository) -> Result<Vec<LockInfo>> {
    let ttl = repo.lease_settings().ttl;
    let mut looks = 0;
    loop {
        looks += 1;
        let (mut locks, vanished) = read_locks(repo, ttl)?;
        if vanished.is_empty() {
            return Ok(locks);
        }
        if looks == LOOKS {
            let now = now_ns();
            locks.extend(vanished.into_iter().map(|key| {
                let operation = format!("a lock that kept changing while it was read ({key})");
                LockInfo::unknown(key, operation, now, ttl)
            }));
            return Ok(locks);
        }
    }
}

impl LockInfo {
    /// A lock whose contents cannot be known: counted as a live exclusive lock for one lease from
    /// `since`, so nothing runs beside what it might be.
    fn unknown(key: String, operation: String, since: i64, ttl: Duration) -> Self {
        LockInfo {
            operation,
            key,
            lease: [0; 16],
            kind: LockKind::Exclusive,
            created_ns: since,
            expires_ns: since.saturating_add(duration_ns(ttl)),
            hostname: "?".into(),
            pid: 0,
            process: ProcessStamp::default(),
        }
    }
}

/// One look: the locks read, and the keys of those that vanished between the listing and the read.
fn read_locks(repo: &Repository, ttl: Duration) -> Result<(Vec<LockInfo>, Vec<String>)> {
    let (mut locks, mut vanished) = (Vec::new(), Vec::new());
    // Listed by name only: a listing that also inspects each object would silently leave out one
    // that vanished in between.
    for key in repo.backend().list("locks")? {
        let opened = lock_id(&key).and_then(|id| {
            let bytes = repo.backend().get(&key).ok()?;
            let plain = repo
                .crypter()
                .open(&context(ObjectKind::Lock, &repo.config().id, &id), &bytes)?;
            LockInfo::decode(&key, &plain).ok()
        });
        if let Some(info) = opened {
            locks.push(info);
        } else if repo.backend().size(&key)?.is_none() {
            vanished.push(key);
        } else {
            let modified = repo
                .backend()
                .list_meta("locks")?
                .into_iter()
                .find(|m| m.key == key)
                .and_then(|m| m.modified)
                .map_or(now_ns(), ns_since_epoch);
            let operation = format!("an unreadable lock {key}");
            locks.push(LockInfo::unknown(key, operation, modified, ttl));
        }
    }
    Ok((locks, vanished))
}

/// Removes every lock object (`vger break-lock`); returns how many.
pub fn break_locks(repo: &Repository) -> Result<usize> {
    remove_all_locks(repo.backend().as_ref())
}

/// Like [`break_locks`], without opening the repository (no passphrase needed): lock objects are
/// found by name, not read.
pub fn break_locks_at(url: &str, opts: &vger_storage::BackendOptions) -> Result<usize> {
    let backend = vger_storage::open_backend_with(url, opts)?;
    super::config::RepoConfig::decode(&Repository::read_config(backend.as_ref(), url)?)?;
    remove_all_locks(backend.as_ref())
}

fn remove_all_locks(backend: &dyn vger_storage::Backend) -> Result<usize> {
    let keys = backend.list("locks")?;
    let mut n = 0;
    for k in keys {
        n += usize::from(vger_storage::delete_if_present(backend, &k)?);
    }
    Ok(n)
}

struct Held {
    info: LockInfo,
    /// When this process last renewed it (its own clock, monotonic).
    renewed: Instant,
}

/// A held lease; dropping it stops the renewal thread and removes the lock object.
pub struct Lease {
    repo: Arc<LeaseRepo>,
    held: Arc<Mutex<Held>>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// What the renewal thread needs (the repository itself is borrowed by the operation).
struct LeaseRepo {
    backend: Arc<dyn vger_storage::Backend>,
    crypter: Arc<vger_crypto::Crypter>,
    repo_id: [u8; 32],
    ttl: Duration,
}

impl LeaseRepo {
    fn write(&self, info: &mut LockInfo) -> Result<()> {
        let id = random_bytes::<16>();
        info.key = format!("locks/{}", hex::encode(id));
        info.expires_ns = now_ns().saturating_add(duration_ns(self.ttl));
        let sealed = self.crypter.seal(
            &context(ObjectKind::Lock, &self.repo_id, &id),
            &info.encode(),
        );
        self.backend.put_new(&info.key, &sealed)
    }

    fn remove(&self, key: &str) {
        // Best effort: a lock that cannot be removed expires on its own.
        let _ = self.backend.delete(key);
    }

    /// Writes a fresh lock object for the lease and removes the previous one.
    fn renew(&self, held: &Mutex<Held>) -> Result<()> {
        let mut h = held.lock().unwrap_or_else(PoisonError::into_inner);
        let old = h.info.key.clone();
        self.write(&mut h.info)?;
        h.renewed = Instant::now();
        self.remove(&old);
        Ok(())
    }
}

fn conflicts(kind: LockKind, mine: &[u8; 16], others: &[LockInfo], now: i64) -> Option<String> {
    conflicting(kind, mine, others, now).map(LockInfo::describe)
}

/// The first lock that excludes a lease of `kind`: one that holds (live, its process not known
/// to be gone) and is exclusive, or any holding one when `kind` is exclusive.
fn conflicting<'a>(
    kind: LockKind,
    mine: &[u8; 16],
    others: &'a [LockInfo],
    now: i64,
) -> Option<&'a LockInfo> {
    others
        .iter()
        .filter(|o| &o.lease != mine && o.holds(now))
        .find(|o| !kind.coexists_with(o.kind))
}

/// A lease for a reading operation.
pub enum ReadLease {
    Held(Lease),
    /// No lock was written: `--no-lock`, or the repository cannot be written (read-only, full).
    /// A compaction that starts meanwhile does not know of this reader.
    LockFree,
}

/// Removes the locks of processes on this host that are gone, each reported as a warning, and
/// returns the others. A lock that cannot be removed (read-only repository) is left in storage
/// but still not counted: its process is gone either way.
fn clear_dead(
    lr: &LeaseRepo,
    locks: Vec<LockInfo>,
    mine: &[u8; 16],
    events: &dyn Progress,
) -> Vec<LockInfo> {
    let (dead, rest): (Vec<_>, Vec<_>) = locks
        .into_iter()
        .partition(|o| &o.lease != mine && o.process_state() == ProcessState::Dead);
    for o in dead {
        let what = format!(
            "the lock of {}, whose process no longer exists",
            o.describe()
        );
        let message = match vger_storage::delete_if_present(lr.backend.as_ref(), &o.key) {
            Ok(_) => format!("removed {what}"),
            Err(e) => format!("ignored {what} (it could not be removed: {e})"),
        };
        events.event(Event::Warning(Warning {
            path: o.key.clone(),
            code: vger_types::ErrorCode::Locked,
            message,
        }));
    }
    rest
}

/// What a lease acquisition ended with.
enum Acquired {
    Held(Lease),
    /// A reader could not write its lock and no conflicting lease holds: it reads without one.
    LockFree,
}

impl Lease {
    /// Takes a lease, retrying with backoff for up to the configured wait.
    pub fn acquire(repo: &Repository, kind: LockKind, operation: &str) -> Result<Lease> {
        match Self::acquire_inner(repo, kind, operation, false)? {
            Acquired::Held(lease) => Ok(lease),
            Acquired::LockFree => Err(VgerError::Internal(
                "a writing operation went on without a lock".into(),
            )),
        }
    }

    /// Takes a shared lease for a reading operation, or none where the lock cannot be written (a
    /// read-only repository or a full disk): the reader then waits only while a conflicting lease
    /// holds, and reads without a lock, with a warning that states the risk.
    pub fn acquire_for_reading(repo: &Repository, operation: &str) -> Result<ReadLease> {
        Ok(
            match Self::acquire_inner(repo, LockKind::Shared, operation, true)? {
                Acquired::Held(lease) => ReadLease::Held(lease),
                Acquired::LockFree => ReadLease::LockFree,
            },
        )
    }

    fn acquire_inner(
        repo: &Repository,
        kind: LockKind,
        operation: &str,
        reading: bool,
    ) -> Result<Acquired> {
        let settings = repo.lease_settings();
        let events = repo.lock_events();
        let lr = Arc::new(LeaseRepo {
            backend: Arc::clone(repo.backend()),
            crypter: Arc::clone(repo.crypter()),
            repo_id: repo.config().id,
            ttl: settings.ttl,
        });
        let mut info = LockInfo {
            key: String::new(),
            lease: random_bytes(),
            kind,
            created_ns: now_ns(),
            expires_ns: 0,
            hostname: process::this_host(),
            pid: std::process::id(),
            operation: operation.to_string(),
            process: process::this_process(),
        };
        let started = Instant::now();
        let mut waiting = Waiting {
            started,
            deadline: started + settings.wait,
            reported: None,
            holder: None,
        };
        let mut delay = Duration::from_millis(50);
        loop {
            let unwritten = match lr.write(&mut info) {
                Ok(()) => None,
                Err(e) if reading && unwritable(&e) => Some(e),
                Err(e) => return Err(e),
            };
            let others = clear_dead(&lr, list_locks(repo)?, &info.lease, events);
            let Some(holder) = conflicting(kind, &info.lease, &others, now_ns()) else {
                if let Some(e) = unwritten {
                    events.event(Event::Warning(lock_free_warning(operation, &e)));
                    waiting.done(events);
                    return Ok(Acquired::LockFree);
                }
                if kind == LockKind::Exclusive {
                    // Stale locks of dead processes are debris; an exclusive holder clears them.
                    for o in others.iter().filter(|o| o.lease != info.lease) {
                        lr.remove(&o.key);
                    }
                }
                break;
            };
            if unwritten.is_none() {
                lr.remove(&info.key);
            }
            let now = Instant::now();
            if now >= waiting.deadline {
                return Err(VgerError::Locked {
                    holder: holder.describe(),
                });
            }
            waiting.report(holder, events);
            // Random jitter, so two clients that backed off at once do not retry in lockstep; the
            // last pause ends at the deadline, so the wait lasts as long as it was given.
            let jitter = u64::from(random_bytes::<1>()[0]) * delay.as_millis() as u64 / 255;
            let pause = (delay / 2 + Duration::from_millis(jitter)).min(waiting.deadline - now);
            waiting.sleep(pause, events);
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        waiting.done(events);
        let held = Arc::new(Mutex::new(Held {
            info,
            renewed: Instant::now(),
        }));
        let (stop, stopped) = bounded::<()>(1);
        let (t_repo, t_held) = (Arc::clone(&lr), Arc::clone(&held));
        let every = settings.ttl / 3;
        let thread = std::thread::Builder::new()
            .name("vger-lease".into())
            .spawn(move || {
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    // A failed renewal is noticed by `ensure` before the next critical step.
                    let _ = t_repo.renew(&t_held);
                }
            })
            .map_err(|e| VgerError::Internal(format!("cannot start the lease thread: {e}")))?;
        Ok(Acquired::Held(Lease {
            repo: lr,
            held,
            stop: Some(stop),
            thread: Some(thread),
        }))
    }

    /// Fencing: call before each critical step. Renews the lease now (three requests per pack on
    /// a remote repository; renewing only when the last renewal is a third of a lifetime old is
    /// held back, see below), then decides whether it still holds the repository:
    ///
    /// - If the lease never lapsed (renewed within its lifetime by this process's clocks, and
    ///   its lock object was still there), every other client that wrote a conflicting lock
    ///   since has seen this one live and is backing off: such locks are waiters, not holders.
    /// - If it lapsed (the process was paused, the machine slept, or `break-lock` removed the
    ///   object), another client may have taken the repository, and may have finished with it:
    ///   the operation stops writing (`VGER_LOCK_LOST`), naming a conflicting holder if any.
    pub fn ensure(&self, repo: &Repository) -> Result<()> {
        let (kind, lease, lapsed) = {
            let h = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            let age = h.renewed.elapsed();
            let expired = age >= self.repo.ttl || now_ns() > h.info.expires_ns;
            let present = self.repo.backend.size(&h.info.key)?.is_some();
            (h.info.kind, h.info.lease, expired || !present)
        };
        // Renewing at every fencing point is what the concurrency campaign was proven with; a
        // cheaper variant (renewing only when a third of the lifetime has passed) went with CI
        // failures of that campaign and is held back until they are understood.
        if !lapsed {
            return self.repo.renew(&self.held);
        }
        // A lapsed lease stops the operation even when nobody holds the repository now: a
        // compaction may have come and gone meanwhile, treating this operation's unindexed packs
        // as debris and deleting packs it deduplicated against. Committing after that would
        // reference data that is gone.
        let others = list_locks(repo)?;
        let why = match conflicts(kind, &lease, &others, now_ns()) {
            Some(holder) => format!("this operation's lease lapsed and {holder} now holds the repository"),
            None => "this operation's lease lapsed (the process was paused or its lock was removed); another client may have changed the repository meanwhile, so it stopped before writing more; run it again".to_string(),
        };
        Err(VgerError::LockLost(why))
    }

    pub fn info(&self) -> LockInfo {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .info
            .clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let key = self
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .info
            .key
            .clone();
        self.repo.remove(&key);
    }
}
