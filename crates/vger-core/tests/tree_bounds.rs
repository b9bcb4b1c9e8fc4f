//! docs/format.md §12.5 describes the decoder as it is (issue 11, item 10): the entry-count bound
//! is the smallest valid entry, so a tree of the smallest entries reads back.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

use vger_core::tree::{Content, Entry, Kind, decode, encode};

fn tiny(name: &[u8], kind: Kind) -> Entry {
    Entry {
        name: name.to_vec(),
        kind,
        mode: 0o010644,
        uid: 12345,
        gid: 12345,
        user: String::new(),
        group: String::new(),
        mtime_ns: 0,
        ctime_ns: 0,
        size: 0,
        xattrs: Vec::new(),
        holes: Vec::new(),
        content: if kind == Kind::File {
            Content::Chunks(Vec::new())
        } else {
            Content::None
        },
    }
}

#[test]
fn a_tree_of_the_smallest_entries_reads_back_and_the_format_doc_states_that_bound() {
    let mut entries: Vec<Entry> = (b'a'..=b'z').map(|c| tiny(&[c], Kind::Fifo)).collect();
    let plain = encode(&mut entries);
    // Version byte and entry count, then 26 entries of the smallest size.
    let smallest = (plain.len() - 5) / entries.len();
    assert_eq!((plain.len() - 5) % entries.len(), 0);
    assert_eq!(decode(&plain, "tree").unwrap().len(), 26);
    let mut files: Vec<Entry> = (b'a'..=b'z').map(|c| tiny(&[c], Kind::File)).collect();
    assert_eq!(decode(&encode(&mut files), "tree").unwrap().len(), 26);

    let doc = include_str!("../../../docs/format.md");
    let start = doc.find("### 12.5").unwrap();
    let section = &doc[start..start + doc[start..].find("\n## ").unwrap()];
    assert!(
        section.contains(&format!("at least {smallest} bytes")),
        "§12.5 must state the bound the decoder uses ({smallest} bytes):\n{section}"
    );
    assert!(
        !section.contains("defect to avoid"),
        "§12.5 describes the decoder as it is"
    );
}
