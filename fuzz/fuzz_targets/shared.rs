//! The shared handle against the model: writes through the handle (with
//! background builds or without, as the input says), pinned views that
//! answer as the model did when they were taken, and consistent page walks
//! interleaved with writes, each page checked exactly against the model at
//! the version it names. At most two versions stay pinned, so walks also
//! meet expiry and go on by key from the latest version.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mwindex::{Consistency, OrgId, PinPolicy, PinnedView, Query, SharedIndex};

#[path = "model.rs"]
mod model;
use model::{Ask, Model, ORGS, Write, org};

#[derive(Arbitrary, Debug)]
enum Op {
    Write(Write),
    Pin,
    Unpin(u8),
    ViewQuery(u8, Ask),
    ViewWalk { view: u8, size: u8 },
    Start { scope: Option<u8>, size: u8 },
    Next(u8),
    Compact,
}

/// A consistent walk under way: the model of the version its pages read,
/// and the (start, id) of the last window it returned.
struct Walk {
    query: Query<u64>,
    scope: Option<u64>,
    size: usize,
    cursor: String,
    model: Model,
    version: u64,
    last: (i64, u64),
}

/// The ids of the model's windows in the scope after `last`, in order.
fn after(model: &Model, scope: Option<u64>, last: Option<(i64, u64)>) -> Vec<(i64, u64)> {
    model
        .matching(None, None, scope, None)
        .into_iter()
        .map(|id| (model.windows[&id].0.start().as_micros(), id))
        .filter(|&k| last.is_none_or(|l| k > l))
        .collect()
}

fuzz_target!(|input: (bool, Vec<Op>)| {
    let (background, ops) = input;
    let mut index: SharedIndex<u64, u32> = SharedIndex::builder()
        .write_buffer(4)
        .inline_merge_rows(64)
        .background_builds(background)
        .organizations((1..=ORGS).map(|o| (OrgId(o), None)))
        .pins(PinPolicy { ttl: Duration::from_secs(3_600), max_pins: 2 })
        .build_shared()
        .expect("index");
    let mut model = Model::new();
    let mut views: Vec<(PinnedView<u64, u32>, Model)> = Vec::new();
    let mut walks: Vec<Walk> = Vec::new();
    let mut payload = 0u32;
    for op in ops.iter().take(200) {
        payload += 1;
        match op {
            Op::Write(write) => {
                model.write(&mut index, write, payload);
                index.check_invariants().expect("invariants");
                assert!(index.pinned() <= 2, "pins over the cap");
            }
            Op::Pin if views.len() < 4 => views.push((index.view(), model.clone())),
            Op::Unpin(k) if !views.is_empty() => drop(views.remove(usize::from(*k) % views.len())),
            Op::ViewQuery(k, ask) if !views.is_empty() => {
                let (view, then) = &views[usize::from(*k) % views.len()];
                let (q, want, size) = (ask.query(), ask.want(then), ask.size());
                let page = view.query(&q).expect("view query");
                let got: Vec<u64> = page.items().iter().map(|e| e.window.id()).collect();
                assert_eq!(got, want[..want.len().min(size)], "view query {ask:?}");
                assert_eq!(view.count(&q).expect("count"), want.len() as u64, "view count {ask:?}");
            }
            Op::ViewWalk { view, size } if !views.is_empty() => {
                let (view, then) = &views[usize::from(*view) % views.len()];
                let mut q = Query::new().page_size(1 + usize::from(*size % 50));
                let mut got = Vec::new();
                loop {
                    let page = view.query(&q).expect("view page");
                    got.extend(page.items().iter().map(|e| e.window.id()));
                    match page.next_cursor() {
                        Some(c) => q = q.cursor(c),
                        None => break,
                    }
                }
                assert_eq!(got, then.matching(None, None, None, None), "view walk");
            }
            Op::Start { scope, size } if walks.len() < 4 => {
                let (scope, size) = (scope.map(org), 1 + usize::from(*size % 50));
                let mut query = Query::new().page_size(size).consistent(true);
                if let Some(s) = scope {
                    query = query.scope(OrgId(s));
                }
                let page = index.query(&query).expect("first page");
                assert_eq!(page.version(), index.version(), "a first page reads the latest version");
                let want = after(&model, scope, None);
                let got: Vec<u64> = page.items().iter().map(|e| e.window.id()).collect();
                let ids: Vec<u64> = want.iter().take(size).map(|k| k.1).collect();
                assert_eq!(got, ids, "first page");
                assert_eq!(page.has_next(), want.len() > size);
                if let (Some(c), Some(&last)) = (page.next_cursor(), want.get(size - 1)) {
                    walks.push(Walk {
                        query,
                        scope,
                        size,
                        cursor: c.to_owned(),
                        model: model.clone(),
                        version: page.version(),
                        last,
                    });
                }
            }
            Op::Next(k) if !walks.is_empty() => {
                let at = usize::from(*k) % walks.len();
                let walk = &mut walks[at];
                let page = index.query(&walk.query.clone().cursor(walk.cursor.as_str())).expect("next page");
                match page.consistency() {
                    Consistency::Pinned => assert_eq!(page.version(), walk.version, "a pinned page's version"),
                    Consistency::Expired => {
                        // Read at the latest version, by key, and pinned
                        // from here on.
                        assert_eq!(page.version(), index.version());
                        walk.model = model.clone();
                        walk.version = page.version();
                    }
                    other => panic!("a consistent walk read a page {other:?}"),
                }
                let want = after(&walk.model, walk.scope, Some(walk.last));
                let got: Vec<u64> = page.items().iter().map(|e| e.window.id()).collect();
                let ids: Vec<u64> = want.iter().take(walk.size).map(|k| k.1).collect();
                assert_eq!(got, ids, "page of a walk at version {}", walk.version);
                assert_eq!(page.has_next(), want.len() > walk.size);
                match (page.next_cursor(), want.get(walk.size - 1)) {
                    (Some(c), Some(&last)) => {
                        walk.cursor = c.to_owned();
                        walk.last = last;
                    }
                    _ => drop(walks.remove(at)),
                }
            }
            Op::Compact => index.compact(),
            _ => {}
        }
        assert_eq!(index.len(), model.windows.len());
    }
    for (view, then) in &views {
        view.check_invariants().expect("a pinned view's invariants");
        assert_eq!(view.len(), then.windows.len());
    }
    index.check_invariants().expect("invariants at the end");
});
