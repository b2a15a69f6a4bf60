//! The query builder: time, status and entity filters, scope, order and paging.

use crate::{ChargerId, OrgId, SiteId, Timestamp, WindowId};

/// The largest page a query may ask for (both APIs cap pages at 50).
pub const MAX_PAGE_SIZE: usize = 50;

/// The page size used when a query does not set one.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// A window's status relative to an instant `now` (the incident.io API's `status`).
///
/// # Example
///
/// ```
/// use mwindex::{Query, Status, Timestamp};
/// let now = Timestamp::from_secs(1_700_000_000)?;
/// let q = Query::<u64>::new().status(Status::Active, now);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Status {
    /// `start <= now < end`.
    Active,
    /// `now < start`.
    Upcoming,
    /// `end <= now`.
    Past,
}

/// The order of a query's results and pages.
///
/// # Example
///
/// ```
/// use mwindex::{Order, Query};
/// let q = Query::<u64>::new().order(Order::Id); // incident.io-style `after=<id>` paging
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Order {
    /// By start time, ties broken by id: the EV-charging API's order.
    #[default]
    StartThenId,
    /// By id alone: ULIDs sort by creation time; the incident.io API pages this way.
    Id,
}

/// A query: any combination of time, status and entity filters, a scope, an
/// order and a page position. Built with chained methods; checked when run by
/// [`Index::query`](crate::Index::query), [`Index::count`](crate::Index::count)
/// or [`Index::explain`](crate::Index::explain).
///
/// Filters of different kinds AND together; ids within one kind OR together.
///
/// # Example
///
/// ```
/// use mwindex::{ChargerId, OrgId, Query, Timestamp};
///
/// let q = Query::<u64>::new()
///     .overlapping("2024-05-01T00:00:00Z".parse()?, "2024-05-08T00:00:00Z".parse()?)
///     .chargers([ChargerId(1), ChargerId(2)])
///     .scope(OrgId(10))
///     .page_size(20);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Query<I> {
    pub(crate) after: Option<Timestamp>,
    pub(crate) before: Option<Timestamp>,
    pub(crate) status: Option<(Status, Timestamp)>,
    pub(crate) chargers: Option<Vec<ChargerId>>,
    pub(crate) sites: Option<Vec<SiteId>>,
    pub(crate) orgs: Option<Vec<OrgId>>,
    pub(crate) scope: Option<OrgId>,
    pub(crate) page_size: usize,
    pub(crate) order: Order,
    pub(crate) cursor: Option<String>,
    pub(crate) after_id: Option<I>,
}

impl<I: WindowId> Default for Query<I> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: WindowId> Query<I> {
    /// A query matching every window, first page of [`DEFAULT_PAGE_SIZE`], in
    /// `(start, id)` order.
    pub fn new() -> Self {
        Query {
            after: None,
            before: None,
            status: None,
            chargers: None,
            sites: None,
            orgs: None,
            scope: None,
            page_size: DEFAULT_PAGE_SIZE,
            order: Order::StartThenId,
            cursor: None,
            after_id: None,
        }
    }

    /// Only windows that end after `after` (`end > after`).
    #[must_use]
    pub fn after(mut self, after: Timestamp) -> Self {
        self.after = Some(after);
        self
    }

    /// Only windows that start before `before` (`start < before`).
    #[must_use]
    pub fn before(mut self, before: Timestamp) -> Self {
        self.before = Some(before);
        self
    }

    /// Only windows overlapping `[after, before)`; running the query fails with
    /// [`Error::InvalidRange`](crate::Error::InvalidRange) unless `after < before`.
    #[must_use]
    pub fn overlapping(self, after: Timestamp, before: Timestamp) -> Self {
        self.after(after).before(before)
    }

    /// Only windows with this status at `now`. `now` is not part of the query's
    /// identity: a cursor stays valid when later pages pass a later `now`.
    #[must_use]
    pub fn status(mut self, status: Status, now: Timestamp) -> Self {
        self.status = Some((status, now));
        self
    }

    /// Only windows of one of these chargers. An empty list matches nothing.
    #[must_use]
    pub fn chargers(mut self, ids: impl IntoIterator<Item = ChargerId>) -> Self {
        self.chargers = Some(canonical(ids));
        self
    }

    /// Only windows of one of these sites. An empty list matches nothing.
    #[must_use]
    pub fn sites(mut self, ids: impl IntoIterator<Item = SiteId>) -> Self {
        self.sites = Some(canonical(ids));
        self
    }

    /// Only windows owned by one of these organizations (exactly these, not
    /// their descendants). Intersected with the scope; an empty list matches nothing.
    #[must_use]
    pub fn organizations(mut self, ids: impl IntoIterator<Item = OrgId>) -> Self {
        self.orgs = Some(canonical(ids));
        self
    }

    /// Restricts everything (results, counts, cursors) to this organization and
    /// its descendants: the access scope of the caller's API key.
    #[must_use]
    pub fn scope(mut self, org: OrgId) -> Self {
        self.scope = Some(org);
        self
    }

    /// Windows per page, `1..=50` (checked when the query runs).
    #[must_use]
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n;
        self
    }

    /// The order of results.
    #[must_use]
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Continue after the page that returned this cursor. The rest of the query
    /// must be the one that produced it (the page size may change).
    #[must_use]
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// With [`Order::Id`]: continue after this id, as incident.io's `after`
    /// parameter does. Not combinable with [`Query::cursor`].
    #[must_use]
    pub fn after_id(mut self, id: I) -> Self {
        self.after_id = Some(id);
        self
    }
}

/// The time part of a query as bounds on start and end:
/// `s_lo <= start < s_hi` and `e_lo < end <= e_hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeBox {
    pub(crate) s_lo: i64,
    pub(crate) s_hi: i64,
    pub(crate) e_lo: i64,
    pub(crate) e_hi: i64,
}

impl TimeBox {
    pub(crate) const ALL: TimeBox = TimeBox { s_lo: i64::MIN, s_hi: i64::MAX, e_lo: i64::MIN, e_hi: i64::MAX };

    pub(crate) fn new(
        after: Option<Timestamp>,
        before: Option<Timestamp>,
        status: Option<(Status, Timestamp)>,
    ) -> Self {
        let mut b = TimeBox::ALL;
        if let Some(a) = after {
            b.e_lo = b.e_lo.max(a.as_micros());
        }
        if let Some(t) = before {
            b.s_hi = b.s_hi.min(t.as_micros());
        }
        // Timestamps stay far from i64::MAX, so `now + 1` cannot overflow.
        if let Some((status, now)) = status {
            let now = now.as_micros();
            match status {
                Status::Active => {
                    b.s_hi = b.s_hi.min(now + 1);
                    b.e_lo = b.e_lo.max(now);
                }
                Status::Upcoming => b.s_lo = b.s_lo.max(now + 1),
                Status::Past => b.e_hi = b.e_hi.min(now),
            }
        }
        b
    }

    #[inline]
    pub(crate) fn contains(&self, start: i64, end: i64) -> bool {
        start >= self.s_lo && start < self.s_hi && end > self.e_lo && end <= self.e_hi
    }

    #[inline]
    pub(crate) fn end_ok(&self, end: i64) -> bool {
        end > self.e_lo && end <= self.e_hi
    }

    /// Whether no window at all can match (every window has `start < end`).
    pub(crate) fn is_empty(&self) -> bool {
        self.s_lo >= self.s_hi || self.e_lo >= self.e_hi || self.s_lo >= self.e_hi
    }

    /// The start range `[from, to)` that windows with lengths in
    /// `[min_len, max_len]` must start in to match.
    pub(crate) fn start_range(&self, min_len: i64, max_len: i64) -> (i64, i64) {
        let from = self.s_lo.max(self.e_lo.saturating_sub(max_len).saturating_add(1));
        let to = self.s_hi.min(self.e_hi.saturating_sub(min_len).saturating_add(1));
        (from, to)
    }
}

/// An id list as a set: sorted, without repeats, so equal sets compare and
/// digest equally.
fn canonical<T: Ord>(ids: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = ids.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v
}
