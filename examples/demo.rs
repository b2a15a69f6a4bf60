//! The main job on an embedded default: generate a realistic index (1M
//! windows unless `--windows N` says otherwise), then run the sample queries
//! of both APIs, printing results and timings.
//!
//! ```text
//! cargo run --release --example demo -- --windows 1000000
//! ```

#[path = "../benches/support/workload.rs"]
mod workload;

use std::time::Instant;

use mwindex::{ChargerId, Index, Order, OrgId, Query, SiteId, Status, Timestamp, Window};
use workload::{DAY, Rng, SPAN, T0, World};

fn ts(micros: i64) -> Timestamp {
    Timestamp::from_micros(micros).expect("generated times are in range")
}

fn median_p99(mut nanos: Vec<u128>) -> (f64, f64) {
    nanos.sort_unstable();
    let at = |q: f64| nanos[((nanos.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    (at(0.5), at(0.99))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = match args.iter().position(|a| a == "--windows") {
        Some(i) => args.get(i + 1).ok_or("--windows needs a number")?.replace('_', "").parse()?,
        None => 1_000_000,
    };
    let world = World::new(7);
    let gens = world.windows(n, 42);
    println!(
        "mwindex demo: {n} windows, {} organizations, {} sites, {} chargers",
        world.orgs.len(),
        workload::SITES,
        workload::CHARGERS
    );

    let items: Vec<(Window<u64>, u32)> = gens
        .iter()
        .map(|g| {
            let w = Window::new(g.id, ts(g.start), ts(g.end), OrgId(g.org))?
                .with_charger(ChargerId(g.charger))
                .with_site(SiteId(g.site));
            Ok((w, g.id as u32))
        })
        .collect::<Result<_, mwindex::Error>>()?;
    let t = Instant::now();
    let mut index: Index<u64, u32> =
        Index::builder().organizations(world.orgs.iter().map(|&(o, p)| (OrgId(o), p.map(OrgId)))).build_from(items)?;
    let build = t.elapsed();
    println!(
        "bulk build: {:.2} s, index structures {:.1} bytes/window (payloads excluded)\n",
        build.as_secs_f64(),
        index.index_bytes() as f64 / n as f64
    );

    let mut rng = Rng::new(99);
    let runs = 2_000;
    let random_range = |rng: &mut Rng, len: i64| {
        let a = T0 + rng.range(0, SPAN - len);
        (ts(a), ts(a + len))
    };
    println!("{:<58} {:>9} {:>9} {:>8}  plan", "query", "median µs", "p99 µs", "results");
    type Make = Box<dyn Fn(&mut Rng) -> Query<u64>>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "Q1 overlap 7-day range, first 50",
            Box::new(move |r| {
                let (a, b) = random_range(r, 7 * DAY);
                Query::new().overlapping(a, b)
            }),
        ),
        (
            "Q2 Q1 + one charger",
            Box::new(move |r| {
                let (a, b) = random_range(r, 7 * DAY);
                Query::new().overlapping(a, b).chargers([ChargerId(r.below(workload::CHARGERS) as u64)])
            }),
        ),
        (
            "Q3 Q1 + 10 sites",
            Box::new(move |r| {
                let (a, b) = random_range(r, 7 * DAY);
                Query::new().overlapping(a, b).sites((0..10).map(|_| SiteId(r.below(workload::SITES) as u64)))
            }),
        ),
        (
            "Q4 active now, one organization (scope)",
            Box::new(move |r| {
                let now = ts(T0 + r.range(0, SPAN));
                Query::new().status(Status::Active, now).scope(OrgId(1 + r.below(workload::ORGS) as u64))
            }),
        ),
        (
            "Q4p active now, parent organization (150+ descendants)",
            Box::new(move |r| {
                let now = ts(T0 + r.range(0, SPAN));
                Query::new().status(Status::Active, now).scope(OrgId(1))
            }),
        ),
        (
            "Q7 upcoming, one site, first 50",
            Box::new(move |r| {
                let now = ts(T0 + r.range(0, SPAN));
                Query::new().status(Status::Upcoming, now).sites([SiteId(r.below(workload::SITES) as u64)])
            }),
        ),
        (
            "Q8 past, 3 chargers, first 50",
            Box::new(move |r| {
                let now = ts(T0 + r.range(0, SPAN));
                Query::new()
                    .status(Status::Past, now)
                    .chargers((0..3).map(|_| ChargerId(r.below(workload::CHARGERS) as u64)))
            }),
        ),
        (
            "incident.io: active, id order, page of 25",
            Box::new(move |r| {
                let now = ts(T0 + r.range(0, SPAN));
                Query::new().status(Status::Active, now).order(Order::Id).page_size(25)
            }),
        ),
    ];
    for (name, make) in &cases {
        let mut times = Vec::with_capacity(runs);
        let mut results = 0;
        let mut plan = None;
        for _ in 0..runs {
            let q = make(&mut rng);
            let t = Instant::now();
            let page = index.query(&q)?;
            times.push(t.elapsed().as_nanos());
            results += page.items().len();
            plan = Some(page.driver());
        }
        let (med, p99) = median_p99(times);
        println!(
            "{name:<58} {med:>9.2} {p99:>9.2} {:>8.1}  {:?}",
            results as f64 / runs as f64,
            plan.unwrap_or(mwindex::Driver::Nothing)
        );
    }

    let count_cases: Vec<(&str, Make)> = vec![
        (
            "Q5 count overlapping a 1-day range",
            Box::new(move |r| {
                let (a, b) = random_range(r, DAY);
                Query::new().overlapping(a, b)
            }),
        ),
        (
            "Q6 count active at an instant",
            Box::new(move |r| Query::new().status(Status::Active, ts(T0 + r.range(0, SPAN)))),
        ),
        (
            "Q5c count overlapping a 1-day range, one charger",
            Box::new(move |r| {
                let (a, b) = random_range(r, DAY);
                Query::new().overlapping(a, b).chargers([ChargerId(r.below(workload::CHARGERS) as u64)])
            }),
        ),
        (
            "Q6s count active at an instant, one site",
            Box::new(move |r| {
                Query::new()
                    .status(Status::Active, ts(T0 + r.range(0, SPAN)))
                    .sites([SiteId(r.below(workload::SITES) as u64)])
            }),
        ),
        (
            "count active in the parent organization's scope",
            Box::new(move |r| Query::new().status(Status::Active, ts(T0 + r.range(0, SPAN))).scope(OrgId(1))),
        ),
    ];
    for (name, make) in &count_cases {
        let mut times = Vec::with_capacity(runs);
        let mut total = 0;
        let mut plan = None;
        for _ in 0..runs {
            let q = make(&mut rng);
            let t = Instant::now();
            total += index.count(&q)?;
            times.push(t.elapsed().as_nanos());
            plan = Some(index.explain_count(&q)?.driver);
        }
        let (med, p99) = median_p99(times);
        println!(
            "{name:<58} {med:>9.2} {p99:>9.2} {:>8.1}  {:?}",
            total as f64 / runs as f64,
            plan.unwrap_or(mwindex::Driver::Nothing)
        );
    }

    // Q9: walk 20 pages of Q1 by cursor.
    let mut times = Vec::new();
    for _ in 0..200 {
        let (a, b) = random_range(&mut rng, 7 * DAY);
        let q = Query::new().overlapping(a, b);
        let mut cursor: Option<String> = None;
        for _ in 0..20 {
            let q = match &cursor {
                Some(c) => q.clone().cursor(c.clone()),
                None => q.clone(),
            };
            let t = Instant::now();
            let page = index.query(&q)?;
            times.push(t.elapsed().as_nanos());
            cursor = page.next_cursor().map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
    }
    let (med, p99) = median_p99(times);
    println!("{:<58} {med:>9.2} {p99:>9.2}", "Q9 one page of a 20-page cursor walk of Q1");

    // Mutations at this size.
    let ops = 200_000;
    let t = Instant::now();
    for i in 0..ops {
        let g = &gens[rng.below(n)];
        let shift = rng.range(-DAY, DAY);
        let w = Window::new(g.id, ts(g.start + shift), ts(g.end + shift), OrgId(g.org))?
            .with_charger(ChargerId(g.charger))
            .with_site(SiteId(g.site));
        index.upsert(w, i as u32)?;
    }
    let secs = t.elapsed().as_secs_f64();
    println!("\nmoves (upsert with new times): {:.0} per second over {ops}", ops as f64 / secs);
    let sample = index.query(&Query::new().overlapping(ts(T0 + 100 * DAY), ts(T0 + 101 * DAY)).page_size(3))?;
    println!("\nfirst windows overlapping day 100:");
    for e in sample.items() {
        let w = e.window;
        println!(
            "  id {:>8}  {} .. {}  charger {:?} site {:?} org {}",
            w.id(),
            w.start(),
            w.end(),
            w.charger().map(|c| c.0),
            w.site().map(|s| s.0),
            w.org()
        );
    }
    println!("  next page cursor: {}", sample.next_cursor().unwrap_or("-"));
    Ok(())
}
