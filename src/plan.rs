//! Query planning: which structure drives a scan, chosen by estimated cost.

use std::sync::Arc;

use crate::org::OrgSet;
use crate::place::Place;
use crate::query::TimeBox;
use crate::segment::{Family, NONE, Segment, TIERS, TierScan};
use crate::{Order, WindowId};

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
    /// Counted by binary searches over sorted starts and ends, without visiting rows.
    RankCount,
    /// Counted from the sizes of posting lists (one kind of id filter, no time
    /// bound), less the deleted rows among them, without visiting rows.
    PostingCount,
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
    /// Recent windows still in the write buffer, scanned whole.
    pub buffered: usize,
}

/// A query resolved against the index: dense ids, time bounds, position,
/// and the index's placements to test rows' filters against.
#[derive(Clone, Debug)]
pub(crate) struct Resolved<'a, I> {
    pub(crate) tb: TimeBox,
    pub(crate) chargers: Option<Vec<u32>>,
    pub(crate) sites: Option<Vec<u32>>,
    pub(crate) orgs: Option<Arc<OrgSet>>,
    pub(crate) order: Order,
    pub(crate) limit: usize,
    pub(crate) after_key: Option<(i64, I)>,
    pub(crate) after_id: Option<I>,
    pub(crate) places: &'a [Place],
}

impl<I: WindowId> Resolved<'_, I> {
    pub(crate) fn matches_nothing(&self) -> bool {
        self.tb.is_empty()
            || self.chargers.as_ref().is_some_and(Vec::is_empty)
            || self.sites.as_ref().is_some_and(Vec::is_empty)
            || self.orgs.as_ref().is_some_and(|o| o.list.is_empty())
    }

    pub(crate) fn has_filters(&self) -> bool {
        self.chargers.is_some() || self.sites.is_some() || self.orgs.is_some()
    }

    /// Whether a row at placement `place` passes the filters.
    #[inline]
    pub(crate) fn place_ok(&self, place: u32) -> bool {
        self.places.get(place as usize).is_some_and(|p| self.filters_ok(p.charger, p.site, p.org))
    }

    #[inline]
    pub(crate) fn filters_ok(&self, charger: u32, site: u32, org: u32) -> bool {
        #[inline]
        fn any_of(set: &Option<Vec<u32>>, key: u32) -> bool {
            match set {
                None => true,
                Some(_) if key == NONE => false,
                Some(v) if v.len() <= 8 => v.contains(&key),
                Some(v) => v.binary_search(&key).is_ok(),
            }
        }
        any_of(&self.chargers, charger)
            && any_of(&self.sites, site)
            && self.orgs.as_ref().is_none_or(|o| o.contains(org))
    }

    /// The one family the query filters on, when it filters on exactly one.
    pub(crate) fn only_family(&self) -> Option<Family> {
        match (self.chargers.is_some(), self.sites.is_some(), self.orgs.is_some()) {
            (true, false, false) => Some(Family::Charger),
            (false, true, false) => Some(Family::Site),
            (false, false, true) => Some(Family::Org),
            _ => None,
        }
    }

    /// The keys of one posting family the query filters on, if it does.
    pub(crate) fn keys(&self, family: Family) -> Option<&[u32]> {
        match family {
            Family::Charger => self.chargers.as_deref(),
            Family::Site => self.sites.as_deref(),
            Family::Org => self.orgs.as_ref().map(|o| o.list.as_slice()),
        }
    }
}

/// Per segment, per tier: the rows whose starts can match.
pub(crate) type Ranges<I> = Vec<[TierScan<I>; TIERS]>;

pub(crate) fn ranges<I: WindowId>(segments: &[Segment<I>], q: &Resolved<'_, I>, use_after_key: bool) -> Ranges<I> {
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

pub(crate) fn range_rows<I: WindowId>(ranges: &Ranges<I>) -> u64 {
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
/// lookups to rule out.
pub(crate) fn family_cost<I: WindowId>(
    segments: &[Segment<I>],
    ranges: &Ranges<I>,
    family: Family,
    keys: &[u32],
    limit: f64,
) -> f64 {
    let mut cost = 0.0;
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
        for k in keys {
            let Some(p) = postings.get(*k) else { continue };
            for (&c, share) in p.counts().iter().zip(shares) {
                // A posting of any size costs at least a lookup.
                if let Some(share) = share
                    && c > 0
                {
                    cost += f64::from(c) * share + KEY_COST;
                }
            }
            if cost >= limit {
                return cost;
            }
        }
    }
    cost
}

/// The cheapest driver in `(start, id)` order and its estimated cost, for a
/// scan that stops after `need` matches (`None`: a full scan, as for counts).
pub(crate) fn choose<I: WindowId>(
    segments: &[Segment<I>],
    ranges: &Ranges<I>,
    q: &Resolved<'_, I>,
    need: Option<usize>,
) -> (Driver, f64) {
    let rows = range_rows(ranges) as f64;
    // With selectivity c / rows, walking time costs need * rows / c: a family
    // wins only while c < sqrt(need * rows).
    let limit = match need {
        Some(need) => (need as f64 * rows).sqrt().max(need as f64),
        None => rows,
    };
    let mut best_family: Option<(Driver, f64)> = None;
    for (family, driver) in [
        (Family::Charger, Driver::ChargerPostings),
        (Family::Site, Driver::SitePostings),
        (Family::Org, Driver::OrganizationPostings),
    ] {
        if let Some(keys) = q.keys(family) {
            let c = family_cost(segments, ranges, family, keys, limit.max(1.0));
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
