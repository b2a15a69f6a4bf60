//! Log recovery from arbitrary bytes: a typed error or a valid index,
//! never a panic. The first byte chooses whether the checksums are fixed up
//! first, so that mutations also reach the record decoding and replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        common::fix_log(&mut bytes);
    }
    // Named by the first record its header claims, as the log names it.
    let first = bytes.get(16..24).map_or(1, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    common::open_with(&format!("wal-{first:020}.log"), &bytes);
});
