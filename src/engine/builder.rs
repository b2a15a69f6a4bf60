//! Building an index: the cursor key, the organization tree, the write
//! buffer and merge settings, and optionally the first windows.

use super::compaction::INLINE_ROWS;
use super::image::Image;
use super::index::Index;
use super::payload::Payload;
use super::pins::PinPolicy;
use super::shared::SharedIndex;
use super::store::Store;
use crate::catalog::{Catalog, OrgTree};
use crate::query::CursorKey;
use crate::{Error, OrgId, Window, WindowId};

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
    background_builds: Option<bool>,
    max_segments: Option<usize>,
    pins: PinPolicy,
    _types: std::marker::PhantomData<fn() -> (I, P)>,
}

impl<I, P> Default for IndexBuilder<I, P> {
    fn default() -> Self {
        IndexBuilder {
            key: None,
            orgs: Vec::new(),
            write_buffer: None,
            inline_merge_rows: None,
            background_builds: None,
            max_segments: None,
            pins: PinPolicy::default(),
            _types: std::marker::PhantomData,
        }
    }
}

impl<I, P> IndexBuilder<I, P> {
    /// How long, and how many, versions a [`SharedIndex`] pins for
    /// consistent cursors (default: [`PinPolicy::default`]).
    ///
    /// # Example
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use mwindex::{PinPolicy, SharedIndex};
    /// let policy = PinPolicy { ttl: Duration::from_secs(5), max_pins: 16 };
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().pins(policy).build_shared()?;
    /// assert_eq!(index.pin_policy(), policy);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn pins(mut self, policy: PinPolicy) -> Self {
        self.pins = policy;
        self
    }

    /// Authenticates cursors with this key instead of a random one. Set it when
    /// cursors must survive a restart or be accepted by several replicas.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{CursorKey, Index, OrgId, Query, Timestamp, Window};
    /// let key = CursorKey::from_bytes([7; 32]);
    /// let build = || -> Result<Index<u64, ()>, mwindex::Error> {
    ///     let mut index = Index::builder().cursor_key(key.clone()).organization(OrgId(1), None).build()?;
    ///     for id in 0..3 {
    ///         index.insert(Window::new(id, Timestamp::from_secs(0)?, Timestamp::from_secs(9)?, OrgId(1))?, ())?;
    ///     }
    ///     Ok(index)
    /// };
    /// let (a, b) = (build()?, build()?);
    /// let q = Query::new().page_size(1);
    /// let cursor = a.query(&q)?.next_cursor().unwrap().to_owned();
    /// // Another index with the same key accepts the cursor.
    /// assert_eq!(b.query(&q.cursor(cursor))?.items()[0].window.id(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn cursor_key(mut self, key: CursorKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Adds an organization with its parent (`None` for a root).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId};
    /// let index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).organization(OrgId(2), Some(OrgId(1))).build()?;
    /// assert_eq!(index.organization_parent(OrgId(2))?, Some(OrgId(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn organization(mut self, id: OrgId, parent: Option<OrgId>) -> Self {
        self.orgs.push((id, parent));
        self
    }

    /// Adds many organizations, in any order.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId};
    /// let tree = [(OrgId(3), Some(OrgId(2))), (OrgId(2), Some(OrgId(1))), (OrgId(1), None)];
    /// let index: Index<u64, ()> = Index::builder().organizations(tree).build()?;
    /// assert_eq!(index.organization_parent(OrgId(3))?, Some(OrgId(2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn organizations(mut self, orgs: impl IntoIterator<Item = (OrgId, Option<OrgId>)>) -> Self {
        self.orgs.extend(orgs);
        self
    }

    /// How many recent writes are buffered before being built into a
    /// segment (clamped to `1..=65_536`; default
    /// [`DEFAULT_WRITE_BUFFER`](crate::DEFAULT_WRITE_BUFFER) where the
    /// writer's thread builds segments, an [`Index`]'s default, and
    /// [`DEFAULT_BACKGROUND_WRITE_BUFFER`](crate::DEFAULT_BACKGROUND_WRITE_BUFFER)
    /// where a background thread does, a [`SharedIndex`]'s). A query scans
    /// the buffered windows whose starts can match, so larger buffers build
    /// fewer segments and cost queries a little more.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Timestamp, Window};
    /// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).write_buffer(1_024).build()?;
    /// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
    /// assert_eq!(index.explain(&mwindex::Query::new())?.buffered, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn write_buffer(mut self, windows: usize) -> Self {
        self.write_buffer = Some(windows.clamp(1, 65_536));
        self
    }

    /// Builds each full write buffer into a segment on a background thread,
    /// and runs every merge there too, so a write never pays for a build
    /// (queries scan the buffers waiting for their build meanwhile, as they
    /// scan the write buffer). Default: on for a [`SharedIndex`], whose
    /// writes should not stall, off for an [`Index`], which then builds on
    /// the writer's thread and merges per [`IndexBuilder::inline_merge_rows`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Timestamp, Window};
    /// let mut index: Index<u64, ()> =
    ///     Index::builder().organization(OrgId(1), None).write_buffer(4).background_builds(true).build()?;
    /// for id in 0..100 {
    ///     index.insert(Window::new(id, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
    /// }
    /// assert_eq!(index.count(&mwindex::Query::new())?, 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn background_builds(mut self, on: bool) -> Self {
        self.background_builds = Some(on);
        self
    }

    /// How many segments the index may hold before a write waits for a
    /// background merge to finish (at least 16; default
    /// [`DEFAULT_MAX_SEGMENTS`](crate::DEFAULT_MAX_SEGMENTS) where the
    /// writer's thread builds segments, an [`Index`]'s default, and
    /// [`DEFAULT_BACKGROUND_MAX_SEGMENTS`](crate::DEFAULT_BACKGROUND_MAX_SEGMENTS)
    /// where a background thread does, a [`SharedIndex`]'s). Every query
    /// visits every segment, so this bounds how much slower reads get while
    /// writes outpace merging (as RocksDB's `level0_stop_writes_trigger`
    /// does): a lower limit keeps reads fast during write bursts and slows
    /// the writer sooner. At 10M windows on two cores, with one reader
    /// beside a writer at full speed (`concurrency --only reads`, a write
    /// buffer of 256), a limit of 96 let segments pile up and a read cost
    /// 19 µs of CPU (45,000 reads a second, 326,000 writes); with 32,
    /// 73,000 reads and 283,000-305,000 writes a second.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, ()> =
    ///     SharedIndex::builder().organization(OrgId(1), None).max_segments(32).build_shared()?;
    /// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
    /// assert!(index.explain(&mwindex::Query::new())?.segments <= 32);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn max_segments(mut self, segments: usize) -> Self {
        self.max_segments = Some(segments);
        self
    }

    /// Segment merges of at most this many rows run on the writing thread;
    /// larger ones run on a background thread while writes go on (default
    /// 2,048, a few hundred microseconds of work). `0` sends every merge to
    /// the background; a large value keeps every merge on the writer (and
    /// its pauses with it). With [`IndexBuilder::background_builds`] on,
    /// every merge runs in the background whatever this says.
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

impl<I: WindowId, P: Payload> IndexBuilder<I, P> {
    /// Builds an empty index.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateOrganization`] if an organization is given twice,
    /// [`Error::UnknownOrganization`] if a parent is never given,
    /// [`Error::OrganizationCycle`] if the parents form a cycle.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Error, Index, OrgId};
    /// let cycle = Index::<u64, ()>::builder().organization(OrgId(1), Some(OrgId(2))).organization(OrgId(2), Some(OrgId(1)));
    /// assert!(matches!(cycle.build(), Err(Error::OrganizationCycle { .. })));
    /// let orphan = Index::<u64, ()>::builder().organization(OrgId(1), Some(OrgId(9)));
    /// assert_eq!(orphan.build().unwrap_err(), Error::UnknownOrganization(OrgId(9)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(mut self) -> Result<Index<I, P>, Error> {
        let mut tree = OrgTree::default();
        let mut pending = std::mem::take(&mut self.orgs);
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
        Ok(Index::from_store(self.store(tree)))
    }

    /// Builds an empty [`SharedIndex`], whose consistent cursors pin
    /// versions under [`IndexBuilder::pins`].
    ///
    /// # Errors
    ///
    /// Those of [`IndexBuilder::build`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// assert!(index.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_shared(self) -> Result<SharedIndex<I, P>, Error> {
        let pins = self.pins;
        Ok(SharedIndex::from_index(self.build()?, pins))
    }

    /// Builds a [`SharedIndex`] holding `windows` (see
    /// [`IndexBuilder::build_from`]).
    ///
    /// # Errors
    ///
    /// Those of [`IndexBuilder::build_from`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex, Timestamp, Window};
    /// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared_from([(w, ())])?;
    /// assert_eq!(index.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_shared_from(
        self,
        windows: impl IntoIterator<Item = (Window<I>, P)>,
    ) -> Result<SharedIndex<I, P>, Error> {
        let pins = self.pins;
        Ok(SharedIndex::from_index(self.build_from(windows)?, pins))
    }

    /// An index with these settings holding a snapshot's image (whose
    /// cursor key and organizations replace the builder's).
    pub(crate) fn build_restored(self, image: Image<I, P>) -> Result<Index<I, P>, Error> {
        let mut store = self.store(OrgTree::default());
        store.restore(image)?;
        Ok(Index::from_store(store))
    }

    /// The pin policy a shared index built from these settings uses.
    pub(crate) fn pin_policy(&self) -> PinPolicy {
        self.pins
    }

    /// The store these settings make over `tree` (the organizations
    /// resolved): the one place the defaults are applied.
    fn store(self, tree: OrgTree) -> Store<I, P> {
        let mut store = Store::new(
            Catalog::new(tree),
            self.key.unwrap_or_else(CursorKey::random),
            self.write_buffer,
            self.inline_merge_rows.unwrap_or(INLINE_ROWS),
        );
        if let Some(on) = self.background_builds {
            store.choose_background(on);
        }
        if let Some(max) = self.max_segments {
            store.limit_segments(max);
        }
        store
    }

    /// Builds an index holding `windows`, sorted once and built once (see
    /// [`Index::bulk_insert`]).
    ///
    /// # Errors
    ///
    /// Those of [`IndexBuilder::build`] and of [`Index::bulk_insert`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Timestamp, Window};
    /// let windows = (0..100u64).map(|i| {
    ///     let s = Timestamp::from_secs(i as i64 * 60).unwrap();
    ///     (Window::new(i, s, Timestamp::from_secs(i as i64 * 60 + 30).unwrap(), OrgId(1)).unwrap(), ())
    /// });
    /// let index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build_from(windows)?;
    /// assert_eq!(index.len(), 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_from(self, windows: impl IntoIterator<Item = (Window<I>, P)>) -> Result<Index<I, P>, Error> {
        let mut index = self.build()?;
        index.bulk_insert(windows)?;
        Ok(index)
    }
}

impl<I, P> SharedIndex<I, P> {
    /// A builder for a shared index (the same as [`Index::builder`]; finish
    /// it with [`IndexBuilder::build_shared`]).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// assert_eq!(index.version(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> IndexBuilder<I, P> {
        IndexBuilder::default()
    }
}

impl<I, P> Index<I, P> {
    /// A builder for an index (cursor key, organizations, initial windows).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId};
    /// let index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
    /// assert!(index.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> IndexBuilder<I, P> {
        IndexBuilder::default()
    }
}

impl<I: WindowId, P: Payload> Index<I, P> {
    /// An empty index with a random cursor key and no organizations (the
    /// builder's defaults).
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::Index<u64, ()> = mwindex::Index::new();
    /// assert!(index.is_empty());
    /// ```
    pub fn new() -> Self {
        Index::from_store(IndexBuilder::default().store(OrgTree::default()))
    }
}
