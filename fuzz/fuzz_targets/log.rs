//! Log recovery from arbitrary bytes: a typed error or a valid index,
//! never a panic. The first byte chooses whether the checksums are fixed up
//! first, so that mutations also reach the record decoding and replay.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    // Named by the first record its header claims, as the log names it.
    common::open_bytes(data, common::fix_log, |first| format!("wal-{first:020}.log"), 1);
});
