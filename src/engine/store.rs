//! The store: the writer's state of the index (the segment list with its
//! payloads, the kills and write buffer after it, the catalog, the
//! compactor) and the one function that changes it ([`Store::apply`]).
//!
//! Reads go through a [`State`] of it. After a write, [`Store::publish`]
//! makes a [`Version`]: an immutable copy that shares everything but the
//! few kilobytes each write changes (see `docs/design.md`, "Versions").

use std::collections::VecDeque;
use std::sync::Arc;

use super::compaction::{Compactor, DEFAULT_BACKGROUND_MAX_SEGMENTS, DEFAULT_MAX_SEGMENTS};
use super::log::{self, PayloadLog};
use super::mutation::{Applied, Mutation};
use super::parts::{self, Part, Parts};
use super::recent::RecentIds;
use super::sealed::{Build, Pending, Sealed};
use super::signal::{SetOnDrop, Signal};
use super::state::State;
use super::version::Version;
use crate::catalog::{CAPACITY, Catalog};
use crate::memory::huge_pages;
use crate::query::{BUFFER, CursorKey, Entry, sealed_src};
use crate::segment::{BufferKey, Kill, Kills, PendingKills, Row, RunKey, Segment, SegmentData, WriteBuffer, row32};
use crate::{Error, Window, WindowId};

/// Windows buffered before they are built into an immutable segment, where
/// the writer's thread builds them (an [`Index`](crate::Index)'s default).
pub const DEFAULT_WRITE_BUFFER: usize = 256;

/// Windows buffered before they are built into a segment where a background
/// thread builds them (a [`SharedIndex`](crate::SharedIndex)'s default): a
/// larger buffer makes a quarter of the segments, and so of the builds,
/// installs and small merges, and its scan stays short since the buffer
/// keeps each length tier apart. At 10M windows on two cores
/// (`concurrency --windows 10000000`, two runs of each, alternated, with
/// [`DEFAULT_BACKGROUND_MAX_SEGMENTS`]): inserts 1.14-1.16 -> 1.18-1.24 M/s,
/// the mix 0.74-0.78 -> 0.81-0.83, moves 0.54-0.56 -> 0.53-0.57; with a
/// writer at full speed, one reader 48,000-52,000 -> 62,000-70,000 reads
/// a second, two 83,000-89,000 -> 111,000-131,000.
pub const DEFAULT_BACKGROUND_WRITE_BUFFER: usize = 1_024;

/// What [`Store::tidy`] did and left.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tidied {
    /// Something readers see moved (a version must be published).
    pub(crate) changed: bool,
    /// Windows are buffered or work runs in the background.
    pub(crate) pending: bool,
}

/// Windows whose lookups [`Store::upsert_all`] makes together.
const WRITE_BATCH: usize = 32;

/// Sealed buffers waiting for their builds before a write waits for the
/// oldest: if builds fall behind, the writer slows down instead of queries
/// scanning ever more sealed buffers.
const MAX_WAITING_BUILDS: usize = 16;

/// Kills from which a shared index moves them into the tombstones on the
/// build thread (a fraction of the write buffer: the move takes a while,
/// and kills go on meanwhile).
const FOLD_AT_DIVISOR: usize = 2;

/// Kills from which a shared index moves them into the tombstones sooner
/// than [`FOLD_AT_DIVISOR`] says, if no move began in the last
/// [`EARLY_FOLD_AFTER`]: a slow writer's kills otherwise waited for half a
/// buffer's worth, and every read of a row searched them (beside a writer
/// of 10,000 moves a second at 10M windows, the search was 0.4-0.6 µs of a
/// one-organization or one-site page's 2.8-4.5). A fast writer reaches half
/// a buffer first, so its moves stay as large (each has a cost of its own:
/// a copy of its segments' tombstone tables).
const EARLY_FOLD_KILLS: usize = 64;

/// See [`EARLY_FOLD_KILLS`]; the writer looks at the clock only every
/// [`EARLY_FOLD_KILLS`]th kill.
const EARLY_FOLD_AFTER: std::time::Duration = std::time::Duration::from_millis(5);

/// Kills, in write buffers, at which the writer waits for that move (or
/// makes it itself): every version copies the kills.
const MAX_KILLS_BUFFERS: usize = 4;

/// How long a writer at [`MAX_KILLS_BUFFERS`] waits for the move of kills
/// running on the build thread before it moves them itself: a move of
/// half a buffer of kills into a 10M-row segment takes about half a
/// millisecond, but with a writer, a reader and a checkpoint keeping both
/// cores busy, the writer waited 20-37 ms for one.
const FOLD_PATIENCE: std::time::Duration = std::time::Duration::from_millis(2);

/// Windows of a bulk load turned into rows between returns of the memory
/// they held (shrinking a large vector gives its tail pages back at once).
const BULK_SHRINK: usize = 1 << 18;

/// Segments from this many rows on are warmed for a batch of writes.
const WARM_MIN_ROWS: usize = 1 << 16;

/// A version no one holds any more, kept whole for the next publish to
/// write over: its allocation, its buffers' memory, and the shared parts
/// it names (those of the writer, when nothing changed between two
/// writes) are all reused. Making a fresh version each write was an
/// allocation and a free, a copy of the whole version twice, and a
/// reference count taken and dropped on each shared part: 7% of a move's
/// instructions through the handle.
#[derive(Debug)]
pub(crate) struct Spare<I, P>(Option<Arc<Version<I, P>>>);

impl<I, P> Default for Spare<I, P> {
    fn default() -> Self {
        Spare(None)
    }
}

/// Kills being moved into tombstones on the build thread.
type Fold<I> = Pending<Vec<Folded<I>>>;

/// A segment as a move of kills found it, and with them in its tombstones.
#[derive(Debug)]
struct Folded<I> {
    before: Segment<I>,
    after: Segment<I>,
    rows: Vec<u32>,
}

/// Where a window's row lives.
#[derive(Clone, Copy, Debug)]
enum Loc {
    /// Row `.0` of the write buffer, whose id and key are entry `.1` of
    /// `buffer_ids` and `buffer_starts` (found once, by the lookup: a removal
    /// searched the column of ids a second time).
    Buffer(usize, usize),
    /// Row `.1` of sealed buffer `.0`.
    Sealed(usize, usize),
    Seg(usize, u32),
}

/// Everything an index holds, as the writer keeps it.
#[derive(Debug)]
pub(crate) struct Store<I, P> {
    /// Replaced, never changed, while a version holds it: changed in place
    /// through `Arc::make_mut` when no version does.
    parts: Arc<Parts<I, P>>,
    /// Rows of `parts` deleted since it was last replaced.
    kills: Kills,
    buffer: WriteBuffer<I>,
    /// The ids of `buffer`'s rows, in no order, and each one's tier and
    /// start (the rest of its key, see [`Store::buffer_key`]): finding an
    /// id scans the ids (8 bytes a row for integer ids, against 32 for the
    /// rows), then finds the row by its key.
    buffer_ids: Vec<I>,
    buffer_starts: Vec<(u8, i64)>,
    log: PayloadLog<P>,
    /// Full write buffers sealed for a background build, oldest first,
    /// shared with versions.
    sealed: Arc<Sealed<I, P>>,
    /// The ids of each sealed buffer's rows, in the same order.
    sealed_ids: Vec<Vec<I>>,
    /// The ids removed from each sealed buffer since it was sealed: its
    /// build still holds their rows, which die in its segment at install.
    sealed_dead: Vec<Vec<I>>,
    /// Which ids `buffer_ids` and `sealed_ids` may hold.
    recent: RecentIds,
    /// The build of each sealed buffer, oldest first.
    builds: VecDeque<Build<I, P>>,
    /// Kills being moved into tombstones on the build thread.
    fold: Option<Fold<I>>,
    /// When the last move of kills into tombstones began.
    fold_began: Option<std::time::Instant>,
    /// Segment lists the writer replaced while versions held them, kept
    /// until no version does and then dropped on the freeing thread (see
    /// [`Store::bury`]): otherwise the reader that let go of the last such
    /// version freed the segments a merge replaced, on its own thread. At
    /// 10M windows under 10,000 moves a second, frees were 9% of a lone
    /// reader's time on its pages of Q8, unmapping pages in the kernel.
    graveyard: Vec<Arc<Parts<I, P>>>,
    /// Whether versions of this store are published (it is a
    /// `SharedIndex`'s): segment lists it replaces then wait in the
    /// graveyard while versions hold them.
    versions: bool,
    /// Whether full write buffers are built on a background thread (and
    /// every merge runs there): a shared index's writes then never pay for
    /// a build.
    background: bool,
    /// Whether `background` was chosen (rather than left to the default of
    /// the index's kind).
    background_chosen: bool,
    /// Whether `write_buffer` and the segment limit were chosen: if not,
    /// they follow `background` (see [`Store::set_background`]).
    write_buffer_chosen: bool,
    max_segments_chosen: bool,
    /// Live windows.
    len: usize,
    catalog: Catalog,
    /// Rows buffered (and kills kept) before they are built into a segment
    /// (moved into the tombstones).
    write_buffer: usize,
    compactor: Compactor<I, P>,
    /// Writes applied: the number of the version the next publish makes.
    version: u64,
}

impl<I: WindowId, P: Clone> Clone for Store<I, P> {
    /// A copy with a log of its own (the two must never fill the same slots)
    /// and no merge in flight (the copy holds the inputs).
    fn clone(&self) -> Self {
        // The buffer may hold more than a buffer's worth since the size
        // changed (see `set_background`).
        let mut log = PayloadLog::new(self.write_buffer.max(self.buffer.len()));
        let mut rows = self.buffer.clone().take();
        for row in &mut rows {
            let payload = self.log.get(row.slot).cloned();
            debug_assert!(payload.is_some(), "buffered window {} has no payload", row.id);
            row.slot = payload.and_then(|p| log.put(p)).unwrap_or(u32::MAX);
        }
        let buffer = WriteBuffer::of_shared(Arc::new(rows));
        // The copy builds the sealed buffers itself: the builds in flight
        // are this store's.
        let mut parts = Arc::clone(&self.parts);
        for (sealed, log) in self.sealed.buffers.iter().zip(&self.sealed.logs) {
            let rows = sealed.numbered().map(|(_, r)| *r).collect();
            Arc::make_mut(&mut parts).push(build_sealed(Arc::new(rows), log, &self.catalog.view().places));
        }
        Store {
            parts,
            kills: self.kills.clone(),
            buffer,
            buffer_ids: self.buffer_ids.clone(),
            buffer_starts: self.buffer_starts.clone(),
            log,
            sealed: Arc::default(),
            sealed_ids: Vec::new(),
            sealed_dead: Vec::new(),
            // The copy seals nothing: its buffered ids are the buffer's.
            recent: RecentIds::of(self.write_buffer, self.buffer_ids.iter().copied()),
            builds: VecDeque::new(),
            fold: None,
            fold_began: None,
            graveyard: Vec::new(),
            // A copy publishes nothing until a handle takes it.
            versions: false,
            background: self.background,
            background_chosen: self.background_chosen,
            write_buffer_chosen: self.write_buffer_chosen,
            max_segments_chosen: self.max_segments_chosen,
            len: self.len,
            catalog: self.catalog.clone(),
            write_buffer: self.write_buffer,
            compactor: self.compactor.clone(),
            version: self.version,
        }
    }
}

impl<I: WindowId, P: Clone + Send + Sync + 'static> Store<I, P> {
    /// An empty store; `write_buffer` `None` leaves the buffer's size to
    /// the default of where segments are built.
    pub(crate) fn new(catalog: Catalog, key: CursorKey, write_buffer: Option<usize>, inline_merge_rows: usize) -> Self {
        let write_buffer_chosen = write_buffer.is_some();
        let write_buffer = write_buffer.unwrap_or(DEFAULT_WRITE_BUFFER).max(1);
        Store {
            parts: Arc::new(Parts::new(key)),
            kills: Kills::default(),
            buffer: WriteBuffer::default(),
            buffer_ids: Vec::new(),
            buffer_starts: Vec::new(),
            log: PayloadLog::new(write_buffer),
            sealed: Arc::default(),
            sealed_ids: Vec::new(),
            sealed_dead: Vec::new(),
            recent: RecentIds::of(write_buffer, std::iter::empty::<I>()),
            builds: VecDeque::new(),
            fold: None,
            fold_began: None,
            graveyard: Vec::new(),
            versions: false,
            background: false,
            background_chosen: false,
            write_buffer_chosen,
            max_segments_chosen: false,
            len: 0,
            catalog,
            write_buffer,
            compactor: Compactor::new(inline_merge_rows),
            version: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Makes an empty store hold `parts` (`len` live windows) numbered by
    /// `catalog`: a restored snapshot.
    pub(crate) fn replace_contents(&mut self, catalog: Catalog, parts: Parts<I, P>, len: usize) {
        debug_assert!(self.len == 0 && self.parts.len() == 0, "contents replaced in a store in use");
        self.catalog = catalog;
        self.parts = Arc::new(parts);
        self.len = len;
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Sets how many segments make the writer wait for a merge.
    pub(crate) fn limit_segments(&mut self, max: usize) {
        self.max_segments_chosen = true;
        self.compactor.limit_segments(max);
    }

    /// [`Store::set_background`], as the caller's choice.
    pub(crate) fn choose_background(&mut self, background: bool) {
        self.background_chosen = true;
        self.set_background(background);
    }

    /// Versions of this store are published from now on (a `SharedIndex`
    /// takes it): segment lists it replaces wait in the graveyard while
    /// versions hold them (see [`Store::bury`]).
    pub(crate) fn publish_versions(&mut self) {
        self.versions = true;
    }

    /// Builds on background threads unless the caller chose otherwise.
    pub(crate) fn default_background(&mut self) {
        if !self.background_chosen {
            self.set_background(true);
        }
    }

    /// Builds full write buffers (and merges) on background threads from
    /// now on, or, with `false`, on the writer's; the write buffer's size
    /// and the segment limit, unless chosen, become that kind's defaults
    /// (the buffer in use keeps its log: it is built when either fills).
    fn set_background(&mut self, background: bool) {
        self.background = background;
        if !self.write_buffer_chosen {
            self.write_buffer = if background { DEFAULT_BACKGROUND_WRITE_BUFFER } else { DEFAULT_WRITE_BUFFER };
            // The filter of buffered ids is sized for the buffer.
            self.recent = RecentIds::of(self.write_buffer, self.buffered_ids());
        }
        if !self.max_segments_chosen {
            let max = if background { DEFAULT_BACKGROUND_MAX_SEGMENTS } else { DEFAULT_MAX_SEGMENTS };
            self.compactor.limit_segments(max);
        }
        self.compactor.all_in_background(background);
        if !background {
            self.install_through(self.builds.len());
        }
    }

    /// The number of the latest version: how many writes were applied.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// The writer's state, for reads.
    #[inline]
    pub(crate) fn state(&self) -> State<'_, I, P> {
        State {
            parts: &self.parts,
            kills: &self.kills,
            buffer: &self.buffer,
            log: self.log.shared(),
            sealed: &self.sealed,
            catalog: self.catalog.view(),
        }
    }

    /// An immutable copy of the current state: it shares the segment list,
    /// the payload log and the catalog, and copies the write buffer's rows
    /// and the kills (a few kilobytes at most).
    pub(crate) fn publish(&self) -> Version<I, P> {
        Version {
            number: self.version,
            len: self.len,
            parts: Arc::clone(&self.parts),
            kills: self.kills.clone(),
            buffer: self.buffer.clone(),
            log: Arc::clone(self.log.shared()),
            sealed: Arc::clone(&self.sealed),
            catalog: Arc::clone(self.catalog.view()),
        }
    }

    /// [`Store::publish`], written over the version `spare` keeps (see
    /// [`Store::keep_spare`]) if it keeps one, else a new one.
    pub(crate) fn publish_into(&mut self, spare: &mut Spare<I, P>) -> Arc<Version<I, P>> {
        // A spare is kept only unshared, and nothing else can reach it.
        let Some(mut version) = spare.0.take() else {
            return Arc::new(self.publish());
        };
        let Some(v) = Arc::get_mut(&mut version) else {
            return Arc::new(self.publish());
        };
        v.number = self.version;
        v.len = self.len;
        v.buffer.copy_from(&self.buffer);
        v.kills.copy_from(&self.kills);
        self.refresh(v);
        version
    }

    /// Keeps `old`, a version just replaced, for the next publish if no one
    /// else holds it (else the last holder drops it). Its shared parts are
    /// made the writer's at once, so what it alone held is freed now, not
    /// at the next write: a segment list through the graveyard, on another
    /// thread (it may hold many rows), the rest here.
    pub(crate) fn keep_spare(&mut self, spare: &mut Spare<I, P>, mut old: Arc<Version<I, P>>) {
        if let Some(v) = Arc::get_mut(&mut old) {
            self.refresh(v);
            spare.0 = Some(old);
        } else {
            // A reader still holds it; its segment lists wait in the graveyard.
            drop(old);
        }
        if !self.graveyard.is_empty() {
            self.bury();
        }
    }

    /// Points `v`'s shared parts at the writer's. A segment list `v` held
    /// and the writer replaced waits in the graveyard (`v` held it), which
    /// frees it once no version does.
    fn refresh(&self, v: &mut Version<I, P>) {
        if !Arc::ptr_eq(&v.parts, &self.parts) {
            v.parts = Arc::clone(&self.parts);
        }
        if !Arc::ptr_eq(&v.log, self.log.shared()) {
            v.log = Arc::clone(self.log.shared());
        }
        if !Arc::ptr_eq(&v.sealed, &self.sealed) {
            v.sealed = Arc::clone(&self.sealed);
        }
        if !Arc::ptr_eq(&v.catalog, self.catalog.view()) {
            v.catalog = Arc::clone(self.catalog.view());
        }
    }

    /// Applies one mutation: the only way the store changes. A failed
    /// mutation changes nothing a read can see and makes no version.
    pub(crate) fn apply(&mut self, mutation: Mutation<I, P>) -> Result<Applied<I, P>, Error> {
        let applied = match mutation {
            Mutation::Insert { window, payload } => {
                self.insert(window, payload)?;
                Applied::Inserted
            }
            Mutation::Upsert { window, payload } => Applied::Upserted(self.upsert(window, payload)?),
            Mutation::UpsertAll(windows) => Applied::UpsertedAll(self.upsert_all(windows)?),
            Mutation::Delete(id) => Applied::Deleted(self.delete(id)),
            Mutation::Bulk(windows) => Applied::BulkInserted(self.bulk_insert(windows)?),
            Mutation::AddOrganization { id, parent } => {
                self.catalog.change_orgs(|orgs| orgs.add(id, parent))?;
                Applied::OrganizationAdded
            }
            Mutation::MoveOrganization { id, parent } => {
                self.catalog.change_orgs(|orgs| orgs.set_parent(id, parent))?;
                Applied::OrganizationMoved
            }
        };
        self.version += 1;
        Ok(applied)
    }

    /// Whether `more` windows fit beside those held, with a placement each.
    pub(crate) fn has_room(&self, more: usize) -> bool {
        (self.len as u64).saturating_add(more as u64) < CAPACITY && self.catalog.has_room_for(more)
    }

    /// Validate (organization, id, room), make the row, then store the
    /// payload: a failure anywhere leaves nothing to roll back.
    fn insert(&mut self, window: Window<I>, payload: P) -> Result<(), Error> {
        self.catalog.orgs().require(window.org())?;
        if self.locate(window.id()).is_some() {
            return Err(Error::DuplicateId(window.id().to_string()));
        }
        if self.len as u64 >= CAPACITY {
            return Err(Error::CapacityExceeded(CAPACITY));
        }
        let row = self.make_row(&window)?;
        self.push(row, payload);
        self.settle();
        Ok(())
    }

    /// Make the row (which checks the organization), validate (room if the
    /// id is new), then move the window. The placement's lookup comes
    /// before the id's: the two are independent, so their cache misses
    /// overlap (a placement numbered for a write that then fails is
    /// harmless: no query can observe it).
    fn upsert(&mut self, window: Window<I>, payload: P) -> Result<Option<P>, Error> {
        if let Some(oldest) = self.parts.segments.first() {
            oldest.warm_id(window.id());
        }
        let row = self.make_row(&window)?;
        let loc = self.locate(window.id());
        if loc.is_none() && self.len as u64 >= CAPACITY {
            return Err(Error::CapacityExceeded(CAPACITY));
        }
        let previous = match loc {
            // The lookup started loading the old row, its payload and its
            // tombstone: buffer the new row meanwhile (a segment's row
            // numbers do not move when the buffer changes).
            Some(at @ Loc::Seg(..)) => {
                self.push(row, payload);
                self.remove_at(at).1
            }
            Some(at) => {
                let previous = self.remove_at(at).1;
                self.push(row, payload);
                previous
            }
            None => {
                self.push(row, payload);
                None
            }
        };
        self.settle();
        Ok(previous)
    }

    /// Upserts in order; organizations and capacity are checked for all
    /// windows before any is written. Each batch of [`WRITE_BATCH`] has its
    /// lookups made together first.
    fn upsert_all(&mut self, windows: Vec<(Window<I>, P)>) -> Result<Vec<Option<P>>, Error> {
        for (w, _) in &windows {
            self.catalog.orgs().require(w.org())?;
        }
        if !self.catalog.has_room_for(windows.len()) || self.len as u64 + windows.len() as u64 >= CAPACITY {
            return Err(Error::CapacityExceeded(CAPACITY));
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
    /// window's placement, and what removing the ids' rows reads (see
    /// [`Store::warm_removals`]). Reads only; the writes then hit the cache.
    fn warm_writes(&self, batch: &[(Window<I>, P)], ids: &[I], rows: &mut Vec<Option<u32>>) {
        let mut acc = 0u64;
        for (w, _) in batch {
            acc ^= u64::from(self.catalog.find_place(w).unwrap_or(0));
        }
        std::hint::black_box(acc);
        self.warm_removals(ids, rows);
    }

    /// Loads what removing the rows of `ids` will read: in every large
    /// segment each id's row, its tombstones and its payload, the searches
    /// of the ids made in lockstep so their cache misses overlap. Reads
    /// only; `rows` is scratch space.
    pub(crate) fn warm_removals(&self, ids: &[I], rows: &mut Vec<Option<u32>>) {
        let mut acc = 0u64;
        let prefetch = self.parts.prefetchers();
        // Small segments' lookups hit the cache anyway.
        for (s, seg) in self.parts.segments.iter().enumerate().filter(|(_, s)| s.len() >= WARM_MIN_ROWS) {
            rows.clear();
            seg.rows_of(ids, rows);
            for &r in rows.iter().flatten() {
                acc ^= seg.warm_kill(r) as u64;
            }
            for &r in rows.iter().flatten() {
                prefetch[s].slot(r);
            }
        }
        std::hint::black_box(acc);
    }

    fn delete(&mut self, id: I) -> Option<(Window<I>, P)> {
        let loc = self.locate(id)?;
        let (row, payload) = self.remove_at(loc);
        let window = self.state().window_of(&row);
        // Install finished merges now, as every write does: a merge's output
        // must also lose the rows deleted while it ran, and the writer kills
        // those left over at install; left waiting through a long run of
        // deletes they piled up into a pause (48 ms after 200,000 deletes).
        self.settle();
        payload.map(|p| (window, p))
    }

    /// Rows first carry the position of their item; once the segment has
    /// sorted them, payloads are laid out in row order, so the payloads of a
    /// page sit together in memory. Nothing is visible until the segment is
    /// pushed: on an error the store is unchanged (the catalog may keep
    /// numbers no window uses, which no query can observe).
    fn bulk_insert(&mut self, mut windows: Vec<(Window<I>, P)>) -> Result<usize, Error> {
        let mut rows = huge_pages::with_capacity(windows.len());
        let mut payloads = Vec::with_capacity(windows.len());
        // Taken from the back, the windows' memory given back as the rows
        // grow: held whole to the end beside the rows, they were a bulk
        // load's peak (113 bytes a window at 10M, against 86 after it).
        while let Some((w, payload)) = windows.pop() {
            if self.len as u64 + rows.len() as u64 >= CAPACITY {
                return Err(Error::CapacityExceeded(CAPACITY));
            }
            let mut row = self.make_row(&w)?;
            row.slot = row32(rows.len());
            rows.push(row);
            payloads.push(Some(payload));
            if windows.capacity() - windows.len() >= BULK_SHRINK {
                windows.shrink_to_fit();
            }
        }
        if rows.is_empty() {
            return Ok(0);
        }
        if self.len > 0
            && let Some(id) = rows.iter().map(|r| r.id).find(|&id| self.locate(id).is_some())
        {
            return Err(Error::DuplicateId(id.to_string()));
        }
        let part = parts::build_unique(rows, payloads, &self.catalog.view().places)
            .map_err(|id| Error::DuplicateId(id.to_string()))?;
        let n = part.0.len();
        self.len += n;
        self.change_parts(|parts, compactor, places, kills| {
            parts.push(part);
            compactor.maintain(parts, places, kills);
        });
        Ok(n)
    }

    /// Builds every window into segments, waits for the merges running,
    /// and merges all segments into one on this thread (see
    /// [`Compactor::merge_all`]).
    pub(crate) fn compact(&mut self) {
        self.flush_all();
        self.change_parts(|parts, compactor, places, kills| compactor.merge_all(parts, places, kills));
    }

    /// The first half of [`Store::compact`] for a writer that others wait
    /// for: every window moved into segments, and the merge of them all
    /// started in the background. Returns the flag its end sets (`None`: no
    /// merge is running, the store is compact already). Then
    /// [`Store::end_compact`] installs it.
    pub(crate) fn start_compact(&mut self) -> Option<Arc<Signal>> {
        self.flush_all();
        let mut done = None;
        self.change_parts(|parts, compactor, places, kills| done = compactor.start_merge_all(parts, places, kills));
        done
    }

    /// Installs the merge [`Store::start_compact`] started, once it ended,
    /// and any other that ended.
    pub(crate) fn end_compact(&mut self) {
        self.change_parts(|parts, compactor, places, kills| compactor.maintain(parts, places, kills));
    }

    /// Builds every window not in a segment yet (the write buffer, and the
    /// buffers sealed for a build) into segments.
    fn flush_all(&mut self) {
        if self.background && self.buffer.len() > 0 {
            self.seal();
        }
        self.install_through(self.builds.len());
        if !self.background {
            self.flush();
        }
    }

    /// The live window `id` with its payload.
    pub(crate) fn get(&self, id: I) -> Option<Entry<'_, I, P>> {
        let state = self.state();
        match self.locate(id)? {
            Loc::Buffer(i, _) => {
                let row = self.buffer.row(i);
                Some(Entry { window: state.window_of(row), payload: state.payload(BUFFER, row)? })
            }
            Loc::Sealed(k, i) => {
                let row = state.row(sealed_src(k), row32(i));
                Some(Entry { window: state.window_of(row), payload: state.payload(sealed_src(k), row)? })
            }
            Loc::Seg(s, r) => {
                let row = state.row(row32(s), r);
                Some(Entry { window: state.window_of(row), payload: state.payload(row32(s), row)? })
            }
        }
    }

    /// Where the live window `id` is. At most one row of an id is live, so
    /// the segments may be searched in any order: oldest first, because
    /// segments are geometric and the oldest holds most windows (a random
    /// existing id is usually found by the first search), while an id outside
    /// a segment's range of ids is ruled out by its directory without a read.
    fn locate(&self, id: I) -> Option<Loc> {
        if self.recent.may_hold(id) {
            if let Some(k) = self.buffer_ids.iter().position(|&x| x == id) {
                let i = self.buffer.find(self.buffer_key(k));
                debug_assert!(i.is_some(), "buffered id {id} has no row");
                return i.map(|i| Loc::Buffer(i, k));
            }
            for (k, ids) in self.sealed_ids.iter().enumerate() {
                if let Some(i) = ids.iter().position(|&x| x == id) {
                    return Some(Loc::Sealed(k, i));
                }
            }
        }
        self.state().find(id).map(|(s, r)| Loc::Seg(s, r))
    }

    /// Removes the live row at `loc` (a kill, for a segment's row), returning
    /// it with a copy of its payload.
    fn remove_at(&mut self, loc: Loc) -> (Row<I>, Option<P>) {
        self.len -= 1;
        match loc {
            Loc::Buffer(i, k) => {
                let row = self.buffer.remove(i);
                debug_assert_eq!(self.buffer_ids.get(k), Some(&row.id), "the id column moved under a lookup");
                self.buffer_ids.swap_remove(k);
                self.buffer_starts.swap_remove(k);
                self.recent.remove(row.id);
                (row, self.log.get(row.slot).cloned())
            }
            // The build has the row: it dies in the segment at install
            // (see `install_through`); the writer never waits for a build.
            Loc::Sealed(k, i) => {
                let sealed = Arc::make_mut(&mut self.sealed);
                let row = sealed.buffers[k].remove(i);
                let payload = log::read(&sealed.logs[k], row.slot).cloned();
                self.sealed_ids[k].remove(i);
                self.sealed_dead[k].push(row.id);
                self.recent.remove(row.id);
                (row, payload)
            }
            Loc::Seg(s, r) => {
                let seg = &self.parts.segments[s];
                let row = seg.row(r);
                self.compactor.note_delete(seg, row.id);
                let payload = self.parts.payload(s, r).cloned();
                match Arc::get_mut(&mut self.parts) {
                    // No version holds the segment list (an `Index`): the
                    // row dies in its tombstones at once.
                    Some(parts) => {
                        let seg = &mut parts.segments[s];
                        seg.kill(r);
                        // A segment mostly dead is rebuilt from its live rows.
                        if seg.len() >= 2 * self.write_buffer && seg.dead_len() * 2 > seg.len() {
                            self.change_parts(|parts, compactor, places, kills| {
                                compactor.rebuild(parts, s, places, kills)
                            });
                        }
                    }
                    None => {
                        self.kills.insert_new(Kill { seg: row32(s), row: r, start: row.start, end: row.end });
                    }
                }
                (row, payload)
            }
        }
    }

    /// A row for `w`, its placement numbered if new; its slot is set later.
    fn make_row(&mut self, w: &Window<I>) -> Result<Row<I>, Error> {
        let place = self.catalog.place(w.charger(), w.site(), w.org())?;
        Ok(Row { start: w.start().as_micros(), end: w.end().as_micros(), id: w.id(), place, slot: 0 })
    }

    /// Adds a made row and its payload to the write buffer (the log has room:
    /// [`Store::settle`] flushes a full one after every write).
    fn push(&mut self, mut row: Row<I>, payload: P) {
        let slot = self.log.put(payload);
        debug_assert!(slot.is_some(), "the payload log was left full");
        row.slot = slot.unwrap_or(u32::MAX);
        self.buffer.insert(row, self.catalog.view().places.at(row.place));
        self.buffer_ids.push(row.id);
        self.buffer_starts.push((row.tier() as u8, row.start));
        self.recent.add(row.id);
        self.len += 1;
    }

    /// After a write: builds the write buffer into a segment once it (or its
    /// log, or the kills) is full, and installs finished merges.
    fn settle(&mut self) {
        let full = self.buffer.len() >= self.write_buffer || self.log.is_full();
        if full && self.background {
            self.seal();
        } else if full {
            self.flush();
            return;
        }
        // Kills: a shared index moves them into the tombstones on the build
        // thread from half a buffer's worth on; past a few buffers' worth
        // (moves falling behind), or on an `Index`, the writer does it.
        self.finish_fold(false);
        if self.kills.len() >= MAX_KILLS_BUFFERS * self.write_buffer {
            // The move running on the build thread, if it ends soon, takes
            // its share; if not (that thread starved by busier ones), this
            // one moves them all, and the other's result, made on
            // tombstones that changed since, is dropped when it ends.
            if let Some(fold) = &self.fold {
                fold.done.wait_for(FOLD_PATIENCE);
            }
            self.finish_fold(false);
            self.fold_here();
        } else if self.background && (self.kills.len() >= self.write_buffer / FOLD_AT_DIVISOR || self.fold_due_early())
        {
            self.start_fold();
        } else if !self.background && self.kills.len() >= self.write_buffer {
            self.fold_here();
        }
        self.install_done();
    }

    /// Installs the built buffers and the merges that ended (installing a
    /// built buffer runs the merge policy, which installs those merges
    /// too); whether anything was installed.
    fn install_done(&mut self) -> bool {
        if self.builds.front().is_some_and(Build::is_done) {
            while self.builds.front().is_some_and(Build::is_done) {
                self.install_through(1);
            }
            true
        } else if self.compactor.running() > 0 && self.compactor.has_finished() {
            self.change_parts(|parts, compactor, places, kills| compactor.maintain(parts, places, kills));
            true
        } else {
            false
        }
    }

    /// Installs the background work that ended (built buffers, kills moved
    /// into tombstones, merges), as a write's [`Store::settle`] would, for
    /// an index no write comes to; seals a write buffer holding windows and
    /// starts moving the kills left into tombstones, so reads stop scanning
    /// the buffer and searching the kills once those are installed.
    pub(crate) fn tidy(&mut self) -> Tidied {
        let mut changed = false;
        if self.background && self.buffer.len() > 0 {
            self.seal();
            changed = true;
        }
        // Kills short of the number that starts a move into tombstones
        // would stay, and every read would search them.
        if self.background && !self.kills.is_empty() && self.fold.is_none() {
            self.start_fold();
        }
        changed |= self.finish_fold(false);
        changed |= self.install_done();
        self.bury();
        let pending = self.buffer.len() > 0
            || !self.builds.is_empty()
            || self.fold.is_some()
            || self.compactor.running() > 0
            || !self.graveyard.is_empty();
        Tidied { changed, pending }
    }

    /// Seals the write buffer for a build on the build thread (or on this
    /// one, if that thread cannot run it), and starts a new buffer and log.
    /// With too many builds waiting, first waits for the oldest.
    fn seal(&mut self) {
        if self.builds.len() >= MAX_WAITING_BUILDS {
            self.install_through(1);
        }
        // Shared by the sealed buffer and the build, not copied: the buffer
        // is 32 KB, and two copies of it were most of a seal's 6-9 µs.
        let (rows, keys) = self.buffer.take_sealed();
        self.buffer_ids.clear();
        self.buffer_starts.clear();
        let ids = rows.iter().map(|r| r.id).collect();
        let log = std::mem::replace(&mut self.log, PayloadLog::new(self.write_buffer));
        let log = Arc::clone(log.shared());
        let build = Build::new();
        let (output, done) = (Arc::clone(&build.output), Arc::clone(&build.done));
        let (task_rows, task_log, places) = (Arc::clone(&rows), Arc::clone(&log), self.catalog.view().places.clone());
        let task: super::compaction::Task = Box::new(move || {
            let _done = SetOnDrop(done);
            *output.lock() = Some(build_sealed(task_rows, &task_log, &places));
        });
        if let Err(task) = self.compactor.spawn_build(task) {
            task();
        }
        let sealed = Arc::make_mut(&mut self.sealed);
        sealed.buffers.push(WriteBuffer::sealed(rows, keys));
        sealed.logs.push(log);
        self.sealed_ids.push(ids);
        self.sealed_dead.push(Vec::new());
        self.builds.push_back(build);
    }

    /// Installs the segments of the oldest `n` sealed buffers, waiting for
    /// their builds (a build that panicked, a bug, is done again here), the
    /// rows removed from the buffers meanwhile killed in them.
    fn install_through(&mut self, n: usize) {
        for _ in 0..n.min(self.builds.len()) {
            let Some(build) = self.builds.pop_front() else { return };
            let built = build.wait();
            let sealed = Arc::make_mut(&mut self.sealed);
            let (buffer, log) = (sealed.buffers.remove(0), sealed.logs.remove(0));
            for id in self.sealed_ids.remove(0) {
                self.recent.remove(id);
            }
            let removed = self.sealed_dead.remove(0);
            let part = match built {
                Some(mut part) => {
                    part.0.kill_ids(removed);
                    part
                }
                // Built again from the buffer as it is now, without them.
                None => build_sealed(Arc::new(buffer.clone().take()), &log, &self.catalog.view().places),
            };
            // A buffer whose every row was removed leaves no segment.
            let live = part.0.len() > part.0.dead_len();
            self.change_parts(|parts, compactor, places, kills| {
                if live {
                    parts.push(part);
                }
                compactor.maintain(parts, places, kills);
            });
        }
    }

    /// Builds the write buffer into a segment, with its payloads, and starts
    /// a new log.
    fn flush(&mut self) {
        let mut rows = self.buffer.take();
        self.buffer_starts.clear();
        for id in self.buffer_ids.drain(..) {
            self.recent.remove(id);
        }
        let log = std::mem::replace(&mut self.log, PayloadLog::new(self.write_buffer));
        let payloads = log.drain(rows.iter().map(|r| r.slot));
        for (i, row) in rows.iter_mut().enumerate() {
            row.slot = row32(i);
        }
        let part = (!rows.is_empty()).then(|| parts::build(rows, payloads, &self.catalog.view().places, true));
        self.change_parts(|parts, compactor, places, kills| {
            if let Some(part) = part {
                parts.push(part);
            }
            compactor.maintain(parts, places, kills);
        });
    }

    /// Sends the replaced segment lists that no version holds any more to
    /// the freeing thread. Called at every publish and by the tidying
    /// thread's looks; the count it reads cannot rise again once at one,
    /// since nothing else then holds the list to copy it from.
    pub(crate) fn bury(&mut self) {
        let mut i = 0;
        while i < self.graveyard.len() {
            if Arc::strong_count(&self.graveyard[i]) == 1 {
                let parts = self.graveyard.swap_remove(i);
                let rows = parts.segments.iter().map(|s| s.len()).sum();
                self.drop_elsewhere(parts, rows);
            } else {
                i += 1;
            }
        }
    }

    /// Changes the segment list through `change`, copying it first if a
    /// version holds it; the kills are renumbered to follow their segments
    /// (merges take the kills of their inputs with them).
    fn change_parts(
        &mut self,
        change: impl FnOnce(&mut Parts<I, P>, &mut Compactor<I, P>, &crate::catalog::PlacesView, &PendingKills<'_>),
    ) {
        let parts = parts_mut(&mut self.parts, &mut self.graveyard, self.versions);
        let places = &self.catalog.view().places;
        let before: Vec<u64> = parts.segments.iter().map(Segment::serial).collect();
        // The change may move segments before it merges one: the kills go
        // with their segment, not its number.
        let pending = PendingKills::new(&self.kills, &before);
        change(parts, &mut self.compactor, places, &pending);
        let moved =
            parts.segments.len() < before.len() || parts.segments.iter().zip(&before).any(|(s, &b)| s.serial() != b);
        if moved && !self.kills.is_empty() {
            let now: rustc_hash::FxHashMap<u64, u32> =
                parts.segments.iter().enumerate().map(|(s, seg)| (seg.serial(), row32(s))).collect();
            self.kills.renumber(|s| before.get(s as usize).and_then(|b| now.get(b).copied()));
        }
    }

    /// Moves every kill into its segment's tombstones now, on this thread.
    fn fold_here(&mut self) {
        let by_segment = self.kills.take_by_segment();
        let parts = parts_mut(&mut self.parts, &mut self.graveyard, self.versions);
        for (s, killed) in &by_segment {
            parts.segments[*s as usize].kill_all_ended(killed);
        }
        let touched: Vec<u32> = by_segment.iter().map(|&(s, _)| s).collect();
        self.rebuild_if_mostly_dead(&touched);
    }

    /// Rebuilds those of `segments` that are mostly dead from their live
    /// rows (newest first, so the numbers of those left to check stay put),
    /// and tells the merge policy that live sizes changed.
    fn rebuild_if_mostly_dead(&mut self, segments: &[u32]) {
        if segments.is_empty() {
            return;
        }
        for &s in segments.iter().rev() {
            let seg = &self.parts.segments[s as usize];
            if seg.len() >= 2 * self.write_buffer && seg.dead_len() * 2 > seg.len() {
                self.change_parts(|parts, compactor, places, kills| {
                    compactor.rebuild(parts, s as usize, places, kills)
                });
            }
        }
        // Kills moved into tombstones shrink segments the policy last saw
        // larger: a run it left alone may now be due for a merge, which the
        // next change of the segment list (a flush at the latest) starts.
        self.compactor.unsettle();
    }

    /// Whether a slow writer's kills are due to move into tombstones before
    /// half a buffer of them (see [`EARLY_FOLD_KILLS`]).
    fn fold_due_early(&self) -> bool {
        let n = self.kills.len();
        n >= EARLY_FOLD_KILLS
            && n.is_multiple_of(EARLY_FOLD_KILLS)
            && self.fold.is_none()
            && self.fold_began.is_none_or(|t| t.elapsed() >= EARLY_FOLD_AFTER)
    }

    /// Starts moving the kills into their segments' tombstones on the build
    /// thread (a copy of each segment with its kills applied), unless a move
    /// is under way. The writer hands over the kills and the segment list
    /// as they are (two reference counts and the kills' short tail); the
    /// build thread groups the kills by segment.
    fn start_fold(&mut self) {
        if self.fold.is_some() {
            return;
        }
        self.fold_began = Some(std::time::Instant::now());
        let (kills, parts) = (self.kills.clone(), Arc::clone(&self.parts));
        let fold = Fold::new();
        let (output, done) = (Arc::clone(&fold.output), Arc::clone(&fold.done));
        let task: super::compaction::Task = Box::new(move || {
            let _done = SetOnDrop(done);
            let folded = kills
                .by_segment()
                .into_iter()
                .map(|(s, killed)| {
                    let before = parts.segments[s as usize].clone();
                    let mut after = before.clone();
                    // The kills carry their rows' ends: no row is read.
                    after.kill_all_ended(&killed);
                    Folded { before, after, rows: killed.iter().map(|&(r, _)| r).collect() }
                })
                .collect();
            *output.lock() = Some(folded);
        });
        if let Err(task) = self.compactor.spawn_build(task) {
            task();
        }
        self.fold = Some(fold);
    }

    /// Installs the finished move of kills (waiting for it with `wait`):
    /// each segment unchanged since the move began takes its new tombstones,
    /// and its kills they hold leave the list. Whether a move was installed.
    fn finish_fold(&mut self, wait: bool) -> bool {
        if !wait && !self.fold.as_ref().is_some_and(Fold::is_done) {
            return false;
        }
        let Some(fold) = self.fold.take() else { return false };
        let Some(folded) = fold.wait() else { return false };
        let parts = parts_mut(&mut self.parts, &mut self.graveyard, self.versions);
        let mut moved: Vec<(u32, Vec<u32>)> = Vec::new();
        for Folded { before, after, rows } in folded {
            let at = parts.segments.iter().position(|s| s.serial() == before.serial());
            // A segment whose tombstones changed meanwhile keeps its kills.
            if let Some(s) = at.filter(|&s| parts.segments[s].shares_tombstones(&before)) {
                // Its data may have moved meanwhile (`rehome`): keep where.
                parts.segments[s] = after.with_data(Arc::clone(parts.segments[s].data()));
                moved.push((row32(s), rows));
            }
        }
        self.kills.forget(&moved);
        let touched: Vec<u32> = moved.iter().map(|&(s, _)| s).collect();
        self.rebuild_if_mostly_dead(&touched);
        true
    }

    /// Gives segment `serial`, if it still reads `old`, `owned`: a copy of
    /// `old` in memory of its own (see `SegmentData::owned`). Its rows
    /// stay where they are, so its kills, tombstones and every cursor hold.
    /// A segment a merge reads is left alone (the merge finds its inputs by
    /// their data). Whether the segment took the copy.
    pub(crate) fn rehome(&mut self, serial: u64, old: &Arc<SegmentData<I>>, owned: Arc<SegmentData<I>>) -> bool {
        let found = self.parts.segments.iter().position(|s| s.serial() == serial && Arc::ptr_eq(s.data(), old));
        let Some(s) = found.filter(|&s| !self.compactor.is_busy(&self.parts.segments[s])) else { return false };
        let parts = parts_mut(&mut self.parts, &mut self.graveyard, self.versions);
        parts.segments[s] = parts.segments[s].with_data(owned);
        true
    }

    /// Drops `value`, holding about `rows` rows, on the freeing thread.
    pub(crate) fn drop_elsewhere<T: Send + 'static>(&mut self, value: T, rows: usize) {
        self.compactor.drop_elsewhere(value, rows);
    }

    /// The key of the write buffer's row whose id is `buffer_ids[k]`.
    #[inline]
    fn buffer_key(&self, k: usize) -> BufferKey<I> {
        let (tier, start) = self.buffer_starts[k];
        (tier, start, self.buffer_ids[k])
    }

    /// The ids of the write buffer's rows and of the sealed buffers'.
    fn buffered_ids(&self) -> impl Iterator<Item = I> + '_ {
        self.buffer_ids.iter().copied().chain(self.sealed_ids.iter().flatten().copied())
    }

    /// Bytes held by the index structures, payloads excluded.
    pub(crate) fn index_bytes(&self) -> usize {
        self.parts.heap_bytes()
            + self.buffer.heap_bytes()
            + self.buffer_ids.capacity() * size_of::<I>()
            + self.buffer_starts.capacity() * size_of::<(u8, i64)>()
            + self.recent.heap_bytes()
            + self.kills.heap_bytes()
            + self.sealed.buffers.iter().map(WriteBuffer::heap_bytes).sum::<usize>()
            + self.catalog.heap_bytes()
    }

    /// Checks every layer: catalog, the state readers see, the writer's id
    /// column, payload log, and compactor.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.catalog.check_invariants()?;
        self.state().check_invariants(self.len)?;
        if self.buffer_starts.len() != self.buffer_ids.len() {
            return Err("write buffer id column and start column differ in length".into());
        }
        let mut keys: Vec<BufferKey<I>> = (0..self.buffer_ids.len()).map(|k| self.buffer_key(k)).collect();
        keys.sort_unstable();
        if !self.buffer.sorted().map(RunKey::key).eq(keys) {
            return Err("write buffer key column disagrees with its rows".into());
        }
        if self.sealed_ids.len() != self.sealed.len()
            || self.sealed_dead.len() != self.sealed.len()
            || self.builds.len() != self.sealed.len()
            || self
                .sealed
                .buffers
                .iter()
                .zip(&self.sealed_ids)
                .any(|(b, ids)| !b.numbered().map(|(_, r)| r.id).eq(ids.iter().copied()))
        {
            return Err("sealed buffers, their id columns and their builds disagree".into());
        }
        self.recent.check_invariants(self.buffered_ids())?;
        self.log.check_invariants()?;
        self.compactor.check_invariants(&self.parts.segments)
    }

    /// Merges in flight (tests).
    #[cfg(test)]
    pub(crate) fn compactor(&self) -> &Compactor<I, P> {
        &self.compactor
    }
}

/// The segment of a sealed buffer's `rows`, whose payloads are in `log`.
/// The segment list `parts`, to change: copied first if a version holds
/// it, the list replaced then kept in `graveyard` by a store whose
/// `versions` are published (see `Store::graveyard`).
fn parts_mut<'a, I: Clone, P: Clone>(
    parts: &'a mut Arc<Parts<I, P>>,
    graveyard: &mut Vec<Arc<Parts<I, P>>>,
    versions: bool,
) -> &'a mut Parts<I, P> {
    if versions && Arc::get_mut(parts).is_none() {
        graveyard.push(Arc::clone(parts));
    }
    Arc::make_mut(parts)
}

fn build_sealed<I: WindowId, P: Clone>(
    rows: Arc<Vec<Row<I>>>,
    log: &[std::sync::OnceLock<P>],
    places: &crate::catalog::PlacesView,
) -> Part<I, P> {
    // The sealed buffer shares the rows: the copy is made here, on the
    // build thread.
    let mut rows = Arc::unwrap_or_clone(rows);
    let payloads: Vec<Option<P>> = rows.iter().map(|r| super::log::read(log, r.slot).cloned()).collect();
    for (i, row) in rows.iter_mut().enumerate() {
        row.slot = row32(i);
    }
    parts::build(rows, payloads, places, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OrgId, Timestamp};

    /// A publish writes over the version retired last when no one holds it,
    /// and never over one someone holds.
    #[test]
    fn a_publish_reuses_the_version_retired_last_unless_it_is_held() {
        let mut orgs = crate::catalog::OrgTree::default();
        orgs.add(OrgId(1), None).unwrap();
        let mut store: Store<u64, u32> = Store::new(Catalog::new(orgs), CursorKey::random(), Some(64), 0);
        let t = |m: u64| Timestamp::from_secs(m as i64 * 60).unwrap();
        let write = |store: &mut Store<u64, u32>, id: u64| {
            let window = Window::new(id, t(id), t(id + 1), OrgId(1)).unwrap();
            store.apply(Mutation::Insert { window, payload: id as u32 }).unwrap();
        };
        let mut spare = Spare::default();
        let first = store.publish_into(&mut spare);
        let first_at = Arc::as_ptr(&first);
        write(&mut store, 1);
        let second = store.publish_into(&mut spare);
        store.keep_spare(&mut spare, first);
        write(&mut store, 2);
        let third = store.publish_into(&mut spare);
        assert_eq!(Arc::as_ptr(&third), first_at, "the unheld version was not reused");
        assert_eq!((third.number, third.len), (store.version(), 2));
        third.check_invariants().unwrap();
        // Held by a reader: never kept, never written over.
        let held = Arc::clone(&second);
        store.keep_spare(&mut spare, second);
        write(&mut store, 3);
        let fourth = store.publish_into(&mut spare);
        assert_ne!(Arc::as_ptr(&fourth), Arc::as_ptr(&held));
        assert_eq!((held.number, held.len, fourth.len), (1, 1, 3));
        held.check_invariants().unwrap();
        fourth.check_invariants().unwrap();
    }

    /// A segment list replaced while a reader's version holds it waits in
    /// the graveyard, and leaves it (for the freeing thread) at the first
    /// publish after the reader lets go: a reader never frees segments.
    #[test]
    fn replaced_segment_lists_wait_for_their_readers_in_the_graveyard() {
        let mut orgs = crate::catalog::OrgTree::default();
        orgs.add(OrgId(1), None).unwrap();
        let mut store: Store<u64, u32> = Store::new(Catalog::new(orgs), CursorKey::random(), Some(64), 0);
        store.choose_background(true);
        store.publish_versions();
        let t = |m: u64| Timestamp::from_secs(m as i64 * 60).unwrap();
        let mut spare = Spare::default();
        let mut current = store.publish_into(&mut spare);
        let write =
            |store: &mut Store<u64, u32>, spare: &mut Spare<u64, u32>, current: &mut Arc<Version<u64, u32>>, id| {
                let window = Window::new(id, t(id), t(id + 1), OrgId(1)).unwrap();
                store.apply(Mutation::Insert { window, payload: id as u32 }).unwrap();
                let next = store.publish_into(spare);
                let old = std::mem::replace(current, next);
                store.keep_spare(spare, old);
            };
        let held = Arc::clone(&current);
        let mut id = 0;
        while Arc::ptr_eq(&store.parts, &held.parts) {
            assert!(id < 100_000, "the segment list never changed");
            write(&mut store, &mut spare, &mut current, id);
            id += 1;
        }
        assert!(store.graveyard.iter().any(|g| Arc::ptr_eq(g, &held.parts)), "the held list is not in the graveyard");
        held.check_invariants().unwrap();
        drop(held);
        write(&mut store, &mut spare, &mut current, id);
        assert!(store.graveyard.iter().all(|g| Arc::strong_count(g) > 1), "a list no version holds stayed");
        current.check_invariants().unwrap();
    }

    /// A store building in the background and publishing versions, as a
    /// shared index's does, holding windows `0..windows` (window `id` from
    /// minute `id` to the next) compacted into one segment.
    fn compacted_in_background(windows: u64, write_buffer: usize) -> Store<u64, ()> {
        let mut orgs = crate::catalog::OrgTree::default();
        orgs.add(OrgId(1), None).unwrap();
        let mut store: Store<u64, ()> = Store::new(Catalog::new(orgs), CursorKey::random(), Some(write_buffer), 0);
        store.choose_background(true);
        store.publish_versions();
        let t = |m: u64| Timestamp::from_secs(m as i64 * 60).unwrap();
        for id in 0..windows {
            let window = Window::new(id, t(id), t(id + 1), OrgId(1)).unwrap();
            store.apply(Mutation::Insert { window, payload: () }).unwrap();
        }
        store.compact();
        store
    }

    /// A slow writer's kills move into tombstones from [`EARLY_FOLD_KILLS`]
    /// of them once no move began in the last [`EARLY_FOLD_AFTER`], well
    /// before half a buffer; deletes in a burst wait for half a buffer.
    #[test]
    fn a_slow_writers_kills_move_into_tombstones_early() {
        let mut store = compacted_in_background(4_000, 1_024);
        assert!(store.kills.is_empty() && store.buffer.len() == 0);
        // Every change publishes a version, as a shared index does, and a
        // reader holds the first: deletes are kills, not tombstones.
        type Published = (Spare<u64, ()>, Arc<Version<u64, ()>>);
        fn publish(store: &mut Store<u64, ()>, (spare, current): &mut Published) {
            let next = store.publish_into(spare);
            let old = std::mem::replace(current, next);
            store.keep_spare(spare, old);
        }
        let mut spare = Spare::default();
        let held = store.publish_into(&mut spare);
        let mut published = (spare, Arc::clone(&held));
        let mut id = 0u64;
        let mut delete = |store: &mut Store<u64, ()>, published: &mut Published| {
            assert!(store.apply(Mutation::Delete(id)).unwrap().removed().is_some(), "window {id} was not there");
            id += 1;
            publish(store, published);
        };
        let finish = |store: &mut Store<u64, ()>, published: &mut Published| {
            while store.fold.is_some() {
                std::thread::sleep(std::time::Duration::from_millis(1));
                store.finish_fold(false);
            }
            publish(store, published);
        };
        for _ in 0..EARLY_FOLD_KILLS - 1 {
            delete(&mut store, &mut published);
        }
        assert!(store.fold.is_none(), "a move began before {EARLY_FOLD_KILLS} kills");
        // The first move begins at the 64th kill (none began before)...
        delete(&mut store, &mut published);
        assert!(store.fold.is_some(), "no move began at {EARLY_FOLD_KILLS} kills");
        finish(&mut store, &mut published);
        assert!(store.kills.is_empty(), "the moved kills stayed");
        // ...the next, in a burst (the clock held as if a move had just
        // begun, whatever the time a slow test machine takes), only at half
        // a buffer of kills...
        let now = std::time::Instant::now();
        store.fold_began = Some(now + std::time::Duration::from_secs(3_600));
        for _ in 0..store.write_buffer / FOLD_AT_DIVISOR - 1 {
            delete(&mut store, &mut published);
        }
        assert!(store.fold.is_none(), "a move began within {EARLY_FOLD_AFTER:?} of the last");
        delete(&mut store, &mut published);
        assert!(store.fold.is_some(), "no move began at half a buffer of kills: {} kills", store.kills.len());
        finish(&mut store, &mut published);
        // ...and one 5 ms after the last at the next 64th kill.
        store.fold_began = now.checked_sub(EARLY_FOLD_AFTER);
        let before = store.kills.len();
        while store.fold.is_none() {
            assert!(store.kills.len() < before + EARLY_FOLD_KILLS, "no early move at {} kills", store.kills.len());
            delete(&mut store, &mut published);
        }
        store.finish_fold(true);
        store.check_invariants().unwrap();
        assert_eq!(store.len() as u64, 4_000 - id);
        held.check_invariants().unwrap();
        assert_eq!(held.len, 4_000, "the reader's version lost windows");
    }

    /// A writer at the most kills it keeps waits a little for the move
    /// running on the build thread, then moves them itself: here that
    /// thread is held by other work until the writer is done (a writer
    /// that waited for it would never return). The stale move, ending
    /// later, is dropped: its segment's tombstones changed since.
    #[test]
    fn a_writer_moves_kills_itself_when_the_build_thread_is_held_up() {
        let mut store = compacted_in_background(2_000, 64);
        // A reader holds this version: deletes are kills, not tombstones.
        let mut spare = Spare::default();
        let held = store.publish_into(&mut spare);
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let hold: super::super::compaction::Task = Box::new(move || {
            let _ = blocked.recv();
        });
        assert!(store.compactor.spawn_build(hold).is_ok(), "no build thread");
        let most = MAX_KILLS_BUFFERS * store.write_buffer;
        for id in 0..most as u64 {
            assert!(store.apply(Mutation::Delete(id)).unwrap().removed().is_some());
            let next = store.publish_into(&mut spare);
            store.keep_spare(&mut spare, next);
        }
        assert!(store.fold.is_some(), "no move began on the build thread");
        assert!(store.kills.is_empty(), "{} kills left: the writer did not move them", store.kills.len());
        assert_eq!(store.len(), 2_000 - most);
        drop(release);
        while store.fold.is_some() {
            std::thread::sleep(std::time::Duration::from_millis(1));
            store.finish_fold(false);
        }
        assert!(store.kills.is_empty());
        store.check_invariants().unwrap();
        assert_eq!(store.len(), 2_000 - most);
        for id in 0..2_000u64 {
            assert_eq!(store.get(id).is_some(), id >= most as u64, "window {id}");
        }
        held.check_invariants().unwrap();
        assert_eq!(held.len, 2_000, "the reader's version lost windows");
    }

    /// Regression: deletes did not install finished merges, so the rows
    /// deleted while a merge ran waited for the next insert to kill them at
    /// install: a 48 ms insert after 200,000 deletes.
    #[test]
    fn deletes_install_finished_merges() {
        let mut orgs = crate::catalog::OrgTree::default();
        orgs.add(OrgId(1), None).unwrap();
        let mut store: Store<u64, ()> = Store::new(Catalog::new(orgs), CursorKey::random(), Some(64), 0);
        let t = |m: u64| Timestamp::from_secs(m as i64 * 60).unwrap();
        let mut id = 0u64;
        // Write until a merge is in flight after a write.
        while store.compactor().running() == 0 {
            assert!(id < 1_000_000, "no merge ever ran in the background");
            store
                .apply(Mutation::Insert { window: Window::new(id, t(id), t(id + 1), OrgId(1)).unwrap(), payload: () })
                .unwrap();
            id += 1;
        }
        // Let every merge in flight finish, with no write to install it.
        let finished = loop {
            let finished = store.compactor().finished();
            if finished.len() == store.compactor().running() {
                break finished;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(store.apply(Mutation::Delete(0)).unwrap().removed().is_some());
        let left = store.compactor().finished();
        assert!(finished.iter().all(|f| !left.contains(f)), "a delete left finished merges uninstalled");
        store.check_invariants().unwrap();
        assert_eq!(store.len() as u64, id - 1);
    }
}
