//! Operation sequences against a naive model: inserts, upserts, deletes,
//! bulk loads, organization moves, queries, counts and page walks, applied
//! to the engine and to a map of windows, compared after every step, with
//! `check_invariants` after every write.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mwindex::{Index, OrgId, Query};

#[path = "model.rs"]
mod model;
use model::{Ask, Model, ORGS, Write, org};

#[derive(Arbitrary, Debug)]
enum Op {
    Write(Write),
    Query(Ask),
    Walk { scope: Option<u8>, size: u8 },
}

fuzz_target!(|ops: Vec<Op>| {
    let mut index: Index<u64, u32> = Index::builder()
        .write_buffer(4)
        .inline_merge_rows(64)
        .organizations((1..=ORGS).map(|o| (OrgId(o), None)))
        .build()
        .expect("index");
    let mut model = Model::new();
    let mut payload = 0u32;
    for op in ops.iter().take(200) {
        payload += 1;
        match op {
            Op::Write(write) => {
                model.write(&mut index, write, payload);
                index.check_invariants().expect("invariants");
            }
            Op::Query(ask) => {
                let (q, want, size) = (ask.query(), ask.want(&model), ask.size());
                let page = index.query(&q).expect("query");
                let got: Vec<u64> = page.items().iter().map(|e| e.window.id()).collect();
                assert_eq!(got, want[..want.len().min(size)], "query {op:?}");
                assert_eq!(page.has_next(), want.len() > size);
                assert_eq!(index.count(&q).expect("count"), want.len() as u64, "count {op:?}");
            }
            Op::Walk { scope, size } => {
                let mut q = Query::new().page_size(1 + usize::from(*size % 50));
                if let Some(s) = scope {
                    q = q.scope(OrgId(org(*s)));
                }
                let mut got = Vec::new();
                loop {
                    let page = index.query(&q).expect("page");
                    got.extend(page.items().iter().map(|e| e.window.id()));
                    match page.next_cursor() {
                        Some(c) => q = q.cursor(c),
                        None => break,
                    }
                }
                assert_eq!(got, model.matching(None, None, scope.map(org), None), "walk {op:?}");
            }
        }
        assert_eq!(index.len(), model.windows.len());
    }
});
