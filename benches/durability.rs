//! Criterion: durability. Snapshot write (a checkpoint) and open, against
//! building the same index from its windows (what a restart without a
//! snapshot costs); log appends under each sync policy; recovery of a log
//! of inserts. `MWINDEX_BENCH_DURABLE_WINDOWS` sets the snapshot size
//! (default 1M); files go to `target/durability-criterion`.

#[path = "support/peers.rs"]
mod peers;
#[path = "support/workload.rs"]
mod workload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mwindex::{Durable, DurableOptions, Index, OrgId, SyncPolicy};
use peers::window;
use workload::World;

fn options(world: &World, sync: SyncPolicy) -> DurableOptions<u64, u32> {
    DurableOptions::new()
        .index(Index::builder().organizations(world.orgs.iter().map(|&(o, p)| (OrgId(o), p.map(OrgId)))))
        .sync(sync)
        .checkpoint_after_bytes(None)
}

fn fresh(name: &str) -> PathBuf {
    let dir = Path::new("target/durability-criterion").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn snapshots(c: &mut Criterion) {
    let n: usize =
        std::env::var("MWINDEX_BENCH_DURABLE_WINDOWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let world = World::new(7);
    let gens = world.windows(n, 42);
    let dir = fresh("snapshot");
    let d = Durable::open(&dir, options(&world, SyncPolicy::None)).expect("open");
    d.bulk_insert(gens.iter().map(|g| (window(g), g.id as u32))).expect("bulk");
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("write (checkpoint)", n), |b| b.iter(|| d.checkpoint().expect("checkpoint")));
    d.close().expect("close");
    group.bench_function(BenchmarkId::new("open", n), |b| {
        b.iter(|| Durable::<u64, u32>::open(&dir, options(&world, SyncPolicy::None)).expect("open"))
    });
    group.bench_function(BenchmarkId::new("build from windows (no snapshot)", n), |b| {
        b.iter(|| {
            Index::builder()
                .organizations(world.orgs.iter().map(|&(o, p)| (OrgId(o), p.map(OrgId))))
                .build_from(gens.iter().map(|g| (window(g), g.id as u32)))
                .expect("build")
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn appends(c: &mut Criterion) {
    let world = World::new(7);
    let gens = world.windows(2_000_000, 43);
    let mut group = c.benchmark_group("log append (insert)");
    group.sample_size(10);
    for (sync, threads) in [
        (SyncPolicy::EveryWrite, 1),
        (SyncPolicy::Group, 1),
        (SyncPolicy::Group, 4),
        (SyncPolicy::Group, 16),
        (SyncPolicy::None, 1),
    ] {
        let dir = fresh("appends");
        let d = Durable::open(&dir, options(&world, sync)).expect("open");
        let mut next = 0usize;
        group.throughput(criterion::Throughput::Elements(1));
        group.bench_function(BenchmarkId::new(format!("{sync:?}"), format!("{threads} writers")), |b| {
            // Time per write, `threads` writers at once.
            b.iter_custom(|iters| {
                let per = (iters as usize).div_ceil(threads);
                let began = Instant::now();
                std::thread::scope(|s| {
                    for t in 0..threads {
                        let index = d.index().clone();
                        let mine = &gens[(next + t * per) % gens.len()..];
                        s.spawn(move || {
                            for g in mine.iter().take(per) {
                                let _ = index.upsert(window(g), g.id as u32);
                            }
                        });
                    }
                });
                next = (next + threads * per) % gens.len();
                began.elapsed().div_f64((threads * per) as f64 / iters as f64)
            })
        });
        d.close().expect("close");
    }
    group.finish();
}

fn recovery(c: &mut Criterion) {
    let world = World::new(7);
    let records = 200_000;
    let gens = world.windows(records, 44);
    let dir = fresh("recovery");
    let d = Durable::open(&dir, options(&world, SyncPolicy::None)).expect("open");
    for g in &gens {
        d.insert(window(g), g.id as u32).expect("insert");
    }
    d.close().expect("close");
    let mut group = c.benchmark_group("recovery");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(records as u64));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function(BenchmarkId::new("replay inserts", records), |b| {
        b.iter(|| {
            let d = Durable::<u64, u32>::open(&dir, options(&world, SyncPolicy::None)).expect("open");
            assert_eq!(d.recovery().replayed, records as u64);
            d
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, snapshots, appends, recovery);
criterion_main!(benches);
