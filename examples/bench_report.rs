//! One table: mwindex against every peer, measured in one process on the same
//! data. Medians and p99 of single-query latencies, bytes per window
//! (resident memory, measured in a child process per structure), build
//! times, and mutation throughput.
//!
//! Then the same queries cold, as a server's mixed load meets them: each
//! question answered by every fast peer in turn (the order rotating), so
//! each query finds the caches another structure just used; and again with
//! a 4 MB sweep of memory before each query. `--no-cold` skips these;
//! `--only-cold` prints only these.
//!
//! Then the steady state: every query on an index after writes (1% of its
//! windows moved, 0.5% deleted and re-inserted), before and after
//! `compact()`, beside the fresh index. `--no-steady` skips it;
//! `--only-steady` prints only it.
//!
//! ```text
//! cargo run --release --example bench_report -- --windows 1000000
//! cargo run --release --example bench_report -- --windows 10000000
//! ```

#[path = "../benches/support/peers.rs"]
mod peers;
#[path = "../benches/support/workload.rs"]
mod workload;

use std::time::{Duration, Instant};

use peers::{BTree, Coi, Lap, Mwindex, Peer, Question, Scan, Sqlite};
use workload::{Gen, Rng, World};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// The process's peak resident bytes so far (`VmHWM`).
fn peak_rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok());
    kb.unwrap_or(0) * 1024
}

fn trim() {
    // SAFETY: malloc_trim only returns free heap pages to the OS.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Child mode: build one structure and print the resident bytes it added,
/// then the most it added at any moment of the build (its input included,
/// as a caller holding the windows would).
fn measure_memory(name: &str, n: usize) {
    let world = World::new(7);
    let gens = world.windows(n, 42);
    trim();
    let before = rss_bytes();
    let keep: Box<dyn std::any::Any> = match name {
        "mwindex" => Box::new(Mwindex::build(&world.orgs, &gens)),
        "BTreeMap" => Box::new(BTree::build(&gens)),
        "rust-lapper" => Box::new(Lap::build(&gens)),
        "coitrees" => Box::new(Coi::build(&gens)),
        "SQLite" => Box::new(Sqlite::build(&gens).expect("sqlite builds")),
        _ => Box::new(()),
    };
    trim();
    let after = rss_bytes();
    std::hint::black_box(&keep);
    println!("{} {}", after.saturating_sub(before), peak_rss_bytes().saturating_sub(before));
}

/// Resident bytes a window after building `name`, and at the build's peak.
fn memory_of(name: &str, n: usize) -> Option<(f64, f64)> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe).args(["--memory-of", name, "--windows", &n.to_string()]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut bytes = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    let (resident, peak) = (bytes.next()??, bytes.next()??);
    Some((resident / n as f64, peak / n as f64))
}

struct Stats {
    median: f64,
    p99: f64,
}

fn stats(mut ns: Vec<u128>) -> Stats {
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    Stats { median: at(0.5), p99: at(0.99) }
}

/// Times `peer` on the questions: every question once, in order, until all
/// are done or `budget` is spent (at least 5). First, untimed, it answers
/// `warm` (other questions of the same kind) for up to a tenth of the
/// budget, so every peer is measured in its steady state rather than right
/// after the previous peer flushed the caches.
fn time_peer(peer: &mut dyn Peer, warm: &[Question], qs: &[Question], budget: Duration) -> Option<Stats> {
    let started = Instant::now();
    for q in warm {
        std::hint::black_box(peer.answer(q));
        if started.elapsed() > budget / 10 {
            break;
        }
    }
    let started = Instant::now();
    let mut ns = Vec::with_capacity(qs.len());
    for q in qs {
        let t = Instant::now();
        let a = peer.answer(q);
        ns.push(t.elapsed().as_nanos());
        a.as_ref()?;
        std::hint::black_box(a);
        if ns.len() >= 5 && started.elapsed() > budget {
            break;
        }
    }
    Some(stats(ns))
}

/// A 4 MB buffer whose sweep writes a word of every cache line, evicting
/// what a query left in the caches (the first two levels whole, much of
/// the last).
struct Sweeper(Vec<u64>);

impl Sweeper {
    fn new() -> Self {
        Sweeper(vec![1; (4 << 20) / 8])
    }

    fn sweep(&mut self) {
        for i in (0..self.0.len()).step_by(8) {
            self.0[i] = self.0[i].wrapping_add(1);
        }
        std::hint::black_box(&self.0);
    }
}

/// Times every peer on the questions interleaved: question `i` is answered
/// by each peer in turn, starting from peer `i % peers`, with `sweeper`
/// sweeping before each answer if given; until all are done or `budget` is
/// spent (at least 5 rounds). A peer with no answer to a kind drops out.
fn time_cold(
    peers: &mut [&mut dyn Peer],
    qs: &[Question],
    mut sweeper: Option<&mut Sweeper>,
    budget: Duration,
) -> Vec<Option<Stats>> {
    let mut ns: Vec<Vec<u128>> = vec![Vec::new(); peers.len()];
    let mut answers = vec![true; peers.len()];
    let started = Instant::now();
    for (i, q) in qs.iter().enumerate() {
        for k in 0..peers.len() {
            let p = (i + k) % peers.len();
            if !answers[p] {
                continue;
            }
            if let Some(s) = sweeper.as_deref_mut() {
                s.sweep();
            }
            let t = Instant::now();
            let a = peers[p].answer(q);
            let took = t.elapsed().as_nanos();
            answers[p] = a.is_some();
            std::hint::black_box(a);
            ns[p].push(took);
        }
        if i >= 5 && started.elapsed() > budget {
            break;
        }
    }
    ns.into_iter().zip(answers).map(|(ns, answered)| answered.then(|| stats(ns))).collect()
}

/// The cold tables: every kind interleaved with the fast peers, and swept.
fn cold(world: &World, peers: &mut [&mut dyn Peer], runs: usize) {
    let names: Vec<&str> = peers.iter().map(|p| p.name()).collect();
    let mut sweeper = Sweeper::new();
    for swept in [false, true] {
        if swept {
            println!("\nCold, swept: as interleaved, with a 4 MB memory sweep before every query (medians in µs)\n");
        } else {
            println!(
                "\nCold, interleaved: each question answered by every fast peer in turn, the order rotating \
                 (medians in µs; SQLite and the scan are left out, being thousands of times slower)\n"
            );
        }
        print_header(&names);
        for kind in peers::KINDS {
            let qs = peers::questions(kind, world, seed_of(kind), runs);
            let row = time_cold(peers, &qs, swept.then_some(&mut sweeper), Duration::from_secs(3));
            print_row(kind, &names, &row);
        }
    }
}

fn fmt(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 1000.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "n/a".into(),
    }
}

/// The seed of a kind's timed questions (its warm-up questions use the
/// next 500).
fn seed_of(kind: &str) -> u64 {
    1000 + kind.len() as u64 * 31 + kind.as_bytes()[1] as u64
}

/// A query table's header: mwindex, then each peer of `names[1..]`.
fn print_header(names: &[&str]) {
    print!("| query | mwindex median | mwindex p99 |");
    for name in &names[1..] {
        print!(" {name} |");
    }
    println!(" best peer | ratio |");
    println!("|---|---:|---:|{}---|---:|", "---:|".repeat(names.len() - 1));
}

/// A kind's row: mwindex's median and p99 (`row[0]`), each peer's median,
/// and the best peer with its ratio to mwindex.
fn print_row(kind: &str, names: &[&str], row: &[Option<Stats>]) {
    let mine = row[0].as_ref().expect("mwindex answers everything");
    let best = row[1..]
        .iter()
        .zip(&names[1..])
        .filter_map(|(s, name)| s.as_ref().map(|s| (s.median, *name)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    print!("| {kind} {} | {} | {} |", peers::describe(kind), fmt(Some(mine.median)), fmt(Some(mine.p99)));
    for s in &row[1..] {
        print!(" {} |", fmt(s.as_ref().map(|s| s.median)));
    }
    match best {
        Some((m, name)) => println!(" {name} | {:.1}x |", m / mine.median),
        None => println!(" - | - |"),
    }
}

/// A row of mwindex alone, in a table of `columns` columns.
fn print_mwindex_row(label: &str, s: &Stats, columns: usize) {
    println!("| {label} | {} | {} |{}", fmt(Some(s.median)), fmt(Some(s.p99)), " |".repeat(columns - 3));
}

fn main() {
    let n: usize = arg("--windows").and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(1_000_000);
    if let Some(name) = arg("--memory-of") {
        measure_memory(&name, n);
        return;
    }
    let runs: usize = arg("--runs").and_then(|v| v.parse().ok()).unwrap_or(2000);
    let skip_sqlite = std::env::args().any(|a| a == "--no-sqlite");

    let world = World::new(7);
    let gens = world.windows(n, 42);
    eprintln!("workload: {n} windows; building structures...");
    if std::env::args().any(|a| a == "--only-cold") {
        // The cold tables alone, with the fast peers.
        let (mut mw, mut bt, mut lap, mut coi) =
            (Mwindex::build(&world.orgs, &gens), BTree::build(&gens), Lap::build(&gens), Coi::build(&gens));
        let mut fast: Vec<&mut dyn Peer> = vec![&mut mw, &mut bt, &mut lap, &mut coi];
        println!("mwindex bench_report, cold tables only: {n} windows, {runs} random queries per kind");
        cold(&world, &mut fast, runs);
        return;
    }

    if std::env::args().any(|a| a == "--only-steady") {
        let mut mw = Mwindex::build(&world.orgs, &gens);
        println!("mwindex bench_report, steady state only: {n} windows, {runs} random queries per kind");
        steady(&world, &gens, &mut mw, runs);
        return;
    }

    let mut builds: Vec<(&str, f64)> = Vec::new();
    let t = Instant::now();
    let mw = Mwindex::build(&world.orgs, &gens);
    builds.push(("mwindex", t.elapsed().as_secs_f64()));
    let t = Instant::now();
    let bt = BTree::build(&gens);
    builds.push(("BTreeMap", t.elapsed().as_secs_f64()));
    let t = Instant::now();
    let lap = Lap::build(&gens);
    builds.push(("rust-lapper", t.elapsed().as_secs_f64()));
    let t = Instant::now();
    let coi = Coi::build(&gens);
    builds.push(("coitrees", t.elapsed().as_secs_f64()));
    let sql = if skip_sqlite {
        None
    } else {
        let t = Instant::now();
        let s = Sqlite::build(&gens).expect("sqlite builds");
        builds.push(("SQLite", t.elapsed().as_secs_f64()));
        Some(s)
    };
    let mut mw = mw;
    let mut bt = bt;
    let mut lap = lap;
    let mut coi = coi;
    let mut sql = sql;
    let mut scan = Scan { rows: gens.clone() };
    let mut peers: Vec<&mut dyn Peer> = vec![&mut mw, &mut bt, &mut lap, &mut coi];
    if let Some(s) = sql.as_mut() {
        peers.push(s);
    }
    peers.push(&mut scan);
    let names: Vec<&str> = peers.iter().map(|p| p.name()).collect();

    println!("mwindex bench_report: {n} windows, {runs} random queries per kind (slow peers stop after 3 s)");
    println!("medians in µs; ratio = best peer median / mwindex median\n");
    print_header(&names);

    for kind in peers::KINDS {
        let seed = seed_of(kind);
        let qs = peers::questions(kind, &world, seed, runs);
        let warm = peers::questions(kind, &world, seed + 500, 200);
        // Every peer's answers equal mwindex's on a sample before timing.
        for q in qs.iter().take(20) {
            let want = peers[0].answer(q).expect("mwindex answers everything");
            for p in peers.iter_mut().skip(1) {
                if let Some(got) = p.answer(q) {
                    assert_eq!(got, want, "{} disagrees with mwindex on {kind}: {q:?}", p.name());
                }
            }
        }
        let mut row = Vec::new();
        for p in peers.iter_mut() {
            row.push(time_peer(&mut **p, &warm, &qs, Duration::from_secs(3)));
        }
        print_row(kind, &names, &row);
    }

    if !std::env::args().any(|a| a == "--no-cold") {
        let mut fast: Vec<&mut dyn Peer> =
            peers.into_iter().filter(|p| !matches!(p.name(), "SQLite" | "Vec scan")).collect();
        cold(&world, &mut fast, runs);
        println!();
    } else {
        drop(peers);
    }

    let columns = names.len() + 4;
    for (label, timer, qs) in extra_rows(&world, runs) {
        let ns: Vec<u128> = qs.iter().flat_map(|q| timer(&mut mw, q)).collect();
        print_mwindex_row(label, &stats(ns), columns);
    }
    if !std::env::args().any(|a| a == "--no-steady") {
        steady(&world, &gens, &mut mw, runs);
    }

    println!("\n| structure | build s | resident bytes/window | peak during the build, bytes/window |");
    println!("|---|---:|---:|---:|");
    for (name, secs) in &builds {
        let mem = memory_of(name, n);
        println!("| {name} | {secs:.2} | {} | {} |", fmt(mem.map(|m| m.0)), fmt(mem.map(|m| m.1)));
    }
    // The bar counts the index alone: rows, tiers, postings, id index,
    // sorted ends, directories, dictionaries; not the payload slab.
    println!(
        "\nmwindex index structures without payloads (`Index::index_bytes`): {:.1} bytes/window",
        mw.index.index_bytes() as f64 / n as f64
    );
    mutations(&world, &gens, mw, bt, sql);
}

/// Times one question: the samples it gives (one per page for walks).
type Timer = fn(&mut Mwindex, &Question) -> Vec<u128>;

/// One answer (a page or a count) of the question.
fn time_answer(mw: &mut Mwindex, q: &Question) -> Vec<u128> {
    let t = Instant::now();
    std::hint::black_box(mw.answer(q));
    vec![t.elapsed().as_nanos()]
}

/// Each page of a walk of up to 20 pages of the question, by cursor.
fn time_cursor_walk(mw: &mut Mwindex, q: &Question) -> Vec<u128> {
    let query = Mwindex::query(q);
    let mut ns = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let q = match &cursor {
            Some(c) => query.clone().cursor(c.clone()),
            None => query.clone(),
        };
        let t = Instant::now();
        let page = mw.index.query(&q).expect("valid query");
        ns.push(t.elapsed().as_nanos());
        cursor = page.next_cursor().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    ns
}

/// Each page of a walk of up to 20 pages of the question in id order, 25 a
/// page, each page after the last id of the one before (as the incident.io
/// API's `after` parameter asks).
fn time_id_walk(mw: &mut Mwindex, q: &Question) -> Vec<u128> {
    let query = Mwindex::query(q).order(mwindex::Order::Id).page_size(25);
    let mut ns = Vec::new();
    let mut after: Option<u64> = None;
    for _ in 0..20 {
        let q = match after {
            Some(id) => query.clone().after_id(id),
            None => query.clone(),
        };
        let t = Instant::now();
        let page = mw.index.query(&q).expect("valid query");
        ns.push(t.elapsed().as_nanos());
        match (page.has_next(), page.items().last()) {
            (true, Some(e)) => after = Some(e.window.id()),
            _ => break,
        }
    }
    ns
}

/// A count of the question's matches (whatever its page size).
fn time_count(mw: &mut Mwindex, q: &Question) -> Vec<u128> {
    let query = Mwindex::query(q);
    let t = Instant::now();
    std::hint::black_box(mw.index.count(&query).expect("valid query"));
    vec![t.elapsed().as_nanos()]
}

/// The rows mwindex alone has: Q9, a 20-page walk of Q1 by cursor; the
/// incident.io API's workload (pages in id order with a scope and a status,
/// each after the last id of the page before, and counts in a parent
/// organization's scope): Q10, Q10p, Q11.
fn extra_rows(world: &World, runs: usize) -> Vec<(&'static str, Timer, Vec<Question>)> {
    vec![
        ("Q9 one page of a 20-page cursor walk of Q1", time_cursor_walk, peers::questions("Q1", world, 9, 200)),
        // As many walks as other kinds have questions: most Q10 walks are
        // one page, and with 200 the p99 was the second-slowest page.
        (
            "Q10 one page of a status=active walk in id order, one organization, 25 a page (`after_id`)",
            time_id_walk,
            peers::questions("Q4", world, 10, runs),
        ),
        ("Q10p the same in a parent organization's scope", time_id_walk, peers::questions("Q4p", world, 10, runs)),
        ("Q11 count active in a parent organization's scope", time_count, peers::questions("Q4p", world, 11, runs)),
    ]
}

/// The steady state: every query on the fresh index, on a copy after 1% of
/// its windows moved and 0.5% deleted and re-inserted, and on that copy
/// after `compact()`; the three taking turns question by question, medians.
fn steady(world: &World, gens: &[Gen], fresh: &mut Mwindex, runs: usize) {
    let n = gens.len();
    let mut rng = Rng::new(9);
    // A second build, not a copy: the three indexes compared must not share
    // memory, or the ones that do answer from each other's cache lines.
    let mut written = Mwindex::build(&world.orgs, gens);
    let moves = workload::moved(gens, &mut rng, n / 100);
    let mut picked: Vec<Gen> = (0..n / 200).map(|_| gens[rng.below(n)]).collect();
    picked.sort_by_key(|g| g.id);
    picked.dedup_by_key(|g| g.id);
    let t = Instant::now();
    for g in &moves {
        written.index.upsert(peers::window(g), g.id as u32).expect("valid window");
    }
    for g in &picked {
        written.index.delete(g.id);
    }
    for g in &picked {
        written.index.insert(peers::window(g), g.id as u32).expect("a deleted id");
    }
    let wrote = t.elapsed().as_secs_f64();
    let mut before = Mwindex { index: written.index.clone() };
    let shape = |m: &Mwindex| {
        let plan = m.index.explain(&mwindex::Query::new()).expect("valid query");
        format!("{} segments, {} buffered", plan.segments, plan.buffered)
    };
    let before_shape = shape(&before);
    let t = Instant::now();
    written.index.compact();
    let compacted = t.elapsed().as_secs_f64();
    println!(
        "\nSteady state: {} moves, then {} deletes and re-inserts, in {wrote:.2} s ({before_shape}); \
         `compact()` then took {compacted:.2} s ({}). Medians in µs, the three indexes taking turns question by question.\n",
        moves.len(),
        picked.len(),
        shape(&written)
    );
    println!("| query | fresh | written | written, then `compact()` | compacted / fresh |");
    println!("|---|---:|---:|---:|---:|");
    let mut rows: Vec<(String, Timer, Vec<Question>)> = peers::KINDS
        .iter()
        .map(|kind| {
            let label = format!("{kind} {}", peers::describe(kind));
            (label, time_answer as Timer, peers::questions(kind, world, seed_of(kind), runs))
        })
        .collect();
    rows.extend(extra_rows(world, runs).into_iter().map(|(label, timer, qs)| (label.to_owned(), timer, qs)));
    for (label, timer, qs) in rows {
        let sides: [&mut Mwindex; 3] = [&mut *fresh, &mut before, &mut written];
        let mut ns: [Vec<u128>; 3] = Default::default();
        // Each question is answered by one side only: a side answering a
        // question just answered would find its data in the cache.
        for (i, q) in qs.iter().enumerate() {
            ns[i % 3].extend(timer(sides[i % 3], q));
        }
        let [a, b, c] = ns.map(|ns| stats(ns).median);
        println!("| {label} | {} | {} | {} | {:.2} |", fmt(Some(a)), fmt(Some(b)), fmt(Some(c)), c / a);
    }
}

/// Inserts, moves, deletes and a mix, single-threaded, on the full-size index.
fn mutations(world: &World, gens: &[Gen], mut mw: Mwindex, mut bt: BTree, sql: Option<Sqlite>) {
    let n = gens.len();
    let ops = 200_000.min(n);
    let mut rng = Rng::new(5);
    let fresh = world.windows(ops, 777);
    let moved = workload::moved(gens, &mut rng, ops);
    println!(
        "\n| mutation ({ops} ops at {n}) | mwindex ops/s | mwindex longest op µs | BTreeMap ops/s | SQLite ops/s |"
    );
    println!("|---|---:|---:|---:|---:|");
    let mut run = |label: &str,
                   mw_op: &mut dyn FnMut(&mut Mwindex, usize),
                   bt_op: &mut dyn FnMut(&mut BTree, usize),
                   sql_op: &mut dyn FnMut(&Sqlite, usize)| {
        let mut longest = 0u128;
        let t = Instant::now();
        for i in 0..ops {
            let s = Instant::now();
            mw_op(&mut mw, i);
            longest = longest.max(s.elapsed().as_nanos());
        }
        let mw_rate = ops as f64 / t.elapsed().as_secs_f64();
        let t = Instant::now();
        for i in 0..ops {
            bt_op(&mut bt, i);
        }
        let bt_rate = ops as f64 / t.elapsed().as_secs_f64();
        let sql_rate = sql.as_ref().map(|s| {
            let k = ops.min(50_000);
            let tx = s.conn.unchecked_transaction().expect("transaction");
            let t = Instant::now();
            for i in 0..k {
                sql_op(s, i);
            }
            let rate = k as f64 / t.elapsed().as_secs_f64();
            tx.commit().expect("commit");
            rate
        });
        println!(
            "| {label} | {mw_rate:.0} | {:.0} | {bt_rate:.0} | {} |",
            longest as f64 / 1000.0,
            sql_rate.map_or("n/a".into(), |r| format!("{r:.0}"))
        );
    };
    let offset = 1u64 << 40;
    run(
        "insert",
        &mut |m, i| {
            let mut g = fresh[i];
            g.id += offset;
            m.index.insert(peers::window(&g), 0).expect("fresh id");
        },
        &mut |b, i| {
            let mut g = fresh[i];
            g.id += offset;
            b.insert(&g);
        },
        &mut |s, i| {
            let mut g = fresh[i];
            g.id += offset + (1 << 30);
            s.insert(&g).expect("insert");
        },
    );
    run(
        "move (upsert with new times)",
        &mut |m, i| {
            m.index.upsert(peers::window(&moved[i]), 0).expect("valid");
        },
        &mut |b, i| {
            let g = &moved[i];
            b.remove(&gens[g.id as usize]);
            b.insert(g);
        },
        &mut |s, i| s.insert(&moved[i]).expect("upsert"),
    );
    // The same moves through the batched entry point, 256 windows a call
    // (the longest operation is then a whole call). The peers repeat their
    // single moves: neither has a faster batched path.
    let batch = 256;
    let moved_again = workload::moved(gens, &mut rng, ops);
    let moved = &moved_again;
    let mut calls = 0usize;
    let mut mw_batched = |m: &mut Mwindex, i: usize| {
        if i.is_multiple_of(batch) {
            let end = (i + batch).min(ops);
            let moves = moved[i..end].iter().map(|g| (peers::window(g), 0));
            m.index.upsert_all(moves).expect("valid");
            calls += 1;
        }
    };
    run(
        "move, batched (upsert_all, 256 a call)",
        &mut mw_batched,
        &mut |b, i| {
            let g = &moved[i];
            b.remove(&gens[g.id as usize]);
            b.insert(g);
        },
        &mut |s, i| s.insert(&moved[i]).expect("upsert"),
    );
    debug_assert!(calls > 0);
    run(
        "delete",
        &mut |m, i| {
            m.index.delete(fresh[i].id + offset);
        },
        &mut |b, i| {
            let mut g = fresh[i];
            g.id += offset;
            b.remove(&g);
        },
        &mut |s, i| s.delete(fresh[i].id + offset + (1 << 30)).expect("delete"),
    );
    // The mix of a live system: of every five writes, two create windows,
    // two reschedule existing ones, and one cancels a window created four
    // writes earlier.
    let mixed = 1u64 << 41;
    let fresh_mix = world.windows(ops, 778);
    let moved_mix = workload::moved(gens, &mut rng, ops);
    let fresh_at = |i: usize| {
        let mut g = fresh_mix[i];
        g.id += mixed;
        g
    };
    run(
        "mixed (2 insert : 2 move : 1 delete)",
        &mut |m, i| match i % 5 {
            0 | 1 => m.index.insert(peers::window(&fresh_at(i)), 0).expect("fresh id"),
            2 | 3 => {
                m.index.upsert(peers::window(&moved_mix[i]), 0).expect("valid");
            }
            _ => {
                m.index.delete(fresh_at(i - 4).id);
            }
        },
        &mut |b, i| match i % 5 {
            0 | 1 => b.insert(&fresh_at(i)),
            2 | 3 => {
                let g = &moved_mix[i];
                b.remove(&gens[g.id as usize]);
                b.insert(g);
            }
            _ => b.remove(&fresh_at(i - 4)),
        },
        &mut |s, i| match i % 5 {
            0 | 1 => {
                let mut g = fresh_at(i);
                g.id += 1 << 30;
                s.insert(&g).expect("insert");
            }
            2 | 3 => s.insert(&moved_mix[i]).expect("upsert"),
            _ => s.delete(fresh_at(i - 4).id + (1 << 30)).expect("delete"),
        },
    );
}
