//! The benchmark workload: deterministic, seeded, shaped like a real EV
//! charging operator's maintenance data. Shared by the benches and the
//! examples (included with `#[path]`), so everything measures the same data.
#![allow(dead_code)]

/// SplitMix64: a small, fast, well-distributed deterministic generator.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (`hi > lo`).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

pub const HOUR: i64 = 3_600_000_000;
pub const DAY: i64 = 24 * HOUR;
/// 2024-01-01T00:00:00Z in microseconds.
pub const T0: i64 = 1_704_067_200_000_000;
/// Starts are uniform over two years.
pub const SPAN: i64 = 730 * DAY;

/// `ops` windows of `gens`, drawn at random, each moved by up to a day
/// either way: the moves (upserts with new times) the reports time.
pub fn moved(gens: &[Gen], rng: &mut Rng, ops: usize) -> Vec<Gen> {
    (0..ops)
        .map(|_| {
            let mut g = gens[rng.below(gens.len())];
            let shift = rng.range(-DAY, DAY);
            g.start += shift;
            g.end += shift;
            g
        })
        .collect()
}

/// Windows the criterion benches load: `MWINDEX_BENCH_WINDOWS`, else 1M.
pub fn bench_windows() -> usize {
    std::env::var("MWINDEX_BENCH_WINDOWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

pub const ORGS: usize = 500;
pub const SITES: usize = 5_000;
pub const CHARGERS: usize = 50_000;

/// One generated window, in plain integers.
#[derive(Clone, Copy, Debug)]
pub struct Gen {
    pub id: u64,
    pub start: i64,
    pub end: i64,
    pub charger: u64,
    pub site: u64,
    pub org: u64,
}

/// The organization forest, charger -> site and site -> organization maps.
pub struct World {
    /// `(org, parent)`, parents before children. Org ids are `1..=ORGS`.
    pub orgs: Vec<(u64, Option<u64>)>,
    pub site_org: Vec<u64>,
    pub charger_site: Vec<u64>,
    /// An organization with more than 100 descendants (Q4p).
    pub big_parent: u64,
}

impl World {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0x0A11_CE55);
        // Five roots. Root 1 has 150 children; 40 of those have 2 children
        // each (depth 3), and 20 of those one child (depth 4). The rest sit
        // under roots 2..=5.
        let mut orgs: Vec<(u64, Option<u64>)> = (1..=5).map(|r| (r, None)).collect();
        let mut next = 6u64;
        let mut level2 = Vec::new();
        for _ in 0..150 {
            orgs.push((next, Some(1)));
            level2.push(next);
            next += 1;
        }
        let mut level3 = Vec::new();
        for &p in level2.iter().take(40) {
            for _ in 0..2 {
                orgs.push((next, Some(p)));
                level3.push(next);
                next += 1;
            }
        }
        for &p in level3.iter().take(20) {
            orgs.push((next, Some(p)));
            next += 1;
        }
        while (next as usize) <= ORGS {
            orgs.push((next, Some(2 + rng.below(4) as u64)));
            next += 1;
        }
        let site_org = (0..SITES).map(|_| 1 + rng.below(ORGS) as u64).collect();
        let charger_site = (0..CHARGERS).map(|_| rng.below(SITES) as u64).collect();
        World { orgs, site_org, charger_site, big_parent: 1 }
    }

    pub fn descendants(&self, root: u64) -> Vec<u64> {
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() {
            let p = out[i];
            out.extend(self.orgs.iter().filter(|(_, parent)| *parent == Some(p)).map(|(o, _)| *o));
            i += 1;
        }
        out
    }

    /// `n` windows: random chargers; starts uniform over [`SPAN`]; lengths 89%
    /// 1-8 h, 10% 1-7 d, 1% 30-90 d.
    pub fn windows(&self, n: usize, seed: u64) -> Vec<Gen> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|i| {
                let charger = rng.below(CHARGERS) as u64;
                let site = self.charger_site[charger as usize];
                let org = self.site_org[site as usize];
                let start = T0 + rng.range(0, SPAN);
                let roll = rng.below(100);
                let len = if roll < 89 {
                    rng.range(HOUR, 8 * HOUR + 1)
                } else if roll < 99 {
                    rng.range(DAY, 7 * DAY + 1)
                } else {
                    rng.range(30 * DAY, 90 * DAY + 1)
                };
                Gen { id: i as u64, start, end: start + len, charger, site, org }
            })
            .collect()
    }
}
