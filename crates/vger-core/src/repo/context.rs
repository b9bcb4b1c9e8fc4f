//! The context of a sealed object: `"vger/2" ‖ kind ‖ repository id ‖ object id`. Each object's
//! key is derived from it and it is the associated data, so no object can be replayed as another
//! object, another kind, or into another repository.

use vger_crypto::BlobKind;

#[derive(Debug, Clone, Copy)]
pub enum ObjectKind {
    DataBlob = 1,
    TreeBlob = 2,
    PackTrailer = 3,
    IndexSegment = 4,
    Snapshot = 5,
    Lock = 6,
    Pending = 7,
}

impl From<BlobKind> for ObjectKind {
    fn from(k: BlobKind) -> Self {
        match k {
            BlobKind::Data => ObjectKind::DataBlob,
            BlobKind::Tree => ObjectKind::TreeBlob,
        }
    }
}

pub fn context(kind: ObjectKind, repo_id: &[u8; 32], object_id: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(7 + 32 + object_id.len());
    c.extend_from_slice(b"vger/2");
    c.push(kind as u8);
    c.extend_from_slice(repo_id);
    c.extend_from_slice(object_id);
    c
}
