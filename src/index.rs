//! The index: windows, payloads, the organization tree, and the operations on them.

use std::sync::Arc;

use crate::compaction::{self, Compactor};
use crate::cursor::{self, CursorKey, Position};
use crate::dict::Dict;
use crate::memtable::Memtable;
use crate::org::{OrgSet, OrgTree};
use crate::pages;
use crate::place::{Place, Places};
use crate::plan::{self, Resolved};
use crate::query::TimeBox;
use crate::scan::{self, Counter, Hit, IdTopK, MEMTABLE, Prefetch, StartTopK, Warm};
use crate::segment::{NONE, Row, Segment, SegmentData};
use crate::{
    ChargerId, Driver, Entry, Error, Explain, MAX_PAGE_SIZE, Order, OrgId, Page, Query, SiteId, Status, Timestamp,
    Window, WindowId,
};

/// Windows buffered before they are sorted into an immutable segment.
pub const DEFAULT_WRITE_BUFFER: usize = 256;

/// Configures and builds an [`Index`]: the cursor key, the organization tree,
/// the write buffer, and optionally the initial windows in one bulk build.
///
/// # Example
///
/// ```
/// use mwindex::{CursorKey, Index, OrgId, Timestamp, Window};
///
/// let t = |s| Timestamp::from_secs(s);
/// let index: Index<u64, String> = Index::builder()
///     .cursor_key(CursorKey::from_bytes([9; 32]))
///     .organization(OrgId(2), Some(OrgId(1))) // any order: parents are resolved
///     .organization(OrgId(1), None)
///     .build_from([(Window::new(1, t(0)?, t(60)?, OrgId(2))?, "swap firmware".to_string())])?;
/// assert_eq!(index.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct IndexBuilder<I, P> {
    key: Option<CursorKey>,
    orgs: Vec<(OrgId, Option<OrgId>)>,
    write_buffer: Option<usize>,
    inline_merge_rows: Option<usize>,
    _types: std::marker::PhantomData<fn() -> (I, P)>,
}

impl<I, P> Default for IndexBuilder<I, P> {
    fn default() -> Self {
        IndexBuilder {
            key: None,
            orgs: Vec::new(),
            write_buffer: None,
            inline_merge_rows: None,
            _types: std::marker::PhantomData,
        }
    }
}

impl<I, P> IndexBuilder<I, P> {
    /// Authenticates cursors with this key instead of a random one. Set it when
    /// cursors must survive a restart or be accepted by several replicas.
    #[must_use]
    pub fn cursor_key(mut self, key: CursorKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Adds an organization with its parent (`None` for a root).
    #[must_use]
    pub fn organization(mut self, id: OrgId, parent: Option<OrgId>) -> Self {
        self.orgs.push((id, parent));
        self
    }

    /// Adds many organizations, in any order.
    #[must_use]
    pub fn organizations(mut self, orgs: impl IntoIterator<Item = (OrgId, Option<OrgId>)>) -> Self {
        self.orgs.extend(orgs);
        self
    }

    /// How many recent writes are buffered before being sorted into a segment
    /// (clamped to `1..=65_536`; default [`DEFAULT_WRITE_BUFFER`]). Queries scan
    /// the buffer whole, so larger buffers speed writes and slow queries.
    #[must_use]
    pub fn write_buffer(mut self, windows: usize) -> Self {
        self.write_buffer = Some(windows.clamp(1, 65_536));
        self
    }

    /// Segment merges of at most this many rows run on the writing thread;
    /// larger ones run on a background thread while writes go on (default
    /// 2,048, a few hundred microseconds of work). `0` sends every merge to
    /// the background; a large value keeps every merge on the writer (and
    /// its pauses with it).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::Index;
    /// let index: Index<u64, ()> = Index::builder().inline_merge_rows(0).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn inline_merge_rows(mut self, rows: usize) -> Self {
        self.inline_merge_rows = Some(rows);
        self
    }
}

impl<I: WindowId, P> IndexBuilder<I, P> {
    /// Builds an empty index.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateOrganization`] if an organization is given twice,
    /// [`Error::UnknownOrganization`] if a parent is never given,
    /// [`Error::OrganizationCycle`] if the parents form a cycle.
    pub fn build(self) -> Result<Index<I, P>, Error> {
        let mut tree = OrgTree::default();
        let mut pending = self.orgs;
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for (id, parent) in pending {
                if parent.is_none_or(|p| tree.dense(p).is_some()) {
                    tree.add(id, parent)?;
                } else {
                    rest.push((id, parent));
                }
            }
            if rest.len() == before {
                // No progress: a missing parent or a cycle among the rest.
                let known: std::collections::HashSet<OrgId> = rest.iter().map(|&(id, _)| id).collect();
                if let Some(p) = rest.iter().filter_map(|&(_, parent)| parent).find(|p| !known.contains(p)) {
                    return Err(Error::UnknownOrganization(p));
                }
                let (org, parent) = rest[0];
                return Err(Error::OrganizationCycle { org, parent: parent.unwrap_or(org) });
            }
            pending = rest;
        }
        Ok(Index {
            segments: Vec::new(),
            mem: Memtable::default(),
            payloads: Vec::new(),
            free: Vec::new(),
            len: 0,
            orgs: tree,
            chargers: Dict::default(),
            sites: Dict::default(),
            places: Places::default(),
            key: self.key.unwrap_or_else(CursorKey::random),
            write_buffer: self.write_buffer.unwrap_or(DEFAULT_WRITE_BUFFER),
            compactor: Compactor::new(self.inline_merge_rows.unwrap_or(compaction::INLINE_ROWS)),
        })
    }

    /// Builds an index holding `windows`, sorted once and built once (see
    /// [`Index::bulk_insert`]).
    ///
    /// # Errors
    ///
    /// Those of [`IndexBuilder::build`] and of [`Index::bulk_insert`].
    pub fn build_from(self, windows: impl IntoIterator<Item = (Window<I>, P)>) -> Result<Index<I, P>, Error> {
        let mut index = self.build()?;
        index.bulk_insert(windows)?;
        Ok(index)
    }
}

/// Where a window's row lives.
#[derive(Clone, Copy, Debug)]
enum Loc {
    Mem(usize),
    Seg(usize, u32),
}

/// An in-memory index of maintenance windows with payloads of type `P`, keyed
/// by ids of type `I` (see [`WindowId`]).
///
/// Reads take `&self` and writes `&mut self`; see `docs/design.md` for how the
/// representation suits snapshots, a write-ahead log and concurrent readers.
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
#[derive(Debug, Clone)]
pub struct Index<I, P> {
    segments: Vec<Segment<I>>,
    mem: Memtable<I>,
    payloads: Vec<Option<P>>,
    free: Vec<u32>,
    len: usize,
    orgs: OrgTree,
    chargers: Dict<ChargerId>,
    sites: Dict<SiteId>,
    places: Places,
    key: CursorKey,
    write_buffer: usize,
    compactor: Compactor<I>,
}

impl<I: WindowId, P> Default for Index<I, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I, P> Index<I, P> {
    /// A builder for an index (cursor key, organizations, initial windows).
    pub fn builder() -> IndexBuilder<I, P> {
        IndexBuilder::default()
    }
}

impl<I: WindowId, P> Index<I, P> {
    /// An empty index with a random cursor key and no organizations.
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::Index<u64, ()> = mwindex::Index::new();
    /// assert!(index.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::builder().build().unwrap_or_else(|_| unreachable!("a builder without organizations cannot fail"))
    }

    /// Number of windows held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index holds no window.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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
        self.orgs.add(id, parent).map(|_| ())
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
        self.orgs.set_parent(id, parent)
    }

    /// The parent of an organization, `None` for a root.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOrganization`] if `id` does not exist.
    pub fn organization_parent(&self, id: OrgId) -> Result<Option<OrgId>, Error> {
        self.orgs.parent_of(id)
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
        self.orgs.require(window.org())?;
        if self.locate(window.id()).is_some() {
            return Err(Error::DuplicateId(window.id().to_string()));
        }
        let slot = self.alloc_slot(payload)?;
        self.push_row(window, slot)
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
        // The row first (organization check, interning), so that an error
        // leaves the old window in place; its payload slot comes after.
        let mut row = self.make_row(&window, NONE)?;
        match self.locate(window.id()) {
            Some(loc) => {
                let old = self.remove_at(loc);
                let previous = self.payloads[old.slot as usize].replace(payload);
                self.len -= 1;
                row.slot = old.slot;
                self.push(row);
                Ok(previous)
            }
            None => {
                row.slot = self.alloc_slot(payload)?;
                self.push(row);
                Ok(None)
            }
        }
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
        let windows: Vec<(Window<I>, P)> = windows.into_iter().collect();
        for (w, _) in &windows {
            self.orgs.require(w.org())?;
        }
        let cap = u64::from(NONE) - 1;
        let most = [self.payloads.len(), self.places.all().len(), self.chargers.len(), self.sites.len()];
        if most.iter().any(|&used| used as u64 + windows.len() as u64 >= cap) {
            return Err(Error::CapacityExceeded(cap));
        }
        let mut previous = Vec::with_capacity(windows.len());
        let (mut ids, mut rows) = (Vec::with_capacity(WRITE_BATCH), Vec::with_capacity(WRITE_BATCH));
        let mut windows = windows.into_iter().peekable();
        while windows.peek().is_some() {
            let batch: Vec<(Window<I>, P)> = windows.by_ref().take(WRITE_BATCH).collect();
            ids.clear();
            ids.extend(batch.iter().map(|(w, _)| w.id()));
            self.warm_writes(&batch, &ids, &mut rows);
            for (w, p) in batch {
                previous.push(self.upsert(w, p)?);
            }
        }
        Ok(previous)
    }

    /// Loads what writing `batch` (whose ids are `ids`) will read: each
    /// window's placement, and in every large segment the id's row, its
    /// tombstones and its payload. Reads only; the writes then hit the cache.
    fn warm_writes(&self, batch: &[(Window<I>, P)], ids: &[I], rows: &mut Vec<Option<u32>>) {
        let mut acc = 0u64;
        for (w, _) in batch {
            acc ^= u64::from(self.places.find(w.charger(), w.site(), w.org()).unwrap_or(0));
        }
        let payloads = Prefetch::of(&self.payloads);
        // Small segments' lookups hit the cache anyway.
        for seg in self.segments.iter().filter(|s| s.len() >= WARM_MIN_ROWS) {
            rows.clear();
            seg.rows_of(ids, rows);
            for &r in rows.iter().flatten() {
                acc ^= seg.warm_kill(r) as u64;
            }
            for &r in rows.iter().flatten() {
                payloads.slot(seg.row(r).slot);
            }
        }
        std::hint::black_box(acc);
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
        let loc = self.locate(id)?;
        let row = self.remove_at(loc);
        self.len -= 1;
        // Install finished merges now, as every write does: a merge's output
        // must also lose the rows deleted while it ran, and the writer kills
        // those left over at install; left waiting through a long run of
        // deletes they piled up into a pause (48 ms after 200,000 deletes).
        if self.compactor.running() > 0 {
            self.compactor.poll(&mut self.segments, &self.places);
        }
        let window = self.window_of(&row);
        let payload = self.payloads.get_mut(row.slot as usize)?.take();
        self.free.push(row.slot);
        payload.map(|p| (window, p))
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
        let row = match self.locate(id)? {
            Loc::Mem(i) => self.mem.rows[i],
            Loc::Seg(s, r) => self.segments[s].row(r),
        };
        self.entry_of(&row)
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
        // Rows first carry the position of their item; once the segment has
        // sorted them, payloads are laid out in row order, so the payloads of a
        // page sit together in memory. Nothing is visible until the segment is
        // pushed: on an error the index is unchanged (the id dictionaries may
        // keep keys no window uses, which no query can observe).
        let windows = windows.into_iter();
        let mut rows = pages::with_capacity(windows.size_hint().0);
        let mut payloads = Vec::with_capacity(windows.size_hint().0);
        for (w, payload) in windows {
            if self.len as u64 + rows.len() as u64 + 1 >= u64::from(NONE)
                || self.payloads.len() as u64 + rows.len() as u64 + 1 >= u64::from(NONE)
            {
                return Err(Error::CapacityExceeded(u64::from(NONE) - 1));
            }
            rows.push(self.make_row(&w, rows.len() as u32)?);
            payloads.push(Some(payload));
        }
        if rows.is_empty() {
            return Ok(());
        }
        if !self.is_empty()
            && let Some(id) = rows.iter().map(|r| r.id).find(|&id| self.locate(id).is_some())
        {
            return Err(Error::DuplicateId(id.to_string()));
        }
        let mut data = SegmentData::build(rows, &self.places.view());
        // The segment's id index is sorted: a repeated id sits next to itself.
        if let Some(k) = data.ids_sorted.first_repeat() {
            return Err(Error::DuplicateId(data.rows[data.id_rows[k] as usize].id.to_string()));
        }
        let base = self.payloads.len() as u32;
        self.payloads.reserve(payloads.len());
        // A gather in row order: each read is a cache miss, so the reads a
        // few rows ahead are started early and their misses overlap.
        let ahead = Prefetch::of(&payloads);
        for r in 0..data.rows.len() {
            if let Some(next) = data.rows.get(r + PAYLOAD_PREFETCH) {
                ahead.slot(next.slot);
            }
            let row = &mut data.rows[r];
            self.payloads.push(payloads[row.slot as usize].take());
            row.slot = base + r as u32;
        }
        self.len += data.len();
        self.segments.push(Segment::from_data(Arc::new(data)));
        self.compactor.maintain(&mut self.segments, &self.places);
        Ok(())
    }

    /// Waits for the segment merges running in the background, installs
    /// them, and merges until segment sizes are geometric again. Writes never
    /// need it (merges install themselves at later writes); call it before
    /// measuring, snapshotting, or handing the index to readers that should
    /// meet as few segments as possible.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).inline_merge_rows(0).build()?;
    /// for i in 0..10_000 {
    ///     let s = Timestamp::from_secs(i * 60)?;
    ///     index.insert(Window::new(i as u64, s, Timestamp::from_secs(i * 60 + 30)?, OrgId(1))?, ())?;
    /// }
    /// index.compact();
    /// assert_eq!(index.len(), 10_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compact(&mut self) {
        self.compactor.finish(&mut self.segments, &self.places);
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
        let q = self.resolve(query, true)?;
        let need = q.limit + 1;
        let (driver, mut hits) = if q.matches_nothing() {
            (Driver::Nothing, Vec::new())
        } else {
            match q.order {
                Order::StartThenId => {
                    let ranges = plan::ranges(&self.segments, &q, true);
                    let (driver, _) = plan::choose(&self.segments, &ranges, &q, Some(need));
                    let mut sink = StartTopK::new(need, self.warm());
                    scan::run(&self.segments, &ranges, &self.mem, &q, driver, &mut sink);
                    (driver, sink.hits)
                }
                Order::Id => {
                    let (driver, ranges, _) = self.plan_by_id(&q, need);
                    let mut sink = IdTopK::new(need, q.after_id, driver == Driver::IdOrder, self.warm());
                    scan::run(&self.segments, &ranges, &self.mem, &q, driver, &mut sink);
                    (driver, sink.hits)
                }
            }
        };
        let next_cursor = if hits.len() > q.limit {
            hits.truncate(q.limit);
            hits.last().map(|h| self.cursor_after(query, h))
        } else {
            None
        };
        let rows: Vec<&Row<I>> = hits.iter().map(|h| self.hit_row(h)).collect();
        // Touch every payload first: the loads are independent, so their cache
        // misses overlap instead of queueing behind each entry's construction.
        let present = rows.iter().filter(|r| self.payloads.get(r.slot as usize).is_some_and(Option::is_some)).count();
        debug_assert_eq!(present, rows.len(), "a live window lost its payload");
        // Keep the touching pass: the optimizer would otherwise drop it.
        std::hint::black_box(present);
        let mut items = Vec::with_capacity(rows.len());
        items.extend(rows.iter().filter_map(|r| self.entry_of(r)));
        Ok(Page { items, next_cursor, driver })
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
        let q = self.resolve(query, false)?;
        let (driver, ranges) = self.plan_count(&q);
        Ok(match driver {
            Driver::Nothing => 0,
            Driver::RankCount | Driver::PostingCount => {
                // Neither driver visits rows; only the write buffer is scanned.
                let from_segments: u64 = match (driver, rank_shape(&q.tb)) {
                    (Driver::RankCount, Some(shape)) => self.segments.iter().map(|s| rank_count(s, &q.tb, shape)).sum(),
                    _ => self.segments.iter().map(|s| posting_count(s, &q)).sum(),
                };
                let mut buffered = Counter::default();
                scan::scan_memtable(&self.mem, &q, &mut buffered);
                from_segments + buffered.0
            }
            driver => {
                let mut sink = Counter::default();
                scan::run(&self.segments, &ranges, &self.mem, &q, driver, &mut sink);
                sink.0
            }
        })
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
        let q = self.resolve(query, true)?;
        let need = q.limit + 1;
        let (driver, ranges, cost) = if q.matches_nothing() {
            (Driver::Nothing, Vec::new(), 0.0)
        } else if q.order == Order::StartThenId {
            let ranges = plan::ranges(&self.segments, &q, true);
            let (d, c) = plan::choose(&self.segments, &ranges, &q, Some(need));
            (d, ranges, c)
        } else {
            self.plan_by_id(&q, need)
        };
        Ok(self.explained(driver, q.order, &ranges, cost))
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
        let q = self.resolve(query, false)?;
        let (driver, ranges) = self.plan_count(&q);
        let cost = match driver {
            Driver::Nothing => 0.0,
            Driver::RankCount | Driver::PostingCount => (self.segments.len() * 2) as f64,
            _ => plan::choose(&self.segments, &ranges, &q, None).1,
        };
        Ok(self.explained(driver, q.order, &ranges, cost))
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
        self.segments.iter().map(Segment::heap_bytes).sum::<usize>()
            + self.mem.rows.capacity() * std::mem::size_of::<Row<I>>()
            + self.free.capacity() * 4
            + self.chargers.heap_bytes()
            + self.sites.heap_bytes()
            + self.places.heap_bytes()
    }

    /// Checks every internal invariant (order, tiers, end augmentation, postings,
    /// tombstones, id uniqueness, payload slots, the organization tree) and
    /// describes the first one broken. For tests and fuzzing; slow.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.orgs.check_invariants()?;
        self.mem.check_invariants()?;
        let mut live = self.mem.len();
        let mut ids = std::collections::HashSet::new();
        let mut slots = std::collections::HashSet::new();
        let mut check_row = |row: &Row<I>, ids: &mut std::collections::HashSet<I>| -> Result<(), String> {
            if !ids.insert(row.id) {
                return Err(format!("id {} is live twice", row.id));
            }
            if !slots.insert(row.slot) || self.payloads.get(row.slot as usize).is_none_or(Option::is_none) {
                return Err(format!("id {} has a shared or empty payload slot {}", row.id, row.slot));
            }
            let Some(p) = self.places.all().get(row.place as usize) else {
                return Err(format!("id {} has an unknown placement {}", row.id, row.place));
            };
            if p.org as usize >= self.orgs.len()
                || (p.charger != NONE && p.charger as usize >= self.chargers.len())
                || (p.site != NONE && p.site as usize >= self.sites.len())
            {
                return Err(format!("id {} refers to an unknown dense entity", row.id));
            }
            Ok(())
        };
        for row in &self.mem.rows {
            check_row(row, &mut ids)?;
        }
        for (s, seg) in self.segments.iter().enumerate() {
            seg.check_invariants(self.places.all()).map_err(|e| format!("segment {s}: {e}"))?;
            live += seg.live();
            for r in 0..seg.len() as u32 {
                if !seg.is_dead(r) {
                    check_row(&seg.row(r), &mut ids)?;
                }
            }
        }
        if live != self.len {
            return Err(format!("len is {} but {live} rows are live", self.len));
        }
        let occupied = self.payloads.iter().filter(|p| p.is_some()).count();
        if occupied != self.len {
            return Err(format!("{occupied} payload slots occupied for {} windows", self.len));
        }
        let mut free: Vec<u32> = self.free.clone();
        free.sort_unstable();
        free.dedup();
        if free.len() != self.free.len()
            || free.iter().any(|&f| self.payloads.get(f as usize).is_none_or(Option::is_some))
        {
            return Err("free list holds duplicates or occupied slots".into());
        }
        if free.len() + occupied != self.payloads.len() {
            return Err("a payload slot is neither occupied nor free".into());
        }
        Ok(())
    }

    // ----- internals -----

    fn explained(&self, driver: Driver, order: Order, ranges: &plan::Ranges<I>, cost: f64) -> Explain {
        Explain {
            driver,
            order,
            time_range_rows: plan::range_rows(ranges),
            estimated_rows: cost,
            segments: self.segments.len(),
            buffered: self.mem.len(),
        }
    }

    fn plan_count(&self, q: &Resolved<'_, I>) -> (Driver, plan::Ranges<I>) {
        if q.matches_nothing() {
            return (Driver::Nothing, Vec::new());
        }
        if !q.has_filters() && rank_shape(&q.tb).is_some() {
            return (Driver::RankCount, Vec::new());
        }
        if q.tb == TimeBox::ALL && q.only_family().is_some() {
            return (Driver::PostingCount, Vec::new());
        }
        let ranges = plan::ranges(&self.segments, q, false);
        let (driver, _) = plan::choose(&self.segments, &ranges, q, None);
        (driver, ranges)
    }

    /// In id order: walk ids and test rows, or collect every match through the
    /// cheapest time/posting driver and keep the smallest ids.
    fn plan_by_id(&self, q: &Resolved<'_, I>, need: usize) -> (Driver, plan::Ranges<I>, f64) {
        let ranges = plan::ranges(&self.segments, q, false);
        let (driver, collect_cost) = plan::choose(&self.segments, &ranges, q, None);
        let total = self.segments.iter().map(|s| s.len()).sum::<usize>() as f64;
        let matches = collect_cost.min(plan::range_rows(&ranges) as f64);
        let walk_cost = (need as f64 * total / matches.max(1.0)).min(total);
        if walk_cost < collect_cost { (Driver::IdOrder, ranges, walk_cost) } else { (driver, ranges, collect_cost) }
    }

    fn resolve(&self, query: &Query<I>, paging: bool) -> Result<Resolved<'_, I>, Error> {
        if paging && !(1..=MAX_PAGE_SIZE).contains(&query.page_size) {
            return Err(Error::InvalidPageSize { got: query.page_size, max: MAX_PAGE_SIZE });
        }
        if let (Some(after), Some(before)) = (query.after, query.before)
            && after >= before
        {
            return Err(Error::InvalidRange { after, before });
        }
        if query.after_id.is_some() && query.order != Order::Id {
            return Err(Error::InvalidQuery("`after_id` needs id order; use the cursor in (start, id) order"));
        }
        if paging && query.after_id.is_some() && query.cursor.is_some() {
            return Err(Error::InvalidQuery("give either a cursor or an after-id, not both"));
        }
        let scope = query.scope.map(|org| self.orgs.require(org)).transpose()?;
        let orgs = match (&query.orgs, scope) {
            (None, None) => None,
            (None, Some(root)) => self.orgs.scope(root),
            (Some(requested), scope) => {
                let list = requested
                    .iter()
                    .filter_map(|&o| self.orgs.dense(o))
                    .filter(|&d| scope.is_none_or(|root| self.orgs.is_within(d, root)))
                    .collect();
                Some(Arc::new(OrgSet::from_list(list, self.orgs.len())))
            }
        };
        // Dense numbers of the requested keys, ascending, unknown keys
        // dropped (they match nothing).
        fn dense<K: Copy>(keys: Option<&Vec<K>>, lookup: impl Fn(K) -> Option<u32>) -> Option<Vec<u32>> {
            keys.map(|keys| {
                let mut v = Vec::with_capacity(keys.len());
                v.extend(keys.iter().filter_map(|&k| lookup(k)));
                v.sort_unstable();
                v.dedup();
                v
            })
        }
        let mut q = Resolved {
            tb: TimeBox::new(query.after, query.before, query.status),
            chargers: dense(query.chargers.as_ref(), |c| self.chargers.get(c)),
            sites: dense(query.sites.as_ref(), |s| self.sites.get(s)),
            orgs,
            order: query.order,
            limit: query.page_size,
            after_key: None,
            after_id: query.after_id,
            places: self.places.all(),
        };
        if let (true, Some(text)) = (paging, &query.cursor) {
            let pos: Position<I> = cursor::decode(&self.key, text, order_byte(q.order), fingerprint(query))?;
            match q.order {
                Order::StartThenId => q.after_key = Some((pos.start, pos.id)),
                Order::Id => q.after_id = Some(pos.id),
            }
        }
        Ok(q)
    }

    fn cursor_after(&self, query: &Query<I>, last: &Hit<I>) -> String {
        let start = if query.order == Order::StartThenId { last.start } else { 0 };
        cursor::encode(
            &self.key,
            &Position { order: order_byte(query.order), fingerprint: fingerprint(query), start, id: last.id },
        )
    }

    fn hit_row(&self, h: &Hit<I>) -> &Row<I> {
        if h.src == MEMTABLE {
            &self.mem.rows[h.row as usize]
        } else {
            &self.segments[h.src as usize].rows[h.row as usize]
        }
    }

    fn window_of(&self, row: &Row<I>) -> Window<I> {
        let ids = self.places.public_ids(row.place);
        debug_assert!(ids.is_some(), "row of id {} has no placement", row.id);
        let (charger, site, org) = ids.unwrap_or((None, None, OrgId(0)));
        Window::from_parts(
            row.id,
            Timestamp::from_micros_unchecked(row.start),
            Timestamp::from_micros_unchecked(row.end),
            charger,
            site,
            org,
        )
    }

    fn entry_of(&self, row: &Row<I>) -> Option<Entry<'_, I, P>> {
        let payload = self.payloads.get(row.slot as usize)?.as_ref();
        debug_assert!(payload.is_some(), "live window {} has no payload", row.id);
        Some(Entry { window: self.window_of(row), payload: payload? })
    }

    /// What page sinks prefetch for the hits they keep.
    fn warm(&self) -> Warm {
        Warm { payloads: Prefetch::of(&self.payloads), places: self.places.prefetch() }
    }

    /// Where the live window `id` is. At most one row of an id is live, so
    /// the segments may be searched in any order: oldest first, because
    /// segments are geometric and the oldest holds most windows (a random
    /// existing id is usually found by the first search), while an id outside
    /// a segment's range of ids is ruled out by its directory without a read.
    fn locate(&self, id: I) -> Option<Loc> {
        if let Some(i) = self.mem.position(id) {
            return Some(Loc::Mem(i));
        }
        self.segments.iter().enumerate().find_map(|(s, seg)| seg.find(id).map(|r| Loc::Seg(s, r)))
    }

    fn remove_at(&mut self, loc: Loc) -> Row<I> {
        match loc {
            Loc::Mem(i) => self.mem.remove(i),
            Loc::Seg(s, r) => {
                let seg = &mut self.segments[s];
                seg.kill(r);
                let row = seg.row(r);
                self.compactor.note_delete(&self.segments[s], row.id);
                let seg = &self.segments[s];
                // A segment mostly dead is rebuilt from its live rows.
                if seg.len() >= 2 * self.write_buffer && seg.dead_len() * 2 > seg.len() {
                    self.compactor.rebuild(&mut self.segments, s, &self.places);
                }
                row
            }
        }
    }

    fn alloc_slot(&mut self, payload: P) -> Result<u32, Error> {
        if let Some(slot) = self.free.pop() {
            self.payloads[slot as usize] = Some(payload);
            return Ok(slot);
        }
        let slot = u32::try_from(self.payloads.len())
            .ok()
            .filter(|&s| s != NONE)
            .ok_or(Error::CapacityExceeded(u64::from(NONE) - 1))?;
        self.payloads.push(Some(payload));
        Ok(slot)
    }

    fn intern(&mut self, w: &Window<I>) -> Result<(u32, u32), Error> {
        let full = || Error::CapacityExceeded(u64::from(NONE) - 1);
        let charger = match w.charger() {
            Some(c) => self.chargers.intern(c).ok_or_else(full)?,
            None => NONE,
        };
        let site = match w.site() {
            Some(s) => self.sites.intern(s).ok_or_else(full)?,
            None => NONE,
        };
        Ok((charger, site))
    }

    fn make_row(&mut self, w: &Window<I>, slot: u32) -> Result<Row<I>, Error> {
        let place = match self.places.find(w.charger(), w.site(), w.org()) {
            Some(place) => place,
            None => {
                let org = self.orgs.require(w.org())?;
                let (charger, site) = self.intern(w)?;
                self.places
                    .add(Place { charger, site, org }, w.charger(), w.site(), w.org())
                    .ok_or(Error::CapacityExceeded(u64::from(NONE) - 1))?
            }
        };
        Ok(Row { start: w.start().as_micros(), end: w.end().as_micros(), id: w.id(), place, slot })
    }

    fn push_row(&mut self, w: Window<I>, slot: u32) -> Result<(), Error> {
        let row = match self.make_row(&w, slot) {
            Ok(row) => row,
            Err(e) => {
                // Give the slot back so nothing leaks on a failed write.
                if let Some(p) = self.payloads.get_mut(slot as usize) {
                    *p = None;
                }
                self.free.push(slot);
                return Err(e);
            }
        };
        self.push(row);
        Ok(())
    }

    /// Adds a made row to the write buffer, flushing and merging as due.
    fn push(&mut self, row: Row<I>) {
        self.mem.insert(row);
        self.len += 1;
        if self.mem.len() >= self.write_buffer {
            let rows = self.mem.take();
            self.segments.push(Segment::build(rows, &self.places.view()));
            self.compactor.maintain(&mut self.segments, &self.places);
        } else if self.compactor.running() > 0 {
            self.compactor.poll(&mut self.segments, &self.places);
        }
    }
}

/// Windows whose lookups [`Index::upsert_all`] makes together.
const WRITE_BATCH: usize = 32;

/// Segments from this many rows on are warmed for a batch of writes.
const WARM_MIN_ROWS: usize = 1 << 16;

/// How many rows ahead a bulk load's payload gather starts its reads.
const PAYLOAD_PREFETCH: usize = 16;

fn order_byte(order: Order) -> u8 {
    match order {
        Order::StartThenId => 0,
        Order::Id => 1,
    }
}

/// Live rows of a segment in the postings of the query's only filtered family:
/// the lists' sizes, less the deleted rows whose key is among the requested.
fn posting_count<I: WindowId>(seg: &Segment<I>, q: &Resolved<'_, I>) -> u64 {
    let Some(family) = q.only_family() else { return 0 };
    let keys = q.keys(family).unwrap_or(&[]);
    let postings = seg.postings(family);
    let all: u64 = keys
        .iter()
        .filter_map(|&k| postings.get(k))
        .map(|p| p.counts().iter().map(|&c| u64::from(c)).sum::<u64>())
        .sum();
    let dead = seg.dead.iter().filter(|&r| {
        let row = seg.row(r);
        q.place_ok(row.place)
    });
    all - dead.count() as u64
}

/// The shapes of time bounds that binary searches over sorted starts and ends
/// can count.
#[derive(Clone, Copy, Debug)]
enum RankShape {
    /// `s_lo <= start < s_hi`, ends free.
    Starts,
    /// `e_lo < end <= e_hi`, starts free.
    Ends,
    /// `start < s_hi` and `end > e_lo` with `e_lo < s_hi`: every window ending
    /// by `e_lo` started before `s_hi`.
    Overlap,
}

fn rank_shape(tb: &TimeBox) -> Option<RankShape> {
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

/// Counts live rows of a segment inside `tb`, which has `shape`.
fn rank_count<I: WindowId>(seg: &Segment<I>, tb: &TimeBox, shape: RankShape) -> u64 {
    match shape {
        RankShape::Starts => {
            let ([hi, lo], []) = seg.live_ranks([tb.s_hi, tb.s_lo], []);
            hi.saturating_sub(lo)
        }
        RankShape::Ends => {
            let ([], [hi, lo]) = seg.live_ranks([], [tb.e_hi, tb.e_lo]);
            hi.saturating_sub(lo)
        }
        RankShape::Overlap => {
            let ([started], [ended]) = seg.live_ranks([tb.s_hi], [tb.e_lo]);
            started - ended
        }
    }
}

/// A 64-bit digest of what a cursor is bound to: order, time bounds, status
/// kind, filters and scope (the query builder keeps id lists sorted and
/// deduplicated, so equal sets digest equally). It needs no secrecy or
/// collision resistance against an adversary: the cursor's MAC covers it, and
/// a cursor replayed on a colliding query yields only a position its holder
/// has already seen. A splitmix64 chain is enough, and costs a few cycles.
fn fingerprint<I: WindowId>(q: &Query<I>) -> u64 {
    fn mix(h: u64, word: u64) -> u64 {
        let mut z = (h ^ word).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn set(h: u64, ids: Option<impl ExactSizeIterator<Item = u64>>) -> u64 {
        match ids {
            Some(ids) => {
                let len = ids.len() as u64;
                ids.fold(mix(mix(h, 1), len), mix)
            }
            None => mix(h, 0),
        }
    }
    // "mwindex" and the digest's version.
    let mut h = mix(0x6d77_696e_6465_7802, u64::from(order_byte(q.order)));
    for t in [q.after, q.before] {
        h = match t {
            Some(t) => mix(mix(h, 1), t.as_micros() as u64),
            None => mix(h, 0),
        };
    }
    h = mix(
        h,
        match q.status.map(|(s, _)| s) {
            None => 0,
            Some(Status::Active) => 1,
            Some(Status::Upcoming) => 2,
            Some(Status::Past) => 3,
        },
    );
    h = set(h, q.chargers.as_ref().map(|v| v.iter().map(|c| c.0)));
    h = set(h, q.sites.as_ref().map(|v| v.iter().map(|s| s.0)));
    h = set(h, q.orgs.as_ref().map(|v| v.iter().map(|o| o.0)));
    set(h, q.scope.map(|o| std::iter::once(o.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: deletes did not install finished merges, so the rows
    /// deleted while a merge ran waited for the next insert to kill them at
    /// install: a 48 ms insert after 200,000 deletes.
    #[test]
    fn deletes_install_finished_merges() {
        let mut index: Index<u64, ()> =
            Index::builder().organization(OrgId(1), None).write_buffer(64).inline_merge_rows(0).build().unwrap();
        let t = |m: u64| Timestamp::from_secs(m as i64 * 60).unwrap();
        let mut id = 0u64;
        // Write until a merge is in flight after a write.
        while index.compactor.running() == 0 {
            assert!(id < 1_000_000, "no merge ever ran in the background");
            index.insert(Window::new(id, t(id), t(id + 1), OrgId(1)).unwrap(), ()).unwrap();
            id += 1;
        }
        // Let every merge in flight finish, with no write to install it.
        let finished = loop {
            let finished = index.compactor.finished();
            if finished.len() == index.compactor.running() {
                break finished;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(index.delete(0).is_some());
        let left = index.compactor.finished();
        assert!(finished.iter().all(|f| !left.contains(f)), "a delete left finished merges uninstalled");
        index.check_invariants().unwrap();
        assert_eq!(index.len() as u64, id - 1);
    }
}
