//! `init`: writes the key file, then the config (see below). Nothing else is needed before a
//! first backup. Two `init` racing on one location: exactly one succeeds; the other leaves
//! nothing of its own behind and fails with `VGER_REPO_EXISTS`.

use vger_crypto::{Algorithm, IdKeys, KdfParams, MasterKey, random_bytes, wrap_master_key};
use vger_storage::{BackendOptions, open_backend_with};
use vger_types::{Result, VgerError};

use crate::repo::config::{ChunkerParams, RepoConfig};
use crate::repo::key_context;

#[derive(Debug, Clone)]
pub struct InitOptions {
    pub url: String,
    pub passphrase: Option<String>,
    pub algorithm: Algorithm,
    pub chunker: ChunkerParams,
    pub kdf: KdfParams,
    /// Endpoint, credentials and retries of a remote store.
    pub backend: BackendOptions,
    /// The id and chunker keys of another repository (`Repository::id_keys`), so that `copy`
    /// between the two moves only missing blobs; pass that repository's chunker parameters too.
    pub id_keys: Option<IdKeys>,
}

pub fn init(opts: &InitOptions) -> Result<RepoConfig> {
    opts.chunker.check()?;
    let passphrase = match (opts.algorithm, opts.passphrase.as_deref()) {
        (Algorithm::None, _) => None,
        (_, None) => return Err(VgerError::PassphraseRequired),
        (_, Some("")) => return Err(VgerError::invalid("the passphrase must not be empty")),
        (_, Some(p)) => Some(p.as_bytes()),
    };
    let backend = open_backend_with(&opts.url, &opts.backend)?;
    if !backend.is_empty()? {
        let what = if backend.size("config")?.is_some() {
            "a repository"
        } else {
            "other files"
        };
        return Err(VgerError::RepoExists {
            url: format!("{} ({what} found there)", opts.url),
        });
    }
    backend.create()?;
    let config = RepoConfig {
        id: random_bytes(),
        algorithm: opts.algorithm,
        chunker: opts.chunker,
        created_ns: crate::clock::now_ns(),
    };
    let config_bytes = config.encode();
    let master = match &opts.id_keys {
        Some(ids) => MasterKey::generate_with(ids),
        None => MasterKey::generate(),
    };
    let key = wrap_master_key(
        &master,
        passphrase,
        opts.kdf,
        &key_context(&config_bytes, &config.id),
    )?;
    // The key goes first: a crash between the two writes leaves no `config`, so the location is
    // not mistaken for a repository without a key.
    let key_name = format!("keys/{}", hex::encode(random_bytes::<8>()));
    backend.put_new(&key_name, &key)?;
    // `config` is created only if absent, so of two `init` racing on one location exactly one
    // writes it; the other removes its own key (and nothing else) and reports the repository.
    match backend.put_new("config", &config_bytes) {
        Ok(()) => Ok(config),
        Err(e) => {
            let _ = backend.delete(&key_name);
            Err(match e {
                VgerError::AlreadyExists { .. } => VgerError::RepoExists {
                    url: format!("{} (another `vger init` created it meanwhile)", opts.url),
                },
                e => e,
            })
        }
    }
}
