//! The index: the public face of the engine. Reads plan and run queries
//! over a view of the store; writes are [`Mutation`]s applied to it.

use super::mutation::{Applied, Mutation};
use super::payload::Payload;
use super::store::Store;
use crate::query::{Entry, Explain, Page, Query};
use crate::{Error, OrgId, Window, WindowId};

/// Deletes whose lookups [`Index::delete_each`] makes together.
const REMOVAL_GROUP: usize = 32;

/// An in-memory index of maintenance windows with payloads of type `P`, keyed
/// by ids of type `I` (see [`WindowId`]).
///
/// Reads take `&self` and writes `&mut self`: one owner, for embedded use.
/// To share an index across threads (readers that never wait for writes,
/// owned pages, pinned views, consistent cursors), use
/// [`SharedIndex`](crate::SharedIndex), the same engine behind a handle
/// (`SharedIndex::from(index)`). Every write is a [`Mutation`] applied by
/// [`Index::apply`]; the other write methods are shorthands for it. See `docs/design.md` for the layers below and how they suit
/// snapshots, a write-ahead log and concurrent readers.
///
/// # Example
///
/// ```
/// use mwindex::{ChargerId, Index, OrgId, Query, Status, Timestamp, Window};
///
/// let mut index: Index<u64, &str> = Index::builder()
///     .organization(OrgId(1), None)
///     .organization(OrgId(2), Some(OrgId(1)))
///     .build()?;
/// let t = |s: &str| s.parse::<Timestamp>();
/// index.insert(
///     Window::new(10, t("2024-05-01T22:00:00Z")?, t("2024-05-02T02:00:00Z")?, OrgId(2))?
///         .with_charger(ChargerId(7)),
///     "firmware update",
/// )?;
///
/// // What is active at midnight for organization 1 and its children?
/// let q = Query::new().status(Status::Active, t("2024-05-02T00:00:00Z")?).scope(OrgId(1));
/// let page = index.query(&q)?;
/// assert_eq!(page.items()[0].window.id(), 10);
/// assert_eq!(index.count(&q)?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Index<I, P> {
    store: Store<I, P>,
}

impl<I: WindowId, P: Payload> Clone for Index<I, P> {
    /// A copy that shares the segments with this index (each changes its
    /// own from then on); merges in flight are not copied.
    fn clone(&self) -> Self {
        Index { store: self.store.clone() }
    }
}

impl<I: WindowId, P: Payload> Default for Index<I, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I, P> Index<I, P> {
    /// An index over `store` (for the builder).
    pub(super) fn from_store(store: Store<I, P>) -> Self {
        Index { store }
    }

    /// The store (to share it).
    pub(super) fn into_store(self) -> Store<I, P> {
        self.store
    }
}

impl<I: WindowId, P: Payload> Index<I, P> {
    /// Builds full write buffers and merges on background threads from
    /// now on, unless the index's settings chose otherwise (a replay of a
    /// log, which then uses both cores).
    pub(crate) fn build_in_background(&mut self) {
        self.store.default_background();
    }

    /// Number of windows held.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(9)?, OrgId(1))?, ())?;
    /// assert_eq!(index.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether the index holds no window.
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::Index<u64, ()> = mwindex::Index::new();
    /// assert!(index.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.store.len() == 0
    }

    /// Adds an organization, as a root (`parent: None`) or under an existing one.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateOrganization`] if `id` exists, [`Error::UnknownOrganization`]
    /// if `parent` does not.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId};
    /// let mut index: Index<u64, ()> = Index::new();
    /// index.add_organization(OrgId(1), None)?;
    /// index.add_organization(OrgId(2), Some(OrgId(1)))?;
    /// assert_eq!(index.organization_parent(OrgId(2))?, Some(OrgId(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_organization(&mut self, id: OrgId, parent: Option<OrgId>) -> Result<(), Error> {
        self.apply(Mutation::AddOrganization { id, parent }).map(drop)
    }

    /// Gives an organization a new parent (or makes it a root). Its windows
    /// follow it: scopes are computed from the tree at query time.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOrganization`] if either organization does not exist,
    /// [`Error::OrganizationCycle`] if `parent` is `id` or one of its descendants.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId};
    /// let mut index: Index<u64, ()> = Index::new();
    /// index.add_organization(OrgId(1), None)?;
    /// index.add_organization(OrgId(2), None)?;
    /// index.move_organization(OrgId(2), Some(OrgId(1)))?;
    /// assert!(index.move_organization(OrgId(1), Some(OrgId(2))).is_err()); // a cycle
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn move_organization(&mut self, id: OrgId, parent: Option<OrgId>) -> Result<(), Error> {
        self.apply(Mutation::MoveOrganization { id, parent }).map(drop)
    }

    /// The parent of an organization, `None` for a root.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOrganization`] if `id` does not exist.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Error, Index, OrgId};
    /// let index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).organization(OrgId(2), Some(OrgId(1))).build()?;
    /// assert_eq!(index.organization_parent(OrgId(2))?, Some(OrgId(1)));
    /// assert_eq!(index.organization_parent(OrgId(1))?, None);
    /// assert_eq!(index.organization_parent(OrgId(3)), Err(Error::UnknownOrganization(OrgId(3))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn organization_parent(&self, id: OrgId) -> Result<Option<OrgId>, Error> {
        self.store.catalog().orgs().parent_of(id)
    }

    /// Applies one [`Mutation`]: the one function every write goes through
    /// (the other write methods build a mutation and call it). A
    /// write-ahead log records mutations and replays them here.
    ///
    /// # Errors
    ///
    /// Those of the write method the mutation stands for: [`Index::insert`],
    /// [`Index::upsert`], [`Index::upsert_all`], [`Index::bulk_insert`],
    /// [`Index::add_organization`], [`Index::move_organization`]
    /// ([`Index::delete`] cannot fail). On an error the index holds the same
    /// windows as before.
    ///
    /// # Example
    ///
    /// ```
    /// use mwindex::{Applied, Error, Index, Mutation, OrgId, Timestamp, Window};
    ///
    /// let mut index: Index<u64, &str> = Index::builder().organization(OrgId(1), None).build()?;
    /// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
    /// assert_eq!(index.apply(Mutation::Insert { window: w, payload: "a" })?, Applied::Inserted);
    /// let again = index.apply(Mutation::Insert { window: w, payload: "b" });
    /// assert!(matches!(again, Err(Error::DuplicateId(_))));
    /// assert_eq!(index.apply(Mutation::Delete(1))?, Applied::Deleted(Some((w, "a"))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&mut self, mutation: Mutation<I, P>) -> Result<Applied<I, P>, Error> {
        self.store.apply(mutation)
    }

    /// Adds a window with its payload.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateId`] if the id is already present (nothing changes),
    /// [`Error::UnknownOrganization`] if the window's organization was never added,
    /// [`Error::CapacityExceeded`] past `u32::MAX - 1` windows, chargers or sites.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Error, Index, OrgId, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(9)?, OrgId(1))?;
    /// index.insert(w, ())?;
    /// assert!(matches!(index.insert(w, ()), Err(Error::DuplicateId(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn insert(&mut self, window: Window<I>, payload: P) -> Result<(), Error> {
        self.apply(Mutation::Insert { window, payload }).map(drop)
    }

    /// Inserts a window, or replaces the one with the same id (any field may
    /// change: times, charger, site, organization, payload). Returns the
    /// previous payload if there was one.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOrganization`] if the window's organization was never
    /// added (nothing changes), [`Error::CapacityExceeded`] as for [`Index::insert`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Timestamp, Window};
    /// let mut index: Index<u64, &str> = Index::builder().organization(OrgId(1), None).build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// assert_eq!(index.upsert(Window::new(1, t(0)?, t(9)?, OrgId(1))?, "a")?, None);
    /// assert_eq!(index.upsert(Window::new(1, t(5)?, t(20)?, OrgId(1))?, "b")?, Some("a"));
    /// assert_eq!(index.get(1).unwrap().window.start(), t(5)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upsert(&mut self, window: Window<I>, payload: P) -> Result<Option<P>, Error> {
        self.apply(Mutation::Upsert { window, payload }).map(Applied::previous)
    }

    /// Upserts `windows` in order, as [`Index::upsert`] would one by one, and
    /// returns each one's previous payload. Faster for many windows (imports,
    /// replaying a log, a burst of rescheduling): the lookups of each batch
    /// of 32 windows (their ids, placements, tombstones and payloads) are
    /// made together first, so their cache misses overlap instead of
    /// queueing one behind another; then each window is written.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOrganization`] if a window's organization was never
    /// added; [`Error::CapacityExceeded`] if the windows could take the index
    /// past its capacity. Both are checked before anything is written: on an
    /// error the index is unchanged.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Timestamp, Window};
    /// let mut index: Index<u64, &str> = Index::builder().organization(OrgId(1), None).build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// index.insert(Window::new(1, t(0)?, t(9)?, OrgId(1))?, "a")?;
    /// let moved = [(Window::new(1, t(5)?, t(20)?, OrgId(1))?, "b"), (Window::new(2, t(0)?, t(3)?, OrgId(1))?, "c")];
    /// assert_eq!(index.upsert_all(moved)?, [Some("a"), None]);
    /// assert_eq!(index.get(1).unwrap().window.start(), t(5)?);
    /// assert_eq!(index.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upsert_all(&mut self, windows: impl IntoIterator<Item = (Window<I>, P)>) -> Result<Vec<Option<P>>, Error> {
        self.apply(Mutation::UpsertAll(windows.into_iter().collect())).map(Applied::all_previous)
    }

    /// Removes a window; returns it with its payload, or `None` if absent.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Timestamp, Window};
    /// let mut index: Index<u64, u8> = Index::builder().organization(OrgId(1), None).build()?;
    /// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(9)?, OrgId(1))?, 7)?;
    /// assert_eq!(index.delete(1).map(|(_, p)| p), Some(7));
    /// assert!(index.delete(1).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete(&mut self, id: I) -> Option<(Window<I>, P)> {
        // A delete cannot fail: an absent id is `Applied::Deleted(None)`.
        self.apply(Mutation::Delete(id)).ok().and_then(Applied::removed)
    }

    /// Deletes the windows of `ids` that are present, each one a
    /// [`Mutation::Delete`] applied in turn; before each group of
    /// [`REMOVAL_GROUP`] the group's lookups are made together (their cache
    /// misses overlap), so the deletes then find what they read in the
    /// cache. A log's replay gathers its deletes for this.
    pub(crate) fn delete_each(&mut self, ids: &[I]) {
        let mut rows = Vec::with_capacity(REMOVAL_GROUP);
        for group in ids.chunks(REMOVAL_GROUP) {
            self.store.warm_removals(group, &mut rows);
            for &id in group {
                // A delete cannot fail.
                let _ = self.apply(Mutation::Delete(id));
            }
        }
    }

    /// Whether `more` windows fit beside those held (and their placements
    /// beside those numbered).
    pub(crate) fn has_room(&self, more: usize) -> bool {
        self.store.has_room(more)
    }

    /// The window with this id and its payload.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Timestamp, Window};
    /// let mut index: Index<u64, u8> = Index::builder().organization(OrgId(1), None).build()?;
    /// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(9)?, OrgId(1))?, 7)?;
    /// assert_eq!(*index.get(1).unwrap().payload, 7);
    /// assert!(index.get(2).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, id: I) -> Option<Entry<'_, I, P>> {
        self.store.get(id)
    }

    /// Adds many windows at once: validated together, sorted once and built
    /// into one segment. All or nothing: on error the index is unchanged.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateId`] if an id repeats in the batch or is already
    /// present, [`Error::UnknownOrganization`] for an organization never added,
    /// [`Error::CapacityExceeded`] past `u32::MAX - 1` windows.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let windows = (0..1000).map(|i| {
    ///     let s = Timestamp::from_secs(i * 3600)?;
    ///     let e = Timestamp::from_secs(i * 3600 + 1800)?;
    ///     Ok((Window::new(i as u64, s, e, OrgId(1))?, ()))
    /// });
    /// index.bulk_insert(windows.collect::<Result<Vec<_>, mwindex::Error>>()?)?;
    /// assert_eq!(index.len(), 1000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bulk_insert(&mut self, windows: impl IntoIterator<Item = (Window<I>, P)>) -> Result<(), Error> {
        self.apply(Mutation::Bulk(windows.into_iter().collect())).map(drop)
    }

    /// Merges every window into one segment without dead rows: the write
    /// buffer is built, the merges running in the background end, and then
    /// all segments are merged on this thread (on two, for a large index),
    /// leaving the index as fast as a fresh bulk load of the same windows.
    /// Writes never need it: they keep segment sizes geometric by
    /// themselves, so a query meets `O(log n)` segments and a few
    /// tombstones. Call it before measuring, snapshotting, or handing the
    /// index to readers after many writes. It rewrites every row: about a
    /// bulk load's time and, while it runs, a second copy of the index.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).inline_merge_rows(0).build()?;
    /// for i in 0..10_000 {
    ///     let s = Timestamp::from_secs(i * 60)?;
    ///     index.insert(Window::new(i as u64, s, Timestamp::from_secs(i * 60 + 30)?, OrgId(1))?, ())?;
    /// }
    /// index.delete(7);
    /// index.compact();
    /// assert_eq!(index.len(), 9_999);
    /// let plan = index.explain(&Query::new())?;
    /// assert_eq!((plan.segments, plan.buffered), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compact(&mut self) {
        self.store.compact();
    }

    /// The page of windows matching `query`, in its order, starting after its
    /// cursor (or after-id) if it has one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidPageSize`] outside `1..=50`, [`Error::InvalidRange`] if
    /// `after >= before`, [`Error::UnknownOrganization`] for an unknown scope,
    /// [`Error::InvalidQuery`] for a cursor together with an after-id or an
    /// after-id in start order, and [`Error::Cursor`] for a cursor that is
    /// malformed, forged, or from another query.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// index.insert(Window::new(1, t(0)?, t(100)?, OrgId(1))?, ())?;
    /// index.insert(Window::new(2, t(200)?, t(300)?, OrgId(1))?, ())?;
    /// let page = index.query(&Query::new().overlapping(t(50)?, t(150)?))?;
    /// let ids: Vec<u64> = page.items().iter().map(|e| e.window.id()).collect();
    /// assert_eq!(ids, [1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query(&self, query: &Query<I>) -> Result<Page<'_, I, P>, Error> {
        self.store.state().query(query, None)
    }

    /// The number of windows matching `query`, ignoring its page size and
    /// position. Counts that depend on time alone are answered by binary
    /// searches; filtered counts iterate the smallest posting lists.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRange`] if `after >= before`, [`Error::UnknownOrganization`]
    /// for an unknown scope, [`Error::InvalidQuery`] for an after-id in start order.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Status, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// let t = |s| Timestamp::from_secs(s);
    /// index.insert(Window::new(1, t(0)?, t(100)?, OrgId(1))?, ())?;
    /// index.insert(Window::new(2, t(200)?, t(300)?, OrgId(1))?, ())?;
    /// assert_eq!(index.count(&Query::new().status(Status::Past, t(250)?))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count(&self, query: &Query<I>) -> Result<u64, Error> {
        self.store.state().count(query)
    }

    /// How [`Index::query`] would run `query`, without running it.
    ///
    /// # Errors
    ///
    /// Those of [`Index::query`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Driver, Index, Query, Timestamp};
    /// let index: Index<u64, ()> = Index::new();
    /// let t = Timestamp::from_secs(0)?;
    /// let err = index.explain(&Query::new().overlapping(t, t)).unwrap_err();
    /// assert!(matches!(err, mwindex::Error::InvalidRange { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain(&self, query: &Query<I>) -> Result<Explain, Error> {
        self.store.state().explain(query)
    }

    /// How [`Index::count`] would run `query`, without running it.
    ///
    /// # Errors
    ///
    /// Those of [`Index::count`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Driver, Index, Query, Status, Timestamp};
    /// let index: Index<u64, ()> = Index::new();
    /// let plan = index.explain_count(&Query::new().status(Status::Active, Timestamp::from_secs(0)?))?;
    /// assert_eq!(plan.driver, Driver::RankCount);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain_count(&self, query: &Query<I>) -> Result<Explain, Error> {
        self.store.state().explain_count(query)
    }

    /// Bytes of memory held by the index structures (rows, tiers, posting
    /// lists, id index, tombstones, dictionaries, placements), excluding payloads.
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::Index<u64, ()> = mwindex::Index::new();
    /// assert!(index.index_bytes() < 1024);
    /// ```
    pub fn index_bytes(&self) -> usize {
        self.store.index_bytes()
    }

    /// Checks every internal invariant (order, tiers, end augmentation, postings,
    /// tombstones, id uniqueness, payload slots, the organization tree) and
    /// describes the first one broken. For tests and fuzzing; slow.
    #[doc(hidden)]
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::Index<u64, ()> = mwindex::Index::new();
    /// assert_eq!(index.check_invariants(), Ok(()));
    /// ```
    pub fn check_invariants(&self) -> Result<(), String> {
        self.store.check_invariants()
    }
}
