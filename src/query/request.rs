//! The query a caller builds: time, status and entity filters, scope, order
//! and paging.

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
    /// Whether the page sequence reads one pinned version.
    pub(crate) consistent: bool,
}

impl<I: WindowId> Default for Query<I> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: WindowId> Query<I> {
    /// A query matching every window, first page of [`DEFAULT_PAGE_SIZE`], in
    /// `(start, id)` order.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
    /// assert_eq!(index.query(&Query::new())?.items().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
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
            consistent: false,
        }
    }

    /// Only windows that end after `after` (`end > after`): the EV API's
    /// `afterTimestamp`.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// index.insert(Window::new(1, t(0)?, t(60)?, OrgId(1))?, ())?;
    /// assert_eq!(index.count(&Query::new().after(t(59)?))?, 1);
    /// assert_eq!(index.count(&Query::new().after(t(60)?))?, 0); // ends are exclusive
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn after(mut self, after: Timestamp) -> Self {
        self.after = Some(after);
        self
    }

    /// Only windows that start before `before` (`start < before`): the EV
    /// API's `beforeTimestamp`.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// index.insert(Window::new(1, t(10)?, t(60)?, OrgId(1))?, ())?;
    /// assert_eq!(index.count(&Query::new().before(t(11)?))?, 1);
    /// assert_eq!(index.count(&Query::new().before(t(10)?))?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn before(mut self, before: Timestamp) -> Self {
        self.before = Some(before);
        self
    }

    /// Only windows overlapping `[after, before)`; running the query fails with
    /// [`Error::InvalidRange`](crate::Error::InvalidRange) unless `after < before`.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Error, Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// index.insert(Window::new(1, t(10)?, t(60)?, OrgId(1))?, ())?;
    /// assert_eq!(index.count(&Query::new().overlapping(t(0)?, t(20)?))?, 1);
    /// let backwards = Query::new().overlapping(t(20)?, t(0)?);
    /// assert!(matches!(index.count(&backwards), Err(Error::InvalidRange { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn overlapping(self, after: Timestamp, before: Timestamp) -> Self {
        self.after(after).before(before)
    }

    /// Only windows with this status at `now`. `now` is not part of the query's
    /// identity: a cursor stays valid when later pages pass a later `now`.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Status, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// index.insert(Window::new(1, t(10)?, t(60)?, OrgId(1))?, ())?;
    /// assert_eq!(index.count(&Query::new().status(Status::Upcoming, t(9)?))?, 1);
    /// assert_eq!(index.count(&Query::new().status(Status::Active, t(10)?))?, 1);
    /// assert_eq!(index.count(&Query::new().status(Status::Past, t(60)?))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn status(mut self, status: Status, now: Timestamp) -> Self {
        self.status = Some((status, now));
        self
    }

    /// Only windows of one of these chargers. An empty list matches nothing.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{ChargerId, Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
    /// index.insert(w.with_charger(ChargerId(7)), ())?;
    /// assert_eq!(index.count(&Query::new().chargers([ChargerId(7), ChargerId(8)]))?, 1);
    /// assert_eq!(index.count(&Query::new().chargers([]))?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn chargers(mut self, ids: impl IntoIterator<Item = ChargerId>) -> Self {
        self.chargers = Some(canonical(ids));
        self
    }

    /// Only windows of one of these sites. An empty list matches nothing.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, SiteId, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
    /// index.insert(w.with_site(SiteId(3)), ())?;
    /// assert_eq!(index.count(&Query::new().sites([SiteId(3)]))?, 1);
    /// assert_eq!(index.count(&Query::new().sites([SiteId(4)]))?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn sites(mut self, ids: impl IntoIterator<Item = SiteId>) -> Self {
        self.sites = Some(canonical(ids));
        self
    }

    /// Only windows owned by one of these organizations (exactly these, not
    /// their descendants). Intersected with the scope; an empty list matches nothing.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> =
    ///     Index::builder().organization(OrgId(1), None).organization(OrgId(2), Some(OrgId(1))).build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// index.insert(Window::new(1, t(0)?, t(60)?, OrgId(2))?, ())?;
    /// assert_eq!(index.count(&Query::new().organizations([OrgId(2)]))?, 1);
    /// assert_eq!(index.count(&Query::new().organizations([OrgId(1)]))?, 0); // not descendants
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn organizations(mut self, ids: impl IntoIterator<Item = OrgId>) -> Self {
        self.orgs = Some(canonical(ids));
        self
    }

    /// Restricts everything (results, counts, cursors) to this organization and
    /// its descendants: the access scope of the caller's API key.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder()
    ///     .organization(OrgId(1), None)
    ///     .organization(OrgId(2), Some(OrgId(1)))
    ///     .organization(OrgId(3), None)
    ///     .build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// index.insert(Window::new(1, t(0)?, t(60)?, OrgId(2))?, ())?;
    /// assert_eq!(index.count(&Query::new().scope(OrgId(1)))?, 1); // a descendant's window
    /// assert_eq!(index.count(&Query::new().scope(OrgId(3)))?, 0); // another tree
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn scope(mut self, org: OrgId) -> Self {
        self.scope = Some(org);
        self
    }

    /// Windows per page, `1..=50` (checked when the query runs; counts
    /// ignore it).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Error, Index, Query};
    /// let index: Index<u64, ()> = Index::new();
    /// assert!(index.query(&Query::new().page_size(50)).is_ok());
    /// assert!(matches!(index.query(&Query::new().page_size(51)), Err(Error::InvalidPageSize { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n;
        self
    }

    /// The order of results.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Order, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// index.insert(Window::new(2, t(0)?, t(60)?, OrgId(1))?, ())?;
    /// index.insert(Window::new(1, t(30)?, t(60)?, OrgId(1))?, ())?;
    /// let ids = |q| index.query(&q).map(|p| p.items().iter().map(|e| e.window.id()).collect::<Vec<_>>());
    /// assert_eq!(ids(Query::new())?, [2, 1]); // by start
    /// assert_eq!(ids(Query::new().order(Order::Id))?, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Continue after the page that returned this cursor. The rest of the query
    /// must be the one that produced it (the page size may change). Replaces
    /// a cursor set before.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// for id in 0..3 {
    ///     index.insert(Window::new(id, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
    /// }
    /// let q = Query::new().page_size(2);
    /// let first = index.query(&q)?;
    /// let second = index.query(&q.clone().cursor(first.next_cursor().unwrap()))?;
    /// assert_eq!(second.items()[0].window.id(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Asks a [`SharedIndex`](crate::SharedIndex) for a consistent page
    /// sequence: the first page pins the version it reads, its cursor names
    /// that version, and every following page reads it too, so the whole
    /// walk sees one moment (no window missed or repeated, whatever is
    /// written meanwhile). See [`Consistency`](crate::Consistency) for what a
    /// page reports, and when a pin expires. An [`Index`](crate::Index) has
    /// a single writer and no versions: it ignores this.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Consistency, OrgId, Query, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// for id in 0..3 {
    ///     index.insert(Window::new(id, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
    /// }
    /// let q = Query::new().page_size(2).consistent(true);
    /// let first = index.query(&q)?;
    /// index.delete(2); // after the walk began: the walk still sees it
    /// let second = index.query(&q.clone().cursor(first.next_cursor().unwrap()))?;
    /// assert_eq!(second.consistency(), Consistency::Pinned);
    /// assert_eq!(second.items()[0].window.id(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn consistent(mut self, consistent: bool) -> Self {
        self.consistent = consistent;
        self
    }

    /// Drops the cursor, if any: the query starts again from its first page.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::Query;
    /// let q = Query::<u64>::new().cursor("opaque").without_cursor();
    /// assert_eq!(q.cursor_text(), None);
    /// ```
    #[must_use]
    #[inline]
    pub fn without_cursor(mut self) -> Self {
        self.cursor = None;
        self
    }

    /// With [`Order::Id`]: continue after this id, as incident.io's `after`
    /// parameter does. Not combinable with [`Query::cursor`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Order, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// for id in 0..3 {
    ///     index.insert(Window::new(id, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
    /// }
    /// let page = index.query(&Query::new().order(Order::Id).after_id(0))?;
    /// assert_eq!(page.items()[0].window.id(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[inline]
    pub fn after_id(mut self, id: I) -> Self {
        self.after_id = Some(id);
        self
    }

    /// Drops the after-id, if any.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::Query;
    /// let q = Query::<u64>::new().after_id(7).without_after_id();
    /// assert_eq!(q.after_id_value(), None);
    /// ```
    #[must_use]
    #[inline]
    pub fn without_after_id(mut self) -> Self {
        self.after_id = None;
        self
    }

    /// The cursor this query continues from, if any.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::Query;
    /// assert_eq!(Query::<u64>::new().cursor("abc").cursor_text(), Some("abc"));
    /// ```
    pub fn cursor_text(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The id this query continues after, if any (see [`Query::after_id`]).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::Query;
    /// assert_eq!(Query::<u64>::new().after_id(7).after_id_value(), Some(7));
    /// ```
    pub fn after_id_value(&self) -> Option<I> {
        self.after_id
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
