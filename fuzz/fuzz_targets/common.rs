//! Shared by the file targets: a disk holding one file, and a fix-up of
#![allow(dead_code)] // each target uses a part of it
//! checksums so that mutations reach the parsers behind them.

use std::path::Path;
use std::sync::Arc;

use mwindex::{Durable, DurableOptions, FaultyStorage, Index, OrgId, Storage};

pub const DIR: &str = "/fuzz";

/// Opens a directory holding `name` with `bytes`: a typed error, or an
/// index that answers queries and page walks without a panic.
///
/// Not yet asserted: that every index opened passes `check_invariants`. A
/// snapshot with valid checksums but invented derived structures (a radix
/// directory or a posting list that disagrees with the rows) still loads;
/// loading checks bounds, orders and the id index, not every structure
/// against the rows (issue 16 notes what remains).
pub fn open_with(name: &str, bytes: &[u8]) {
    let disk = FaultyStorage::new();
    let path = Path::new(DIR).join(name);
    let mut f = disk.create(&path).expect("create");
    f.append(bytes).expect("append");
    f.sync().expect("sync");
    disk.sync_dir(Path::new(DIR)).expect("sync dir");
    let options = DurableOptions::<u64, String>::new()
        .index(Index::builder().write_buffer(8).organization(OrgId(1), None))
        .storage(Arc::new(disk))
        .checkpoint_after_bytes(None);
    if let Ok(d) = Durable::open(DIR, options) {
        let mut q = mwindex::Query::new().page_size(7);
        for _ in 0..1_000 {
            let Ok(page) = d.query(&q) else { break };
            match page.next_cursor() {
                Some(c) => q = q.cursor(c),
                None => break,
            }
        }
        let _ = d.count(
            &mwindex::Query::new().status(mwindex::Status::Active, mwindex::Timestamp::from_secs(600).expect("t")),
        );
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Recomputes a snapshot's header and block checksums where the bytes
/// allow.
pub fn fix_snapshot(b: &mut [u8]) {
    if b.len() >= 64 {
        let crc = crc32c::crc32c(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
    }
    let mut at = 64;
    while at + 16 <= b.len() {
        let len = le_u64(b, at + 8);
        let Some(end) = usize::try_from(len).ok().and_then(|l| (at + 16).checked_add(l)).filter(|&e| e <= b.len())
        else {
            return;
        };
        let crc = crc32c::crc32c(&b[at + 16..end]);
        b[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        at = end.next_multiple_of(16);
    }
}

/// Recomputes a log segment's header and record checksums where the bytes
/// allow.
pub fn fix_log(b: &mut [u8]) {
    if b.len() >= 32 {
        let crc = crc32c::crc32c(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
    }
    let mut at = 32;
    while at + 20 <= b.len() {
        let len = le_u32(b, at) as usize;
        let end = at + 20 + len;
        if end <= b.len() {
            let crc = crc32c::crc32c(&b[at + 20..end]);
            b[at + 12..at + 16].copy_from_slice(&crc.to_le_bytes());
        }
        let head = crc32c::crc32c(&b[at..at + 16]);
        b[at + 16..at + 20].copy_from_slice(&head.to_le_bytes());
        if end > b.len() {
            return;
        }
        at = end;
    }
}
