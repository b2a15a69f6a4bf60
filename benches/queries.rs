//! Criterion: every query kind of the workload, mwindex and each peer in one
//! group on the same data, so the report shows ratios from one run.
//!
//! `cargo bench --bench queries` runs at 1M windows; `MWINDEX_BENCH_WINDOWS`
//! sets another size (e.g. 10000000).

#[path = "support/peers.rs"]
mod peers;
#[path = "support/workload.rs"]
mod workload;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use peers::{BTree, Coi, Lap, Mwindex, Peer, Scan, Sqlite};
use workload::World;

fn queries(c: &mut Criterion) {
    let n = workload::bench_windows();
    let world = World::new(7);
    let gens = world.windows(n, 42);
    let mut mw = Mwindex::build(&world.orgs, &gens);
    let mut bt = BTree::build(&gens);
    let mut lap = Lap::build(&gens);
    let mut coi = Coi::build(&gens);
    let mut sql = Sqlite::build(&gens).expect("sqlite builds");
    let mut scan = Scan { rows: gens.clone() };
    let mut peers: Vec<&mut dyn Peer> = vec![&mut mw, &mut bt, &mut lap, &mut coi, &mut sql, &mut scan];
    for kind in peers::KINDS {
        let qs = peers::questions(kind, &world, 11, 256);
        let mut group = c.benchmark_group(format!("{kind} {}", peers::describe(kind)));
        group.sample_size(20).measurement_time(std::time::Duration::from_secs(2));
        for p in peers.iter_mut() {
            if p.answer(&qs[0]).is_none() {
                continue;
            }
            // The Vec scan takes milliseconds; a few iterations are plenty.
            let mut i = 0;
            group.bench_function(BenchmarkId::new(p.name(), n), |b| {
                b.iter(|| {
                    i = (i + 1) % qs.len();
                    p.answer(&qs[i])
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, queries);
criterion_main!(benches);
