//! The shared index under load: queries through the handle against the
//! single-threaded `Index` on the same segments, writes through the handle,
//! and reads on 1 and 2 threads beside no writer, a thread that only wakes
//! 10,000 times a second (what the wake-ups alone cost the readers), a
//! writer at 10,000 writes a second, and a writer at full speed.
//!
//! ```text
//! cargo run --release --example concurrency -- --windows 1000000
//! cargo run --release --example concurrency -- --windows 10000000
//! cargo run --release --example concurrency -- --windows 10000000 --only writes
//! cargo run --release --example concurrency -- --windows 10000000 --only reads
//! cargo run --release --example concurrency -- --windows 10000000 --only during-writes
//! cargo run --release --example concurrency -- --windows 10000000 --only reads --max-segments 32
//! cargo run --release --example concurrency -- --windows 10000000 --only writes --write-buffer 1024
//! cargo run --release --example concurrency -- --windows 10000000 --only writes --kinds move --write-ops 1000000
//! ```

#[path = "../benches/support/peers.rs"]
mod peers;
#[path = "../benches/support/workload.rs"]
mod workload;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mwindex::SharedIndex;
use peers::{Mwindex, Peer, Question};
use workload::{Gen, Rng, World};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// Latency percentiles in µs.
struct Stats {
    p50: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

fn stats(mut ns: Vec<u64>) -> Stats {
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    Stats { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1.0) }
}

/// Answers a question through the shared handle, as `Mwindex::answer` does
/// through the index.
fn answer_shared(index: &SharedIndex<u64, u32>, q: &Question) -> usize {
    let query = Mwindex::query(q);
    match q.limit {
        Some(_) => index.query(&query).map(|p| p.items().len()).unwrap_or(0),
        None => index.count(&query).map(|c| c as usize).unwrap_or(0),
    }
}

fn main() {
    let n: usize = arg("--windows").and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(1_000_000);
    let runs: usize = arg("--runs").and_then(|v| v.parse().ok()).unwrap_or(2000);
    let secs: u64 = arg("--seconds").and_then(|v| v.parse().ok()).unwrap_or(3);
    let world = World::new(7);
    let gens = world.windows(n, 42);
    eprintln!("workload: {n} windows; building...");
    let began = Instant::now();
    // `--max-segments N`: the limit past which writes wait for merges;
    // `--write-buffer N`: windows buffered before a segment is built.
    let max_segments: Option<usize> = arg("--max-segments").and_then(|v| v.parse().ok());
    let write_buffer: Option<usize> = arg("--write-buffer").and_then(|v| v.parse().ok());
    let mut mw = Mwindex::build_with(&world.orgs, &gens, |mut b| {
        if let Some(n) = max_segments {
            b = b.max_segments(n);
        }
        if let Some(n) = write_buffer {
            b = b.write_buffer(n);
        }
        b
    });
    eprintln!("built in {:.2} s", began.elapsed().as_secs_f64());
    // The handle over a copy of the index: the two share every segment.
    let shared = SharedIndex::from(mw.index.clone());

    if arg("--only").as_deref() == Some("writes") {
        drop(mw);
        println!("mwindex writes through the handle: {n} windows");
        writes(&world, &gens, &shared);
        return;
    }
    if arg("--only").as_deref() == Some("after-writes") {
        println!("mwindex reads after writes stop: {n} windows");
        after_writes(&world, &gens, &mw, runs);
        return;
    }
    if arg("--only").as_deref() == Some("during-writes") {
        drop(mw);
        println!("mwindex reads by kind beside a writer: {n} windows");
        during_writes(&world, &gens, &shared, runs);
        return;
    }
    if arg("--only").as_deref() == Some("reads") {
        drop(mw);
        println!("mwindex reads beside writers: {n} windows");
        concurrent(&world, &gens, &shared, Duration::from_secs(secs));
        return;
    }
    println!("mwindex concurrency report: {n} windows, {runs} random queries per kind\n");
    queries(&world, &mut mw, &shared, runs);
    drop(mw);
    concurrent(&world, &gens, &shared, Duration::from_secs(secs));
    writes(&world, &gens, &shared);
}

/// The median µs of `qs` answered through `index`, three times over.
fn median(index: &SharedIndex<u64, u32>, qs: &[Question]) -> f64 {
    let mut ns: Vec<u64> = Vec::with_capacity(qs.len() * 3);
    for _ in 0..3 {
        for q in qs {
            let t = Instant::now();
            std::hint::black_box(answer_shared(index, q));
            ns.push(t.elapsed().as_nanos() as u64);
        }
    }
    stats(ns).p50
}

/// A thread moving windows through `index` (the `moves` in turn) at `rate`
/// a second (0: as fast as it can) until `stop`; with `write` false it
/// wakes as often and writes nothing. It returns the writes a second it
/// made.
fn mover(
    index: &SharedIndex<u64, u32>,
    moves: &Arc<Vec<Gen>>,
    rate: u64,
    write: bool,
    stop: &Arc<AtomicBool>,
) -> std::thread::JoinHandle<f64> {
    let (index, stop, moves) = (index.clone(), Arc::clone(stop), Arc::clone(moves));
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut done = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if let Some(every) = 1_000_000_000u64.checked_div(rate) {
                let due = start + Duration::from_nanos(done * every);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            let g = &moves[done as usize % moves.len()];
            if write {
                index.upsert(peers::window(g), 0).expect("a valid move");
            } else {
                std::hint::black_box(g);
            }
            done += 1;
        }
        done as f64 / start.elapsed().as_secs_f64()
    })
}

/// Reads once writes stop (`--only after-writes`): every query kind's
/// median through a handle on the fresh index, then after `--after N`
/// writes (30,000 by default) of one kind and the index left alone while
/// its tidying thread builds and installs what they left (2.5 s once
/// nothing is buffered), then after `compact()`: what a reader meets after a burst of moves, or
/// of deletes alone (no new segments: only the large segment's deaths).
fn after_writes(world: &World, gens: &[Gen], mw: &Mwindex, runs: usize) {
    let writes: usize = arg("--after").and_then(|v| v.parse().ok()).unwrap_or(30_000).min(gens.len());
    let kinds = peers::KINDS;
    let qs: Vec<Vec<Question>> =
        kinds.iter().enumerate().map(|(k, kind)| peers::questions(kind, world, 91 + k as u64, runs)).collect();
    let medians = |index: &SharedIndex<u64, u32>| -> Vec<String> {
        qs.iter().map(|qs| format!("{:.2}", median(index, qs))).collect()
    };
    println!("\n| after | segments | buffered | {} |", kinds.join(" | "));
    println!("|---|---:|---:|{}", "---:|".repeat(kinds.len()));
    let row = |label: &str, index: &SharedIndex<u64, u32>| {
        let plan = index.explain(&mwindex::Query::new()).expect("an empty query is valid");
        println!("| {label} | {} | {} | {} |", plan.segments, plan.buffered, medians(index).join(" | "));
    };
    let mut rng = Rng::new(17);
    let moved = workload::moved(gens, &mut rng, writes);
    for deletes in [false, true] {
        let index = SharedIndex::from(mw.index.clone());
        row("nothing (fresh)", &index);
        for g in &moved {
            if deletes {
                index.delete(g.id);
            } else {
                index.upsert(peers::window(g), 0).expect("a valid move");
            }
        }
        let began = Instant::now();
        while index.explain(&mwindex::Query::new()).map_or(0, |p| p.buffered) > 0 && began.elapsed().as_secs() < 5 {
            std::thread::sleep(Duration::from_millis(20));
        }
        // The tidying thread's first look after the writes comes within a
        // second, and its moves of kills into tombstones and the merges its
        // installs start are installed at its next looks, 100 ms apart.
        std::thread::sleep(Duration::from_millis(2_500));
        let label = if deletes { format!("{writes} deletes") } else { format!("{writes} moves") };
        row(&label, &index);
        index.compact();
        row(&format!("{label}, compact()"), &index);
    }
}

/// Reads by kind beside a writer (`--only during-writes`): each kind's
/// median on one reader thread with no writer, then with a thread moving
/// windows at 10,000 a second (the `reads` table's third row, by kind), and
/// the segments and buffered windows the reads met (sampled after each
/// kind). What a lone reader pays for a slow writer, and where.
fn during_writes(world: &World, gens: &[Gen], shared: &SharedIndex<u64, u32>, runs: usize) {
    // `--kinds Q7,Q8` measures only those (a profile of one).
    let wanted = arg("--kinds");
    let (kinds, qs): (Vec<&str>, Vec<Vec<Question>>) = peers::KINDS
        .iter()
        .enumerate()
        .filter(|(_, k)| wanted.as_deref().is_none_or(|w| w.split(',').any(|x| x == **k)))
        .map(|(k, kind)| (*kind, peers::questions(kind, world, 93 + k as u64, runs)))
        .unzip();
    let mut rng = Rng::new(29);
    let moves = Arc::new(workload::moved(gens, &mut rng, 2_000_000));
    println!("\n| writer | segments (min-max) | buffered (max) | {} |", kinds.join(" | "));
    println!("|---|---:|---:|{}", "---:|".repeat(kinds.len()));
    for rate in [None, Some(10_000u64)] {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = rate.map(|rate| mover(shared, &moves, rate, true, &stop));
        // Let the writer reach its steady state first.
        if writer.is_some() {
            std::thread::sleep(Duration::from_secs(2));
        }
        let (mut segs, mut buffered) = ((usize::MAX, 0usize), 0usize);
        let medians: Vec<String> = qs
            .iter()
            .map(|qs| {
                let p50 = median(shared, qs);
                let plan = shared.explain(&mwindex::Query::new()).expect("an empty query is valid");
                segs = (segs.0.min(plan.segments), segs.1.max(plan.segments));
                buffered = buffered.max(plan.buffered);
                format!("{p50:.2}")
            })
            .collect();
        stop.store(true, Ordering::Relaxed);
        if let Some(w) = writer {
            w.join().expect("writer runs");
        }
        let label = rate.map_or("none".to_string(), |r| format!("moves {r}/s"));
        println!("| {label} | {}-{} | {buffered} | {} |", segs.0, segs.1, medians.join(" | "));
    }
}

/// Every query kind on the index and through the handle, interleaved,
/// medians.
fn queries(world: &World, mw: &mut Mwindex, shared: &SharedIndex<u64, u32>, runs: usize) {
    println!("| query | Index median µs | SharedIndex median µs | handle / index |");
    println!("|---|---:|---:|---:|");
    for kind in peers::KINDS {
        let seed = 1000 + kind.len() as u64 * 31 + kind.as_bytes()[1] as u64;
        let qs = peers::questions(kind, world, seed, runs);
        // Rounds of 100 questions, each side answering 50 (different ones:
        // a question just answered would find its data in the cache), the
        // halves swapped every round.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (r, round) in qs.chunks(100).enumerate() {
            let (first, second) = round.split_at(round.len() / 2);
            let (mine, theirs) = if r % 2 == 0 { (first, second) } else { (second, first) };
            for q in mine {
                let t = Instant::now();
                std::hint::black_box(mw.answer(q));
                a.push(t.elapsed().as_nanos() as u64);
            }
            for q in theirs {
                let t = Instant::now();
                std::hint::black_box(answer_shared(shared, q));
                b.push(t.elapsed().as_nanos() as u64);
            }
        }
        let (a, b) = (stats(a).p50, stats(b).p50);
        println!("| {kind} {} | {a:.2} | {b:.2} | {:.2} |", peers::describe(kind), b / a);
    }
}

/// Reads on 1 and 2 threads beside no writer, a thread that wakes 10,000
/// times a second and writes nothing, a writer paced at 10,000 writes a
/// second, and one at full speed.
fn concurrent(world: &World, gens: &[Gen], shared: &SharedIndex<u64, u32>, each: Duration) {
    // A mix of every page and count kind, in a fixed random order.
    let mut qs: Vec<Question> = Vec::new();
    for (k, kind) in peers::KINDS.iter().enumerate() {
        qs.extend(peers::questions(kind, world, 77 + k as u64, 500));
    }
    let mut rng = Rng::new(3);
    for i in (1..qs.len()).rev() {
        qs.swap(i, rng.below(i + 1));
    }
    let qs = Arc::new(qs);
    let moves = Arc::new(workload::moved(gens, &mut rng, 4_000_000));
    println!("\n| readers | writer | reads/s | read p50 µs | read p99 µs | writes/s |");
    println!("|---:|---|---:|---:|---:|---:|");
    // The second row's writer wakes as the third's does but writes
    // nothing: what waking a thread 10,000 times a second costs the
    // readers on this machine, whatever the thread then does.
    let paced = [
        ("none", None, true),
        ("wakes 10,000/s, writes nothing", Some(10_000u64), false),
        ("10,000/s", Some(10_000), true),
        ("full speed", Some(0), true),
    ];
    for (label, rate, write) in paced {
        for readers in [1usize, 2] {
            let stop = Arc::new(AtomicBool::new(false));
            let writer = rate.map(|rate| mover(shared, &moves, rate, write, &stop));
            let threads: Vec<_> = (0..readers)
                .map(|r| {
                    let (index, stop, qs) = (shared.clone(), Arc::clone(&stop), Arc::clone(&qs));
                    std::thread::spawn(move || {
                        let mut ns = Vec::with_capacity(1 << 20);
                        let mut i = r * 7919;
                        let start = Instant::now();
                        while !stop.load(Ordering::Relaxed) {
                            let q = &qs[i % qs.len()];
                            let t = Instant::now();
                            std::hint::black_box(answer_shared(&index, q));
                            ns.push(t.elapsed().as_nanos() as u64);
                            i += 1;
                        }
                        (ns, start.elapsed())
                    })
                })
                .collect();
            std::thread::sleep(each);
            stop.store(true, Ordering::Relaxed);
            let mut all = Vec::new();
            let mut rate = 0.0;
            for t in threads {
                let (ns, took) = t.join().expect("reader runs");
                rate += ns.len() as f64 / took.as_secs_f64();
                all.extend(ns);
            }
            let writes = writer.map(|w| w.join().expect("writer runs"));
            let s = stats(all);
            println!(
                "| {readers} | {label} | {rate:.0} | {:.2} | {:.2} | {} |",
                s.p50,
                s.p99,
                writes.map_or("-".into(), |w| format!("{w:.0}"))
            );
        }
    }
}

/// Inserts, moves, deletes and a mix through the handle on one thread.
fn writes(world: &World, gens: &[Gen], shared: &SharedIndex<u64, u32>) {
    let n = gens.len();
    let ops = arg("--write-ops").and_then(|v| v.parse().ok()).unwrap_or(200_000).min(n);
    let mut rng = Rng::new(5);
    let fresh = world.windows(ops, 777);
    let moved = workload::moved(gens, &mut rng, ops);
    let offset = 1u64 << 40;
    println!(
        "\n| write through the handle ({ops} ops at {n}) | ops/s | p50 µs | p99 µs | p99.9 µs | longest µs | CPU µs/op |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    // `--kinds insert,move,delete,mixed` runs only those (a profile of one).
    let kinds = arg("--kinds");
    let wanted = |kind: &str| kinds.as_deref().is_none_or(|k| k.split(',').any(|x| x == kind));
    // CPU µs an operation, by thread name, printed after the table.
    let per_thread = std::cell::RefCell::new(Vec::new());
    let run = |label: &str, op: &dyn Fn(usize)| {
        let kind = label.split(' ').next().unwrap_or(label);
        if !wanted(kind) {
            return;
        }
        let mut ns = Vec::with_capacity(ops);
        let threads = thread_cpu();
        let cpu = process_cpu();
        let t = Instant::now();
        for i in 0..ops {
            let s = Instant::now();
            op(i);
            ns.push(s.elapsed().as_nanos() as u64);
        }
        let rate = ops as f64 / t.elapsed().as_secs_f64();
        // Every thread's CPU time over the run (the writer's and the
        // background work its writes caused), less noisy than the rate on
        // shared cores; work still queued at the end counts in the next run.
        let cpu = (process_cpu() - cpu).as_secs_f64() * 1e6 / ops as f64;
        let s = stats(ns);
        println!("| {label} | {rate:.0} | {:.2} | {:.2} | {:.2} | {:.0} | {cpu:.2} |", s.p50, s.p99, s.p999, s.max);
        let by_thread: Vec<String> = thread_cpu_since(&threads)
            .into_iter()
            .map(|(name, t)| format!("{name} {:.2}", t.as_secs_f64() * 1e6 / ops as f64))
            .collect();
        per_thread.borrow_mut().push(format!("{kind}: {}", by_thread.join(", ")));
    };
    let fresh_at = |i: usize| {
        let mut g = fresh[i];
        g.id += offset;
        g
    };
    run("insert", &|i| shared.insert(peers::window(&fresh_at(i)), 0).expect("fresh id"));
    run("move (upsert with new times)", &|i| {
        shared.upsert(peers::window(&moved[i]), 0).expect("valid");
    });
    run("delete", &|i| {
        shared.delete(fresh_at(i).id);
    });
    let mixed = 1u64 << 41;
    let fresh_mix = world.windows(ops, 778);
    let moved_mix = workload::moved(gens, &mut rng, ops);
    let mix_at = |i: usize| {
        let mut g = fresh_mix[i];
        g.id += mixed;
        g
    };
    run("mixed (2 insert : 2 move : 1 delete)", &|i| match i % 5 {
        0 | 1 => shared.insert(peers::window(&mix_at(i)), 0).expect("fresh id"),
        2 | 3 => {
            shared.upsert(peers::window(&moved_mix[i]), 0).expect("valid");
        }
        _ => {
            shared.delete(mix_at(i - 4).id);
        }
    });
    println!("\nCPU µs an operation by thread (`/proc/self/task`):");
    for line in per_thread.borrow().iter() {
        println!("- {line}");
    }
    let view = shared.view();
    let before = shared.version();
    for i in 0..100_000usize {
        let g = &moved_mix[i % moved_mix.len()];
        shared.upsert(peers::window(g), 1).expect("valid");
    }
    println!(
        "\nan idle pinned view after {} writes holds {:.1} MB the index no longer shares",
        shared.version() - before,
        shared.retained_bytes(&view) as f64 / 1e6
    );
}

/// User and system CPU time of every thread of this process so far.
#[cfg(unix)]
#[allow(unsafe_code)]
fn process_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given, and RUSAGE_SELF is valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// No CPU time where `getrusage` is not available.
#[cfg(not(unix))]
fn process_cpu() -> Duration {
    Duration::ZERO
}

/// Each thread's name and CPU time (user and system) so far, from
/// `/proc/self/task` (empty where there is none).
fn thread_cpu() -> Vec<(String, Duration)> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return Vec::new() };
    // Clock ticks a second: 100 on Linux.
    let tick = Duration::from_millis(10);
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        // `pid (name) state ...`: the fields after the name, utime the 12th.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u32>().ok()).unwrap_or(0);
        out.push((format!("{name}#{}", task.file_name().to_string_lossy()), tick * (ticks(11) + ticks(12))));
    }
    out
}

/// CPU time by thread name since `before` (threads of one name summed).
fn thread_cpu_since(before: &[(String, Duration)]) -> Vec<(String, Duration)> {
    let mut by_name: Vec<(String, Duration)> = Vec::new();
    for (task, now) in thread_cpu() {
        let then = before.iter().find(|(t, _)| *t == task).map_or(Duration::ZERO, |&(_, d)| d);
        let name = task.split('#').next().unwrap_or(&task).to_string();
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, d)) => *d += now.saturating_sub(then),
            None => by_name.push((name, now.saturating_sub(then))),
        }
    }
    by_name.retain(|(_, d)| !d.is_zero());
    by_name
}
