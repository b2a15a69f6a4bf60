//! The shared index: one handle for any number of threads. Readers run on
//! the latest published version, never waiting for the writer; writers take
//! turns, each write publishing a new version before it returns.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use super::index::Index;
use super::mutation::{Applied, Mutation};
use super::payload::Payload;
use super::pins::{PinPolicy, Pins};
use super::signal::Signal;
use super::store::{Spare, Store};
use super::version::Version;
use crate::query::{Consistency, Entry, Explain, OwnedEntry, OwnedPage, Page, Query, cursor_pin};
use crate::{Error, OrgId, Window, WindowId};

/// An index shared by any number of threads: cheap to clone (a reference
/// count), `Send + Sync`. Reads take `&self` and never wait for a write;
/// writes take `&self` too and are applied one at a time.
///
/// Every write makes a new **version** of the index and publishes it before
/// the call returns, so a query started afterwards, on any thread, sees it
/// (read-your-writes; writes are linearizable). A query, a count and each
/// page run on one version from start to end: a write is seen whole or not
/// at all (an upsert that moves a window is seen at its old place or at its
/// new one, never both, never neither).
///
/// Results are owned: [`OwnedPage`] and [`OwnedEntry`] hold clones of the
/// payloads (see [`Payload`]) and borrow nothing, so they can cross threads
/// and `.await`s. [`SharedIndex::view`] pins a version for as long as the
/// [`PinnedView`] is held; [`Query::consistent`] pins one for a whole page
/// sequence, for a bounded time ([`PinPolicy`]).
///
/// Old versions cost only what changed since them: a version shares the
/// segments, their payloads and the catalog with the writer, and copies the
/// few kilobytes each write changes (the write buffer's rows and the rows
/// deleted since the last flush). A version nobody holds is freed when the
/// next one replaces it.
///
/// Segments are built and merged on background threads, which each write
/// installs once done. An index no write comes to is tidied by a thread of
/// its own (`mwindex-tidy`, ended when the last handle drops): about 100 ms
/// after the last write it installs what the background threads finished,
/// builds the windows left in the write buffer into a segment, and
/// publishes the result under the same version number, so reads after a
/// burst of writes do not keep paying for it.
///
/// # Example
///
/// ```
/// use mwindex::{OrgId, Query, SharedIndex, Status, Timestamp, Window};
///
/// let index: SharedIndex<u64, String> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
/// let t = |s| Timestamp::from_secs(s);
/// let writer = index.clone();
/// std::thread::spawn(move || {
///     for id in 0..100 {
///         writer.insert(Window::new(id, t(id as i64 * 60)?, t(id as i64 * 60 + 30)?, OrgId(1))?, format!("job {id}"))?;
///     }
///     Ok::<(), mwindex::Error>(())
/// })
/// .join()
/// .unwrap()?;
/// // The writer's calls returned: every later query sees their windows.
/// let page = index.query(&Query::new().status(Status::Upcoming, t(59)?).page_size(10))?;
/// assert_eq!(page.items()[0].payload, "job 1");
/// assert_eq!(index.count(&Query::new())?, 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedIndex<I, P> {
    inner: Arc<Inner<I, P>>,
}

/// The writer's state and the last version it retired, if no one held it.
struct Writer<I, P> {
    store: Store<I, P>,
    spare: Spare<I, P>,
}

struct Inner<I, P> {
    /// The writer's state; its lock is held for one write at a time and
    /// never by a reader.
    writer: Mutex<Writer<I, P>>,
    /// The latest version.
    current: ArcSwap<Version<I, P>>,
    pins: Pins<Version<I, P>>,
    /// Where writes go first when the index is durable (set once, when it
    /// is opened).
    journal: OnceLock<Box<dyn Journal<I, P>>>,
    /// Set when the index drops, which ends the tidying thread (see
    /// [`tidy_loop`]).
    closing: Arc<Signal>,
}

impl<I, P> Drop for Inner<I, P> {
    fn drop(&mut self) {
        self.closing.set();
    }
}

/// How often the tidying thread looks for work to install while windows
/// are buffered or work runs in the background: it acts only if no write
/// came since its last look (a writer installs what ended at each write,
/// and the thread taking its lock meanwhile only delays it). After a
/// burst of 1,000 moves at 10M windows, counts took 0.98 µs with the
/// write buffer left holding them, 0.42 once it was built into a segment.
const TIDY_EVERY: Duration = Duration::from_millis(100);

/// How often it looks when nothing is buffered or running (a write that
/// leaves the buffer short of full makes nothing for it to wait on).
const IDLE_LOOK: Duration = Duration::from_secs(1);

/// The tidying thread of a shared index: once writes stop, installs the
/// background work that ended (built write buffers, merges, kills moved
/// into tombstones) and seals a write buffer left holding windows, then
/// publishes the result under the same version number. Without it an
/// index read after a burst of writes kept the burst's unmerged segments
/// and unbuilt buffers until the next write (30,000 moves at 10M windows,
/// then reads only: 16 segments and 1,072 buffered windows, counts 3.3-4.3
/// µs against 0.4 on the fresh index; 1.5 µs with 4 segments once tidied).
/// Ends when the index drops.
fn tidy_loop<I: WindowId, P: Payload>(index: WeakShared<I, P>, closing: Arc<Signal>) {
    let mut seen: Option<u64> = None;
    let mut wait = IDLE_LOOK;
    while !closing.wait_for(wait) {
        let Some(index) = index.upgrade() else { return };
        let version = index.version();
        if seen != Some(version) {
            // Writes came since the last look: the writer installs.
            seen = Some(version);
            wait = TIDY_EVERY;
            continue;
        }
        let mut writer = index.inner.writer.lock();
        let tidied = writer.store.tidy();
        if tidied.changed {
            index.publish(&mut writer);
        }
        drop(writer);
        wait = if tidied.pending { TIDY_EVERY } else { IDLE_LOOK };
    }
}

/// How long the moving thread waits before trying a segment again that a
/// merge was reading (or a fold replaced) when it tried.
const REHOME_RETRY: Duration = Duration::from_millis(100);

/// How long after the open the moving thread starts: an index opened for a
/// moment (a tool reading a few answers) never pays for the copies, and
/// the open's own work is done by then.
const REHOME_AFTER: Duration = Duration::from_millis(500);

/// Tries the moving thread makes in all before it gives up.
const REHOME_TRIES: usize = 1_000;

/// The moving thread of an index opened from a snapshot in place: copies
/// each segment that reads the snapshot's bytes into memory of its own
/// (huge pages), oldest first, without any lock, then swaps the copy in
/// under the writer's lock (a pointer) and publishes. Reads of the
/// snapshot's pages cost TLB misses that huge pages save: queries on a
/// 10M index opened in place ran at up to 1.13x the built index's medians.
/// Ends when no segment reads the snapshot, or the index drops.
fn rehome_loop<I: WindowId, P: Payload>(index: WeakShared<I, P>, closing: Arc<Signal>) {
    super::compaction::yield_to_foreground();
    if closing.wait_for(REHOME_AFTER) {
        return;
    }
    for _ in 0..REHOME_TRIES {
        let Some((serial, data)) = index.upgrade().and_then(|index| index.latest().shared_segment()) else { return };
        // The copy takes seconds at 10M windows: no lock, and the index
        // is not kept alive meanwhile.
        let owned = Arc::new(data.owned());
        let Some(index) = index.upgrade() else { return };
        let mut writer = index.inner.writer.lock();
        let moved = writer.store.rehome(serial, &data, owned);
        if moved {
            index.publish(&mut writer);
        }
        drop(writer);
        drop(data);
        if !moved && closing.wait_for(REHOME_RETRY) {
            return;
        }
    }
}

/// What a write answers: what it did and the version it made.
pub(crate) type Outcome<I, P> = Result<(Applied<I, P>, u64), Error>;

/// A [`SharedIndex`] that does not keep it alive (for background work
/// that should end with it).
pub(crate) struct WeakShared<I, P>(std::sync::Weak<Inner<I, P>>);

impl<I, P> WeakShared<I, P> {
    /// The index, if a handle to it still exists.
    pub(crate) fn upgrade(&self) -> Option<SharedIndex<I, P>> {
        self.0.upgrade().map(|inner| SharedIndex { inner })
    }
}

/// What makes a shared index durable: every write goes to its journal,
/// which logs the mutation and then applies it with
/// [`SharedIndex::apply_logged`] (several at once when writers share a
/// log sync).
pub(crate) trait Journal<I, P>: Send + Sync {
    /// Logs `mutation`, applies it, and answers once both are done.
    fn commit(&self, index: &SharedIndex<I, P>, mutation: Mutation<I, P>) -> Outcome<I, P>;
}

impl<I, P> Clone for SharedIndex<I, P> {
    /// Another handle to the same index.
    fn clone(&self) -> Self {
        SharedIndex { inner: Arc::clone(&self.inner) }
    }
}

impl<I, P> std::fmt::Debug for SharedIndex<I, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.inner.current.load();
        f.debug_struct("SharedIndex").field("version", &v.number).field("len", &v.len).finish_non_exhaustive()
    }
}

impl<I: WindowId, P: Payload> Default for SharedIndex<I, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: WindowId, P: Payload> From<Index<I, P>> for SharedIndex<I, P> {
    /// Shares `index`, with the default [`PinPolicy`].
    fn from(index: Index<I, P>) -> Self {
        SharedIndex::from_index(index, PinPolicy::default())
    }
}

impl<I: WindowId, P: Payload> SharedIndex<I, P> {
    /// An empty shared index with no organizations and the defaults of
    /// [`IndexBuilder`](crate::IndexBuilder).
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::SharedIndex<u64, ()> = mwindex::SharedIndex::new();
    /// assert!(index.is_empty());
    /// ```
    pub fn new() -> Self {
        Index::new().into()
    }

    /// Shares `index`, pinning versions for consistent cursors under `pins`.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, PinPolicy, SharedIndex};
    /// let index: Index<u64, ()> = Index::new();
    /// let shared = SharedIndex::from_index(index, PinPolicy::default());
    /// assert_eq!(shared.version(), 0);
    /// ```
    pub fn from_index(index: Index<I, P>, pins: PinPolicy) -> Self {
        let mut store = index.into_store();
        store.default_background();
        store.publish_versions();
        let closing = Signal::new();
        let current = ArcSwap::from_pointee(store.publish());
        let writer = Mutex::new(Writer { store, spare: Spare::default() });
        let inner =
            Inner { writer, current, pins: Pins::new(pins), journal: OnceLock::new(), closing: Arc::clone(&closing) };
        let shared = SharedIndex { inner: Arc::new(inner) };
        let weak = shared.downgrade();
        if shared.latest().shared_segment().is_some() {
            let (weak, closing) = (shared.downgrade(), Arc::clone(&closing));
            // Without the thread, the segments read in place stay so
            // until merges rewrite them.
            let _ = std::thread::Builder::new().name("mwindex-rehome".into()).spawn(move || rehome_loop(weak, closing));
        }
        // Without the thread (none could start), work that ends is
        // installed by the next write, as in an `Index`.
        let _ = std::thread::Builder::new().name("mwindex-tidy".into()).spawn(move || tidy_loop(weak, closing));
        shared
    }

    /// The number of the latest version: how many writes were applied
    /// (a failed write makes no version).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// index.add_organization(OrgId(1), None)?;
    /// assert_eq!(index.version(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> u64 {
        self.inner.current.load().number
    }

    /// Number of windows held, at the latest version.
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::SharedIndex<u64, ()> = mwindex::SharedIndex::new();
    /// assert_eq!(index.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.current.load().len
    }

    /// Whether the latest version holds no window.
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::SharedIndex<u64, ()> = mwindex::SharedIndex::new();
    /// assert!(index.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The page of windows matching `query`, owned. Without
    /// [`Query::consistent`], it reads the latest version and its cursor
    /// continues by key ([`Consistency::Latest`]). With it, it reads the
    /// version its cursor pinned ([`Consistency::Pinned`]), or, on a first
    /// page, pins the latest one; if the cursor's version expired it reads
    /// the latest and says so ([`Consistency::Expired`]).
    ///
    /// # Errors
    ///
    /// Those of [`Index::query`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Query, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
    /// let page = index.query(&Query::new())?;
    /// assert_eq!(page.items()[0].window.id(), 1);
    /// assert_eq!(page.version(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query(&self, query: &Query<I>) -> Result<OwnedPage<I, P>, Error> {
        if !query.consistent {
            let v = self.inner.current.load();
            return v.state().query_owned(query, None, v.number, Consistency::Latest);
        }
        let current = self.inner.current.load_full();
        let wanted = query.cursor.as_deref().and_then(|c| cursor_pin::<I>(&current.parts.key, c));
        let (version, consistency) = match wanted {
            Some(n) => match self.inner.pins.get(n) {
                Some(pinned) => (pinned, Consistency::Pinned),
                None => (current, Consistency::Expired),
            },
            None => (current, Consistency::Pinned),
        };
        let owned = version.state().query_owned(query, Some(version.number), version.number, consistency)?;
        if owned.has_next() {
            drop(self.inner.pins.pin(version.number, &version));
        }
        Ok(owned)
    }

    /// The number of windows matching `query` at the latest version.
    ///
    /// # Errors
    ///
    /// Those of [`Index::count`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Query, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
    /// assert_eq!(index.count(&Query::new())?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count(&self, query: &Query<I>) -> Result<u64, Error> {
        self.inner.current.load().state().count(query)
    }

    /// How [`SharedIndex::query`] would run `query` at the latest version.
    ///
    /// # Errors
    ///
    /// Those of [`Index::query`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Driver, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// assert_eq!(index.explain(&Query::new())?.driver, Driver::TimeRange);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain(&self, query: &Query<I>) -> Result<Explain, Error> {
        self.inner.current.load().state().explain(query)
    }

    /// How [`SharedIndex::count`] would run `query` at the latest version.
    ///
    /// # Errors
    ///
    /// Those of [`Index::count`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Driver, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// assert_eq!(index.explain_count(&Query::new())?.driver, Driver::RankCount);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain_count(&self, query: &Query<I>) -> Result<Explain, Error> {
        self.inner.current.load().state().explain_count(query)
    }

    /// The window with this id and a clone of its payload, at the latest
    /// version.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, u8> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, 7)?;
    /// assert_eq!(index.get(1).map(|e| e.payload), Some(7));
    /// assert_eq!(index.get(2), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, id: I) -> Option<OwnedEntry<I, P>> {
        let v = self.inner.current.load();
        v.state().get(id).map(|e| OwnedEntry { window: e.window, payload: e.payload.clone() })
    }

    /// The parent of an organization at the latest version (`None` for a
    /// root).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOrganization`] if it was never added.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex};
    /// let index: SharedIndex<u64, ()> =
    ///     SharedIndex::builder().organization(OrgId(1), None).organization(OrgId(2), Some(OrgId(1))).build_shared()?;
    /// assert_eq!(index.organization_parent(OrgId(2))?, Some(OrgId(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn organization_parent(&self, id: OrgId) -> Result<Option<OrgId>, Error> {
        self.inner.current.load().catalog.orgs.parent_of(id)
    }

    /// Pins the latest version: the view answers every read at it for as
    /// long as it is held, whatever is written meanwhile. It is `Send +
    /// Sync + Clone`; it holds what the index replaces after it (see
    /// [`SharedIndex::retained_bytes`]), so hold it for a walk, not for ever.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Query, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// let w = |id| Window::new(id, Timestamp::from_secs(0).unwrap(), Timestamp::from_secs(60).unwrap(), OrgId(1));
    /// index.insert(w(1)?, ())?;
    /// let view = index.view();
    /// index.insert(w(2)?, ())?;
    /// assert_eq!(view.count(&Query::new())?, 1);
    /// assert_eq!(index.count(&Query::new())?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn view(&self) -> PinnedView<I, P> {
        PinnedView { version: self.inner.current.load_full() }
    }

    /// Applies one mutation (see [`Index::apply`]), then publishes the
    /// version it made: every read that starts after this returns sees it.
    /// Writers take turns; readers never wait for them.
    ///
    /// # Errors
    ///
    /// Those of the mutation (see [`Index::apply`]); a failed mutation
    /// changes nothing and makes no version.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Applied, Mutation, OrgId, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// assert_eq!(index.apply(Mutation::AddOrganization { id: OrgId(1), parent: None })?, Applied::OrganizationAdded);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, mutation: Mutation<I, P>) -> Result<Applied<I, P>, Error> {
        self.apply_versioned(mutation).map(|(applied, _)| applied)
    }

    /// [`SharedIndex::apply`], also returning the number of the version the
    /// mutation made (what a write-ahead log or a test replaying writes
    /// records with it).
    ///
    /// # Errors
    ///
    /// Those of [`SharedIndex::apply`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Mutation, OrgId, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// let (_, version) = index.apply_versioned(Mutation::AddOrganization { id: OrgId(1), parent: None })?;
    /// assert_eq!(version, index.version());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_versioned(&self, mutation: Mutation<I, P>) -> Result<(Applied<I, P>, u64), Error> {
        if let Some(journal) = self.inner.journal.get() {
            return journal.commit(self, mutation);
        }
        let mut writer = self.inner.writer.lock();
        let applied = writer.store.apply(mutation)?;
        let version = writer.store.version();
        self.publish(&mut writer);
        drop(writer);
        Ok((applied, version))
    }

    /// Publishes the writer's state as the latest version and frees what
    /// no one holds any more.
    fn publish(&self, writer: &mut Writer<I, P>) {
        let Writer { store, spare } = writer;
        let old = self.inner.current.swap(store.publish_into(spare));
        store.keep_spare(spare, old);
        for expired in self.inner.pins.sweep_if_due() {
            store.keep_spare(spare, expired);
        }
    }

    /// Applies `mutations` in order under one turn of the writer and
    /// publishes the last version they made: what a journal calls once the
    /// mutations are logged (and what an index without one does at once).
    pub(crate) fn apply_logged(&self, mutations: impl IntoIterator<Item = Mutation<I, P>>) -> Vec<Outcome<I, P>> {
        let mut writer = self.inner.writer.lock();
        let before = writer.store.version();
        let results: Vec<_> =
            mutations.into_iter().map(|m| writer.store.apply(m).map(|a| (a, writer.store.version()))).collect();
        if writer.store.version() != before {
            self.publish(&mut writer);
        }
        drop(writer);
        results
    }

    /// Makes every write go through `journal` from now on; `false` if the
    /// index has one already.
    pub(crate) fn set_journal(&self, journal: Box<dyn Journal<I, P>>) -> bool {
        self.inner.journal.set(journal).is_ok()
    }

    /// A handle that does not keep the index alive.
    pub(crate) fn downgrade(&self) -> WeakShared<I, P> {
        WeakShared(Arc::downgrade(&self.inner))
    }

    /// The latest version, held.
    pub(crate) fn latest(&self) -> Arc<Version<I, P>> {
        self.inner.current.load_full()
    }

    /// Adds a window with its payload (see [`Index::insert`]).
    ///
    /// # Errors
    ///
    /// Those of [`Index::insert`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
    /// assert_eq!(index.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn insert(&self, window: Window<I>, payload: P) -> Result<(), Error> {
        self.apply(Mutation::Insert { window, payload }).map(drop)
    }

    /// Adds or replaces a window (see [`Index::upsert`]); returns the
    /// previous payload if there was one.
    ///
    /// # Errors
    ///
    /// Those of [`Index::upsert`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, u8> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
    /// assert_eq!(index.upsert(w, 1)?, None);
    /// assert_eq!(index.upsert(w, 2)?, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upsert(&self, window: Window<I>, payload: P) -> Result<Option<P>, Error> {
        self.apply(Mutation::Upsert { window, payload }).map(Applied::previous)
    }

    /// Upserts many windows in one write and one version (see
    /// [`Index::upsert_all`]).
    ///
    /// # Errors
    ///
    /// Those of [`Index::upsert_all`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// let w = |id| Window::new(id, Timestamp::from_secs(0).unwrap(), Timestamp::from_secs(60).unwrap(), OrgId(1));
    /// index.upsert_all([(w(1)?, ()), (w(2)?, ())])?;
    /// assert_eq!((index.len(), index.version()), (2, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upsert_all(&self, windows: impl IntoIterator<Item = (Window<I>, P)>) -> Result<Vec<Option<P>>, Error> {
        self.apply(Mutation::UpsertAll(windows.into_iter().collect())).map(Applied::all_previous)
    }

    /// Removes a window; returns it with its payload, or `None` if absent.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, u8> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
    /// index.insert(w, 5)?;
    /// assert_eq!(index.delete(1), Some((w, 5)));
    /// assert_eq!(index.delete(1), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn delete(&self, id: I) -> Option<(Window<I>, P)> {
        self.apply(Mutation::Delete(id)).ok().and_then(Applied::removed)
    }

    /// Adds many new windows, all or nothing (see [`Index::bulk_insert`]).
    ///
    /// # Errors
    ///
    /// Those of [`Index::bulk_insert`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// let w = |id| Window::new(id, Timestamp::from_secs(0).unwrap(), Timestamp::from_secs(60).unwrap(), OrgId(1));
    /// index.bulk_insert((0..1_000).map(|id| (w(id).unwrap(), ())))?;
    /// assert_eq!(index.len(), 1_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bulk_insert(&self, windows: impl IntoIterator<Item = (Window<I>, P)>) -> Result<(), Error> {
        self.apply(Mutation::Bulk(windows.into_iter().collect())).map(drop)
    }

    /// Adds an organization (see [`Index::add_organization`]).
    ///
    /// # Errors
    ///
    /// Those of [`Index::add_organization`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// index.add_organization(OrgId(1), None)?;
    /// assert_eq!(index.organization_parent(OrgId(1))?, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_organization(&self, id: OrgId, parent: Option<OrgId>) -> Result<(), Error> {
        self.apply(Mutation::AddOrganization { id, parent }).map(drop)
    }

    /// Gives an organization a new parent (see [`Index::move_organization`]).
    ///
    /// # Errors
    ///
    /// Those of [`Index::move_organization`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SharedIndex};
    /// let index: SharedIndex<u64, ()> =
    ///     SharedIndex::builder().organization(OrgId(1), None).organization(OrgId(2), None).build_shared()?;
    /// index.move_organization(OrgId(2), Some(OrgId(1)))?;
    /// assert_eq!(index.organization_parent(OrgId(2))?, Some(OrgId(1)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn move_organization(&self, id: OrgId, parent: Option<OrgId>) -> Result<(), Error> {
        self.apply(Mutation::MoveOrganization { id, parent }).map(drop)
    }

    /// Merges every window into one segment without dead rows, as
    /// [`Index::compact`] does, in the background: readers go on
    /// throughout, and writers too once the merges already running have
    /// ended and the write buffer is built (the writer lock is held for
    /// those, not for the large merge). Windows written meanwhile land in
    /// newer segments; the call returns once the merge is installed. It
    /// changes where windows are, not which: it makes no version.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::SharedIndex;
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// index.compact();
    /// assert_eq!(index.version(), 0);
    /// ```
    pub fn compact(&self) {
        let done = self.with_writer(Store::start_compact);
        if let Some(done) = done {
            done.wait();
            self.with_writer(Store::end_compact);
        }
    }

    /// Runs `f` on the store under the writer lock, then publishes the
    /// store as the current version (with the same version number).
    fn with_writer<T>(&self, f: impl FnOnce(&mut Store<I, P>) -> T) -> T {
        let mut writer = self.inner.writer.lock();
        let out = f(&mut writer.store);
        self.publish(&mut writer);
        out
    }

    /// How many versions are pinned for consistent cursors now.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Query, SharedIndex, Timestamp, Window};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// let w = |id| Window::new(id, Timestamp::from_secs(0).unwrap(), Timestamp::from_secs(60).unwrap(), OrgId(1));
    /// index.bulk_insert((0..3).map(|id| (w(id).unwrap(), ())))?;
    /// index.query(&Query::new().page_size(2).consistent(true))?;
    /// assert_eq!(index.pinned(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pinned(&self) -> usize {
        self.inner.pins.len()
    }

    /// The pin policy.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{PinPolicy, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// assert_eq!(index.pin_policy(), PinPolicy::default());
    /// ```
    pub fn pin_policy(&self) -> PinPolicy {
        self.inner.pins.policy()
    }

    /// Drops the pins whose time to live ran out (writes do this as pins
    /// fall due; this is for a caller that wants it now).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::SharedIndex;
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// index.expire_pins();
    /// assert_eq!(index.pinned(), 0);
    /// ```
    pub fn expire_pins(&self) {
        drop(self.inner.pins.sweep());
    }

    /// Bytes `view` holds that the latest version does not share: the
    /// segments (and their payloads, counted by `size_of::<P>()`) and
    /// tombstones replaced since the view was taken, and its own copy of the
    /// write buffer and recent deletes. At most what dropping the view frees
    /// (tombstones replaced since may still share chunks).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::SharedIndex;
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// let view = index.view();
    /// // Nothing replaced yet: only its copy of the (empty) write buffer.
    /// assert!(index.retained_bytes(&view) < 64 * 1024);
    /// ```
    pub fn retained_bytes(&self, view: &PinnedView<I, P>) -> usize {
        let current = self.inner.current.load();
        let old = &view.version;
        let own = old.bytes_beside(&current);
        if Arc::ptr_eq(&old.parts, &current.parts) {
            return own;
        }
        let replaced: usize = old
            .parts
            .segments
            .iter()
            .map(|seg| {
                let shared_data = current.parts.segments.iter().any(|c| Arc::ptr_eq(c.data(), seg.data()));
                let data = if shared_data { 0 } else { seg.data().heap_bytes() + seg.len() * size_of::<P>() };
                let shared_dead = current.parts.segments.iter().any(|c| c.shares_tombstones(seg));
                let dead = if shared_dead { 0 } else { seg.tombstone_bytes() };
                data + dead
            })
            .sum();
        own + replaced
    }

    /// Bytes held by the index structures at the latest version (see
    /// [`Index::index_bytes`]).
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::SharedIndex<u64, ()> = mwindex::SharedIndex::new();
    /// assert!(index.index_bytes() < 4096);
    /// ```
    pub fn index_bytes(&self) -> usize {
        self.inner.writer.lock().store.index_bytes()
    }

    /// Checks every internal invariant of the writer's state, of the latest
    /// version and of the pins, and describes the first one broken. For
    /// tests and fuzzing; slow, and writers wait meanwhile.
    #[doc(hidden)]
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::SharedIndex<u64, ()> = mwindex::SharedIndex::new();
    /// assert_eq!(index.check_invariants(), Ok(()));
    /// ```
    pub fn check_invariants(&self) -> Result<(), String> {
        let writer = self.inner.writer.lock();
        writer.store.check_invariants()?;
        let current = self.inner.current.load();
        if current.number != writer.store.version() {
            return Err(format!(
                "version {} is published, the writer is at {}",
                current.number,
                writer.store.version()
            ));
        }
        current.check_invariants()?;
        self.inner.pins.check_invariants()
    }
}

/// A pinned version of a [`SharedIndex`], from [`SharedIndex::view`]: every
/// read answers at that version for as long as the view is held. Cheap to
/// clone, `Send + Sync`; its pages borrow it (no payload is cloned).
///
/// # Example
///
/// ```
/// # use mwindex::{OrgId, Query, SharedIndex, Timestamp, Window};
/// let index: SharedIndex<u64, &str> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
/// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
/// index.insert(w, "before")?;
/// let view = index.view();
/// index.upsert(w, "after")?;
/// assert_eq!(*view.query(&Query::new())?.items()[0].payload, "before");
/// assert_eq!(view.version() + 1, index.version());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PinnedView<I, P> {
    version: Arc<Version<I, P>>,
}

impl<I, P> Clone for PinnedView<I, P> {
    fn clone(&self) -> Self {
        PinnedView { version: Arc::clone(&self.version) }
    }
}

impl<I, P> std::fmt::Debug for PinnedView<I, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinnedView").field("version", &self.version.number).finish_non_exhaustive()
    }
}

impl<I: WindowId, P: Payload> PinnedView<I, P> {
    /// The number of the version this view holds.
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::SharedIndex<u64, ()> = mwindex::SharedIndex::new();
    /// assert_eq!(index.view().version(), 0);
    /// ```
    pub fn version(&self) -> u64 {
        self.version.number
    }

    /// Number of windows at this version.
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::SharedIndex<u64, ()> = mwindex::SharedIndex::new();
    /// assert_eq!(index.view().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.version.len
    }

    /// Whether this version holds no window.
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::SharedIndex<u64, ()> = mwindex::SharedIndex::new();
    /// assert!(index.view().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The page of windows matching `query` at this version (see
    /// [`Index::query`]); its cursor continues on this view (or, by key, on
    /// any other).
    ///
    /// # Errors
    ///
    /// Those of [`Index::query`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// assert!(index.view().query(&Query::new())?.items().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query(&self, query: &Query<I>) -> Result<Page<'_, I, P>, Error> {
        self.version.state().query(query, None)
    }

    /// The number of windows matching `query` at this version.
    ///
    /// # Errors
    ///
    /// Those of [`Index::count`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// assert_eq!(index.view().count(&Query::new())?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count(&self, query: &Query<I>) -> Result<u64, Error> {
        self.version.state().count(query)
    }

    /// How [`PinnedView::query`] would run `query`.
    ///
    /// # Errors
    ///
    /// Those of [`Index::query`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Driver, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// assert_eq!(index.view().explain(&Query::new())?.driver, Driver::TimeRange);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain(&self, query: &Query<I>) -> Result<Explain, Error> {
        self.version.state().explain(query)
    }

    /// How [`PinnedView::count`] would run `query`.
    ///
    /// # Errors
    ///
    /// Those of [`Index::count`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Driver, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// assert_eq!(index.view().explain_count(&Query::new())?.driver, Driver::RankCount);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn explain_count(&self, query: &Query<I>) -> Result<Explain, Error> {
        self.version.state().explain_count(query)
    }

    /// The window with this id and its payload, at this version.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::SharedIndex;
    /// let index: SharedIndex<u64, ()> = SharedIndex::new();
    /// assert!(index.view().get(1).is_none());
    /// ```
    pub fn get(&self, id: I) -> Option<Entry<'_, I, P>> {
        self.version.state().get(id)
    }

    /// Checks every internal invariant of this version. For tests; slow.
    #[doc(hidden)]
    ///
    /// # Example
    ///
    /// ```
    /// let index: mwindex::SharedIndex<u64, ()> = mwindex::SharedIndex::new();
    /// assert_eq!(index.view().check_invariants(), Ok(()));
    /// ```
    pub fn check_invariants(&self) -> Result<(), String> {
        self.version.check_invariants()
    }
}

/// What a shared index hands out is `Send + Sync`.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<SharedIndex<u64, String>>();
    send_sync::<PinnedView<u64, String>>();
    send_sync::<OwnedPage<u64, String>>();
    send_sync::<OwnedEntry<u64, String>>();
    send_sync::<Query<u64>>();
};
