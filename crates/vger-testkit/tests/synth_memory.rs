//! Memory that stays flat as the repository grows (issue 18 item 5): a repository whose index
//! lists one million blobs (made by `vger-synth`, without their data) is opened and backed up
//! with the index as a memory-mapped table, and the peak resident memory (VmHWM) of each
//! operation, each in its own process, stays well below the 48 bytes per blob an index held in
//! memory needs (46 MiB here), while the same operations with the index in memory exceed it.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "in a test, a failed unwrap or a panic is a failed test"
)]

use std::process::Command;

const ENTRIES: u64 = 1_000_000;
const MIB: u64 = 1024;

/// Runs `vger-synth ARGS` and returns the VmHWM it printed, in KiB.
fn synth(args: &[&str]) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_vger-synth"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vger-synth {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout
        .split("\"vm_hwm_kib\":")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next())
        .and_then(|n| n.parse().ok());
    v.unwrap_or_else(|| panic!("no vm_hwm_kib in {stdout}"))
}

#[test]
fn a_million_blob_index_costs_little_resident_memory_when_mapped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("synth");
    let d = dir.to_str().unwrap();
    // 1,000 sparse source files of 20 chunks; the file cache names them as unchanged.
    synth(&["gen", d, &ENTRIES.to_string(), "1000", "20"]);
    let open = synth(&["open", d]); // gen built the table
    synth(&["backup", d]); // stores the source's trees
    let rebackup = synth(&["backup", d]);
    let new_data = synth(&["new-data", d, "32"]);
    let rebackup_in_memory = synth(&["backup", d, "--in-memory"]);
    let new_data_in_memory = synth(&["new-data", d, "32", "--in-memory"]);
    eprintln!(
        "VmHWM KiB: open {open}; unchanged re-backup {rebackup} \
         (index in memory: {rebackup_in_memory}); 32 MiB of new data {new_data} (index in \
         memory: {new_data_in_memory})"
    );
    let per_blob_kib = ENTRIES * 48 / 1024;
    assert!(open < 24 * MIB, "open: {open} KiB");
    assert!(rebackup < 40 * MIB, "unchanged re-backup: {rebackup} KiB");
    assert!(
        rebackup_in_memory >= rebackup + per_blob_kib,
        "the bound shows the table: {rebackup_in_memory} vs {rebackup} KiB"
    );
    assert!(
        new_data + per_blob_kib <= new_data_in_memory,
        "new data: {new_data} vs {new_data_in_memory} KiB"
    );
}
