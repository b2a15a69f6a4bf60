//! An immutable, ranked block of windows: the unit the index is made of.
//!
//! Rows are grouped into length tiers and, inside a tier, sorted by
//! `(start, id)`; a row's number is its position. Because of that order,
//! every posting list (rows of one charger, site or organization) iterates in
//! time order within a tier, and "starts in `[a, b)`" is a contiguous row range
//! of each tier. Per block of [`BLOCK`] rows the largest and smallest end are
//! kept (the augmentation of the implicit interval tree), so scans skip blocks
//! that cannot hold a match. Deletions only set a tombstone bit, kept beside the shared data; merging
//! segments drops dead rows.

mod build;
mod chunked_bits;
mod clock;
mod directory;
mod end_column;
mod ends;
mod key_filter;
mod kills;
mod org_ranks;
mod postings;
mod radix;
pub(crate) mod records;
mod row;
mod sorted_ids;
mod sorted_run;
mod tombstones;
mod wavelet;
mod wire;
mod write_buffer;

use std::sync::Arc;

pub(crate) use clock::Clock;
#[cfg(test)]
pub(crate) use kills::SegKills;
pub(crate) use kills::{Kill, Kills, LiveSegment, PendingKills};
pub(crate) use org_ranks::{ArchivedOrgRanksWire, OrgRanks};
pub(crate) use postings::{ArchivedPostings, Entry, Family, Fit, Postings, Stream, last_key_at_most, lower_bounds};
pub(crate) use row::{BLOCK, Row, TIERS, Tier, TierScan, row32};
pub(crate) use sorted_run::RunKey;
pub(crate) use wire::{ArchivedSegmentWire, Extras, SegmentWire, repeated_live_id, segment_from_archived};
pub(crate) use write_buffer::{BufferKey, WriteBuffer};

pub(crate) use chunked_bits::ChunkedBits;
use directory::{Directory, PER_BUCKET};
use end_column::EndColumn;
use ends::SortedEnds;
use sorted_ids::SortedIds;
use tombstones::Tombstones;

use crate::WindowId;
use crate::catalog::{NONE, Place, PlacesView};
use crate::memory::Column;

/// A directory bucket wider than this is searched rather than scanned.
const WIDE_BUCKET: usize = 4 * PER_BUCKET;

/// Searches one [`Segment::live_ranks`] runs at once.
const MAX_PROBES: usize = 2 * TIERS + 2;

/// A segment's rows and indexes: immutable once built, so a background merge
/// may read them (through an `Arc`) while the writer keeps deleting.
#[derive(Clone, Debug)]
pub(crate) struct SegmentData<I> {
    /// Row-major: a page's rows are read whole, one cache line each.
    pub(crate) rows: Column<Row<I>>,
    pub(crate) tiers: [Tier; TIERS],
    pub(crate) block_max_end: Column<i64>,
    pub(crate) block_min_end: Column<i64>,
    /// The ends of the longest tier's rows, in row order, as quanta: a scan
    /// there tests 4 bytes a row instead of reading a whole row, and reads
    /// only the rows that pass. The tier is the rarest, so this costs little.
    pub(crate) long_ends: EndColumn,
    /// Ids in ascending order, with the row holding each.
    pub(crate) ids_sorted: SortedIds<I>,
    pub(crate) id_rows: Column<u32>,
    /// All ends, ascending: counts of `end <= t` by binary search.
    pub(crate) ends: SortedEnds,
    /// Radix directories over each tier's starts.
    start_dirs: [Directory; TIERS],
    /// A radix directory over the ids' prefixes.
    id_dir: Directory,
    pub(crate) by_charger: Postings,
    pub(crate) by_site: Postings,
    pub(crate) by_org: Postings,
    /// Segments of at least [`ID_BLOCK_MIN_ROWS`] rows (of
    /// [`ID_BLOCK_SERIAL_MIN_ROWS`] when built on one thread): the rows of each
    /// block of [`ID_BLOCK`] consecutive positions of `ids_sorted`, as
    /// posting lists keyed by block number. A page in id order walks the
    /// blocks from its `after` id and finds each block's matches through its
    /// list and the query's time range, instead of collecting every match of
    /// the segment to keep the smallest ids.
    pub(crate) by_id_block: Option<Postings>,
    /// Segments with id blocks also keep their organizations in start and
    /// in end order as wavelet matrices: counts in an organization's scope
    /// are then a few rank steps (see [`OrgRanks`]).
    pub(crate) org_ranks: Option<OrgRanks>,
}

/// Positions of `ids_sorted` per id block (see [`SegmentData::by_id_block`]).
pub(crate) const ID_BLOCK: usize = 1 << ID_BLOCK_SHIFT;
const ID_BLOCK_SHIFT: u32 = 14;

/// The id block holding position `k` of a segment's `ids_sorted`.
#[inline]
pub(crate) fn id_block_of(k: usize) -> usize {
    k >> ID_BLOCK_SHIFT
}

/// Segments this large have id blocks: in smaller ones, collecting every
/// match costs about what walking a few blocks does.
pub(crate) const ID_BLOCK_MIN_ROWS: usize = 1 << 16;

/// Segments built on one thread (background merges, which share the
/// writer's core under sustained writes) have id blocks from this size on:
/// building them in every merge from [`ID_BLOCK_MIN_ROWS`] cost moves
/// through the shared handle at 10M windows 17% of their rate. Bulk loads,
/// `compact()` and merges the writer waits for build them from
/// [`ID_BLOCK_MIN_ROWS`].
pub(crate) const ID_BLOCK_SERIAL_MIN_ROWS: usize = 1 << 21;

impl<I> Default for SegmentData<I> {
    fn default() -> Self {
        SegmentData {
            rows: Column::default(),
            tiers: [Tier::default(); TIERS],
            block_max_end: Column::default(),
            block_min_end: Column::default(),
            long_ends: EndColumn::default(),
            ids_sorted: SortedIds::default(),
            id_rows: Column::default(),
            ends: SortedEnds::default(),
            start_dirs: Default::default(),
            id_dir: Directory::default(),
            by_charger: Postings::default(),
            by_site: Postings::default(),
            by_org: Postings::default(),
            by_id_block: None,
            org_ranks: None,
        }
    }
}

/// An id's prefix as a directory key (flipping the top bit keeps the order
/// of `u64` in `i64`).
#[inline]
fn id_key<I: WindowId>(id: I) -> i64 {
    prefix_key(id.prefix())
}

/// A prefix as a directory key (order kept: the sign bit flipped).
fn prefix_key(prefix: u64) -> i64 {
    (prefix ^ (1 << 63)) as i64
}

impl<I: WindowId> SegmentData<I> {
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub(crate) fn postings(&self, family: Family) -> &Postings {
        match family {
            Family::Charger => &self.by_charger,
            Family::Site => &self.by_site,
            Family::Org => &self.by_org,
        }
    }

    #[inline]
    pub(crate) fn row(&self, r: u32) -> Row<I> {
        self.rows[r as usize]
    }

    /// The id blocks' lists, if the segment has them.
    #[inline]
    pub(crate) fn id_blocks(&self) -> Option<&Postings> {
        self.by_id_block.as_ref()
    }

    /// The organization ranks, if the segment has them.
    #[inline]
    pub(crate) fn org_ranks(&self) -> Option<&OrgRanks> {
        self.org_ranks.as_ref()
    }

    /// How many id blocks the segment's ids make.
    #[inline]
    pub(crate) fn id_block_count(&self) -> usize {
        self.len().div_ceil(ID_BLOCK)
    }

    /// Whether every id of block `b` and after is above `id`.
    #[inline]
    pub(crate) fn id_block_above(&self, b: usize, id: I) -> bool {
        let k = b << ID_BLOCK_SHIFT;
        k < self.len() && !self.ids_sorted.at_most(k, id)
    }

    /// The rows holding `ids` (dead or alive), appended to `out` in order.
    /// The directory brackets all ids first and the searches inside the
    /// brackets advance in lockstep, so the cache misses of different ids
    /// overlap instead of queueing one behind another.
    pub(crate) fn rows_of(&self, ids: &[I], out: &mut Vec<Option<u32>>) {
        if self.ids_sorted.is_dense() {
            out.extend(ids.iter().map(|&id| self.row_of(id)));
            return;
        }
        let found =
            self.id_dir.partition_points_of(ids.iter().copied(), id_key, |id, mid| self.ids_sorted.below(mid, id));
        out.extend(found.iter().map(|&(k, _, id)| self.ids_sorted.holds(k, id).then(|| self.id_rows[k])));
    }

    /// The row holding `id`, dead or alive.
    pub(crate) fn row_of(&self, id: I) -> Option<u32> {
        // An id outside the segment's range needs no search: a fresh id
        // above every id written (sequential ids, ULIDs) is the common
        // insert, and is checked against every segment.
        let n = self.ids_sorted.len();
        if n == 0 || self.ids_sorted.below(n - 1, id) || !self.ids_sorted.at_most(0, id) {
            return None;
        }
        // Dense ids: inside the range every id is present, at its rank.
        if let Some(k) = self.ids_sorted.dense_rank(id, false) {
            return self.id_rows.get(k).copied();
        }
        let k = self.id_position(id);
        self.ids_sorted.holds(k, id).then(|| self.id_rows[k])
    }

    /// Position in `ids_sorted` of the first id `>= id`: by arithmetic
    /// when the ids are dense, else by the directory and a search.
    pub(crate) fn id_position(&self, id: I) -> usize {
        self.ids_sorted
            .dense_rank(id, false)
            .unwrap_or_else(|| self.id_dir.partition_point(id_key(id), |k| k, |k| self.ids_sorted.below(k, id)))
    }

    /// Position in `ids_sorted` of the first id `> id`.
    pub(crate) fn id_position_after(&self, id: I) -> usize {
        self.ids_sorted
            .dense_rank(id, true)
            .unwrap_or_else(|| self.id_dir.partition_point(id_key(id), |k| k, |k| self.ids_sorted.at_most(k, id)))
    }

    /// The first row of tier `t` whose start satisfies `pred` no more;
    /// `pred` is `s < at` or `s <= at`.
    #[inline]
    pub(crate) fn start_point(&self, t: usize, at: i64, pred: impl Fn(i64) -> bool) -> usize {
        self.start_dirs[t].partition_point(at, |i| self.rows[i].start, pred)
    }

    /// A row range of `tier` holding every row whose start lies in
    /// `[from, to)` and whose `(start, id)` is after `after`, found from the
    /// directory alone (no row is read, unless the bucket is crowded): it may hold a few rows outside those
    /// bounds at its edges, which scans skip by their start.
    pub(crate) fn tier_scan(&self, tier: usize, from: i64, to: i64, after: Option<(i64, I)>) -> TierScan<I> {
        let t = self.tiers[tier];
        let (lo, hi) = (t.lo as usize, t.hi as usize);
        let empty = TierScan { lo: t.lo, hi: t.lo, from, to, after };
        if from >= to || lo == hi {
            return empty;
        }
        let bound = after.map_or(from, |(s, _)| s.max(from));
        let dir = &self.start_dirs[tier];
        // A bucket's few extra rows are cheaper to skip than to search; a
        // crowded bucket (many equal or clustered starts) is searched.
        let (a, a_hi) = dir.bracket(bound);
        let a = if a_hi - a > WIDE_BUCKET { self.start_point(tier, bound, |s| s < bound) } else { a };
        let (b_lo, b) = dir.bracket(to);
        let b = if b - b_lo > WIDE_BUCKET { self.start_point(tier, to, |s| s < to) } else { b };
        if a >= b {
            return empty;
        }
        TierScan { lo: row32(a), hi: row32(b), from, to, after }
    }

    /// Whether any array lies in shared bytes (a snapshot read in place)
    /// rather than in memory of the segment's own.
    pub(crate) fn is_shared(&self) -> bool {
        self.rows.is_shared() || self.ends.is_shared() || self.by_charger.is_shared() || self.id_rows.is_shared()
    }

    /// The same segment in memory of its own, on huge pages: a segment
    /// opened in place moves there in the background, where its reads
    /// cost fewer TLB misses than in the page cache's pages.
    pub(crate) fn owned(&self) -> Self {
        SegmentData {
            rows: self.rows.owned(),
            tiers: self.tiers,
            block_max_end: self.block_max_end.owned(),
            block_min_end: self.block_min_end.owned(),
            long_ends: self.long_ends.owned(),
            ids_sorted: self.ids_sorted.owned(),
            id_rows: self.id_rows.owned(),
            ends: self.ends.owned(),
            start_dirs: self.start_dirs.each_ref().map(Directory::owned),
            id_dir: self.id_dir.owned(),
            by_charger: self.by_charger.owned(),
            by_site: self.by_site.owned(),
            by_org: self.by_org.owned(),
            by_id_block: self.by_id_block.as_ref().map(Postings::owned),
            org_ranks: self.org_ranks.clone(),
        }
    }

    /// Approximate bytes of memory held (capacity, not length, of every vector;
    /// bitmaps by their serialized size, close to their in-memory size).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.rows.bytes()
            + self.block_max_end.bytes()
            + self.block_min_end.bytes()
            + self.long_ends.heap_bytes()
            + self.ids_sorted.heap_bytes()
            + self.id_rows.bytes()
            + self.ends.heap_bytes()
            + self.start_dirs.iter().map(Directory::heap_bytes).sum::<usize>()
            + self.id_dir.heap_bytes()
            + self.by_charger.heap_bytes()
            + self.by_site.heap_bytes()
            + self.by_org.heap_bytes()
            + self.by_id_block.as_ref().map_or(0, Postings::heap_bytes)
            + self.org_ranks.as_ref().map_or(0, OrgRanks::heap_bytes)
    }

    /// Checks every structure against the rows; `places` are the index's.
    pub(crate) fn check_invariants(&self, places: &PlacesView) -> Result<(), String> {
        let n = self.len();
        if let Some(r) = self.rows.iter().find(|r| places.get(r.place).is_none()) {
            return Err(format!("row of id {} has unknown placement {}", r.id, r.place));
        }
        for (name, len) in
            [("ids_sorted", self.ids_sorted.len()), ("id_rows", self.id_rows.len()), ("ends", self.ends.len())]
        {
            if len != n {
                return Err(format!("column {name} has {len} rows, expected {n}"));
            }
        }
        let mut expect_lo = 0;
        for (t, tier) in self.tiers.iter().enumerate() {
            if tier.lo != expect_lo || tier.hi < tier.lo {
                return Err(format!("tier {t} bounds {}..{} do not tile the rows", tier.lo, tier.hi));
            }
            expect_lo = tier.hi;
            for r in tier.lo..tier.hi {
                let row = self.row(r);
                if row.end <= row.start {
                    return Err(format!("row {r} has end <= start"));
                }
                if row.tier() != t {
                    return Err(format!("row {r} of length {} sits in tier {t}", row.end - row.start));
                }
                let len = row.end - row.start;
                if len < tier.min_len || len > tier.max_len {
                    return Err(format!("row {r} length {len} outside tier {t} bounds"));
                }
                let prev = &self.rows[(r as usize).saturating_sub(1)];
                if r > tier.lo && (prev.start, prev.id) >= (row.start, row.id) {
                    return Err(format!("rows {} and {r} out of (start, id) order", r - 1));
                }
            }
        }
        if expect_lo as usize != n {
            return Err(format!("tiers cover {expect_lo} of {n} rows"));
        }
        for (b, chunk) in self.rows.chunks(BLOCK).enumerate() {
            let (mx, mn) = (chunk.iter().map(|r| r.end).max(), chunk.iter().map(|r| r.end).min());
            let (mx, mn) = (mx.as_ref(), mn.as_ref());
            if self.block_max_end.get(b) != mx || self.block_min_end.get(b) != mn {
                return Err(format!("block {b} max/min end augmentation is stale"));
            }
        }
        if self.block_max_end.len() != n.div_ceil(BLOCK) {
            return Err("wrong number of blocks".into());
        }
        let long = self.tiers[TIERS - 1];
        let long_rows = &self.rows[long.lo as usize..long.hi as usize];
        if self.long_ends.len() != long_rows.len()
            || !long_rows.iter().enumerate().all(|(k, r)| self.long_ends.holds(k, r.end))
        {
            return Err("the longest tier's end column disagrees with its rows".into());
        }
        if !self.ids_sorted.strictly_ascending() {
            return Err("ids_sorted not strictly ascending (duplicate ids in a segment?)".into());
        }
        for (k, &r) in self.id_rows.iter().enumerate() {
            if !self.rows.get(r as usize).is_some_and(|row| self.ids_sorted.holds(k, row.id)) {
                return Err(format!("id index entry {k} points at the wrong row"));
            }
        }
        let start_dirs = self.tiers.map(|t| Directory::build(t.lo as usize, t.hi as usize, |i| self.rows[i].start));
        if self.start_dirs != start_dirs || self.id_dir != build::id_directory(&self.ids_sorted) {
            return Err("search directories are stale".into());
        }
        self.ends.check_invariants(self.rows.iter().map(|r| r.end))?;
        for family in [Family::Charger, Family::Site, Family::Org] {
            let column: Vec<u32> = self
                .rows
                .iter()
                .map(|r| {
                    let p = places.at(r.place);
                    match family {
                        Family::Charger => p.charger,
                        Family::Site => p.site,
                        Family::Org => p.org,
                    }
                })
                .collect();
            let mut total = 0u64;
            for (key, p) in self.postings(family).lists() {
                let entries = p.entries();
                total += entries.len() as u64;
                if !entries.windows(2).all(|w| w[0].row < w[1].row) {
                    return Err(format!("{family:?} posting {key} is not strictly ascending"));
                }
                let mut counts = [0u32; TIERS];
                for e in entries {
                    let r = e.row;
                    if column.get(r as usize) != Some(&key) {
                        return Err(format!("{family:?} posting {key} holds row {r} of another entity"));
                    }
                    let row = self.row(r);
                    if !e.admits(self.postings(family).clock(), row.start, row.end) {
                        return Err(format!("{family:?} posting {key} holds stale times for row {r}"));
                    }
                    counts[row.tier()] += 1;
                }
                if counts != p.counts() {
                    return Err(format!("{family:?} posting {key} tier counts disagree"));
                }
            }
            let with_key = column.iter().filter(|&&k| k != NONE).count() as u64;
            if total != with_key {
                return Err(format!("{family:?} postings hold {total} rows, column has {with_key}"));
            }
        }
        self.check_id_blocks()?;
        match &self.org_ranks {
            Some(ranks) => ranks.check(&self.rows, &self.tiers, &self.column(places, |p| p.org)),
            None => Ok(()),
        }
    }

    /// A placement field of every row, in row order.
    pub(crate) fn column(&self, places: &PlacesView, field: fn(Place) -> u32) -> Vec<u32> {
        self.rows.iter().map(|r| field(places.at(r.place))).collect()
    }

    /// Id blocks, where the segment has them (only large ones do), list
    /// every row once, in its block, with its times.
    fn check_id_blocks(&self) -> Result<(), String> {
        let Some(blocks) = &self.by_id_block else { return Ok(()) };
        if self.len() < ID_BLOCK_MIN_ROWS {
            return Err(format!("id blocks in a segment of {} rows", self.len()));
        }
        let column = build::id_block_column(&self.id_rows);
        let mut seen = 0usize;
        for (key, p) in blocks.lists() {
            let entries = p.entries();
            seen += entries.len();
            if !entries.windows(2).all(|w| w[0].row < w[1].row) {
                return Err(format!("id block {key} is not strictly ascending"));
            }
            for e in entries {
                let row = self.rows.get(e.row as usize).ok_or("an id block entry past the rows")?;
                if column[e.row as usize] != key || !e.admits(blocks.clock(), row.start, row.end) {
                    return Err(format!("id block {key} holds row {} wrongly", e.row));
                }
            }
        }
        if seen != self.len() {
            return Err(format!("id blocks hold {seen} rows of {}", self.len()));
        }
        Ok(())
    }
}

/// A segment as the index holds it: shared, immutable data and this copy's
/// tombstones. Deleting sets a tombstone here without touching the data, so
/// a merge reading the data elsewhere is never disturbed.
#[derive(Clone, Debug)]
pub(crate) struct Segment<I> {
    data: Arc<SegmentData<I>>,
    /// Shared between copies of the segment list until one of them kills a
    /// row here.
    dead: Arc<Tombstones>,
    /// Which segment this is (see [`Segment::serial`]).
    serial: u64,
}

/// The serial number the next segment built takes.
static NEXT_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl<I> std::ops::Deref for Segment<I> {
    type Target = SegmentData<I>;

    #[inline]
    fn deref(&self) -> &SegmentData<I> {
        &self.data
    }
}

impl<I: WindowId> Segment<I> {
    /// Builds a segment from rows in any order. Ids must be unique.
    #[cfg(test)]
    pub(crate) fn build(rows: Vec<Row<I>>, places: &PlacesView) -> Self {
        Segment::from_data(Arc::new(SegmentData::build(rows, places)))
    }

    /// A segment over `data`, with no row dead.
    pub(crate) fn from_data(data: Arc<SegmentData<I>>) -> Self {
        let dead = Arc::new(Tombstones::new(data.len()));
        let serial = NEXT_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Segment { data, dead, serial }
    }

    /// The segment's number, unique in the process and kept by its copies
    /// (whatever their tombstones): what follows a segment through changes
    /// of the segment list, which move it. Not its data's address, which a
    /// segment built after this one was freed may take.
    #[inline]
    pub(crate) fn serial(&self) -> u64 {
        self.serial
    }

    /// The shared data, for a merge to read.
    pub(crate) fn data(&self) -> &Arc<SegmentData<I>> {
        &self.data
    }

    /// This segment (its serial number and tombstones) over `data`, which
    /// must hold the same rows and structures (a copy of its data).
    pub(crate) fn with_data(&self, data: Arc<SegmentData<I>>) -> Self {
        debug_assert_eq!(data.rows.len(), self.data.rows.len(), "a copy of the segment's data");
        Segment { data, dead: Arc::clone(&self.dead), serial: self.serial }
    }

    /// The dead rows, ascending.
    pub(crate) fn dead_rows(&self) -> &ChunkedBits {
        self.dead.rows()
    }

    pub(crate) fn live(&self) -> usize {
        self.len() - self.dead.len()
    }

    /// How many rows are dead.
    pub(crate) fn dead_len(&self) -> usize {
        self.dead.len()
    }

    #[inline]
    pub(crate) fn is_dead(&self, r: u32) -> bool {
        self.dead.contains(r)
    }

    /// Starts loading what [`Segment::is_dead`] of row `r` reads: in a large
    /// segment with deaths, a cache miss for each row a posting list leads
    /// to, which a scan then takes with the rows' own.
    #[inline]
    pub(crate) fn prefetch_dead(&self, r: u32) {
        self.dead.rows().prefetch_word(r);
    }

    /// Whether any row is dead (most large segments have none for a while).
    #[inline]
    pub(crate) fn has_dead(&self) -> bool {
        !self.dead.is_empty()
    }

    /// A reader of the tombstone bits of blocks (blocks and words both span
    /// 64 rows), fastest when blocks are visited in ascending order.
    #[inline]
    pub(crate) fn dead_words(&self) -> chunked_bits::WordCursor<'_> {
        self.dead.rows().words()
    }

    /// Starts loading the slot of `id`'s row in the id index when the ids
    /// are a dense run (an address by arithmetic), so that a write can take
    /// that cache miss while it does other work (its placement's lookup)
    /// before [`Segment::find`] reads it.
    #[inline]
    pub(crate) fn warm_id(&self, id: I) {
        // A rank past the end (an id above the run) loads nothing.
        if let Some(k) = self.ids_sorted.dense_rank(id, false) {
            crate::memory::Prefetch::of(&self.data.id_rows).slot(row32(k));
        }
    }

    /// Loads what [`Segment::kill`] of row `r` reads and writes (its row,
    /// its tombstone word and bitmap container), so that a batch of writes
    /// takes these cache misses together, ahead of applying them one by one.
    pub(crate) fn warm_kill(&self, r: u32) -> i64 {
        let row = self.rows.get(r as usize).map_or(0, Row::touch);
        row ^ self.dead.warm(r) as i64
    }

    /// Marks row `r` dead (copying the tombstones first if another copy of
    /// the segment shares them).
    pub(crate) fn kill(&mut self, r: u32) {
        let end = self.data.rows[r as usize].end;
        self.kill_ended(r, end);
    }

    /// [`Segment::kill`] of row `r`, whose end the caller knows (a kill
    /// carries it): no read of the row, a cache miss in a large segment.
    pub(crate) fn kill_ended(&mut self, r: u32, end: i64) {
        debug_assert_eq!(self.data.rows.get(r as usize).map(|row| row.end), Some(end), "row {r} ends elsewhere");
        Arc::make_mut(&mut self.dead).kill(r, end, &self.data.ends);
    }

    /// [`Segment::kill_ended`] of each `(row, end)` of `killed`, the
    /// tombstones' cache misses overlapped (see [`Tombstones::kill_all`]).
    pub(crate) fn kill_all_ended(&mut self, killed: &[(u32, i64)]) {
        debug_assert!(killed.iter().all(|&(r, end)| self.data.rows.get(r as usize).map(|row| row.end) == Some(end)));
        Arc::make_mut(&mut self.dead).kill_all(killed, &self.data.ends);
    }

    /// Kills the rows of `ids`, each live here: windows deleted after the
    /// segment's rows were taken (from a merge's inputs, or a sealed write
    /// buffer) and before it was installed.
    pub(crate) fn kill_ids(&mut self, ids: impl IntoIterator<Item = I>) {
        for id in ids {
            match self.find(id, |_| ()) {
                Some(r) => self.kill(r),
                None => debug_assert!(false, "window {id} killed by id is not live in the segment"),
            }
        }
    }

    /// The live row holding `id`, if any. The row's load starts before its
    /// tombstone is read, and `warm` gets the row's number then, to start
    /// loading what the caller reads next (its payload): the caller reads
    /// the row next (a write removing it, a `get`), and the cache misses
    /// then overlap.
    pub(crate) fn find(&self, id: I, warm: impl FnOnce(u32)) -> Option<u32> {
        let r = self.row_of(id)?;
        crate::memory::Prefetch::of(&self.data.rows).slot(r);
        warm(r);
        (!self.is_dead(r)).then_some(r)
    }

    /// The number of live rows with `start < t` for each `t` of
    /// `starts_below` (in each tier a row prefix, less the tombstones in it),
    /// and with `end <= t` for each of `ends_at_most` (a prefix of the sorted
    /// ends, less the dead rows' positions in it). The searches (one per tier
    /// and start bound, one per end bound) advance in lockstep, one probe of
    /// each per round, so their cache misses overlap and a count costs about
    /// one search's latency instead of four.
    pub(crate) fn live_ranks<const S: usize, const E: usize>(
        &self,
        starts_below: [i64; S],
        ends_at_most: [i64; E],
    ) -> ([u64; S], [u64; E]) {
        self.rank_searches(starts_below, ends_at_most, |points| {
            let starts = std::array::from_fn(|i| {
                (0..TIERS)
                    .map(|k| {
                        let (tier, end) = (self.tiers[k], row32(points[i * TIERS + k].0));
                        u64::from(end - tier.lo) - self.dead.count_in(tier.lo..end)
                    })
                    .sum()
            });
            let ends = std::array::from_fn(|j| {
                let p = row32(points[S * TIERS + j].0);
                u64::from(p) - self.dead.count_ended(p, ends_at_most[j])
            });
            (starts, ends)
        })
    }

    /// The rows, dead or alive, with `start < t` for each `t` of
    /// `starts_below` (how many of the rows in order of start precede `t`),
    /// and with `end <= t` for each of `ends_at_most` (a prefix of the sorted
    /// ends); searched as [`Segment::live_ranks`] searches.
    pub(crate) fn rank_positions<const S: usize, const E: usize>(
        &self,
        starts_below: [i64; S],
        ends_at_most: [i64; E],
    ) -> ([usize; S], [usize; E]) {
        self.rank_searches(starts_below, ends_at_most, |points| {
            let starts =
                std::array::from_fn(|i| (0..TIERS).map(|k| points[i * TIERS + k].0 - self.tiers[k].lo as usize).sum());
            (starts, std::array::from_fn(|j| points[S * TIERS + j].0))
        })
    }

    /// One search per tier and start bound (`start < t`), then one per end
    /// bound (`end <= t`), advancing in lockstep; `then` reads the searches,
    /// whose first fields are their partition points, in that order.
    /// (Returning them made every count copy them with a call to `memcpy`.)
    #[inline]
    fn rank_searches<const S: usize, const E: usize, R>(
        &self,
        starts_below: [i64; S],
        ends_at_most: [i64; E],
        then: impl FnOnce(&[(usize, usize, (i64, bool))]) -> R,
    ) -> R {
        const { assert!(S * TIERS + E <= MAX_PROBES, "too many searches for one rank") };
        let mut searches = [(0usize, 0usize, (0i64, false)); MAX_PROBES];
        let mut n = 0;
        for &t in &starts_below {
            for dir in &self.start_dirs {
                let (lo, hi) = dir.bracket(t);
                searches[n] = (lo, hi, (t, false));
                n += 1;
            }
        }
        for &t in &ends_at_most {
            let (lo, hi) = self.ends.bracket(t);
            searches[n] = (lo, hi, (t, true));
            n += 1;
        }
        directory::partition_points(&mut searches[..n], |(t, ends), mid| {
            if ends { self.ends.at(mid) <= t } else { self.rows[mid].start < t }
        });
        then(&searches[..n])
    }

    /// Dead rows in `range` (tombstones only; see `LiveSegment::dead_in`).
    #[inline]
    pub(crate) fn dead_count_in(&self, range: std::ops::Range<u32>) -> u64 {
        self.dead.count_in(range)
    }

    /// Whether `other` holds the same tombstones (neither killed a row since
    /// they were copied).
    pub(crate) fn shares_tombstones(&self, other: &Segment<I>) -> bool {
        Arc::ptr_eq(&self.dead, &other.dead)
    }

    /// Bytes of the tombstones.
    pub(crate) fn tombstone_bytes(&self) -> usize {
        self.dead.heap_bytes()
    }

    /// Approximate bytes of memory held, data and tombstones.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.data.heap_bytes() + self.dead.heap_bytes()
    }

    pub(crate) fn check_invariants(&self, places: &PlacesView) -> Result<(), String> {
        self.data.check_invariants(places)?;
        self.dead.check_invariants(self.len(), |r| self.rows[r as usize].end, &self.ends)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Place;

    /// Rows with many equal ends (a run of positions per end), so placing a
    /// dead end must skip the positions earlier deaths took.
    fn rows(n: u32) -> Vec<Row<u64>> {
        (0..n)
            .map(|i| {
                let start = i64::from(i % 97) * 1_000;
                Row { start, end: start + 500 + i64::from(i % 5) * 1_000, id: u64::from(i), place: 0, slot: i }
            })
            .collect()
    }

    #[test]
    fn batched_id_lookups_agree_with_single_ones() {
        let all = rows(3_000);
        let places = [Place { charger: NONE, site: NONE, org: 0 }];
        let seg = Segment::build(all, &PlacesView::of(&places));
        // Present ids, absent ones between and beyond them, repeats.
        let ids: Vec<u64> = (0..200u64).map(|i| i * 7_919 % 3_300).chain([0, 2_999, 3_000, u64::MAX, 5, 5]).collect();
        let mut got = Vec::new();
        seg.rows_of(&ids, &mut got);
        let want: Vec<Option<u32>> = ids.iter().map(|&id| seg.row_of(id)).collect();
        assert_eq!(got, want);
        assert!(got.iter().any(Option::is_none) && got.iter().any(Option::is_some));
        for (&id, r) in ids.iter().zip(&got) {
            assert_eq!(r.map(|r| seg.row(r).id), r.map(|_| id));
        }
    }

    #[test]
    fn dead_end_counts_hold_across_deferred_placements() {
        let all = rows(3_000);
        let places = [Place { charger: NONE, site: NONE, org: 0 }];
        let mut seg = Segment::build(all.clone(), &PlacesView::of(&places));
        let mut dead = std::collections::HashSet::new();
        // Kill rows in a scattered order, past several batches of pending
        // ends, and check the end counts at every step against a scan.
        for step in 0..400u32 {
            let id = u64::from(step * 7_919 % 3_000);
            let r = seg.row_of(id).expect("every id is in the segment");
            if !dead.insert(id) {
                continue;
            }
            seg.kill(r);
            for t in [0, 1_500, 40_000, 60_500, 200_000] {
                let want = all.iter().filter(|row| row.end <= t && !dead.contains(&row.id)).count() as u64;
                let ([], [got]) = seg.live_ranks([], [t]);
                assert_eq!(got, want, "live ends <= {t} after {} deaths", dead.len());
            }
            assert_eq!(seg.live(), all.len() - dead.len());
            seg.check_invariants(&PlacesView::of(&places)).unwrap();
        }
        assert!(seg.dead_len() > 2 * tombstones::PENDING_BATCH, "the test must place several batches");
    }
}
