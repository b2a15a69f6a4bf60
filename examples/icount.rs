//! Instruction counts of the report's questions and writes at 1M windows,
//! repeatable on a noisy machine: run under callgrind, collecting only the
//! `measured_*` functions:
//!
//! ```text
//! cargo build --release --example icount
//! valgrind --tool=callgrind --toggle-collect='*measured_*' target/release/examples/icount Q1 2000
//! ```
//!
//! `KIND` is a report question (`Q1` .. `Q11`, `Q9` counting the 19 pages
//! after the first of each walk, `Q10` and `Q10p` every page of up to 20 of
//! each walk, the count of pages printed), `move` or `insert` (on the `Index`), or
//! `handle-move` or `handle-insert` (through a `SharedIndex`), or a
//! question asked through the handle (`handle-Q1`, ..., pages and counts); a
//! leading `s` (`sQ1`) asks it after 20,000 moves with every merge inline,
//! so every binary meets the same segments. Divide the collected count by `N`.
#[path = "../benches/support/peers.rs"]
mod peers;
#[path = "../benches/support/workload.rs"]
mod workload;

use peers::{Mwindex, Peer, Question};
use workload::{Gen, Rng, World};

#[inline(never)]
fn measured_queries(mw: &mut Mwindex, qs: &[Question]) -> usize {
    qs.iter()
        .map(|q| match mw.answer(q) {
            Some(peers::Answer::Ids(v)) => v.len(),
            Some(peers::Answer::Count(c)) => c as usize,
            None => 0,
        })
        .sum()
}

/// Pages 2 to 20 of each question's cursor walk (the report's Q9).
#[inline(never)]
fn measured_walks(mw: &Mwindex, walks: &[(mwindex::Query<u64>, Vec<String>)]) -> usize {
    let mut n = 0;
    for (q, cursors) in walks {
        for c in cursors {
            n += mw.index.query(&q.clone().cursor(c.as_str())).map_or(0, |p| p.items().len());
        }
    }
    n
}

/// Every page of each walk in id order (the report's Q10 and Q10p).
#[inline(never)]
fn measured_id_pages(mw: &Mwindex, pages: &[mwindex::Query<u64>]) -> usize {
    pages.iter().map(|q| mw.index.query(q).map_or(0, |p| p.items().len())).sum()
}

/// Counts of each question (the report's Q11).
#[inline(never)]
fn measured_counts(mw: &Mwindex, qs: &[mwindex::Query<u64>]) -> usize {
    qs.iter().map(|q| mw.index.count(q).map_or(0, |c| c as usize)).sum()
}

/// Pages and counts through the shared handle (owned pages).
#[inline(never)]
fn measured_shared_queries(index: &mwindex::SharedIndex<u64, u32>, qs: &[mwindex::Query<u64>], pages: bool) -> usize {
    qs.iter()
        .map(|q| match pages {
            true => index.query(q).map_or(0, |p| p.items().len()),
            false => index.count(q).map_or(0, |c| c as usize),
        })
        .sum()
}

#[inline(never)]
fn measured_shared_moves(index: &mwindex::SharedIndex<u64, u32>, moved: &[Gen]) -> usize {
    moved.iter().map(|g| usize::from(index.upsert(peers::window(g), g.id as u32).ok().flatten().is_some())).sum()
}

#[inline(never)]
fn measured_shared_inserts(index: &mwindex::SharedIndex<u64, u32>, fresh: &[Gen]) -> usize {
    fresh.iter().map(|g| usize::from(index.insert(peers::window(g), 0).is_ok())).sum()
}

#[inline(never)]
fn measured_inserts(mw: &mut Mwindex, fresh: &[Gen]) -> usize {
    fresh.iter().map(|g| usize::from(mw.index.insert(peers::window(g), 0).is_ok())).sum()
}

#[inline(never)]
fn measured_moves(mw: &mut Mwindex, moved: &[Gen]) -> usize {
    moved.iter().map(|g| usize::from(mw.index.upsert(peers::window(g), g.id as u32).ok().flatten().is_some())).sum()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = args[1].clone();
    let n: usize = args[2].parse().expect("N, a number of operations");
    let world = World::new(7);
    let gens = world.windows(1_000_000, 42);
    let steady = kind.starts_with('s');
    let mut mw = if steady {
        // Merges all on this thread, so the segments come out the same in
        // every run and every binary.
        let items = gens.iter().map(|g| (peers::window(g), g.id as u32));
        let index = mwindex::Index::builder()
            .organizations(world.orgs.iter().map(|&(o, p)| (mwindex::OrgId(o), p.map(mwindex::OrgId))))
            .inline_merge_rows(usize::MAX)
            .build_from(items)
            .expect("the workload builds");
        Mwindex { index }
    } else {
        Mwindex::build(&world.orgs, &gens)
    };
    // `sQ1` and the like: the question after 20,000 moves (tombstones in the
    // large segment), as an index that is being written sees it.
    let kind = match kind.strip_prefix('s') {
        Some(k) => {
            let mut rng = Rng::new(9);
            for g in workload::moved(&gens, &mut rng, 20_000) {
                mw.index.upsert(peers::window(&g), g.id as u32).expect("a move of an existing window");
            }
            k.to_string()
        }
        None => kind,
    };
    mw.index.compact();
    let out = if let Some(base) = kind.strip_prefix("handle-Q").map(|k| format!("Q{k}")) {
        // A question asked through the shared handle (the index moved into it).
        let shared = mwindex::SharedIndex::from(std::mem::take(&mut mw.index));
        let questions = peers::questions(&base, &world, 1, n);
        let pages = questions.first().is_some_and(|q| q.limit.is_some());
        let qs: Vec<mwindex::Query<u64>> = questions.iter().map(Mwindex::query).collect();
        measured_shared_queries(&shared, &qs, pages)
    } else if let Some(write) = kind.strip_prefix("handle-") {
        // Writes through the shared handle (the index moved into it).
        let shared = mwindex::SharedIndex::from(std::mem::take(&mut mw.index));
        let mut rng = Rng::new(5);
        let gens: Vec<Gen> = match write {
            "insert" => world
                .windows(n, 777)
                .into_iter()
                .map(|mut g| {
                    g.id += 1 << 32;
                    g
                })
                .collect(),
            _ => workload::moved(&gens, &mut rng, n),
        };
        if write == "insert" { measured_shared_inserts(&shared, &gens) } else { measured_shared_moves(&shared, &gens) }
    } else if kind == "insert" {
        let fresh: Vec<Gen> = world
            .windows(n, 777)
            .into_iter()
            .map(|mut g| {
                g.id += 1 << 32;
                g
            })
            .collect();
        measured_inserts(&mut mw, &fresh)
    } else if let Some(base) = kind.strip_prefix("Q10").map(|p| if p == "p" { "Q4p" } else { "Q4" }) {
        // Each page of up to 20 of each walk, its `after` id taken untimed.
        let mut pages = Vec::new();
        for q in peers::questions(base, &world, 10, n) {
            let query = Mwindex::query(&q).order(mwindex::Order::Id).page_size(25);
            let mut next = query.clone();
            for _ in 0..20 {
                pages.push(next.clone());
                let page = mw.index.query(&next).expect("valid");
                match (page.has_next(), page.items().last()) {
                    (true, Some(e)) => next = query.clone().after_id(e.window.id()),
                    _ => break,
                }
            }
        }
        eprintln!("{} pages", pages.len());
        measured_id_pages(&mw, &pages)
    } else if kind == "Q11" {
        let qs: Vec<mwindex::Query<u64>> = peers::questions("Q4p", &world, 11, n).iter().map(Mwindex::query).collect();
        measured_counts(&mw, &qs)
    } else if kind == "Q9" {
        // The cursors of each walk, taken untimed; then the pages after them.
        let walks: Vec<(mwindex::Query<u64>, Vec<String>)> = peers::questions("Q1", &world, 9, n)
            .iter()
            .map(|q| {
                let query = Mwindex::query(q);
                let mut cursors = Vec::new();
                let mut page = mw.index.query(&query).expect("valid");
                while let (Some(c), true) = (page.next_cursor(), cursors.len() < 19) {
                    cursors.push(c.to_string());
                    page = mw.index.query(&query.clone().cursor(c)).expect("valid");
                }
                (query, cursors)
            })
            .collect();
        measured_walks(&mw, &walks)
    } else if kind == "move" {
        let mut rng = Rng::new(5);
        let moved = workload::moved(&gens, &mut rng, n);
        measured_moves(&mut mw, &moved)
    } else {
        let seed = 1000 + kind.len() as u64 * 31 + kind.as_bytes()[1] as u64;
        let qs = peers::questions(&kind, &world, seed, n);
        measured_queries(&mut mw, &qs)
    };
    println!("{kind} {n} {out}");
}
