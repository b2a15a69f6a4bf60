//! Durability: snapshots, the write-ahead log, recovery, faults, crashes.

use std::collections::BTreeMap;
use std::sync::Arc;

use mwindex::{
    ChargerId, Durable, DurableOptions, Error, FaultyStorage, Index, OrgId, Query, SiteId, Timestamp, Window,
};

const DIR: &str = "/data";

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_700_000_000 + secs).expect("in range")
}

fn options(disk: &FaultyStorage) -> DurableOptions<u64, String> {
    DurableOptions::new()
        .index(Index::builder().write_buffer(8).organization(OrgId(1), None).organization(OrgId(2), Some(OrgId(1))))
        .storage(Arc::new(disk.clone()))
        .checkpoint_after_bytes(None)
}

fn open(disk: &FaultyStorage) -> Result<Durable<u64, String>, Error> {
    Durable::open(DIR, options(disk))
}

fn window(id: u64, start: i64, len: i64) -> Window<u64> {
    let w = Window::new(id, ts(start), ts(start + len), OrgId(1 + id % 2)).expect("valid");
    let w = if id.is_multiple_of(3) { w.with_charger(ChargerId(id % 7)) } else { w };
    if id.is_multiple_of(5) { w.with_site(SiteId(id % 4)) } else { w }
}

/// The windows of an index, by id, walking every page.
fn contents(index: &mwindex::SharedIndex<u64, String>) -> BTreeMap<u64, (Window<u64>, String)> {
    let mut out = BTreeMap::new();
    let mut q = Query::new().page_size(7);
    loop {
        let page = index.query(&q).expect("query");
        for e in page.items() {
            assert!(out.insert(e.window.id(), (e.window, e.payload.clone())).is_none(), "a window twice");
        }
        match page.next_cursor() {
            Some(c) => q = q.cursor(c),
            None => break,
        }
    }
    out
}

#[test]
fn a_reopened_index_has_every_write() {
    let disk = FaultyStorage::new();
    let durable = open(&disk).expect("open");
    for id in 0..100 {
        durable.insert(window(id, id as i64 * 60, 600), format!("job {id}")).expect("insert");
    }
    for id in (0..100).step_by(3) {
        durable.delete(id);
    }
    durable.upsert(window(1, 5, 50), "moved".into()).expect("upsert");
    let before = contents(&durable);
    durable.close().expect("close");
    let again = open(&disk).expect("reopen");
    assert_eq!(again.recovery().replayed, 100 + 34 + 1);
    assert_eq!(contents(&again), before);
    again.check_invariants().expect("invariants");
}

#[test]
fn a_checkpoint_is_loaded_and_the_log_after_it_replayed() {
    let disk = FaultyStorage::new();
    let durable = open(&disk).expect("open");
    for id in 0..300 {
        durable.insert(window(id, id as i64 * 60, 600), format!("job {id}")).expect("insert");
    }
    for id in (0..300).step_by(7) {
        durable.delete(id);
    }
    let checkpoint = durable.checkpoint().expect("checkpoint");
    assert_eq!(checkpoint.through, 300 + 43);
    for id in 300..320 {
        durable.insert(window(id, id as i64 * 60, 600), format!("job {id}")).expect("insert");
    }
    let before = contents(&durable);
    durable.close().expect("close");
    let again = open(&disk).expect("reopen");
    assert_eq!(again.recovery().snapshot, Some(343));
    assert_eq!(again.recovery().replayed, 20);
    assert_eq!(contents(&again), before);
    again.check_invariants().expect("invariants");
}
