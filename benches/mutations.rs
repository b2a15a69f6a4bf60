//! Criterion: single mutations (insert, move, delete) on a loaded index,
//! mwindex (one at a time and batched) and BTreeMap in one group; and the bulk build against its peers.
//! `MWINDEX_BENCH_WINDOWS` sets the size (default 1M).

#[path = "support/peers.rs"]
mod peers;
#[path = "support/workload.rs"]
mod workload;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use peers::{BTree, Coi, Lap, Mwindex};
use workload::{DAY, Rng, World};

fn mutations(c: &mut Criterion) {
    let n = workload::bench_windows();
    let world = World::new(7);
    let gens = world.windows(n, 42);
    let fresh = world.windows(1 << 20, 777);
    let mut mw = Mwindex::build(&world.orgs, &gens);
    let mut bt = BTree::build(&gens);
    let mut rng = Rng::new(3);
    let mut group = c.benchmark_group("move (upsert with new times)");
    group.sample_size(20);
    group.bench_function(BenchmarkId::new("mwindex", n), |b| {
        b.iter(|| {
            let mut g = gens[rng.below(n)];
            let shift = rng.range(-DAY, DAY);
            g.start += shift;
            g.end += shift;
            mw.index.upsert(peers::window(&g), 0).expect("valid window")
        })
    });
    // The same moves through the batched entry point, 256 per call; the
    // group reports time per move.
    let batch = 256;
    group.throughput(criterion::Throughput::Elements(batch as u64));
    group.bench_function(BenchmarkId::new("mwindex upsert_all", n), |b| {
        b.iter_batched(
            || {
                (0..batch)
                    .map(|_| {
                        let mut g = gens[rng.below(n)];
                        let shift = rng.range(-DAY, DAY);
                        g.start += shift;
                        g.end += shift;
                        (peers::window(&g), 0)
                    })
                    .collect::<Vec<_>>()
            },
            |moves| mw.index.upsert_all(moves).expect("valid windows"),
            BatchSize::SmallInput,
        )
    });
    group.throughput(criterion::Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("BTreeMap", n), |b| {
        b.iter(|| {
            let old = gens[rng.below(n)];
            bt.remove(&old);
            let shift = rng.range(-DAY, DAY);
            let mut g = old;
            g.start += shift;
            g.end += shift;
            bt.insert(&g);
        })
    });
    group.finish();

    let mut group = c.benchmark_group("insert then delete");
    group.sample_size(20);
    let mut i = 0usize;
    group.bench_function(BenchmarkId::new("mwindex", n), |b| {
        b.iter(|| {
            let mut g = fresh[i % fresh.len()];
            g.id += 1 << 40;
            i += 1;
            mw.index.insert(peers::window(&g), 0).expect("fresh id");
            mw.index.delete(g.id)
        })
    });
    group.bench_function(BenchmarkId::new("BTreeMap", n), |b| {
        b.iter(|| {
            let mut g = fresh[i % fresh.len()];
            g.id += 1 << 40;
            i += 1;
            bt.insert(&g);
            bt.remove(&g);
        })
    });
    group.finish();

    let small = gens[..n.min(200_000)].to_vec();
    let mut group = c.benchmark_group("bulk build");
    group.sample_size(10);
    let m = small.len();
    group.bench_function(BenchmarkId::new("mwindex", m), |b| {
        b.iter_batched(|| small.clone(), |g| Mwindex::build(&world.orgs, &g), BatchSize::LargeInput)
    });
    group.bench_function(BenchmarkId::new("BTreeMap", m), |b| b.iter(|| BTree::build(&small)));
    group.bench_function(BenchmarkId::new("rust-lapper", m), |b| b.iter(|| Lap::build(&small)));
    group.bench_function(BenchmarkId::new("coitrees", m), |b| b.iter(|| Coi::build(&small)));
    group.finish();
}

criterion_group!(benches, mutations);
criterion_main!(benches);
