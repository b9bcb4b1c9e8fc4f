//! The `Store` class: a repository's storage without its keys (objects by key), for the REST
//! server (`vger server`), which stores what clients send through the engine's backends (a local
//! directory, S3, SFTP) and never holds a passphrase. Every call runs on Tokio's blocking pool.

use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, PromiseRaw};
use napi::{Env, Result};
use napi_derive::napi;
use vger_storage::Backend;
use vger_types::VgerError;

use crate::dto::BackendSettings;
use crate::job::run;

/// An object in a listing.
#[napi(object)]
pub struct StoredObject {
    pub key: String,
    pub size: f64,
    /// Seconds since the epoch, when the store keeps a modification time.
    pub modified: Option<f64>,
}

/// What `verifyPack` found.
#[napi(object)]
pub struct PackVerdict {
    pub key: String,
    /// The pack's BLAKE3 is its id.
    pub ok: bool,
    pub size: f64,
    /// Why not, when not ok.
    pub error: Option<String>,
}

/// One range of a repack: `length` bytes at `offset` of the pack `pack`.
#[napi(object)]
pub struct RepackRange {
    pub pack: String,
    pub offset: f64,
    pub length: f64,
}

/// The pack `assemble` stored.
#[napi(object)]
pub struct AssembledPack {
    pub key: String,
    pub size: f64,
    /// False when a pack with the same bytes was there already.
    pub created: bool,
}

/// A repository's storage, keyless.
#[napi]
pub struct Store {
    inner: Arc<dyn Backend>,
}

fn to_u64(v: f64, what: &str) -> vger_types::Result<u64> {
    if (0.0..=9_007_199_254_740_991.0).contains(&v) && v.fract() == 0.0 {
        Ok(v as u64)
    } else {
        Err(VgerError::invalid(format!(
            "{what} must be a whole number ≥ 0"
        )))
    }
}

/// The id a pack key names (its last component), or `VGER_INVALID_ARGUMENT`.
fn pack_id(key: &str) -> vger_types::Result<vger_types::ChunkId> {
    key.rsplit('/')
        .next()
        .and_then(vger_types::ChunkId::from_hex)
        .filter(|_| key.starts_with("packs/"))
        .ok_or_else(|| VgerError::invalid(format!("{key} is not a pack key")))
}

#[napi]
impl Store {
    /// Opens the storage at `url` (a local path, s3://, sftp://) with `settings`. Nothing is
    /// cached: a server serves what the store holds now.
    #[napi]
    pub fn open(
        env: &Env,
        url: String,
        settings: Option<BackendSettings>,
    ) -> Result<PromiseRaw<'_, Store>> {
        run(env, move || {
            let mut opts: vger_storage::BackendOptions = settings.unwrap_or_default().into();
            opts.metadata_cache = None;
            vger_storage::open_backend_with(&url, &opts).map(|b| Store {
                inner: Arc::from(b),
            })
        })
    }

    #[napi]
    pub fn get<'e>(&self, env: &'e Env, key: String) -> Result<PromiseRaw<'e, Buffer>> {
        let b = Arc::clone(&self.inner);
        run(env, move || b.get(&key).map(Buffer::from))
    }

    /// `len` bytes at `offset`; fewer when the object ends first.
    #[napi]
    pub fn get_range<'e>(
        &self,
        env: &'e Env,
        key: String,
        offset: f64,
        len: f64,
    ) -> Result<PromiseRaw<'e, Buffer>> {
        let b = Arc::clone(&self.inner);
        run(env, move || {
            let (offset, len) = (to_u64(offset, "offset")?, to_u64(len, "length")?);
            b.get_range(&key, offset, len).map(Buffer::from)
        })
    }

    /// Creates `key` holding `data`, atomically; an existing key is `VGER_ALREADY_EXISTS`.
    #[napi]
    pub fn put_new<'e>(
        &self,
        env: &'e Env,
        key: String,
        data: Buffer,
    ) -> Result<PromiseRaw<'e, ()>> {
        let b = Arc::clone(&self.inner);
        let data = data.to_vec();
        run(env, move || b.put_new(&key, &data))
    }

    /// Creates the pack `key` (`packs/<xx>/<id>`) holding `data` once its BLAKE3 is checked
    /// against `<id>` (off the JS thread): bytes that do not hash to their name are
    /// `VGER_CORRUPT` and nothing is written; an existing key is `VGER_ALREADY_EXISTS`.
    #[napi]
    pub fn put_pack<'e>(
        &self,
        env: &'e Env,
        key: String,
        data: Buffer,
    ) -> Result<PromiseRaw<'e, ()>> {
        let b = Arc::clone(&self.inner);
        let data = data.to_vec();
        run(env, move || {
            let id = pack_id(&key)?;
            if blake3::hash(&data).as_bytes() != &id.0 {
                return Err(VgerError::Corrupt {
                    object: key,
                    detail: "the bytes do not hash to the pack's id".into(),
                });
            }
            b.put_new(&key, &data)
        })
    }

    /// Builds the pack `head ‖ ranges ‖ tail` from packs the store holds, each checked against
    /// its id first (a damaged one is `VGER_CORRUPT`, a missing one `VGER_OBJECT_MISSING`, a
    /// range outside its pack `VGER_INVALID_ARGUMENT`), and stores it under the key of its hash.
    #[napi]
    pub fn assemble<'e>(
        &self,
        env: &'e Env,
        head: Buffer,
        ranges: Vec<RepackRange>,
        tail: Buffer,
    ) -> Result<PromiseRaw<'e, AssembledPack>> {
        let b = Arc::clone(&self.inner);
        let (head, tail) = (head.to_vec(), tail.to_vec());
        run(env, move || {
            let ranges = ranges
                .into_iter()
                .map(|r| {
                    Ok(vger_storage::SourceRange {
                        offset: to_u64(r.offset, "offset")?,
                        length: to_u64(r.length, "length")?,
                        pack: r.pack,
                    })
                })
                .collect::<vger_types::Result<Vec<_>>>()?;
            let done = vger_storage::assemble_here(b.as_ref(), &head, &ranges, &tail)?;
            Ok(AssembledPack {
                key: done.key,
                size: done.size as f64,
                created: done.created,
            })
        })
    }

    /// Every object under `prefix` (empty: all), sorted by key.
    #[napi]
    pub fn list<'e>(
        &self,
        env: &'e Env,
        prefix: String,
    ) -> Result<PromiseRaw<'e, Vec<StoredObject>>> {
        let b = Arc::clone(&self.inner);
        run(env, move || {
            let listed = if prefix.is_empty() {
                let mut all = Vec::new();
                for p in [
                    "config",
                    "keys",
                    "packs",
                    "index",
                    "snapshots",
                    "locks",
                    "pending",
                ] {
                    if p == "config" {
                        if let Some(size) = b.size("config")? {
                            all.push(vger_storage::ObjectMeta {
                                key: "config".into(),
                                size,
                                modified: None,
                            });
                        }
                        continue;
                    }
                    all.extend(b.list_meta(p)?);
                }
                all
            } else {
                b.list_meta(&prefix)?
            };
            Ok(listed
                .into_iter()
                .map(|m| StoredObject {
                    key: m.key,
                    size: m.size as f64,
                    modified: m
                        .modified
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs() as f64),
                })
                .collect())
        })
    }

    /// The size of `key`, or null when it does not exist.
    #[napi]
    pub fn size<'e>(&self, env: &'e Env, key: String) -> Result<PromiseRaw<'e, Option<f64>>> {
        let b = Arc::clone(&self.inner);
        run(env, move || Ok(b.size(&key)?.map(|s| s as f64)))
    }

    /// Removes `key`; a missing one is `VGER_OBJECT_MISSING`.
    #[napi]
    pub fn delete<'e>(&self, env: &'e Env, key: String) -> Result<PromiseRaw<'e, ()>> {
        let b = Arc::clone(&self.inner);
        run(env, move || b.delete(&key))
    }

    /// Prepares an empty location for a repository.
    #[napi]
    pub fn create<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, ()>> {
        let b = Arc::clone(&self.inner);
        run(env, move || b.create())
    }

    /// Reads a pack and compares its BLAKE3 with the id its key names (no keys needed).
    #[napi]
    pub fn verify_pack<'e>(
        &self,
        env: &'e Env,
        key: String,
    ) -> Result<PromiseRaw<'e, PackVerdict>> {
        let b = Arc::clone(&self.inner);
        run(env, move || {
            let id = pack_id(&key)?;
            let verdict = match b.get(&key) {
                Ok(bytes) => {
                    let ok = blake3::hash(&bytes).as_bytes() == &id.0;
                    PackVerdict {
                        key,
                        ok,
                        size: bytes.len() as f64,
                        error: (!ok).then(|| "the bytes do not hash to the pack's id".to_string()),
                    }
                }
                Err(VgerError::ObjectMissing { .. }) => PackVerdict {
                    key,
                    ok: false,
                    size: 0.0,
                    error: Some("missing".into()),
                },
                Err(e) => return Err(e),
            };
            Ok(verdict)
        })
    }
}
