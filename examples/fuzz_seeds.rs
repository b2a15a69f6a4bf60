//! Writes the fuzz targets' seed corpora (real inputs: cursors this index
//! issued, a snapshot and a log it wrote) into `fuzz/corpus/`.
//!
//! ```text
//! cargo run --example fuzz_seeds
//! ```

use std::path::Path;
use std::sync::Arc;

use mwindex::{Durable, DurableOptions, FaultyStorage, Index, Order, OrgId, Query, Storage, Timestamp, Window};

#[path = "../fuzz/fuzz_targets/cursor_index.rs"]
mod cursor_index;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus dir");
    std::fs::write(dir.join(name), bytes).expect("seed");
}

fn main() {
    // Cursors of the cursor target's index (the same file builds it).
    let index = cursor_index::build();
    for (k, (scope, by_id)) in [(0u8, false), (0, true), (1, false), (3, true)].into_iter().enumerate() {
        let order = if by_id { Order::Id } else { Order::StartThenId };
        let q = Query::new().scope(OrgId(1 + u64::from(scope))).order(order).page_size(10);
        let page = index.query(&q).expect("page");
        if let Some(c) = page.next_cursor() {
            let mut seed = vec![scope, u8::from(by_id), 9];
            seed.extend_from_slice(c.as_bytes());
            write("cursor", &format!("seed-{k}"), &seed);
        }
    }
    // A snapshot and a log of a small durable index.
    let disk = FaultyStorage::new();
    let options = DurableOptions::<u64, String>::new()
        .index(Index::builder().write_buffer(8).organization(OrgId(1), None))
        .storage(Arc::new(disk.clone()))
        .checkpoint_after_bytes(None);
    let d = Durable::open("/seed", options).expect("open");
    for id in 0..30u64 {
        let s = Timestamp::from_secs(id as i64 * 60).expect("t");
        let e = Timestamp::from_secs(id as i64 * 60 + 600).expect("t");
        d.upsert(Window::new(id, s, e, OrgId(1)).expect("w"), format!("window {id}")).expect("write");
    }
    d.delete(3);
    d.compact();
    d.checkpoint().expect("checkpoint");
    for id in 30..40u64 {
        let s = Timestamp::from_secs(id as i64 * 60).expect("t");
        let e = Timestamp::from_secs(id as i64 * 60 + 600).expect("t");
        d.insert(Window::new(id, s, e, OrgId(1)).expect("w"), format!("later {id}")).expect("write");
    }
    d.close().expect("close");
    for name in disk.list(Path::new("/seed")).expect("list") {
        let bytes = disk.read(&Path::new("/seed").join(&name)).expect("read");
        let target = if name.starts_with("snapshot-") {
            "snapshot"
        } else if name.starts_with("wal-") && bytes.len() > 32 {
            "log"
        } else {
            continue;
        };
        for mode in [0u8, 1] {
            let mut seed = vec![mode];
            seed.extend_from_slice(&bytes);
            write(target, &format!("seed-{name}-{mode}"), &seed);
        }
    }
    println!("seeds written to fuzz/corpus");
}
