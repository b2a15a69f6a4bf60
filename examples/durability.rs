//! Durability figures: snapshot write and open times and bytes per window,
//! log appends per second under each sync policy (1, 4 and 16 writer
//! threads for group commit), recovery records per second, and the longest
//! write and read while a checkpoint runs.
//!
//! ```text
//! cargo run --release --example durability -- --windows 1000000
//! cargo run --release --example durability -- --windows 10000000 --dir /var/tmp/mwindex-bench
//! ```
//!
//! `--only cpu`, `snapshot`, `open` (`--times N`), `recovery` or `queries`
//! (every report question on the index the bulk load built and on the
//! same index opened from its snapshot, in place) runs one part alone.

#[path = "../benches/support/peers.rs"]
mod peers;
#[path = "../benches/support/workload.rs"]
mod workload;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::sync::Arc;

use mwindex::{
    Durable, DurableOptions, Index, OrgId, Query, SharedIndex, Status, Storage, StorageFile, SyncPolicy, Timestamp,
};
use peers::window;
use workload::{Gen, Rng, World};

/// A storage that keeps nothing: what a snapshot costs without a disk.
#[derive(Debug)]
struct Discard;

#[derive(Debug)]
struct Nothing;

impl StorageFile for Nothing {
    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        std::hint::black_box(bytes);
        Ok(())
    }
    fn sync(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Storage for Discard {
    fn create_dir_all(&self, _: &Path) -> std::io::Result<()> {
        Ok(())
    }
    fn list(&self, _: &Path) -> std::io::Result<Vec<String>> {
        Ok(Vec::new())
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::new(std::io::ErrorKind::NotFound, path.display().to_string()))
    }
    fn create(&self, _: &Path) -> std::io::Result<Box<dyn StorageFile>> {
        Ok(Box::new(Nothing))
    }
    fn open_append(&self, _: &Path) -> std::io::Result<Box<dyn StorageFile>> {
        Ok(Box::new(Nothing))
    }
    fn truncate(&self, _: &Path, _: u64) -> std::io::Result<()> {
        Ok(())
    }
    fn rename(&self, _: &Path, _: &Path) -> std::io::Result<()> {
        Ok(())
    }
    fn remove(&self, _: &Path) -> std::io::Result<()> {
        Ok(())
    }
    fn sync_dir(&self, _: &Path) -> std::io::Result<()> {
        Ok(())
    }
    fn lock(&self, _: &Path) -> std::io::Result<Option<Box<dyn std::fmt::Debug + Send + Sync>>> {
        Ok(Some(Box::new(())))
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

fn options(world: &World, sync: SyncPolicy) -> DurableOptions<u64, u32> {
    DurableOptions::new()
        .index(Index::builder().organizations(world.orgs.iter().map(|&(o, p)| (OrgId(o), p.map(OrgId)))))
        .sync(sync)
        .checkpoint_after_bytes(None)
}

fn fresh(dir: &Path, name: &str) -> PathBuf {
    let d = dir.join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map(|it| it.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum()).unwrap_or(0)
}

/// Median µs of each report question (2,000 of each kind) on `index`.
fn medians(index: &SharedIndex<u64, u32>, world: &World) -> Vec<f64> {
    peers::KINDS
        .iter()
        .map(|kind| {
            let qs: Vec<Query<u64>> =
                peers::questions(kind, world, 9, 2_000).iter().map(peers::Mwindex::query).collect();
            let counts = peers::questions(kind, world, 9, 1)[0].limit.is_none();
            let mut ns: Vec<u128> = qs
                .iter()
                .map(|q| {
                    let began = Instant::now();
                    if counts {
                        std::hint::black_box(index.count(q).expect("count"));
                    } else {
                        std::hint::black_box(index.query(q).expect("query"));
                    }
                    began.elapsed().as_nanos()
                })
                .collect();
            ns.sort_unstable();
            ns[ns.len() / 2] as f64 / 1e3
        })
        .collect()
}

/// `--only queries`: every report question on the index the bulk load
/// built (two rounds), then on the same index opened from its snapshot:
/// at once (its arrays read where they lie in the mapped file) and 5 s
/// later (moved onto memory of its own in the background).
fn queries_in_place(root: &Path, world: &World, gens: &[Gen]) {
    let dir = fresh(root, "queries");
    let d = Durable::open(&dir, options(world, SyncPolicy::None)).expect("open");
    d.bulk_insert(gens.iter().map(|g| (window(g), g.id as u32))).expect("bulk");
    d.checkpoint().expect("checkpoint");
    let built: Vec<Vec<f64>> = (0..2).map(|_| medians(d.index(), world)).collect();
    d.close().expect("close");
    let d: Durable<u64, u32> = Durable::open(&dir, options(world, SyncPolicy::None)).expect("reopen");
    // In place at once; on memory of its own once the background copy is
    // done (it starts half a second after the open).
    let opened = medians(d.index(), world);
    std::thread::sleep(Duration::from_secs(5));
    let moved: Vec<Vec<f64>> = (0..2).map(|_| medians(d.index(), world)).collect();
    println!(
        "\n| query (median µs; second rounds compared) | built in memory (two rounds) | opened, in place (one round) | opened, 5 s later (two rounds) | ratio, moved / built |"
    );
    println!("|---|---:|---:|---:|---:|");
    for (k, kind) in peers::KINDS.iter().enumerate() {
        println!(
            "| {kind} | {:.2}, {:.2} | {:.2} | {:.2}, {:.2} | {:.2} |",
            built[0][k],
            built[1][k],
            opened[k],
            moved[0][k],
            moved[1][k],
            moved[1][k] / built[1][k]
        );
    }
}

/// A few answers, to check an index against another.
fn answers(index: &SharedIndex<u64, u32>) -> Vec<(Vec<u64>, u64)> {
    let t = |m: i64| Timestamp::from_micros(m).expect("in range");
    let queries = [
        Query::new().overlapping(t(workload::T0 + 100 * workload::DAY), t(workload::T0 + 101 * workload::DAY)),
        Query::new().status(Status::Active, t(workload::T0 + 300 * workload::DAY)).scope(OrgId(1)),
        Query::new().status(Status::Upcoming, t(workload::T0 + 30 * workload::DAY)).organizations([OrgId(7)]),
    ];
    queries
        .iter()
        .map(|q| {
            let ids = index.query(q).expect("query").items().iter().map(|e| e.window.id()).collect();
            (ids, index.count(q).expect("count"))
        })
        .collect()
}

/// Writes per second of `threads` writers inserting `per_thread` windows
/// each through one durable index.
fn appends(dir: &Path, world: &World, gens: &[Gen], sync: SyncPolicy, threads: usize, per_thread: usize) -> f64 {
    let d = Durable::open(dir, options(world, sync)).expect("open");
    let began = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let index = d.index().clone();
            let mine = &gens[t * per_thread..(t + 1) * per_thread];
            s.spawn(move || {
                for g in mine {
                    index.insert(window(g), g.id as u32).expect("insert");
                }
            });
        }
    });
    let rate = (threads * per_thread) as f64 / began.elapsed().as_secs_f64();
    let stats = d.stats();
    eprintln!(
        "  {sync:?} x{threads}: {} records, {} syncs ({:.1} records a sync)",
        stats.records,
        stats.syncs,
        stats.records as f64 / stats.syncs.max(1) as f64
    );
    d.close().expect("close");
    rate
}

fn main() {
    let n: usize = arg("--windows").and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(1_000_000);
    let root = PathBuf::from(arg("--dir").unwrap_or_else(|| "target/durability-bench".into()));
    std::fs::create_dir_all(&root).expect("bench dir");
    let world = World::new(7);
    let gens = world.windows(n, 42);
    println!("# Durability at {n} windows (u64 ids, u32 payloads), data in {}", root.display());
    if arg("--only").as_deref() == Some("cpu") {
        // The snapshot's CPU time alone: written to a storage that keeps
        // nothing (no disk, no page cache).
        let d = Durable::open("/bench", options(&world, SyncPolicy::None).storage(Arc::new(Discard))).expect("open");
        d.bulk_insert(gens.iter().map(|g| (window(g), g.id as u32))).expect("bulk");
        for _ in 0..3 {
            let c = d.checkpoint().expect("checkpoint");
            println!(
                "| snapshot bytes produced, none stored | {:.2} s, {:.1} MB |",
                c.took.as_secs_f64(),
                c.bytes as f64 / 1e6
            );
        }
        return;
    }
    if arg("--only").as_deref() == Some("snapshot") {
        // Snapshot writes alone, to the disk, three times.
        let d = Durable::open(fresh(&root, "snapshot"), options(&world, SyncPolicy::None)).expect("open");
        d.bulk_insert(gens.iter().map(|g| (window(g), g.id as u32))).expect("bulk");
        for _ in 0..3 {
            let c = d.checkpoint().expect("checkpoint");
            println!("| snapshot write | {:.2} s, {:.1} MB |", c.took.as_secs_f64(), c.bytes as f64 / 1e6);
        }
        return;
    }
    if arg("--only").as_deref() == Some("recovery") {
        recovery(&root, &world, &gens, n, 0.0);
        return recovery(&root, &world, &gens, n, 0.5);
    }
    if arg("--only").as_deref() == Some("queries") {
        return queries_in_place(&root, &world, &gens);
    }
    if arg("--only").as_deref() == Some("open") {
        let times: usize = arg("--times").and_then(|v| v.parse().ok()).unwrap_or(5);
        for _ in 0..times {
            let began = Instant::now();
            let d: Durable<u64, u32> =
                Durable::open(root.join("snapshot"), options(&world, SyncPolicy::None)).expect("open");
            println!("open {:?}, {} replayed", began.elapsed(), d.recovery().replayed);
        }
        return;
    }

    // Snapshot: bulk load (made durable by a checkpoint when larger than a
    // log record), a checkpoint with nothing else running, and opens.
    let dir = fresh(&root, "snapshot");
    let d = Durable::open(&dir, options(&world, SyncPolicy::None)).expect("open");
    let began = Instant::now();
    d.bulk_insert(gens.iter().map(|g| (window(g), g.id as u32))).expect("bulk");
    let load = began.elapsed();
    let quiet = d.checkpoint().expect("checkpoint");
    let want = answers(&d);
    d.close().expect("close");
    let mut opens = Vec::new();
    for _ in 0..3 {
        let began = Instant::now();
        let d: Durable<u64, u32> = Durable::open(&dir, options(&world, SyncPolicy::None)).expect("reopen");
        opens.push(began.elapsed().as_secs_f64());
        assert_eq!(answers(&d), want, "the reopened index answers as the original");
        assert_eq!(d.recovery().replayed, 0);
    }
    let began = Instant::now();
    let verified: Durable<u64, u32> =
        Durable::open(&dir, options(&world, SyncPolicy::None).verify(true)).expect("verified open");
    let open_verified = began.elapsed();
    drop(verified);

    // A checkpoint while a writer (no sync, so its latency is the index's
    // and the journal's, not the disk's) and a reader go on.
    let d: Durable<u64, u32> = Durable::open(&dir, options(&world, SyncPolicy::None)).expect("reopen");
    let stop = AtomicBool::new(false);
    let moved = workload::moved(&gens, &mut Rng::new(5), 2_000_000);
    let (busy, longest_write, writes, longest_read) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut longest = Duration::ZERO;
            let mut count = 0usize;
            for g in moved.iter().cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let t = Instant::now();
                d.upsert(window(g), g.id as u32).expect("upsert");
                longest = longest.max(t.elapsed());
                count += 1;
            }
            (longest, count)
        });
        let reader = s.spawn(|| {
            let mut longest = Duration::ZERO;
            let at = Timestamp::from_micros(workload::T0 + 200 * workload::DAY).expect("t");
            let q = Query::new().status(Status::Active, at);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let _ = d.query(&q).expect("query");
                longest = longest.max(t.elapsed());
            }
            longest
        });
        std::thread::sleep(Duration::from_millis(200));
        let checkpoint = d.checkpoint().expect("checkpoint");
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        let (longest_write, writes) = writer.join().expect("writer");
        (checkpoint, longest_write, writes, reader.join().expect("reader"))
    });
    let after_writes = answers(&d);
    d.close().expect("close");
    let began = Instant::now();
    let reopened: Durable<u64, u32> = Durable::open(&dir, options(&world, SyncPolicy::None)).expect("reopen");
    let open_after = began.elapsed();
    assert_eq!(answers(&reopened), after_writes, "the reopened index answers as the original");
    let replayed = reopened.recovery().replayed;
    drop(reopened);

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!();
    println!("| step | figure |");
    println!("|---|---|");
    println!("| bulk load of {n} windows, durable | {:.2} s |", load.as_secs_f64());
    println!(
        "| snapshot write (checkpoint, idle) | {:.2} s; writes paused {:.2} ms |",
        quiet.took.as_secs_f64(),
        ms(quiet.paused)
    );
    println!(
        "| snapshot size | {:.1} MB, {:.1} bytes/window |",
        quiet.bytes as f64 / 1e6,
        quiet.bytes as f64 / n as f64
    );
    let opens: Vec<String> = opens.iter().map(|s| format!("{s:.3}")).collect();
    println!("| open (snapshot only), three times | {} s |", opens.join(", "));
    println!("| open with `verify(true)` (every structure checked) | {:.3} s |", open_verified.as_secs_f64());
    println!(
        "| snapshot write under a writer and a reader | {:.2} s; writes paused {:.2} ms |",
        busy.took.as_secs_f64(),
        ms(busy.paused)
    );
    println!("| longest write meanwhile ({writes} writes, no sync) | {:.1} ms |", ms(longest_write));
    println!("| longest read meanwhile | {:.1} ms |", ms(longest_read));
    println!("| open (snapshot + {replayed} log records) | {:.3} s |", open_after.as_secs_f64());

    // Log appends per policy, on an empty index.
    println!();
    println!("| policy | writers | appends/s |");
    println!("|---|---|---|");
    // Windows of their own: the appends need 400,000 whatever the size.
    let fresh_windows = world.windows(400_000, 43);
    let small = &fresh_windows[..];
    for (sync, threads, per) in [
        (SyncPolicy::EveryWrite, 1, 2_000),
        (SyncPolicy::Group, 1, 2_000),
        (SyncPolicy::Group, 4, 2_000),
        (SyncPolicy::Group, 16, 1_000),
        (SyncPolicy::None, 1, 200_000),
    ] {
        let rate = appends(&fresh(&root, "appends"), &world, small, sync, threads, per);
        println!("| {sync:?} | {threads} | {rate:.0} |");
    }

    println!();
    recovery(&root, &world, &gens, n, 0.0);
    recovery(&root, &world, &gens, n, 0.5);
    let _ = std::fs::remove_dir_all(&root);
}

/// Recovery: a log of inserts, then moves of the inserted windows, replayed
/// into an empty index; `moves` of the records are moves.
fn recovery(root: &Path, world: &World, gens: &[Gen], n: usize, moves: f64) {
    let records = n.min(2_000_000);
    let inserts = records - (records as f64 * moves) as usize;
    let dir = fresh(root, "recovery");
    let d = Durable::open(&dir, options(world, SyncPolicy::None)).expect("open");
    for g in &gens[..inserts] {
        d.insert(window(g), g.id as u32).expect("insert");
    }
    for g in workload::moved(&gens[..inserts], &mut Rng::new(9), records - inserts) {
        d.upsert(window(&g), g.id as u32).expect("upsert");
    }
    let bytes = dir_bytes(&dir);
    d.close().expect("close");
    for _ in 0..2 {
        let reopened: Durable<u64, u32> = Durable::open(&dir, options(world, SyncPolicy::None)).expect("reopen");
        let r = reopened.recovery();
        println!(
            "| recovery, {:.0}% moves | {} records ({:.1} MB of log) in {:.2} s: {:.2} M records/s |",
            moves * 100.0,
            r.replayed,
            bytes as f64 / 1e6,
            r.took.as_secs_f64(),
            r.replayed as f64 / r.took.as_secs_f64() / 1e6
        );
    }
}
