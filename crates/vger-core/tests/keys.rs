//! Several passphrases for one repository: add, list, remove; the key in use cannot be removed.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

mod common;

use common::*;
use vger_core::{Algorithm, ErrorCode, KdfParams, Repository};

fn fast() -> KdfParams {
    KdfParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    }
}

#[test]
fn keys_are_added_listed_and_removed_but_never_the_one_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let repo = new_repo(dir.path(), Algorithm::Aes256Gcm);
    let url = repo_url(dir.path());
    let first = repo.list_keys().unwrap();
    assert_eq!(first.len(), 1);
    assert!(first[0].current);

    let id = repo.add_key("recovery passphrase", fast()).unwrap();
    let keys = repo.list_keys().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().any(|k| k.id == id && !k.current));
    // Both passphrases open it.
    let by_recovery = Repository::open(&url, Some("recovery passphrase")).unwrap();
    assert!(Repository::open(&url, Some(PASS)).is_ok());
    assert!(
        by_recovery
            .list_keys()
            .unwrap()
            .iter()
            .any(|k| k.id == id && k.current)
    );

    // The key in use cannot go; another can, by a prefix of its id.
    let err = repo.remove_key(&first[0].id).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    assert!(
        err.to_string().contains("opened the repository with"),
        "{err}"
    );
    assert_eq!(
        by_recovery.remove_key(&first[0].id[..6]).unwrap(),
        first[0].id
    );
    assert_eq!(
        Repository::open(&url, Some(PASS)).err().unwrap().code(),
        ErrorCode::WrongPassphrase
    );
    assert_eq!(by_recovery.list_keys().unwrap().len(), 1);
    // Unknown and empty ids are refused.
    assert_eq!(
        by_recovery.remove_key("ffff").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        by_recovery.remove_key("").unwrap_err().code(),
        ErrorCode::InvalidArgument
    );
    assert!(by_recovery.add_key("", fast()).is_err());
}
