//! Operation sequences against a naive model: inserts, upserts, deletes,
//! bulk loads, organization moves, queries, counts and page walks, applied
//! to the engine and to a map of windows, compared after every step, with
//! `check_invariants` after every write.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mwindex::{ChargerId, Index, OrgId, Query, Timestamp, Window};

#[derive(Arbitrary, Debug, Clone, Copy)]
struct W {
    id: u8,
    start: u16,
    len: u16,
    org: u8,
    charger: Option<u8>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Insert(W),
    Upsert(W),
    Delete(u8),
    Bulk(Vec<W>),
    Move { org: u8, parent: Option<u8> },
    Query { after: u16, span: u16, scope: Option<u8>, charger: Option<u8>, size: u8 },
    Walk { scope: Option<u8>, size: u8 },
}

const ORGS: u64 = 4;

fn org(o: u8) -> u64 {
    1 + u64::from(o) % ORGS
}

fn ts(v: i64) -> Timestamp {
    Timestamp::from_secs(v * 60).expect("in range")
}

fn window(w: &W) -> Window<u64> {
    let w2 = Window::new(
        u64::from(w.id),
        ts(i64::from(w.start)),
        ts(i64::from(w.start) + 1 + i64::from(w.len)),
        OrgId(org(w.org)),
    )
    .expect("positive length");
    match w.charger {
        Some(c) => w2.with_charger(ChargerId(u64::from(c % 8))),
        None => w2,
    }
}

struct Model {
    windows: BTreeMap<u64, (Window<u64>, u32)>,
    parent: BTreeMap<u64, Option<u64>>,
}

impl Model {
    fn within(&self, mut o: u64, root: u64) -> bool {
        for _ in 0..=ORGS {
            if o == root {
                return true;
            }
            match self.parent.get(&o).copied().flatten() {
                Some(p) => o = p,
                None => return false,
            }
        }
        false
    }

    fn matching(&self, after: Option<i64>, before: Option<i64>, scope: Option<u64>, charger: Option<u64>) -> Vec<u64> {
        let mut hits: Vec<(i64, u64)> = self
            .windows
            .values()
            .map(|(w, _)| w)
            .filter(|w| after.is_none_or(|a| w.end().as_micros() > ts(a).as_micros()))
            .filter(|w| before.is_none_or(|b| w.start().as_micros() < ts(b).as_micros()))
            .filter(|w| scope.is_none_or(|s| self.within(w.org().0, s)))
            .filter(|w| charger.is_none_or(|c| w.charger() == Some(ChargerId(c))))
            .map(|w| (w.start().as_micros(), w.id()))
            .collect();
        hits.sort_unstable();
        hits.into_iter().map(|(_, id)| id).collect()
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut index: Index<u64, u32> = Index::builder()
        .write_buffer(4)
        .inline_merge_rows(64)
        .organizations((1..=ORGS).map(|o| (OrgId(o), None)))
        .build()
        .expect("index");
    let mut model = Model { windows: BTreeMap::new(), parent: (1..=ORGS).map(|o| (o, None)).collect() };
    let mut payload = 0u32;
    for op in ops.iter().take(200) {
        payload += 1;
        match op {
            Op::Insert(w) => {
                let result = index.insert(window(w), payload);
                let id = u64::from(w.id);
                assert_eq!(result.is_ok(), !model.windows.contains_key(&id), "insert {w:?}");
                model.windows.entry(id).or_insert((window(w), payload));
            }
            Op::Upsert(w) => {
                let previous = index.upsert(window(w), payload).expect("upsert");
                let want = model.windows.insert(u64::from(w.id), (window(w), payload)).map(|(_, p)| p);
                assert_eq!(previous, want, "upsert {w:?}");
            }
            Op::Delete(id) => {
                let removed = index.delete(u64::from(*id)).map(|(w, p)| (w, p));
                assert_eq!(removed, model.windows.remove(&u64::from(*id)), "delete {id}");
            }
            Op::Bulk(ws) => {
                let batch: Vec<_> = ws.iter().take(64).map(|w| (window(w), payload)).collect();
                let mut ids: Vec<u64> = batch.iter().map(|(w, _)| w.id()).collect();
                ids.sort_unstable();
                let fresh =
                    ids.windows(2).all(|p| p[0] != p[1]) && ids.iter().all(|id| !model.windows.contains_key(id));
                let result = index.bulk_insert(batch.clone());
                assert_eq!(result.is_ok(), fresh, "bulk of {} windows", batch.len());
                if fresh {
                    for (w, p) in batch {
                        model.windows.insert(w.id(), (w, p));
                    }
                }
            }
            Op::Move { org: o, parent } => {
                let (o, p) = (org(*o), parent.map(org));
                let cycle = p.is_some_and(|p| model.within(p, o));
                let result = index.move_organization(OrgId(o), p.map(OrgId));
                assert_eq!(result.is_ok(), !cycle, "move {o} under {p:?}");
                if !cycle {
                    model.parent.insert(o, p);
                }
            }
            Op::Query { after, span, scope, charger, size } => {
                let (a, b) = (i64::from(*after), i64::from(*after) + 1 + i64::from(*span));
                let size = 1 + usize::from(*size % 50);
                let mut q = Query::new().overlapping(ts(a), ts(b)).page_size(size);
                if let Some(s) = scope {
                    q = q.scope(OrgId(org(*s)));
                }
                if let Some(c) = charger {
                    q = q.chargers([ChargerId(u64::from(*c % 8))]);
                }
                let want = model.matching(Some(a), Some(b), scope.map(org), charger.map(|c| u64::from(c % 8)));
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
        if matches!(op, Op::Insert(_) | Op::Upsert(_) | Op::Delete(_) | Op::Bulk(_) | Op::Move { .. }) {
            index.check_invariants().expect("invariants");
        }
        assert_eq!(index.len(), model.windows.len());
    }
});
