//! Snapshot loading from arbitrary bytes: a typed error or a valid index,
//! never a panic. The first byte chooses whether the checksums are fixed up
//! first, so that mutations also reach the archive and segment checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // Named by the log record its header claims, as checkpoints name it.
    common::open_bytes(data, common::fix_snapshot, |seq| format!("snapshot-{seq:020}.rkyv"), 0);
});
