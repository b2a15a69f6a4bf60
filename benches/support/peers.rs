//! The peers mwindex is measured against, each used the way a competent user
//! would, answering the same questions on the same data. Shared by the
//! criterion benches and the `bench_report` example (included with `#[path]`).
#![allow(dead_code)]

use std::collections::BTreeMap;

use coitrees::{COITree, IntervalTree};
use mwindex::{ChargerId, Index, IndexBuilder, OrgId, Query, SiteId, Status, Timestamp, Window};
use rust_lapper::{Interval, Lapper};

use super::workload::{Gen, T0};

/// The time part of a question.
#[derive(Clone, Copy, Debug)]
pub enum Ask {
    /// `end > a && start < b`.
    Overlap(i64, i64),
    /// `start <= now < end`.
    Active(i64),
    /// `start > now`.
    Upcoming(i64),
    /// `end <= now`.
    Past(i64),
}

/// The entity part of a question (ids of one kind, any of).
#[derive(Clone, Debug)]
pub enum Filter {
    None,
    Chargers(Vec<u64>),
    Sites(Vec<u64>),
    Orgs(Vec<u64>),
    /// The scope of a parent organization's API key: the root and every
    /// descendant (listed, for peers that have no tree).
    Scope(u64, Vec<u64>),
}

/// A question: time, entities, and how many results (first `limit` in
/// `(start, id)` order), or a count when `limit` is `None`.
#[derive(Clone, Debug)]
pub struct Question {
    pub ask: Ask,
    pub filter: Filter,
    pub limit: Option<usize>,
}

impl Question {
    /// `[a, b)` when the question is a plain overlap (or active-at-instant)
    /// with no entity filter: all the static interval peers can answer.
    fn unfiltered_overlap(&self) -> Option<(i64, i64)> {
        match (&self.filter, self.ask) {
            (Filter::None, Ask::Overlap(a, b)) => Some((a, b)),
            (Filter::None, Ask::Active(now)) => Some((now, now + 1)),
            _ => None,
        }
    }
}

impl Ask {
    /// Bounds as `s_lo <= start < s_hi`, `e_lo < end <= e_hi`.
    fn bounds(self) -> (i64, i64, i64, i64) {
        match self {
            Ask::Overlap(a, b) => (i64::MIN, b, a, i64::MAX),
            Ask::Active(now) => (i64::MIN, now + 1, now, i64::MAX),
            Ask::Upcoming(now) => (now + 1, i64::MAX, i64::MIN, i64::MAX),
            Ask::Past(now) => (i64::MIN, i64::MAX, i64::MIN, now),
        }
    }

    pub fn matches(self, start: i64, end: i64) -> bool {
        let (s_lo, s_hi, e_lo, e_hi) = self.bounds();
        start >= s_lo && start < s_hi && end > e_lo && end <= e_hi
    }
}

/// What a peer answers: ids in `(start, id)` order, or a count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Ids(Vec<u64>),
    Count(u64),
}

pub trait Peer {
    fn name(&self) -> &'static str;
    /// `None` when the peer has no sensible way to answer (e.g. no filters).
    fn answer(&mut self, q: &Question) -> Option<Answer>;
}

/// Keeps the first `limit` of a stream that is ordered by start (ties in any
/// order), returning them in `(start, id)` order.
fn first_by_start(iter: impl Iterator<Item = (i64, u64)>, limit: usize) -> Vec<u64> {
    let mut out: Vec<(i64, u64)> = Vec::with_capacity(limit + 4);
    for (s, id) in iter {
        if out.len() >= limit && out.last().is_some_and(|&(ls, _)| s > ls) {
            break;
        }
        out.push((s, id));
    }
    out.sort_unstable();
    out.truncate(limit);
    out.into_iter().map(|(_, id)| id).collect()
}

fn merge_first(mut streams: Vec<(i64, u64)>, limit: usize) -> Vec<u64> {
    streams.sort_unstable();
    streams.truncate(limit);
    streams.into_iter().map(|(_, id)| id).collect()
}

// ----- mwindex -----

pub struct Mwindex {
    pub index: Index<u64, u32>,
}

fn ts(micros: i64) -> Timestamp {
    Timestamp::from_micros(micros).expect("workload times are in range")
}

impl Mwindex {
    pub fn build(orgs: &[(u64, Option<u64>)], gens: &[Gen]) -> Self {
        Self::build_with(orgs, gens, |b| b)
    }

    /// [`Mwindex::build`] with settings of the caller's beside the
    /// organizations.
    pub fn build_with(
        orgs: &[(u64, Option<u64>)],
        gens: &[Gen],
        settings: impl FnOnce(IndexBuilder<u64, u32>) -> IndexBuilder<u64, u32>,
    ) -> Self {
        let items = gens.iter().map(|g| (window(g), g.id as u32));
        let index = settings(Index::builder().organizations(orgs.iter().map(|&(o, p)| (OrgId(o), p.map(OrgId)))))
            .build_from(items)
            .expect("the workload is valid");
        Mwindex { index }
    }

    pub fn query(q: &Question) -> Query<u64> {
        let mut query = Query::new();
        query = match q.ask {
            Ask::Overlap(a, b) => query.overlapping(ts(a), ts(b)),
            Ask::Active(now) => query.status(Status::Active, ts(now)),
            Ask::Upcoming(now) => query.status(Status::Upcoming, ts(now)),
            Ask::Past(now) => query.status(Status::Past, ts(now)),
        };
        query = match &q.filter {
            Filter::None => query,
            Filter::Chargers(c) => query.chargers(c.iter().map(|&c| ChargerId(c))),
            Filter::Sites(s) => query.sites(s.iter().map(|&s| SiteId(s))),
            Filter::Orgs(o) => query.organizations(o.iter().map(|&o| OrgId(o))),
            Filter::Scope(root, _) => query.scope(OrgId(*root)),
        };
        query.page_size(q.limit.unwrap_or(50))
    }
}

pub fn window(g: &Gen) -> Window<u64> {
    Window::new(g.id, ts(g.start), ts(g.end), OrgId(g.org))
        .expect("generated windows are non-empty")
        .with_charger(ChargerId(g.charger))
        .with_site(SiteId(g.site))
}

impl Peer for Mwindex {
    fn name(&self) -> &'static str {
        "mwindex"
    }
    fn answer(&mut self, q: &Question) -> Option<Answer> {
        let query = Self::query(q);
        Some(match q.limit {
            Some(_) => Answer::Ids(self.index.query(&query).ok()?.items().iter().map(|e| e.window.id()).collect()),
            None => Answer::Count(self.index.count(&query).ok()?),
        })
    }
}

// ----- BTreeMap -----

/// Four ordered maps: `(start, id)` and `(charger | site | org, start, id)`,
/// each to the end, with the `start >= after - max_duration` bound.
#[derive(Default)]
pub struct BTree {
    by_time: BTreeMap<(i64, u64), i64>,
    by_charger: BTreeMap<(u64, i64, u64), i64>,
    by_site: BTreeMap<(u64, i64, u64), i64>,
    by_org: BTreeMap<(u64, i64, u64), i64>,
    max_len: i64,
}

impl BTree {
    pub fn build(gens: &[Gen]) -> Self {
        let mut t = BTree::default();
        for g in gens {
            t.insert(g);
        }
        t
    }

    pub fn insert(&mut self, g: &Gen) {
        self.by_time.insert((g.start, g.id), g.end);
        self.by_charger.insert((g.charger, g.start, g.id), g.end);
        self.by_site.insert((g.site, g.start, g.id), g.end);
        self.by_org.insert((g.org, g.start, g.id), g.end);
        self.max_len = self.max_len.max(g.end - g.start);
    }

    pub fn remove(&mut self, g: &Gen) {
        self.by_time.remove(&(g.start, g.id));
        self.by_charger.remove(&(g.charger, g.start, g.id));
        self.by_site.remove(&(g.site, g.start, g.id));
        self.by_org.remove(&(g.org, g.start, g.id));
    }

    fn start_from(&self, ask: Ask) -> i64 {
        let (s_lo, _, e_lo, _) = ask.bounds();
        s_lo.max(e_lo.saturating_sub(self.max_len))
    }
}

impl Peer for BTree {
    fn name(&self) -> &'static str {
        "BTreeMap"
    }
    fn answer(&mut self, q: &Question) -> Option<Answer> {
        let (_, s_hi, _, _) = q.ask.bounds();
        let from = self.start_from(q.ask);
        let keyed = |map: &BTreeMap<(u64, i64, u64), i64>, keys: &[u64]| -> Vec<(i64, u64)> {
            let mut all = Vec::new();
            for &k in keys {
                let hits = map
                    .range((k, from, 0)..(k, s_hi, 0))
                    .filter(|&(&(_, s, _), &e)| q.ask.matches(s, e))
                    .map(|(&(_, s, id), _)| (s, id));
                match q.limit {
                    Some(limit) => all.extend(hits.take(limit)),
                    None => all.extend(hits),
                }
            }
            all
        };
        let hits: Vec<(i64, u64)> = match &q.filter {
            Filter::None => {
                let hits = self
                    .by_time
                    .range((from, 0)..(s_hi, 0))
                    .filter(|&(&(s, _), &e)| q.ask.matches(s, e))
                    .map(|(&(s, id), _)| (s, id));
                match q.limit {
                    Some(limit) => hits.take(limit).collect(),
                    None => return Some(Answer::Count(hits.count() as u64)),
                }
            }
            Filter::Chargers(k) => keyed(&self.by_charger, k),
            Filter::Sites(k) => keyed(&self.by_site, k),
            Filter::Orgs(k) | Filter::Scope(_, k) => keyed(&self.by_org, k),
        };
        Some(match q.limit {
            Some(limit) => Answer::Ids(merge_first(hits, limit)),
            None => Answer::Count(hits.len() as u64),
        })
    }
}

// ----- rust-lapper -----

/// rust-lapper over offsets from a fixed origin (it needs unsigned
/// coordinates); no entity filters.
pub struct Lap {
    lapper: Lapper<u64, u64>,
}

const ORIGIN: i64 = T0 - 10 * 365 * 86_400_000_000;

fn off(t: i64) -> u64 {
    (t - ORIGIN).max(0) as u64
}

impl Lap {
    pub fn build(gens: &[Gen]) -> Self {
        let ivs = gens.iter().map(|g| Interval { start: off(g.start), stop: off(g.end), val: g.id }).collect();
        Lap { lapper: Lapper::new(ivs) }
    }
}

impl Peer for Lap {
    fn name(&self) -> &'static str {
        "rust-lapper"
    }
    fn answer(&mut self, q: &Question) -> Option<Answer> {
        let (a, b) = q.unfiltered_overlap()?;
        Some(match q.limit {
            // `find` yields in start order.
            Some(limit) => {
                let hits = self.lapper.find(off(a), off(b)).map(|iv| (iv.start as i64 + ORIGIN, iv.val));
                Answer::Ids(first_by_start(hits, limit))
            }
            None => Answer::Count(self.lapper.count(off(a), off(b)) as u64),
        })
    }
}

// ----- coitrees -----

/// coitrees with `i32` coordinates: seconds from the origin (microseconds do
/// not fit), so every hit is rechecked at full precision; no entity filters.
pub struct Coi {
    tree: COITree<u32, u32>,
    starts: Vec<i64>,
    ends: Vec<i64>,
    ids: Vec<u64>,
}

fn secs(t: i64) -> i32 {
    ((t - T0).div_euclid(1_000_000)) as i32
}

impl Coi {
    pub fn build(gens: &[Gen]) -> Self {
        let ivs: Vec<coitrees::Interval<u32>> = gens
            .iter()
            .enumerate()
            .map(|(i, g)| coitrees::Interval::new(secs(g.start), secs(g.end - 1), i as u32))
            .collect();
        Coi {
            tree: COITree::new(&ivs),
            starts: gens.iter().map(|g| g.start).collect(),
            ends: gens.iter().map(|g| g.end).collect(),
            ids: gens.iter().map(|g| g.id).collect(),
        }
    }
}

impl Peer for Coi {
    fn name(&self) -> &'static str {
        "coitrees"
    }
    fn answer(&mut self, q: &Question) -> Option<Answer> {
        let (a, b) = q.unfiltered_overlap()?;
        let mut hits = Vec::new();
        let mut count = 0u64;
        self.tree.query(secs(a), secs(b - 1), |iv| {
            // coitrees hands the metadata by value, or by reference in its
            // AVX2 build (`-C target-cpu=native`): `Borrow` takes either.
            let i = *std::borrow::Borrow::<u32>::borrow(&iv.metadata) as usize;
            if self.ends[i] > a && self.starts[i] < b {
                count += 1;
                if q.limit.is_some() {
                    hits.push((self.starts[i], self.ids[i]));
                }
            }
        });
        Some(match q.limit {
            Some(limit) => Answer::Ids(merge_first(hits, limit)),
            None => Answer::Count(count),
        })
    }
}

// ----- SQLite -----

/// SQLite in memory with covering indexes on `(start, end)` and
/// `(charger | site | org, start, end)`, and the `start >= after - max_len` bound.
pub struct Sqlite {
    pub conn: rusqlite::Connection,
    max_len: i64,
}

impl Sqlite {
    pub fn build(gens: &[Gen]) -> rusqlite::Result<Self> {
        let conn = rusqlite::Connection::open_in_memory()?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2000000;
             CREATE TABLE w (id INTEGER PRIMARY KEY, start INTEGER NOT NULL, end INTEGER NOT NULL,
                             charger INTEGER, site INTEGER, org INTEGER NOT NULL);",
        )?;
        {
            let tx = conn.unchecked_transaction()?;
            {
                let mut ins = tx.prepare("INSERT INTO w VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
                for g in gens {
                    ins.execute((g.id as i64, g.start, g.end, g.charger as i64, g.site as i64, g.org as i64))?;
                }
            }
            tx.commit()?;
        }
        conn.execute_batch(
            "CREATE INDEX w_time ON w(start, end);
             CREATE INDEX w_charger ON w(charger, start, end);
             CREATE INDEX w_site ON w(site, start, end);
             CREATE INDEX w_org ON w(org, start, end);
             ANALYZE;",
        )?;
        let max_len = gens.iter().map(|g| g.end - g.start).max().unwrap_or(0);
        Ok(Sqlite { conn, max_len })
    }

    pub fn insert(&self, g: &Gen) -> rusqlite::Result<()> {
        self.conn.prepare_cached("INSERT OR REPLACE INTO w VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute((
            g.id as i64,
            g.start,
            g.end,
            g.charger as i64,
            g.site as i64,
            g.org as i64,
        ))?;
        Ok(())
    }

    pub fn delete(&self, id: u64) -> rusqlite::Result<()> {
        self.conn.prepare_cached("DELETE FROM w WHERE id = ?1")?.execute([id as i64])?;
        Ok(())
    }

    fn run(&self, q: &Question) -> rusqlite::Result<Answer> {
        let (s_lo, s_hi, e_lo, e_hi) = q.ask.bounds();
        let from = s_lo.max(e_lo.saturating_sub(self.max_len));
        let (column, keys) = match &q.filter {
            Filter::None => ("", &[][..]),
            Filter::Chargers(k) => ("charger", &k[..]),
            Filter::Sites(k) => ("site", &k[..]),
            Filter::Orgs(k) | Filter::Scope(_, k) => ("org", &k[..]),
        };
        let entity = if keys.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = keys.iter().map(u64::to_string).collect();
            format!(" AND {column} IN ({})", list.join(","))
        };
        let head = if q.limit.is_some() { "SELECT id" } else { "SELECT count(*)" };
        let tail = match q.limit {
            Some(limit) => format!(" ORDER BY start, id LIMIT {limit}"),
            None => String::new(),
        };
        let sql = format!("{head} FROM w WHERE start >= ?1 AND start < ?2 AND end > ?3 AND end <= ?4{entity}{tail}");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let params = (from, s_hi, e_lo, e_hi);
        if q.limit.is_some() {
            let ids = stmt.query_map(params, |r| r.get::<_, i64>(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(Answer::Ids(ids.into_iter().map(|i| i as u64).collect()))
        } else {
            Ok(Answer::Count(stmt.query_row(params, |r| r.get::<_, i64>(0))? as u64))
        }
    }
}

impl Peer for Sqlite {
    fn name(&self) -> &'static str {
        "SQLite"
    }
    fn answer(&mut self, q: &Question) -> Option<Answer> {
        self.run(q).ok()
    }
}

// ----- Vec scan -----

/// A `Vec` scanned linearly: the floor of effort.
pub struct Scan {
    pub rows: Vec<Gen>,
}

impl Peer for Scan {
    fn name(&self) -> &'static str {
        "Vec scan"
    }
    fn answer(&mut self, q: &Question) -> Option<Answer> {
        let keep = |g: &Gen| {
            q.ask.matches(g.start, g.end)
                && match &q.filter {
                    Filter::None => true,
                    Filter::Chargers(k) => k.contains(&g.charger),
                    Filter::Sites(k) => k.contains(&g.site),
                    Filter::Orgs(k) | Filter::Scope(_, k) => k.contains(&g.org),
                }
        };
        Some(match q.limit {
            Some(limit) => {
                let hits: Vec<(i64, u64)> = self.rows.iter().filter(|g| keep(g)).map(|g| (g.start, g.id)).collect();
                let mut hits = hits;
                if hits.len() > limit {
                    hits.select_nth_unstable(limit);
                    hits.truncate(limit);
                }
                Answer::Ids(merge_first(hits, limit))
            }
            None => Answer::Count(self.rows.iter().filter(|g| keep(g)).count() as u64),
        })
    }
}

// ----- the questions of the workload -----

use super::workload::{CHARGERS, DAY, ORGS, Rng, SITES, SPAN, World};

/// The query kinds of the benchmark, by name.
pub const KINDS: [&str; 11] = ["Q1", "Q2", "Q3", "Q4", "Q4p", "Q5", "Q6", "Q5c", "Q6s", "Q7", "Q8"];

pub fn describe(kind: &str) -> &'static str {
    match kind {
        "Q1" => "overlap random 7 days, first 50",
        "Q2" => "Q1 + one charger",
        "Q3" => "Q1 + 10 sites",
        "Q4" => "active now, one organization, first 50",
        "Q4p" => "active now, parent org (150+ descendants)",
        "Q5" => "count overlapping random 1 day",
        "Q6" => "count active at a random instant",
        "Q5c" => "Q5 count + one charger",
        "Q6s" => "Q6 count + one site",
        "Q7" => "upcoming, one site, first 50",
        "Q8" => "past, 3 chargers, first 50",
        _ => "?",
    }
}

/// `n` random questions of one kind.
pub fn questions(kind: &str, world: &World, seed: u64, n: usize) -> Vec<Question> {
    let mut rng = Rng::new(seed);
    let parent: Vec<u64> = world.descendants(world.big_parent);
    (0..n)
        .map(|_| {
            let range = |rng: &mut Rng, len: i64| {
                let a = T0 + rng.range(0, SPAN - len);
                Ask::Overlap(a, a + len)
            };
            let now = |rng: &mut Rng| T0 + rng.range(0, SPAN);
            let charger = |rng: &mut Rng| rng.below(CHARGERS) as u64;
            let site = |rng: &mut Rng| rng.below(SITES) as u64;
            let (ask, filter, limit) = match kind {
                "Q1" => (range(&mut rng, 7 * DAY), Filter::None, Some(50)),
                "Q2" => (range(&mut rng, 7 * DAY), Filter::Chargers(vec![charger(&mut rng)]), Some(50)),
                "Q3" => (range(&mut rng, 7 * DAY), Filter::Sites((0..10).map(|_| site(&mut rng)).collect()), Some(50)),
                "Q4" => {
                    // A leaf organization's key: its scope is itself.
                    let org = loop {
                        let o = 1 + rng.below(ORGS) as u64;
                        if world.orgs.iter().all(|&(_, p)| p != Some(o)) {
                            break o;
                        }
                    };
                    (Ask::Active(now(&mut rng)), Filter::Scope(org, vec![org]), Some(50))
                }
                "Q4p" => (Ask::Active(now(&mut rng)), Filter::Scope(world.big_parent, parent.clone()), Some(50)),
                "Q5" => (range(&mut rng, DAY), Filter::None, None),
                "Q6" => (Ask::Active(now(&mut rng)), Filter::None, None),
                "Q5c" => (range(&mut rng, DAY), Filter::Chargers(vec![charger(&mut rng)]), None),
                "Q6s" => (Ask::Active(now(&mut rng)), Filter::Sites(vec![site(&mut rng)]), None),
                "Q7" => (Ask::Upcoming(now(&mut rng)), Filter::Sites(vec![site(&mut rng)]), Some(50)),
                "Q8" => {
                    (Ask::Past(now(&mut rng)), Filter::Chargers((0..3).map(|_| charger(&mut rng)).collect()), Some(50))
                }
                other => panic!("unknown query kind {other}"),
            };
            Question { ask, filter, limit }
        })
        .collect()
}
