//! Planning: one [`Plan`] per query, page or count, holding the resolved
//! query, the access path chosen by estimated cost, and the row ranges it
//! reads. [`Index::query`](crate::Index::query) and
//! [`Index::explain`](crate::Index::explain) consume the same plan, as do
//! [`Index::count`](crate::Index::count) and
//! [`Index::explain_count`](crate::Index::explain_count), so what `explain`
//! says is what runs.

use std::cell::OnceCell;

use super::cursor::{self, CursorKey, Position};
use super::request::Order;
use super::request::Query;
use super::resolve::{Purpose, Resolved, resolve};
use super::sink::Hit;
use super::time_box::TimeBox;
use super::view::View;
use crate::segment::{Family, Segment, TIERS, TierScan};
use crate::{Error, WindowId};

/// The access path a query runs on, as reported by
/// [`Index::explain`](crate::Index::explain) and [`Page::driver`](crate::Page::driver).
///
/// # Example
///
/// ```
/// # use mwindex::{ChargerId, Driver, Index, OrgId, Query, Timestamp, Window};
/// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
/// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?
///     .with_charger(ChargerId(9));
/// index.insert(w, ())?;
/// let plan = index.explain(&Query::new().chargers([ChargerId(9)]))?;
/// assert_eq!(plan.driver, Driver::ChargerPostings);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Driver {
    /// The query cannot match anything (an empty id list, ids the index has
    /// never seen, or contradictory time bounds): no row is read.
    Nothing,
    /// Each length tier's start range is walked in order, skipping blocks
    /// whose end bounds rule them out.
    TimeRange,
    /// The posting lists of the requested chargers, restricted to each tier's start range.
    ChargerPostings,
    /// The posting lists of the requested sites, restricted to each tier's start range.
    SitePostings,
    /// The posting lists of the organizations in scope, restricted to each tier's start range.
    OrganizationPostings,
    /// Ids are walked in ascending order and each row is tested (id order only).
    IdOrder,
    /// Ids are walked a block at a time (16,384 consecutive ids of a large
    /// segment), each block's rows in the query's time range found through
    /// the block's list (id order only). Segments too small to have blocks
    /// are read as the query would read them in `(start, id)` order.
    IdBlocks,
    /// Counted by binary searches over sorted starts and ends, without visiting rows.
    RankCount,
    /// Counted from the sizes of posting lists (one kind of id filter, no time
    /// bound), less the deleted rows among them, without visiting rows.
    PostingCount,
    /// Counted in the large segments by rank steps over their organizations
    /// in order of start and of end (a time bound of one of the shapes
    /// `RankCount` counts and an organization filter or scope only), less
    /// the deleted rows among the matches (each read and tested); smaller
    /// segments are read by their own driver.
    OrganizationRanks,
}

/// How a query will run: its driver and the estimates that chose it.
/// Created by [`Index::explain`](crate::Index::explain) and
/// [`Index::explain_count`](crate::Index::explain_count).
///
/// # Example
///
/// ```
/// # use mwindex::{Driver, Index, Query};
/// let index: Index<u64, ()> = Index::builder().build()?;
/// let plan = index.explain(&Query::new())?;
/// assert_eq!(plan.driver, Driver::TimeRange);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Explain {
    /// The access path chosen.
    pub driver: Driver,
    /// The order results come in.
    pub order: Order,
    /// Rows whose start lies in the query's time bounds (before end checks and filters).
    pub time_range_rows: u64,
    /// Estimated rows the chosen driver visits.
    pub estimated_rows: f64,
    /// Immutable segments consulted.
    pub segments: usize,
    /// Recent windows still in the write buffer (a scan reads only those
    /// whose starts can match).
    pub buffered: usize,
}

/// Per segment, per tier: the rows whose starts can match.
pub(crate) type Ranges<I> = Vec<[TierScan<I>; TIERS]>;

fn ranges<I: WindowId>(segments: &[Segment<I>], q: &Resolved<'_, I>, use_after_key: bool) -> Ranges<I> {
    let after = if use_after_key { q.after_key } else { None };
    segments
        .iter()
        .map(|seg| {
            std::array::from_fn(|t| {
                let tier = seg.tiers[t];
                let (from, to) = q.tb.start_range(tier.min_len, tier.max_len);
                seg.tier_scan(t, from, to, after)
            })
        })
        .collect()
}

fn range_rows<I: WindowId>(ranges: &Ranges<I>) -> u64 {
    ranges.iter().flatten().map(|r| u64::from(r.rows())).sum()
}

/// Estimated rows a posting family visits: each key's per-tier count scaled by
/// the share of the tier inside the range (starts are close to uniform).
/// What opening one posting list costs, in rows: a lookup and an iterator
/// whose first reads miss the cache. Keeps hundreds of tiny lists from looking
/// cheaper than one walk.
const KEY_COST: f64 = 8.0;

/// Stops adding once the estimate reaches `limit`: past it the family cannot
/// win, and a scope of hundreds of organizations should not cost hundreds of
/// lookups to rule out. Returns the rows the lists hold in the ranges and
/// the cost: those rows plus `key_cost` for each list opened.
fn family_cost<'k, I: WindowId>(
    segments: &[Segment<I>],
    ranges: &Ranges<I>,
    family: Family,
    keys: impl Iterator<Item = &'k u32> + Clone,
    key_cost: f64,
    limit: f64,
) -> (f64, f64) {
    let (mut rows, mut cost) = (0.0, 0.0);
    for (seg, r) in segments.iter().zip(ranges) {
        let postings = seg.postings(family);
        // The share of each tier inside the range; none for a tier the range
        // misses.
        let shares: [Option<f64>; TIERS] = std::array::from_fn(|t| {
            let tier_len = seg.tiers[t].hi - seg.tiers[t].lo;
            (!r[t].is_empty() && tier_len > 0).then(|| f64::from(r[t].rows()) / f64::from(tier_len))
        });
        if shares.iter().all(Option::is_none) {
            continue;
        }
        for k in keys.clone() {
            let Some(p) = postings.get(*k) else { continue };
            for (&c, share) in p.counts().iter().zip(shares) {
                // A posting of any size costs at least a lookup.
                if let Some(share) = share
                    && c > 0
                {
                    rows += f64::from(c) * share;
                    cost += f64::from(c) * share + key_cost;
                }
            }
            if cost >= limit {
                return (rows, cost);
            }
        }
    }
    (rows, cost)
}

/// Keys of a family a plan in id order reads to estimate how many rows
/// pass the filter (a scope of 250 organizations is estimated from 16).
const SAMPLE_KEYS: usize = 16;

/// The rows of the plan's ranges that pass the query's filters, estimated
/// from the most selective family's lists (from [`SAMPLE_KEYS`] of them,
/// evenly spaced, scaled up, when there are more); and when no family has
/// more, the cheapest collecting driver and its cost, as [`choose`] would
/// find them for a full scan.
fn matches_estimate<I: WindowId>(
    segments: &[Segment<I>],
    ranges: &Ranges<I>,
    q: &Resolved<'_, I>,
) -> (f64, Option<(Driver, f64)>) {
    let rows = range_rows(ranges) as f64;
    let (mut matches, mut collect) = (rows, Some((Driver::TimeRange, rows)));
    for (family, driver) in FAMILIES {
        let Some(keys) = q.keys(family) else { continue };
        let step = keys.len().div_ceil(SAMPLE_KEYS).max(1);
        let sampled = keys.len().div_ceil(step);
        let (found, cost) = family_cost(segments, ranges, family, keys.iter().step_by(step), KEY_COST, f64::INFINITY);
        matches = matches.min(found * keys.len() as f64 / sampled.max(1) as f64);
        collect = match collect {
            Some((_, best)) if step == 1 && cost <= best => Some((driver, cost)),
            Some(best) if step == 1 => Some(best),
            _ => None,
        };
    }
    (matches, collect)
}

/// The posting families and the drivers that walk them.
const FAMILIES: [(Family, Driver); 3] = [
    (Family::Charger, Driver::ChargerPostings),
    (Family::Site, Driver::SitePostings),
    (Family::Org, Driver::OrganizationPostings),
];

/// The cheapest driver in `(start, id)` order and its estimated cost, for a
/// scan that stops after `need` matches (`None`: a full scan, as for counts).
/// A family's cost is not estimated past `cap` (the cost of another way).
fn choose<I: WindowId>(
    segments: &[Segment<I>],
    ranges: &Ranges<I>,
    q: &Resolved<'_, I>,
    need: Option<usize>,
    cap: f64,
) -> (Driver, f64) {
    let rows = range_rows(ranges) as f64;
    // With selectivity c / rows, walking time costs need * rows / c: a family
    // wins only while c < sqrt(need * rows).
    let limit = match need {
        Some(need) => (need as f64 * rows).sqrt().max(need as f64),
        None => rows,
    }
    .min(cap);
    let mut best_family: Option<(Driver, f64)> = None;
    for (family, driver) in FAMILIES {
        if let Some(keys) = q.keys(family) {
            let (_, c) = family_cost(segments, ranges, family, keys.iter(), KEY_COST, limit.max(1.0));
            if best_family.is_none_or(|(_, b)| c < b) {
                best_family = Some((driver, c));
            }
        }
    }
    let time_cost = match (need, best_family) {
        // Filters pass about `c / rows` of the range: the walk stops after about
        // need / selectivity rows.
        (Some(need), Some((_, c))) => rows.min(need as f64 * rows / c.max(1.0)),
        (Some(need), None) => rows.min(need as f64),
        (None, _) => rows,
    };
    match best_family {
        Some((driver, c)) if c <= time_cost => (driver, c),
        _ => (Driver::TimeRange, time_cost),
    }
}

/// How a planned query reads the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Nothing can match: nothing is read.
    Nothing,
    /// Rows are produced by `Driver` over the plan's ranges, then the write
    /// buffer (pages, and counts that need rows).
    Scan(Driver),
    /// A count of this shape, by searches over sorted starts and ends.
    Ranks(RankShape),
    /// A count from the sizes of one family's lists.
    Postings(Family),
    /// A count of this shape in an organization set: the segments that have
    /// organization ranks by them, the others (and the write buffer)
    /// scanned by [`Plan::collect`] over their ranges, or, when that is
    /// [`Driver::PostingCount`] (no time bound), counted by their lists'
    /// sizes.
    OrgRanks(RankShape),
}

/// The shapes of time bounds that searches over sorted starts and ends can
/// count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RankShape {
    /// `s_lo <= start < s_hi`, ends free.
    Starts,
    /// `e_lo < end <= e_hi`, starts free.
    Ends,
    /// `start < s_hi` and `end > e_lo` with `e_lo < s_hi`: every window ending
    /// by `e_lo` started before `s_hi`.
    Overlap,
}

impl RankShape {
    /// The shape of `tb`, if searches can count it.
    #[inline]
    fn of(tb: &TimeBox) -> Option<RankShape> {
        let all = TimeBox::ALL;
        if tb.e_lo == all.e_lo && tb.e_hi == all.e_hi {
            Some(RankShape::Starts)
        } else if tb.s_lo == all.s_lo && tb.s_hi == all.s_hi {
            Some(RankShape::Ends)
        } else if tb.s_lo == all.s_lo && tb.e_hi == all.e_hi && tb.e_lo < tb.s_hi {
            Some(RankShape::Overlap)
        } else {
            None
        }
    }
}

/// A query planned against a view: everything a run needs, decided once.
#[derive(Debug)]
pub(crate) struct Plan<'a, I> {
    /// The query as the caller gave it (its fingerprint is taken from it).
    query: &'a Query<I>,
    pub(crate) q: Resolved<'a, I>,
    pub(crate) access: Access,
    /// Per segment of the view, per tier: the rows whose starts can match
    /// (empty for plans that read no segment rows).
    pub(crate) ranges: Ranges<I>,
    /// The estimated rows the access path visits.
    pub(crate) cost: f64,
    /// The query's fingerprint, which its cursors carry: computed at most
    /// once per page, when a cursor is checked or the next one minted.
    fingerprint: OnceCell<u64>,
    /// The version the next page's cursor pins, if the page sequence pins one.
    pub(crate) pin: Option<u64>,
    /// Under [`Driver::IdBlocks`], how segments without id blocks are read
    /// (every match collected); else the access path's driver.
    pub(crate) collect: Driver,
    /// Under [`Driver::IdBlocks`], the blocks a page is expected to take in
    /// a segment (what the walk reads in its first group).
    pub(crate) first_group: usize,
}

impl<'a, I: WindowId> Plan<'a, I> {
    /// The plan of one page of `query`.
    ///
    /// # Errors
    ///
    /// Those of [`Index::query`](crate::Index::query).
    #[inline]
    pub(crate) fn page(view: &View<'a, I>, query: &'a Query<I>) -> Result<Self, Error> {
        let fingerprint = OnceCell::new();
        let q = resolve(view, query, Purpose::Page, || *fingerprint.get_or_init(|| cursor::fingerprint(query)))?;
        let need = q.limit + 1;
        let (access, ranges, cost, collect, first_group) = if q.matches_nothing() {
            (Access::Nothing, Vec::new(), 0.0, Driver::Nothing, 1)
        } else if q.order == Order::StartThenId {
            let ranges = ranges(view.segments, &q, true);
            let (driver, cost) = choose(view.segments, &ranges, &q, Some(need), f64::INFINITY);
            (Access::Scan(driver), ranges, cost, driver, 1)
        } else {
            let ById { driver, collect, first_group, ranges, cost } = plan_by_id(view.segments, &q, need);
            (Access::Scan(driver), ranges, cost, collect, first_group)
        };
        Ok(Plan { query, q, access, ranges, cost, fingerprint, pin: None, collect, first_group })
    }

    /// The plan of a count of `query`.
    ///
    /// # Errors
    ///
    /// Those of [`Index::count`](crate::Index::count).
    #[inline]
    pub(crate) fn count(view: &View<'a, I>, query: &'a Query<I>) -> Result<Self, Error> {
        let fingerprint = OnceCell::new();
        let q = resolve(view, query, Purpose::Count, || *fingerprint.get_or_init(|| cursor::fingerprint(query)))?;
        // Counts that read no row cost a few searches per segment.
        let searches = (view.segments.len() * 2) as f64;
        let (access, ranges, cost, collect) = if q.matches_nothing() {
            (Access::Nothing, Vec::new(), 0.0, Driver::Nothing)
        } else if let Some(shape) = RankShape::of(&q.tb).filter(|_| !q.has_filters()) {
            (Access::Ranks(shape), Vec::new(), searches, Driver::RankCount)
        } else if let Some(family) = q.only_family().filter(|_| q.tb == TimeBox::ALL) {
            match org_ranked_sizes(view, &q, family) {
                Some((shape, ranges, cost)) => (Access::OrgRanks(shape), ranges, cost, Driver::PostingCount),
                None => (Access::Postings(family), Vec::new(), searches, Driver::PostingCount),
            }
        } else {
            let ranges = ranges(view.segments, &q, false);
            match org_ranked(view, &q, &ranges) {
                Some((shape, marked_cost)) => {
                    // Where every segment has ranks, only the write buffer
                    // is left to scan.
                    let (rest_driver, rest_cost) =
                        choose_without(view.segments, &ranges, &q, |s| s.org_ranks().is_some())
                            .unwrap_or((Driver::TimeRange, 0.0));
                    let rank_cost = marked_cost + rest_cost;
                    // Scans are costed only as far as the ranks cost: a scope
                    // of hundreds of organizations opens a few of its lists.
                    let (driver, cost) = choose(view.segments, &ranges, &q, None, rank_cost);
                    if rank_cost < cost {
                        (Access::OrgRanks(shape), ranges, rank_cost, rest_driver)
                    } else {
                        (Access::Scan(driver), ranges, cost, driver)
                    }
                }
                None => {
                    let (driver, cost) = choose(view.segments, &ranges, &q, None, f64::INFINITY);
                    (Access::Scan(driver), ranges, cost, driver)
                }
            }
        };
        Ok(Plan { query, q, access, ranges, cost, fingerprint, pin: None, collect, first_group: 1 })
    }

    /// The driver the plan runs on, as reported to callers.
    pub(crate) fn driver(&self) -> Driver {
        match self.access {
            Access::Nothing => Driver::Nothing,
            Access::Scan(driver) => driver,
            Access::Ranks(_) => Driver::RankCount,
            Access::Postings(_) => Driver::PostingCount,
            Access::OrgRanks(_) => Driver::OrganizationRanks,
        }
    }

    /// What the plan says of itself.
    pub(crate) fn explain(&self, view: &View<'_, I>) -> Explain {
        Explain {
            driver: self.driver(),
            order: self.q.order,
            time_range_rows: range_rows(&self.ranges),
            estimated_rows: self.cost,
            segments: view.segments.len(),
            buffered: view.buffered(),
        }
    }

    /// The cursor of the page that ended with `last`.
    pub(crate) fn cursor_after(&self, key: &CursorKey, last: &Hit<I>) -> String {
        let order = self.q.order;
        let start = if order == Order::StartThenId { last.start } else { 0 };
        let fingerprint = *self.fingerprint.get_or_init(|| cursor::fingerprint(self.query));
        let position = Position { order: cursor::order_byte(order), fingerprint, pin: self.pin, start, id: last.id };
        cursor::encode(key, &position)
    }
}

/// What counting a segment by its organization ranks costs, in rows a
/// collecting driver visits: a few searches and `bits` rank steps of a
/// few chains at 10M windows, about what 150 rows cost.
const ORG_RANK_COST: f64 = 150.0;

/// Runs of consecutive organization numbers beyond which a set is not
/// counted by organization ranks (each run is two chains of rank steps).
const MAX_RANK_RUNS: usize = 16;

/// What a deleted row among a segment's candidates (in its ranges) adds to
/// a count by organization ranks, in rows a collecting driver visits: it is
/// read and tested, to take it out of the count if it matches (rows loaded
/// a batch at a time; a collecting driver visits rows in order).
const DEAD_ROW_COST: f64 = 2.0;

/// For a count that organization ranks can answer (a rank shape, an
/// organization set of few runs and no other filter, a segment with
/// ranks), its shape and what counting the segments with ranks by them
/// costs.
fn org_ranked<I: WindowId>(view: &View<'_, I>, q: &Resolved<'_, I>, ranges: &Ranges<I>) -> Option<(RankShape, f64)> {
    let shape = RankShape::of(&q.tb)?;
    if q.only_family() != Some(Family::Org) || q.orgs.as_ref()?.runs().len() > MAX_RANK_RUNS {
        return None;
    }
    let mut cost = None;
    for (seg, r) in view.live_segments().zip(ranges).filter(|(seg, _)| seg.org_ranks().is_some()) {
        let dead: u64 = if seg.has_dead() { r.iter().map(|t| seg.dead_in(t.lo..t.hi)).sum() } else { 0 };
        *cost.get_or_insert(0.0) += ORG_RANK_COST + dead as f64 * DEAD_ROW_COST;
    }
    Some((shape, cost?))
}

/// For a count of an organization set with no time bound, which posting
/// lists' sizes answer with a lookup per organization and segment: the
/// ranks' plan (the whole time range; segments without ranks by their
/// lists' sizes) when the lookups a segment's ranks save cost more than
/// the ranks (a scope of 251 organizations took 3.4 µs at 10M windows by
/// the lists' sizes).
fn org_ranked_sizes<I: WindowId>(
    view: &View<'_, I>,
    q: &Resolved<'_, I>,
    family: Family,
) -> Option<(RankShape, Ranges<I>, f64)> {
    let keys = q.keys(family)?.len() as f64;
    let ranked = view.segments.iter().filter(|s| s.org_ranks().is_some()).count() as f64;
    // Only where the lookups the ranks save outweigh a count by ranks.
    if family != Family::Org || keys * KEY_COST <= ORG_RANK_COST || ranked == 0.0 {
        return None;
    }
    // Dead rows cost both ways alike (the lists' sizes count them out by
    // reading each), so each segment with ranks saves the difference.
    let ranges = ranges(view.segments, q, false);
    let (shape, cost) = org_ranked(view, q, &ranges)?;
    let rest = (view.segments.len() as f64 - ranked) * keys * KEY_COST;
    Some((shape, ranges, cost + rest))
}

/// What a row of a walk in id order costs against a row a collecting driver
/// visits: the walk reads each row at a random place (its id's slot, then
/// the row, then its placement), where a time range reads rows in order
/// and posting lists read them in order of position. Measured at 10M
/// windows on `status=active` pages in a parent organization's scope: 40-60
/// ns a row walked in id order, 10-12 ns a row collected.
const ID_WALK_ROW_COST: f64 = 4.0;

/// Matches at most this many pages hold are collected without costing
/// walks.
const FEW_PAGES: usize = 4;

/// An id-order plan: its driver, the driver collecting the matches of
/// segments without id blocks, the row ranges and the estimated cost.
struct ById<I> {
    driver: Driver,
    collect: Driver,
    /// The blocks a page is expected to take in a segment.
    first_group: usize,
    ranges: Ranges<I>,
    cost: f64,
}

/// In id order: walk ids and test rows, walk id blocks, or collect every
/// match through the cheapest time/posting driver and keep the smallest ids.
/// The matches are estimated from a sample of the filter's lists; the cost
/// of collecting is then estimated only as far as the other ways cost.
fn plan_by_id<I: WindowId>(segments: &[Segment<I>], q: &Resolved<'_, I>, need: usize) -> ById<I> {
    let ranges = ranges(segments, q, false);
    let total = segments.iter().map(|s| s.len()).sum::<usize>() as f64;
    let (matches, exact) = matches_estimate(segments, &ranges, q);
    // A few pages' worth of matches: collecting them is as cheap as any walk.
    if matches <= (FEW_PAGES * need) as f64 {
        let (collect, cost) = exact.unwrap_or_else(|| choose(segments, &ranges, q, None, f64::INFINITY));
        return ById { driver: collect, collect, first_group: 1, ranges, cost };
    }
    let walk_cost = (need as f64 * total / matches.max(1.0)).min(total) * ID_WALK_ROW_COST;
    let per_page = id_blocks_per_page(matches / total.max(1.0), need);
    let blocks_cost = id_blocks_cost(segments, &ranges, per_page, matches).unwrap_or(f64::INFINITY);
    let (collect, collect_cost) =
        exact.unwrap_or_else(|| choose(segments, &ranges, q, None, walk_cost.min(blocks_cost)));
    let (driver, cost) = [(Driver::IdOrder, walk_cost), (Driver::IdBlocks, blocks_cost)]
        .into_iter()
        .fold((collect, collect_cost), |best, c| if c.1 < best.1 { c } else { best });
    // The collecting driver above was costed over every segment and only
    // as far as the walks cost: the segments without blocks choose their own.
    let collect = if driver == Driver::IdBlocks { collect_without_blocks(segments, &ranges, q) } else { collect };
    ById { driver, collect, first_group: per_page as usize, ranges, cost }
}

/// The cheapest driver collecting every match of the segments that have no
/// id blocks: [`choose`] over the ranges with those of the others emptied.
fn collect_without_blocks<I: WindowId>(segments: &[Segment<I>], ranges: &Ranges<I>, q: &Resolved<'_, I>) -> Driver {
    // A fresh bulk load is one segment with blocks: nothing is collected.
    choose_without(segments, ranges, q, |seg| seg.id_blocks().is_some()).map_or(Driver::Nothing, |(driver, _)| driver)
}

/// The cheapest collecting driver and its cost over `ranges` with the
/// ranges of the segments `skip` picks emptied (another driver reads
/// them); `None` if it picks every segment.
fn choose_without<I: WindowId>(
    segments: &[Segment<I>],
    ranges: &Ranges<I>,
    q: &Resolved<'_, I>,
    skip: impl Fn(&Segment<I>) -> bool,
) -> Option<(Driver, f64)> {
    if segments.iter().all(&skip) {
        return None;
    }
    let rest: Ranges<I> = segments
        .iter()
        .zip(ranges)
        .map(|(seg, r)| if skip(seg) { r.map(|t| TierScan { hi: t.lo, ..t }) } else { *r })
        .collect();
    Some(choose(segments, &rest, q, None, f64::INFINITY))
}

/// The id blocks a page of `need` matches takes where `density` of the rows
/// match: the blocks holding them, and the one its `after` id falls in.
fn id_blocks_per_page(density: f64, need: usize) -> f64 {
    let block = crate::segment::ID_BLOCK as f64;
    (need as f64 / (density * block).max(f64::MIN_POSITIVE)).ceil().min(1e9) + 1.0
}

/// The estimated cost of walking id blocks, if any segment has them, for a
/// page taking `per_page` blocks: in each segment with blocks, that many
/// (at most all), each costing a list lookup per tier and its rows in the
/// query's range; in the others, their share of collecting every match.
fn id_blocks_cost<I: WindowId>(
    segments: &[Segment<I>],
    ranges: &Ranges<I>,
    per_page: f64,
    collect_cost: f64,
) -> Option<f64> {
    segments.iter().any(|s| s.id_blocks().is_some()).then(|| {
        let range_total = (range_rows(ranges) as f64).max(1.0);
        let block = crate::segment::ID_BLOCK as f64;
        segments
            .iter()
            .zip(ranges)
            .map(|(seg, r)| {
                let in_range: f64 = r.iter().map(|t| f64::from(t.rows())).sum();
                if seg.id_blocks().is_none() {
                    return collect_cost * in_range / range_total;
                }
                let per_block = TIERS as f64 * KEY_COST + in_range * block / (seg.len() as f64).max(1.0);
                per_page.min(seg.id_block_count() as f64) * per_block
            })
            .sum()
    })
}
