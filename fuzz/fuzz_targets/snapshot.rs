//! Snapshot loading from arbitrary bytes: a typed error or a valid index,
//! never a panic. The first byte chooses whether the checksums are fixed up
//! first, so that mutations also reach the archive and segment checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        common::fix_snapshot(&mut bytes);
    }
    // Named by the log record its header claims, as checkpoints name it.
    let seq = bytes.get(16..24).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    common::open_with(&format!("snapshot-{seq:020}.rkyv"), &bytes);
});
