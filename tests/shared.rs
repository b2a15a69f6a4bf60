//! The shared index under concurrency, checked against a `Vec` oracle
//! replayed to exactly the version each result names.
//!
//! Writers log every write with the version it made; readers log what they
//! saw with the version it was read at (pinned views, consistent walks) or
//! the versions it spanned (walks by key). After the threads end, the writes
//! are replayed in version order and every logged result is checked at its
//! version. A watchdog fails the run on a stall of 5 seconds.

// A test that unwraps states what it expects; a failure names the line.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mwindex::{
    ChargerId, Consistency, Index, Mutation, OrgId, PinPolicy, PinnedView, Query, SharedIndex, SiteId, Status,
    Timestamp, Window,
};

/// splitmix64: a deterministic stream per seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const MINUTE: i64 = 60_000_000;
/// Windows start within this many minutes.
const SPAN: u64 = 20_000;
/// Organizations: 1 is the root, 2..=4 its children, 5..=10 grandchildren.
const ORGS: [(u64, Option<u64>); 10] = [
    (1, None),
    (2, Some(1)),
    (3, Some(1)),
    (4, Some(1)),
    (5, Some(2)),
    (6, Some(2)),
    (7, Some(3)),
    (8, Some(3)),
    (9, Some(4)),
    (10, Some(4)),
];

fn ts(micros: i64) -> Timestamp {
    Timestamp::from_micros(micros).unwrap()
}

/// A random window with id `id`.
fn window(rng: &mut Rng, id: u64) -> Window<u64> {
    let start = rng.below(SPAN) as i64 * MINUTE;
    let len = match rng.below(10) {
        0 => (1 + rng.below(3_000)) as i64 * MINUTE,
        _ => (1 + rng.below(120)) as i64 * MINUTE,
    };
    let org = 1 + rng.below(ORGS.len() as u64);
    let w = Window::new(id, ts(start), ts(start + len), OrgId(org)).unwrap();
    if rng.below(4) == 0 { w } else { w.with_charger(ChargerId(rng.below(40))) }
}

/// A query as this test asks it: time, status, charger and scope filters.
#[derive(Clone, Debug)]
struct Q {
    overlap: Option<(i64, i64)>,
    status: Option<(Status, i64)>,
    chargers: Option<Vec<u64>>,
    scope: Option<u64>,
    page_size: usize,
}

impl Q {
    fn query(&self) -> Query<u64> {
        let mut q = Query::new().page_size(self.page_size);
        if let Some((a, b)) = self.overlap {
            q = q.overlapping(ts(a), ts(b));
        }
        if let Some((st, now)) = self.status {
            q = q.status(st, ts(now));
        }
        if let Some(c) = &self.chargers {
            q = q.chargers(c.iter().map(|&c| ChargerId(c)));
        }
        if let Some(o) = self.scope {
            q = q.scope(OrgId(o));
        }
        q
    }
}

/// A random query.
fn query(rng: &mut Rng) -> Q {
    let t = rng.below(SPAN) as i64 * MINUTE;
    let mut q = Q { overlap: None, status: None, chargers: None, scope: None, page_size: 1 + rng.below(20) as usize };
    match rng.below(4) {
        0 => q.overlap = Some((t, t + (1 + rng.below(2_000)) as i64 * MINUTE)),
        1 => q.status = Some(([Status::Active, Status::Upcoming, Status::Past][rng.below(3) as usize], t)),
        _ => {}
    }
    if rng.below(3) == 0 {
        q.chargers = Some((0..1 + rng.below(3)).map(|_| rng.below(40)).collect());
    }
    if rng.below(3) == 0 {
        q.scope = Some(1 + rng.below(ORGS.len() as u64));
    }
    q
}

/// The oracle: windows by id, with the version that last changed each.
#[derive(Default)]
struct Oracle {
    windows: HashMap<u64, (Window<u64>, u32)>,
    changed: HashMap<u64, u64>,
}

impl Oracle {
    fn within(org: u64, root: u64) -> bool {
        let mut o = Some(org);
        while let Some(x) = o {
            if x == root {
                return true;
            }
            o = ORGS.iter().find(|(id, _)| *id == x).and_then(|(_, p)| *p);
        }
        false
    }

    fn matches(w: &Window<u64>, q: &Q) -> bool {
        let (s, e) = (w.start().as_micros(), w.end().as_micros());
        q.overlap.is_none_or(|(a, b)| e > a && s < b)
            && q.status.is_none_or(|(st, now)| match st {
                Status::Active => s <= now && now < e,
                Status::Upcoming => now < s,
                Status::Past => e <= now,
                _ => unreachable!("a status this test does not ask"),
            })
            && q.chargers.as_ref().is_none_or(|c| w.charger().is_some_and(|x| c.contains(&x.0)))
            && q.scope.is_none_or(|root| Self::within(w.org().0, root))
    }

    /// Ids matching `q`, in `(start, id)` order.
    fn answer(&self, q: &Q) -> Vec<u64> {
        let mut hits: Vec<&Window<u64>> =
            self.windows.values().map(|(w, _)| w).filter(|w| Self::matches(w, q)).collect();
        hits.sort_by_key(|w| (w.start(), w.id()));
        hits.iter().map(|w| w.id()).collect()
    }

    fn apply(&mut self, version: u64, m: &Mutation<u64, u32>) {
        let put = |w: &Window<u64>, p: u32, o: &mut Self| {
            o.windows.insert(w.id(), (*w, p));
            o.changed.insert(w.id(), version);
        };
        match m {
            Mutation::Insert { window, payload } | Mutation::Upsert { window, payload } => put(window, *payload, self),
            Mutation::UpsertAll(all) | Mutation::Bulk(all) => {
                for (w, p) in all {
                    put(w, *p, self);
                }
            }
            Mutation::Delete(id) => {
                if self.windows.remove(id).is_some() {
                    self.changed.insert(*id, version);
                }
            }
            _ => unreachable!("this test does not change organizations"),
        }
    }
}

/// What a reader saw.
enum Seen {
    /// A whole walk and a count, at one version (a pinned view, or a
    /// consistent walk through the handle).
    At { version: u64, query: Q, ids: Vec<u64>, count: Option<u64> },
    /// A walk by key whose pages read versions `first..=last`.
    Spanning { first: u64, last: u64, query: Q, ids: Vec<u64> },
}

/// Fails the process if `progress` stops moving for 5 seconds while `done`
/// is unset: a deadlock or a stall.
fn watchdog(progress: Arc<AtomicU64>, done: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let (mut last, mut since) = (progress.load(Ordering::Relaxed), Instant::now());
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            let now = progress.load(Ordering::Relaxed);
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > Duration::from_secs(5) {
                eprintln!("watchdog: no progress for 5 s (deadlock or stall)");
                std::process::abort();
            }
        }
    })
}

/// Walks every page of `q` on `view`.
fn walk_view(view: &PinnedView<u64, u32>, q: &Query<u64>) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut q = q.clone();
    loop {
        let page = view.query(&q).unwrap();
        ids.extend(page.items().iter().map(|e| e.window.id()));
        match page.next_cursor() {
            Some(c) => q = q.cursor(c),
            None => return ids,
        }
    }
}

fn shared(initial: usize, seed: u64, pins: PinPolicy) -> (SharedIndex<u64, u32>, Oracle) {
    let mut rng = Rng(seed);
    let windows: Vec<(Window<u64>, u32)> = (0..initial as u64).map(|id| (window(&mut rng, id), id as u32)).collect();
    let mut builder = Index::builder().write_buffer(32).inline_merge_rows(512).pins(pins);
    for (id, parent) in ORGS {
        builder = builder.organization(OrgId(id), parent.map(OrgId));
    }
    let index = builder.build_shared_from(windows.clone()).unwrap();
    let mut oracle = Oracle::default();
    oracle.apply(index.version(), &Mutation::Bulk(windows));
    (index, oracle)
}

#[test]
fn readers_and_writers_agree_with_the_oracle_at_every_version() {
    const WRITERS: u64 = 2;
    const READERS: u64 = 3;
    const WRITES: u64 = 2_500;
    const READS: u64 = 150;
    let (index, mut oracle) = shared(3_000, 1, PinPolicy::default());
    let start = index.version();
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let dog = watchdog(Arc::clone(&progress), Arc::clone(&done));
    let writes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (index, writes, progress) = (index.clone(), Arc::clone(&writes), Arc::clone(&progress));
            s.spawn(move || {
                let mut rng = Rng(100 + w);
                let mut fresh = 1_000_000 * (w + 1);
                for n in 0..WRITES {
                    let old = rng.below(4_000);
                    let m = match rng.below(10) {
                        0..=3 => Mutation::Upsert { window: window(&mut rng, old), payload: n as u32 },
                        4 | 5 => Mutation::Delete(old),
                        6 | 7 => {
                            fresh += 1;
                            Mutation::Insert { window: window(&mut rng, fresh), payload: n as u32 }
                        }
                        8 => Mutation::UpsertAll(
                            (0..5)
                                .map(|k| {
                                    let id = rng.below(4_000);
                                    (window(&mut rng, id), (n + k) as u32)
                                })
                                .collect(),
                        ),
                        _ => Mutation::Bulk(
                            (0..8)
                                .map(|_| {
                                    fresh += 1;
                                    (window(&mut rng, fresh), n as u32)
                                })
                                .collect(),
                        ),
                    };
                    let (_, version) = index.apply_versioned(m.clone()).unwrap();
                    // Read-your-writes: any read that starts now sees it.
                    assert!(index.version() >= version && index.view().version() >= version);
                    writes.lock().unwrap().push((version, m));
                    progress.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for r in 0..READERS {
            let (index, seen, progress) = (index.clone(), Arc::clone(&seen), Arc::clone(&progress));
            s.spawn(move || {
                let mut rng = Rng(200 + r);
                let mut last_version = 0;
                for n in 0..READS {
                    let q = query(&mut rng);
                    let record = match n % 3 {
                        0 => {
                            let view = index.view();
                            assert!(view.version() >= last_version, "versions went back");
                            last_version = view.version();
                            if n % 30 == 0 {
                                view.check_invariants().unwrap();
                            }
                            let count = view.count(&q.query()).unwrap();
                            Seen::At {
                                version: view.version(),
                                ids: walk_view(&view, &q.query()),
                                count: Some(count),
                                query: q,
                            }
                        }
                        1 => {
                            let consistent = q.query().consistent(true);
                            let (mut ids, mut version, mut page_q) = (Vec::new(), None, consistent.clone());
                            loop {
                                let page = index.query(&page_q).unwrap();
                                assert_eq!(page.consistency(), Consistency::Pinned);
                                assert_eq!(*version.get_or_insert(page.version()), page.version());
                                ids.extend(page.items().iter().map(|e| e.window.id()));
                                match page.next_cursor() {
                                    Some(c) => page_q = consistent.clone().cursor(c),
                                    None => break,
                                }
                            }
                            Seen::At { version: version.unwrap_or(0), query: q, ids, count: None }
                        }
                        _ => {
                            let (mut ids, mut first, mut last, mut page_q) = (Vec::new(), None, 0, q.query());
                            loop {
                                let page = index.query(&page_q).unwrap();
                                assert_eq!(page.consistency(), Consistency::Latest);
                                assert!(page.version() >= last, "a later page read an older version");
                                first.get_or_insert(page.version());
                                last = page.version();
                                ids.extend(page.items().iter().map(|e| e.window.id()));
                                match page.next_cursor() {
                                    Some(c) => page_q = q.query().cursor(c),
                                    None => break,
                                }
                            }
                            Seen::Spanning { first: first.unwrap_or(0), last, query: q, ids }
                        }
                    };
                    seen.lock().unwrap().push(record);
                    progress.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    done.store(true, Ordering::Relaxed);
    dog.join().unwrap();
    index.check_invariants().unwrap();

    // Replay the writes in version order; check each result at its version.
    let mut writes = std::mem::take(&mut *writes.lock().unwrap());
    writes.sort_by_key(|(v, _)| *v);
    let versions: Vec<u64> = writes.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, (start + 1..=index.version()).collect::<Vec<_>>(), "every write made one version");
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let mut by_version: HashMap<u64, Vec<&Seen>> = HashMap::new();
    for s in &seen {
        let v = match s {
            Seen::At { version, .. } => *version,
            Seen::Spanning { last, .. } => *last,
        };
        by_version.entry(v).or_default().push(s);
    }
    let mut checked = 0;
    let check = |oracle: &Oracle, at: &[&Seen], checked: &mut usize| {
        for s in at {
            *checked += 1;
            match s {
                Seen::At { version, query, ids, count } => {
                    let want = oracle.answer(query);
                    assert_eq!(ids, &want, "walk at version {version} of {query:?}");
                    if let Some(c) = count {
                        assert_eq!(*c, want.len() as u64, "count at version {version} of {query:?}");
                    }
                }
                Seen::Spanning { first, last, query, ids } => {
                    // In order, and every window unchanged through the walk
                    // is returned exactly once.
                    let key = |id: &u64| oracle.windows.get(id).map(|(w, _)| (w.start(), *id));
                    let stable: HashSet<u64> = oracle
                        .answer(query)
                        .into_iter()
                        .filter(|id| oracle.changed.get(id).is_none_or(|&v| v <= *first))
                        .collect();
                    let mut times: HashMap<u64, usize> = HashMap::new();
                    for id in ids {
                        *times.entry(*id).or_default() += 1;
                    }
                    for id in &stable {
                        let n = times.get(id).copied().unwrap_or(0);
                        assert_eq!(n, 1, "window {id} unchanged through versions {first}..={last} seen {n} times");
                    }
                    let unchanged: Vec<(Timestamp, u64)> =
                        ids.iter().filter(|id| stable.contains(id)).filter_map(key).collect();
                    assert!(unchanged.windows(2).all(|p| p[0] < p[1]), "walk by key out of order");
                }
            }
        }
    };
    check(&oracle, by_version.get(&start).map_or(&[][..], Vec::as_slice), &mut checked);
    for (version, m) in &writes {
        oracle.apply(*version, m);
        check(&oracle, by_version.get(version).map_or(&[][..], Vec::as_slice), &mut checked);
    }
    assert_eq!(checked, seen.len(), "every result was checked at its version");
    assert_eq!(index.len(), oracle.windows.len());
}

#[test]
fn a_pinned_view_answers_the_same_after_10_000_writes_and_a_merge() {
    let (index, _) = shared(20_000, 7, PinPolicy::default());
    let mut rng = Rng(8);
    let queries: Vec<Query<u64>> = (0..40).map(|_| query(&mut rng).query()).collect();
    let view = index.view();
    let answer = |view: &PinnedView<u64, u32>| -> Vec<(Vec<u64>, Vec<u32>, u64)> {
        queries
            .iter()
            .map(|q| {
                let ids = walk_view(view, q);
                let payloads = ids.iter().map(|&id| *view.get(id).unwrap().payload).collect();
                (ids, payloads, view.count(q).unwrap())
            })
            .collect()
    };
    let before = answer(&view);
    for n in 0..10_000u32 {
        let id = rng.below(25_000);
        match rng.below(3) {
            0 => drop(index.delete(id)),
            _ => drop(index.upsert(window(&mut rng, id), n).unwrap()),
        }
    }
    index.compact();
    assert_eq!(answer(&view), before);
    view.check_invariants().unwrap();
    index.check_invariants().unwrap();
    assert!(index.retained_bytes(&view) > 0, "the view holds segments the index replaced");
    assert_ne!(index.view().count(&Query::new()).unwrap(), view.count(&Query::new()).unwrap());
}

#[test]
fn compact_merges_everything_into_one_segment_while_a_writer_goes_on() {
    let (index, _) = shared(20_000, 11, PinPolicy::default());
    let mut rng = Rng(12);
    for n in 0..3_000u32 {
        let id = rng.below(25_000);
        match rng.below(3) {
            0 => drop(index.delete(id)),
            _ => drop(index.upsert(window(&mut rng, id), n).unwrap()),
        }
    }
    let before = index.explain(&Query::new()).unwrap();
    assert!(before.segments > 1, "the writes left several segments: {before:?}");
    // A writer runs throughout the compaction; every write is checked
    // against a map of what it wrote.
    let stop = AtomicBool::new(false);
    let written = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut rng = Rng(13);
            let mut wrote: HashMap<u64, Option<u32>> = HashMap::new();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) || n < 500 {
                let id = rng.below(25_000);
                if rng.below(4) == 0 {
                    index.delete(id);
                    wrote.insert(id, None);
                } else {
                    index.upsert(window(&mut rng, id), 1_000_000 + n).unwrap();
                    wrote.insert(id, Some(1_000_000 + n));
                }
                n += 1;
            }
            wrote
        });
        index.compact();
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap()
    });
    index.check_invariants().unwrap();
    for (id, payload) in &written {
        assert_eq!(index.get(*id).map(|e| e.payload), *payload, "window {id}");
    }
    index.compact();
    let after = index.explain(&Query::new()).unwrap();
    assert_eq!((after.segments, after.buffered), (1, 0));
    index.check_invariants().unwrap();
    assert_eq!(index.count(&Query::new()).unwrap(), index.len() as u64);
}

/// Walks `q` consistently through the handle and returns the ids with each
/// page's consistency.
fn walk_consistent(index: &SharedIndex<u64, u32>, q: &Q, mut pause: impl FnMut()) -> Vec<(Vec<u64>, Consistency)> {
    let q = q.query().consistent(true);
    let mut pages = Vec::new();
    let mut page_q = q.clone();
    loop {
        let page = index.query(&page_q).unwrap();
        pages.push((page.items().iter().map(|e| e.window.id()).collect(), page.consistency()));
        match page.next_cursor() {
            Some(c) => page_q = q.clone().cursor(c),
            None => return pages,
        }
        pause();
    }
}

#[test]
fn expired_pins_fall_back_to_keyset_paging() {
    let (index, oracle) = shared(500, 3, PinPolicy { ttl: Duration::from_millis(1), max_pins: 8 });
    let q = Q { overlap: None, status: None, chargers: None, scope: None, page_size: 40 };
    let pages = walk_consistent(&index, &q, || std::thread::sleep(Duration::from_millis(5)));
    assert_eq!(pages[0].1, Consistency::Pinned);
    assert!(pages.len() > 2 && pages[1..].iter().all(|(_, c)| *c == Consistency::Expired));
    // No write happened: by key, the walk is still exactly the answer.
    let ids: Vec<u64> = pages.into_iter().flat_map(|(ids, _)| ids).collect();
    assert_eq!(ids, oracle.answer(&q));
    index.expire_pins();
    assert_eq!(index.pinned(), 0);
}

#[test]
fn pins_never_exceed_their_cap() {
    let (index, _) = shared(500, 4, PinPolicy { ttl: Duration::from_secs(600), max_pins: 3 });
    let q = Query::new().page_size(10).consistent(true);
    let mut cursors = Vec::new();
    for n in 0..8u32 {
        let page = index.query(&q).unwrap();
        assert_eq!(page.consistency(), Consistency::Pinned);
        cursors.push((page.version(), page.next_cursor().unwrap().to_string()));
        assert!(index.pinned() <= 3);
        // A write between walks: each walk pins a version of its own.
        index.upsert(window(&mut Rng(u64::from(n)), u64::from(n)), n).unwrap();
    }
    assert_eq!(index.pinned(), 3);
    // Newest walks first: an expired walk's next page pins the latest
    // version, which may take the place of another walk's pin.
    for (k, (version, cursor)) in cursors.iter().enumerate().rev() {
        let page = index.query(&q.clone().cursor(cursor.as_str())).unwrap();
        if k < 5 {
            assert_eq!(page.consistency(), Consistency::Expired, "walk {k} was dropped for newer ones");
        } else {
            assert_eq!((page.consistency(), page.version()), (Consistency::Pinned, *version));
        }
        assert!(index.pinned() <= 3);
    }
    index.check_invariants().unwrap();
}

#[test]
fn a_consistent_walk_sees_a_window_that_moved_once() {
    let (index, oracle) = shared(300, 5, PinPolicy::default());
    let q = Q { overlap: None, status: None, chargers: None, scope: None, page_size: 7 };
    let want = oracle.answer(&q);
    let mut moved = want.clone();
    let mut rng = Rng(11);
    let pages = walk_consistent(&index, &q, || {
        // Move the first and last windows of the answer to the other end.
        for id in [moved.remove(0), moved.pop().unwrap()] {
            let w = oracle.windows[&id].0;
            let len = w.end().as_micros() - w.start().as_micros();
            let start = if rng.below(2) == 0 { 0 } else { (SPAN as i64 + 10) * MINUTE };
            let to = Window::new(id, ts(start), ts(start + len), w.org()).unwrap();
            index.upsert(to, 0).unwrap();
            moved.push(id);
        }
    });
    assert!(pages.iter().all(|(_, c)| *c == Consistency::Pinned));
    let ids: Vec<u64> = pages.into_iter().flat_map(|(ids, _)| ids).collect();
    assert_eq!(ids, want, "the walk saw the moment it began");
    let now: Vec<u64> =
        index.query(&Query::new().page_size(50)).unwrap().items().iter().map(|e| e.window.id()).collect();
    assert_ne!(now[..], want[..now.len()], "the windows did move meanwhile");
}

/// Compile-time: everything a shared index hands out crosses threads.
#[test]
fn handles_views_pages_and_cursors_are_send_and_sync() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<SharedIndex<u64, String>>();
    send_sync::<PinnedView<u64, String>>();
    send_sync::<mwindex::OwnedPage<u64, String>>();
    send_sync::<mwindex::OwnedEntry<u64, String>>();
    send_sync::<Query<u64>>();
    send_sync::<mwindex::CursorKey>();
}

/// Regression: a change of the segment list that installed a merge and then
/// started another (one `maintain`) gave the new merge the pending kills of
/// whichever segment now had its old number: a killed row came back in the
/// output (a window counted twice, then an id twice in one segment). Kills
/// are now found by their segment's data.
#[test]
fn regression_merges_take_the_pending_kills_of_their_own_inputs() {
    let t = |m: i64| Timestamp::from_secs(m * 60).unwrap();
    for seed in 0..2u64 {
        let index: Index<u64, u32> = Index::builder()
            .organization(OrgId(1), None)
            .write_buffer(32)
            .build_from((0..20_000u64).map(|i| (Window::new(i, t(i as i64), t(i as i64 + 5), OrgId(1)).unwrap(), 0)))
            .unwrap();
        let shared = SharedIndex::from(index);
        let mut rng = Rng(seed);
        for n in 0..10_000u32 {
            let id = rng.below(25_000);
            let s = rng.below(5_000) as i64;
            if rng.below(3) == 0 {
                shared.delete(id);
            } else {
                shared.upsert(Window::new(id, t(s), t(s + 3), OrgId(1)).unwrap(), n).unwrap();
            }
            if n % 500 == 0 {
                shared.check_invariants().unwrap();
            }
        }
        shared.compact();
        shared.check_invariants().unwrap();
    }
}

/// Found by the shared-handle fuzz target: `compact` settled the merge
/// policy while deletes were still kills, not yet in the tombstones; when
/// the build thread then moved them in, segments shrank below what the
/// policy had seen, and a run due for a merge was left unmerged while the
/// policy counted as settled (the invariant "segments outside merges are
/// geometric" failed). Moving kills into tombstones now marks the policy
/// unsettled, and the next change of the segment list merges the run.
#[test]
fn regression_kills_moved_into_tombstones_run_the_merge_policy_again() {
    let t = |m: i64| Timestamp::from_secs(m * 60).unwrap();
    let w = |id: u64| Window::new(id, t(id as i64), t(id as i64 + 5), OrgId(1)).unwrap();
    let shared: SharedIndex<u64, u32> =
        SharedIndex::builder().organization(OrgId(1), None).write_buffer(8).build_shared().unwrap();
    // One segment of 40 windows, then one of 8 beside it (8 * 4 < 40).
    shared.bulk_insert((0..40).map(|id| (w(id), 0))).unwrap();
    for id in 100..108 {
        shared.insert(w(id), 0).unwrap();
    }
    shared.compact();
    // Twelve deletes from the large segment (kills, moved into its
    // tombstones on the build thread from four on) leave it 28 live rows:
    // the small one now makes a run with it (8 * 4 >= 28).
    for id in 0..12 {
        shared.delete(id);
    }
    shared.compact();
    for id in 200..204 {
        std::thread::sleep(Duration::from_millis(20));
        shared.insert(w(id), 0).unwrap();
        shared.check_invariants().unwrap();
    }
    // Buffers filled and built: the policy runs, merges, and settles.
    for id in 300..324 {
        shared.insert(w(id), 0).unwrap();
    }
    shared.compact();
    shared.check_invariants().unwrap();
}

/// The write buffer and the kills are two-layer sorted runs (a shared base,
/// a tail of under 32): with the default buffer of 256 and thousands of
/// kills, moves of windows already in the buffer's base, of windows in
/// segments, and deletes all agree with a map, and a view pinned midway
/// answers as it did when it was taken.
#[test]
fn buffer_and_kill_runs_agree_with_a_map_through_moves_of_buffered_windows() {
    let t = |m: i64| Timestamp::from_secs(m * 60).unwrap();
    let window = |id: u64, s: i64| Window::new(id, t(s), t(s + 7), OrgId(1)).unwrap();
    let index: Index<u64, u32> = Index::builder()
        .organization(OrgId(1), None)
        .build_from((0..20_000u64).map(|i| (window(i, i as i64), 0)))
        .unwrap();
    let shared = SharedIndex::from(index);
    let mut model: HashMap<u64, (i64, u32)> = (0..20_000u64).map(|i| (i, (i as i64, 0))).collect();
    let mut rng = Rng(11);
    let mut recent: Vec<u64> = Vec::new();
    let all = Query::new().overlapping(t(-10), t(100_000)).page_size(50);
    let mut pinned = None;
    for n in 1..=8_000u32 {
        let id = match rng.below(4) {
            // A window written in the last few hundred writes: in the
            // buffer's base or tail, or a sealed buffer.
            0 if !recent.is_empty() => recent[rng.below(recent.len() as u64) as usize],
            _ => rng.below(21_000),
        };
        if rng.below(5) == 0 {
            let gone = shared.delete(id).map(|(w, p)| (w.start(), p));
            assert_eq!(gone, model.remove(&id).map(|(s, p)| (t(s), p)), "delete of {id} at write {n}");
        } else {
            let s = rng.below(30_000) as i64;
            let before = shared.upsert(window(id, s), n).unwrap();
            assert_eq!(before, model.insert(id, (s, n)).map(|(_, p)| p), "upsert of {id} at write {n}");
            recent.push(id);
            if recent.len() > 300 {
                recent.remove(0);
            }
        }
        if n % 1_000 == 0 {
            shared.check_invariants().unwrap();
            assert_eq!(shared.count(&Query::new()).unwrap(), model.len() as u64);
            for probe in (0..21_000u64).step_by(97) {
                let got = shared.get(probe).map(|e| (e.window.start(), e.payload));
                assert_eq!(got, model.get(&probe).map(|&(s, p)| (t(s), p)), "get {probe} at write {n}");
            }
        }
        if n == 4_000 {
            let view = shared.view();
            let ids = walk_view(&view, &all);
            let mut want: Vec<(i64, u64)> = model.iter().map(|(&id, &(s, _))| (s, id)).collect();
            want.sort_unstable();
            assert_eq!(ids, want.iter().map(|&(_, id)| id).collect::<Vec<_>>());
            pinned = Some((view, ids));
        }
    }
    let (view, ids) = pinned.expect("pinned at write 4,000");
    assert_eq!(walk_view(&view, &all), ids);
    view.check_invariants().unwrap();
}

/// Deletes and moves of windows whose write buffer is sealed (its segment
/// being built on the build thread) take them out of the sealed buffer at
/// once and kill them in the segment when it is installed: every read
/// agrees with a map before and after, a view pinned before them keeps
/// them, and a buffer whose every window is removed leaves no segment.
#[test]
fn windows_removed_from_a_sealed_buffer_stay_removed_once_it_is_built() {
    let t = |m: i64| Timestamp::from_secs(m * 60).unwrap();
    let window = |id: u64, s: i64| Window::new(id, t(s), t(s + 7), OrgId(1)).unwrap();
    let all = Query::new().overlapping(t(-10), t(100_000)).page_size(50);
    for round in 0..20u64 {
        let shared: SharedIndex<u64, u32> =
            SharedIndex::builder().organization(OrgId(1), None).write_buffer(8).build_shared().unwrap();
        let mut model: HashMap<u64, (i64, u32)> = HashMap::new();
        // Eight windows fill the buffer: the eighth insert seals it.
        for id in 0..8u64 {
            shared.insert(window(id, id as i64 * 10), id as u32).unwrap();
            model.insert(id, (id as i64 * 10, id as u32));
        }
        let before = shared.view();
        // Removed right after the seal, so the rows are still in the
        // sealed buffer whether or not its build has ended.
        let moved = round % 8;
        assert_eq!(shared.upsert(window(moved, 500), 99).unwrap(), Some(moved as u32));
        model.insert(moved, (500, 99));
        for id in (0..8u64).filter(|&id| id != moved && id % 3 == round % 3) {
            assert_eq!(shared.delete(id).map(|(w, p)| (w.start(), p)), Some((t(id as i64 * 10), id as u32)));
            assert!(shared.delete(id).is_none(), "a removed window is gone");
            model.remove(&id);
        }
        let check = |shared: &SharedIndex<u64, u32>, model: &HashMap<u64, (i64, u32)>| {
            shared.check_invariants().unwrap();
            let mut want: Vec<(i64, u64)> = model.iter().map(|(&id, &(s, _))| (s, id)).collect();
            want.sort_unstable();
            assert_eq!(walk_view(&shared.view(), &all), want.iter().map(|&(_, id)| id).collect::<Vec<_>>());
            assert_eq!(shared.count(&Query::new()).unwrap(), model.len() as u64);
            for id in (0..8u64).chain(100..120) {
                let got = shared.get(id).map(|e| (e.window.start(), e.payload));
                assert_eq!(got, model.get(&id).map(|&(s, p)| (t(s), p)), "round {round}, window {id}");
            }
        };
        check(&shared, &model);
        // More writes install the built segment; then everything merges.
        for id in 100..120u64 {
            shared.insert(window(id, id as i64), 0).unwrap();
            model.insert(id, (id as i64, 0));
        }
        check(&shared, &model);
        shared.compact();
        check(&shared, &model);
        assert_eq!(walk_view(&before, &all), (0..8).collect::<Vec<_>>(), "the view pinned before keeps them");
        before.check_invariants().unwrap();
    }
    // Every window of a sealed buffer removed: no segment is left of it.
    let shared: SharedIndex<u64, u32> =
        SharedIndex::builder().organization(OrgId(1), None).write_buffer(4).build_shared().unwrap();
    for id in 0..4u64 {
        shared.insert(window(id, 0), 0).unwrap();
    }
    for id in 0..4u64 {
        assert!(shared.delete(id).is_some());
    }
    shared.compact();
    shared.check_invariants().unwrap();
    assert_eq!(shared.count(&Query::new()).unwrap(), 0);
    assert_eq!(shared.explain(&Query::new()).unwrap().segments, 0);
}

#[test]
fn writes_wait_for_merges_rather_than_pass_the_segment_limit() {
    let mut rng = Rng(41);
    let shared: SharedIndex<u64, u32> = SharedIndex::builder()
        .organizations(ORGS.iter().map(|&(o, p)| (OrgId(o), p.map(OrgId))))
        .write_buffer(1)
        .max_segments(16)
        .build_shared()
        .unwrap();
    let mut live: Vec<u64> = Vec::new();
    let mut most = 0;
    for id in 0..3_000u64 {
        // Inserts, and moves of earlier windows: every write seals a buffer.
        if id % 3 == 2 {
            let moved = live[rng.below(live.len() as u64) as usize];
            shared.upsert(window(&mut rng, moved), 1).unwrap();
        } else {
            shared.insert(window(&mut rng, id), 0).unwrap();
            live.push(id);
        }
        let segments = shared.explain(&Query::new()).unwrap().segments;
        assert!(segments <= 16, "{segments} segments after write {id}");
        most = most.max(segments);
    }
    assert!(most > 1, "the writes left segments to merge");
    shared.check_invariants().unwrap();
    assert_eq!(shared.count(&Query::new()).unwrap(), live.len() as u64);
}

/// Once writes stop, the index installs what its background threads built
/// and builds what its write buffer holds, without a write to do it: reads
/// after a burst of writes then meet segments, not a buffer to scan, and a
/// version with the same number and contents.
#[test]
fn an_index_left_alone_after_writes_builds_its_buffers_and_installs_them() {
    let shared: SharedIndex<u64, u32> = SharedIndex::builder()
        .organizations(ORGS.iter().map(|&(o, p)| (OrgId(o), p.map(OrgId))))
        .build_shared()
        .unwrap();
    let mut rng = Rng(61);
    let n = mwindex::DEFAULT_BACKGROUND_WRITE_BUFFER as u64 * 5 / 2;
    for id in 0..n {
        shared.insert(window(&mut rng, id), id as u32).unwrap();
    }
    for id in (0..n).step_by(7) {
        shared.upsert(window(&mut rng, id), 7).unwrap();
    }
    let version = shared.version();
    let before = shared.explain(&Query::new()).unwrap();
    assert!(before.buffered > 0, "the burst left windows buffered: {before:?}");
    let count = shared.count(&Query::new()).unwrap();
    // The tidying thread looks every 100 ms once writes stop; 10 s is a
    // watchdog, not an expectation.
    let began = std::time::Instant::now();
    let after = loop {
        let plan = shared.explain(&Query::new()).unwrap();
        if plan.buffered == 0 {
            break plan;
        }
        assert!(began.elapsed() < Duration::from_secs(10), "still {plan:?} after 10 s");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(after.segments >= 1);
    assert_eq!(shared.version(), version, "tidying changes where windows are, not which");
    assert_eq!(shared.count(&Query::new()).unwrap(), count);
    assert_eq!(shared.len() as u64, count);
    shared.check_invariants().unwrap();
}

/// Filtered reads find windows while they are in the write buffer or a
/// sealed buffer (which a query skips whole when the buffer's filter of
/// chargers and sites says none of the query's can be there), by charger,
/// by site and by both, and never a window of another charger or site;
/// moves out of the buffer leave nothing behind.
#[test]
fn filtered_reads_find_buffered_windows_by_charger_and_site() {
    let index: SharedIndex<u64, u32> =
        SharedIndex::builder().organization(OrgId(1), None).write_buffer(64).build_shared().unwrap();
    let window = |id: u64, charger: u64| {
        Window::new(id, ts(id as i64 * MINUTE), ts((id as i64 + 30) * MINUTE), OrgId(1))
            .unwrap()
            .with_charger(ChargerId(charger))
            .with_site(SiteId(charger % 13))
    };
    let mut chargers: HashMap<u64, u64> = HashMap::new();
    for id in 0..1_500u64 {
        // Every third write moves an earlier window to another charger.
        let (id, charger) = if id % 3 == 2 { (id / 2, id % 211) } else { (id, id % 97) };
        index.upsert(window(id, charger), id as u32).unwrap();
        chargers.insert(id, charger);
        if id % 37 != 0 {
            continue;
        }
        for c in [0, 5, 96, 150, 500] {
            let want = chargers.values().filter(|&&x| x == c).count() as u64;
            assert_eq!(index.count(&Query::new().chargers([ChargerId(c)])).unwrap(), want, "charger {c}");
            let page = index.query(&Query::new().chargers([ChargerId(c)]).page_size(50)).unwrap();
            assert!(page.items().iter().all(|item| item.window.charger() == Some(ChargerId(c))));
            assert_eq!(page.items().len() as u64, want.min(50));
        }
        for s in [0, 7, 12, 40] {
            let want = chargers.values().filter(|&&x| x % 13 == s).count() as u64;
            assert_eq!(index.count(&Query::new().sites([SiteId(s)])).unwrap(), want, "site {s}");
            let both = chargers.values().filter(|&&x| x % 13 == s && x == 5 + s).count() as u64;
            let q = Query::new().sites([SiteId(s)]).chargers([ChargerId(5 + s)]);
            assert_eq!(index.count(&q).unwrap(), both, "site {s} and charger {}", 5 + s);
        }
    }
}
