//! The repository's key files (`keys/<id>`): each wraps the one master key under its own
//! passphrase, so several people (or an offline recovery passphrase) can open one repository.
//! Adding writes a new key file; removing deletes one other than the key this repository was
//! opened with, so at least that one always remains; changing the passphrase is adding a key and
//! then removing the one in use.

use std::sync::PoisonError;
use std::time::SystemTime;

use vger_crypto::{Algorithm, KdfParams, random_bytes, wrap_master_key};
use vger_types::{Result, VgerError};

use super::{Repository, key_context};

/// One key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The file name under `keys/` (16 hex digits for keys vger wrote).
    pub id: String,
    /// Whether this repository was opened with it.
    pub current: bool,
    /// When it was written, where the store keeps modification times.
    pub modified: Option<SystemTime>,
}

const PREFIX: &str = "keys/";

impl Repository {
    /// Every key file, the one in use marked.
    pub fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let current = self.current_key();
        let mut keys: Vec<KeyInfo> = self
            .backend
            .list_meta("keys")?
            .into_iter()
            .filter(|m| !m.key.contains("/.tmp."))
            .map(|m| KeyInfo {
                id: m.key.trim_start_matches(PREFIX).to_string(),
                current: m.key == current,
                modified: m.modified,
            })
            .collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(keys)
    }

    /// Writes a key file for another passphrase; returns its id. The passphrases that open the
    /// repository now still do.
    pub fn add_key(&self, passphrase: &str, kdf: KdfParams) -> Result<String> {
        self.encrypted()?;
        if passphrase.is_empty() {
            return Err(VgerError::invalid("the passphrase must not be empty"));
        }
        let ctx = key_context(&self.config_bytes, &self.config.id);
        let key = wrap_master_key(&self.master, Some(passphrase.as_bytes()), kdf, &ctx)?;
        let id = hex::encode(random_bytes::<8>());
        self.backend.put_new(&format!("{PREFIX}{id}"), &key)?;
        Ok(id)
    }

    /// Removes the key file `id` (or the one key whose id starts with it); returns its full id.
    /// The key this repository was opened with cannot be removed: open it with another key's
    /// passphrase to remove it (or use `change_passphrase`).
    pub fn remove_key(&self, id: &str) -> Result<String> {
        self.encrypted()?;
        let keys = self.list_keys()?;
        let matches: Vec<&KeyInfo> = keys.iter().filter(|k| k.id.starts_with(id)).collect();
        let key = match (id.is_empty(), matches.as_slice()) {
            (false, [one]) => *one,
            (false, []) | (true, _) => {
                return Err(VgerError::invalid(format!(
                    "no key {id:?}; list them with `vger key list`"
                )));
            }
            (false, _) => {
                return Err(VgerError::invalid(format!(
                    "{id:?} names {} keys; give more of the id",
                    matches.len()
                )));
            }
        };
        if key.current {
            return Err(VgerError::invalid(format!(
                "key {} is the one this command opened the repository with; open it with another key's passphrase to remove it, or change this passphrase with `vger key change-passphrase`",
                key.id
            )));
        }
        self.backend.delete(&format!("{PREFIX}{}", key.id))?;
        Ok(key.id.clone())
    }

    /// Re-wraps the master key under a new passphrase: the new key file is written first, then
    /// the one this repository was opened with is removed, so a crash in between leaves both
    /// passphrases working and never neither. Other key files are left alone.
    pub fn change_passphrase(&self, new: &str, kdf: KdfParams) -> Result<()> {
        let id = self.add_key(new, kdf)?;
        let mut current = self.key_name.lock().unwrap_or_else(PoisonError::into_inner);
        self.backend.delete(&current)?;
        *current = format!("{PREFIX}{id}");
        Ok(())
    }

    fn current_key(&self) -> String {
        self.key_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn encrypted(&self) -> Result<()> {
        if self.config.algorithm == Algorithm::None {
            return Err(VgerError::invalid(
                "this repository is not encrypted (mode none), so it has no passphrase",
            ));
        }
        Ok(())
    }
}
