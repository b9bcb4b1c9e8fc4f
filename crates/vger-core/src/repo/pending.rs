//! Deferred deletions: `pending/<32 hex random>` objects, sealed (kind Pending). A compaction that
//! runs beside readers (backups, restores, checks) must not delete a pack one of them may still
//! read or reference, so it records the packs it retired together with the leases that were live
//! when its new index took effect; a later compaction deletes them once none of those leases is
//! live any more, and never a pack the index (by then perhaps extended by a backup that
//! re-indexed what it deduplicated against) still names.
//!
//! Plaintext: `u8 version (1) ‖ created ns i64 ‖ u32 lease count ‖ lease ids (16 each) ‖
//! u32 key count ‖ per key: u32 length ‖ storage key (under `packs/`)`.

use std::collections::HashSet;

use vger_crypto::random_bytes;
use vger_storage::delete_if_present;
use vger_types::codec::{Reader, Writer};
use vger_types::{Result, VgerError};

use super::Repository;
use super::context::{ObjectKind, context};
use super::lock::{LockInfo, list_locks};
use super::pack;
use crate::clock::now_ns;

const VERSION: u8 = 1;
const PREFIX: &str = "pending";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub created_ns: i64,
    /// Leases live when the packs were retired: the packs stay until none of them is.
    pub leases: Vec<[u8; 16]>,
    /// Storage keys of the retired packs.
    pub packs: Vec<String>,
}

impl Pending {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(VERSION)
            .i64(self.created_ns)
            .u32(self.leases.len() as u32);
        for l in &self.leases {
            w.raw(l);
        }
        w.u32(self.packs.len() as u32);
        for k in &self.packs {
            w.str(k);
        }
        w.finish()
    }

    pub fn decode(key: &str, plain: &[u8]) -> Result<Self> {
        let what = format!("pending deletion {key}");
        let mut r = Reader::new(plain, &what);
        let v = r.u8()?;
        if v > VERSION {
            return Err(VgerError::NewerFormat {
                object: what,
                found: v.into(),
                supported: VERSION.into(),
            });
        }
        let created_ns = r.i64()?;
        let n = r.count(16)?;
        let mut leases = Vec::with_capacity(n);
        for _ in 0..n {
            leases.push(r.array()?);
        }
        let n = r.count(4)?;
        let mut packs = Vec::with_capacity(n);
        for _ in 0..n {
            let k = r.string(512)?;
            if !k.starts_with("packs/") || vger_storage::validate_key(&k).is_err() {
                return Err(VgerError::corrupt(
                    &what,
                    "it names an object that is not a pack",
                ));
            }
            packs.push(k);
        }
        r.finish()?;
        Ok(Pending {
            created_ns,
            leases,
            packs,
        })
    }
}

fn object_id(key: &str) -> Option<[u8; 16]> {
    let h = key.strip_prefix("pending/")?;
    let mut out = [0u8; 16];
    hex::decode_to_slice(h, &mut out).ok()?;
    Some(out)
}

/// The ids of the live leases other than `mine`, of any kind.
pub fn live_leases(repo: &Repository, mine: &[u8; 16]) -> Result<Vec<LockInfo>> {
    let now = now_ns();
    Ok(list_locks(repo)?
        .into_iter()
        .filter(|l| &l.lease != mine && l.holds(now))
        .collect())
}

/// Records packs to delete once the given leases are gone.
pub fn record(repo: &Repository, leases: Vec<[u8; 16]>, packs: Vec<String>) -> Result<()> {
    let id = random_bytes::<16>();
    let key = format!("{PREFIX}/{}", hex::encode(id));
    let p = Pending {
        created_ns: now_ns(),
        leases,
        packs,
    };
    let sealed = repo.crypter().seal(
        &context(ObjectKind::Pending, &repo.config().id, &id),
        &p.encode(),
    );
    repo.backend().put_new(&key, &sealed)
}

/// The readable pending records with their keys, and the keys of unreadable ones.
pub type Records = (Vec<(String, Pending)>, Vec<String>);

/// Every pending record: the readable ones with their keys, and the keys of unreadable ones
/// (left alone: an object that cannot be authenticated never causes a deletion).
pub fn list(repo: &Repository) -> Result<Records> {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for key in repo.backend().list(PREFIX)? {
        let opened = object_id(&key).and_then(|id| {
            let bytes = repo.backend().get(&key).ok()?;
            let plain = repo.crypter().open(
                &context(ObjectKind::Pending, &repo.config().id, &id),
                &bytes,
            )?;
            Pending::decode(&key, &plain).ok()
        });
        match opened {
            Some(p) => ok.push((key, p)),
            None => bad.push(key),
        }
    }
    Ok((ok, bad))
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub packs_deleted: u64,
    /// Retired packs the index names again (kept; a later compaction treats them as any pack).
    pub packs_kept: u64,
    /// Records still waiting for a lease to end.
    pub waiting: u64,
}

/// Deletes the packs of every record whose leases have all ended, except packs the index (as
/// stored now) names. Call under a maintenance or exclusive lease (`mine`).
pub fn sweep(repo: &Repository, mine: &[u8; 16]) -> Result<Swept> {
    let mut out = Swept::default();
    let (records, _unreadable) = list(repo)?;
    if records.is_empty() {
        return Ok(out);
    }
    let live: HashSet<[u8; 16]> = live_leases(repo, mine)?.iter().map(|l| l.lease).collect();
    let mut ready = Vec::new();
    for (key, p) in records {
        if p.leases.iter().any(|l| live.contains(l)) {
            out.waiting += 1;
        } else {
            ready.push((key, p));
        }
    }
    if ready.is_empty() {
        return Ok(out);
    }
    // The leases are gone, so whatever they re-indexed is in storage now: read the index after
    // looking at the leases.
    repo.reload_index()?;
    let named: HashSet<String> = repo.index().packs().iter().map(pack::key).collect();
    for (key, p) in ready {
        for k in &p.packs {
            if named.contains(k) {
                out.packs_kept += 1;
            } else if delete_if_present(repo.backend().as_ref(), k)? {
                out.packs_deleted += 1;
            }
        }
        delete_if_present(repo.backend().as_ref(), &key)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hostile() {
        let p = Pending {
            created_ns: 7,
            leases: vec![[1; 16], [2; 16]],
            packs: vec![format!("packs/ab/{}", "cd".repeat(32))],
        };
        assert_eq!(Pending::decode("pending/x", &p.encode()).unwrap(), p);
        let bad = Pending {
            packs: vec!["snapshots/x".into()],
            ..p.clone()
        };
        assert!(Pending::decode("pending/x", &bad.encode()).is_err());
        let bad = Pending {
            packs: vec!["packs/../config".into()],
            ..p
        };
        assert!(Pending::decode("pending/x", &bad.encode()).is_err());
        assert!(Pending::decode("pending/x", &[1, 0, 0]).is_err());
        assert!(Pending::decode("pending/x", &[9]).is_err());
    }
}
