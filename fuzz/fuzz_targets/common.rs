//! Shared by the file targets: a disk holding one file, and a fix-up of
#![allow(dead_code)] // each target uses a part of it
//! checksums so that mutations reach the parsers behind them.

use std::path::Path;
use std::sync::Arc;

use mwindex::{Durable, DurableOptions, FaultyStorage, Index, OrgId, Query, Status, Storage, Timestamp, Window};

pub const DIR: &str = "/fuzz";

/// The file targets' input: the first byte of `data` chooses whether `fix`
/// recomputes the checksums of the rest, so that mutations also reach the
/// parsers behind them; the file is named by the number its header holds
/// at bytes 16..24 (`or` when too short), as mwindex names its files, and
/// opened with [`open_with`].
pub fn open_bytes(data: &[u8], fix: fn(&mut [u8]), name: fn(u64) -> String, or: u64) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        fix(&mut bytes);
    }
    let number = bytes.get(16..24).map_or(or, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    open_with(&name(number), &bytes);
}

/// Opens a directory holding `name` with `bytes`, twice: as by default
/// (a typed error, or an index that answers queries and page walks without
/// a panic) and with `verify` (a typed error, or an index that passes
/// `check_invariants`, before and after writes and a merge on top of it).
/// A log alone is always checked: replay builds every structure itself.
pub fn open_with(name: &str, bytes: &[u8]) {
    if let Ok(d) = Durable::open(DIR, options(name, bytes, false)) {
        exercise(&d);
        if name.starts_with("wal-") {
            d.check_invariants().expect("a replayed log makes a valid index");
        }
    }
    if let Ok(d) = Durable::open(DIR, options(name, bytes, true)) {
        d.check_invariants().expect("a verified open makes a valid index");
        exercise(&d);
        d.compact();
        d.check_invariants().expect("writes on a verified index keep it valid");
    }
}

fn options(name: &str, bytes: &[u8], verify: bool) -> DurableOptions<u64, String> {
    let disk = FaultyStorage::new();
    let path = Path::new(DIR).join(name);
    let mut f = disk.create(&path).expect("create");
    f.append(bytes).expect("append");
    f.sync().expect("sync");
    disk.sync_dir(Path::new(DIR)).expect("sync dir");
    DurableOptions::<u64, String>::new()
        .index(Index::builder().write_buffer(8).organization(OrgId(1), None))
        .storage(Arc::new(disk))
        .checkpoint_after_bytes(None)
        .verify(verify)
}

/// Walks every page, counts, and writes: an insert, a move of the first
/// window found, a delete.
fn exercise(d: &Durable<u64, String>) {
    let mut q = Query::new().page_size(7);
    let mut first = None;
    for _ in 0..1_000 {
        let Ok(page) = d.query(&q) else { break };
        first = first.or(page.items().first().map(|e| e.window));
        match page.next_cursor() {
            Some(c) => q = q.cursor(c),
            None => break,
        }
    }
    let _ = d.count(&Query::new().status(Status::Active, Timestamp::from_secs(600).expect("t")));
    let t = |s| Timestamp::from_secs(s).expect("t");
    let _ = d.insert(Window::new(u64::MAX - 1, t(60), t(120), OrgId(1)).expect("w"), "new".into());
    if let Some(w) = first {
        if let Ok(moved) = Window::new(w.id(), t(7_200), t(9_000), w.org()) {
            let _ = d.upsert(moved, "moved".into());
        }
        let _ = d.delete(w.id());
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
