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

use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::WindowId;
use crate::directory::{self, Directory, PER_BUCKET};
use crate::end_column::EndColumn;
use crate::pages;
use crate::place::{Place, PlacesView};
use crate::postings::{Postings, start_clock};
use crate::sorted_ids::SortedIds;

/// Rows per block of the max-end / min-end augmentation.
pub(crate) const BLOCK: usize = 64;
// A block's tombstones are one word of `dead_bits`.
const _: () = assert!(BLOCK == u64::BITS as usize);

/// Upper bounds (inclusive, microseconds) of the length tiers; the last is unbounded.
pub(crate) const TIER_MAX_LEN: [i64; TIERS] = [8 * 3_600_000_000, 7 * 86_400_000_000, i64::MAX];

/// A directory bucket wider than this is searched rather than scanned.
const WIDE_BUCKET: usize = 4 * PER_BUCKET;

/// Searches one [`Segment::live_ranks`] runs at once.
const MAX_PROBES: usize = 2 * TIERS + 2;

/// Inputs with at most this many descents are sorted as runs (stably).
const FEW_RUNS: usize = 64;

/// Segments at least this large build their indexes on two threads.
const PARALLEL_BUILD_ROWS: usize = 1 << 18;

/// Number of length tiers.
pub(crate) const TIERS: usize = 3;

/// "No charger" / "no site" in the dense columns.
pub(crate) const NONE: u32 = u32::MAX;

/// One window as the engine stores it: times in microseconds, where it
/// applies as a [placement](crate::place) number, the payload as a slot in
/// the index's payload slab.
///
/// 32 bytes with `u64` ids, aligned to 32: a row never straddles two cache
/// lines, so reading a scattered row costs one line (wider ids make it 64
/// bytes, still one line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(32))]
pub(crate) struct Row<I> {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) id: I,
    pub(crate) place: u32,
    pub(crate) slot: u32,
}

impl<I: WindowId> Row<I> {
    /// Reads the row, and so the one cache line it lies in. A scan that
    /// touches the rows it will test before testing any gets all their
    /// misses in one wave instead of one after another.
    #[inline]
    pub(crate) fn touch(&self) -> i64 {
        self.start
    }

    pub(crate) fn tier(&self) -> usize {
        let len = self.end - self.start;
        TIER_MAX_LEN.iter().position(|&m| len <= m).unwrap_or(TIERS - 1)
    }
}

/// The rows of one tier: `lo..hi`, and the actual extremes of their lengths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Tier {
    pub(crate) lo: u32,
    pub(crate) hi: u32,
    pub(crate) min_len: i64,
    pub(crate) max_len: i64,
}

/// What a scan of one tier walks: the rows `lo..hi`, of which it keeps those
/// with `from <= start < to` and `(start, id) > after`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TierScan<I> {
    pub(crate) lo: u32,
    pub(crate) hi: u32,
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) after: Option<(i64, I)>,
}

impl<I: WindowId> TierScan<I> {
    pub(crate) fn is_empty(&self) -> bool {
        self.lo == self.hi
    }

    pub(crate) fn rows(&self) -> u32 {
        self.hi - self.lo
    }

    /// Whether a row with this start and id is inside the range; branch-free,
    /// for block-at-a-time tests.
    #[inline]
    pub(crate) fn inside(&self, start: i64, id: I) -> bool {
        let after = match self.after {
            Some((s, a)) => (start > s) | ((start == s) & (id > a)),
            None => true,
        };
        (start >= self.from) & (start < self.to) & after
    }
}

/// A segment's rows and indexes: immutable once built, so a background merge
/// may read them (through an `Arc`) while the writer keeps deleting.
#[derive(Clone, Debug)]
pub(crate) struct SegmentData<I> {
    /// Row-major: a page's rows are read whole, one cache line each.
    pub(crate) rows: Vec<Row<I>>,
    pub(crate) tiers: [Tier; TIERS],
    pub(crate) block_max_end: Vec<i64>,
    pub(crate) block_min_end: Vec<i64>,
    /// The ends of the longest tier's rows, in row order, as quanta: a scan
    /// there tests 4 bytes a row instead of reading a whole row, and reads
    /// only the rows that pass. The tier is the rarest, so this costs little.
    pub(crate) long_ends: EndColumn,
    /// Ids in ascending order, with the row holding each.
    pub(crate) ids_sorted: SortedIds<I>,
    pub(crate) id_rows: Vec<u32>,
    /// All ends, ascending: counts of `end <= t` by binary search.
    pub(crate) ends_sorted: Vec<i64>,
    /// Radix directories over each tier's starts and over `ends_sorted`.
    start_dirs: [Directory; TIERS],
    end_dir: Directory,
    /// A radix directory over the ids' prefixes.
    id_dir: Directory,
    pub(crate) by_charger: Postings,
    pub(crate) by_site: Postings,
    pub(crate) by_org: Postings,
}

impl<I> Default for SegmentData<I> {
    fn default() -> Self {
        SegmentData {
            rows: Vec::new(),
            tiers: [Tier::default(); TIERS],
            block_max_end: Vec::new(),
            block_min_end: Vec::new(),
            long_ends: EndColumn::default(),
            ids_sorted: SortedIds::default(),
            id_rows: Vec::new(),
            ends_sorted: Vec::new(),
            start_dirs: Default::default(),
            end_dir: Directory::default(),
            id_dir: Directory::default(),
            by_charger: Postings::default(),
            by_site: Postings::default(),
            by_org: Postings::default(),
        }
    }
}

/// Which posting family a driver iterates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Charger,
    Site,
    Org,
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

/// Sorts rows by `(tier, start, id)`, the segment's order. Merged segments
/// arrive as a few sorted runs, which the stable sort merges in linear time.
/// Bulk loads arrive in any order: large ones are split around the median of
/// a sample of their keys, and the two sides are sorted on two threads, so
/// no merge pass (and no scratch buffer half the rows' size) follows. Keys
/// are unique (ids are), so stability never changes the result.
fn sort_rows<I: WindowId>(rows: &mut [Row<I>], parallel: bool) {
    let key = |r: &Row<I>| (r.tier(), r.start, r.id);
    let descents = rows.windows(2).filter(|w| key(&w[0]) > key(&w[1])).count();
    if descents <= FEW_RUNS {
        rows.sort_by_key(key);
    } else if parallel && rows.len() >= PARALLEL_BUILD_ROWS {
        let mut sample: Vec<_> =
            (0..SORT_SAMPLE).map(|i| key(&rows[i * (rows.len() - 1) / (SORT_SAMPLE - 1)])).collect();
        sample.sort_unstable();
        let pivot = sample[SORT_SAMPLE / 2];
        let mid = partition(rows, |r| key(r) < pivot);
        let (left, right) = rows.split_at_mut(mid);
        std::thread::scope(|scope| {
            let helper = scope.spawn(|| left.sort_unstable_by_key(key));
            right.sort_unstable_by_key(key);
            // Sorting cannot panic; if the helper ever did, so does the build.
            if let Err(panic) = helper.join() {
                std::panic::resume_unwind(panic);
            }
        });
    } else {
        rows.sort_unstable_by_key(key);
    }
}

/// Keys sampled, evenly spaced, to split a bulk load for the parallel sort:
/// the two sides differ by a few percent at most.
const SORT_SAMPLE: usize = 1023;

/// Moves the elements satisfying `left` before the others and returns how
/// many there are (one pass, in place, order not kept).
fn partition<T>(v: &mut [T], left: impl Fn(&T) -> bool) -> usize {
    let (mut lo, mut hi) = (0, v.len());
    loop {
        while lo < hi && left(&v[lo]) {
            lo += 1;
        }
        while lo < hi && !left(&v[hi - 1]) {
            hi -= 1;
        }
        if lo >= hi {
            return lo;
        }
        v.swap(lo, hi - 1);
        lo += 1;
        hi -= 1;
    }
}

impl<I: WindowId> SegmentData<I> {
    /// Builds a segment from rows in any order, on two threads if it is
    /// large. Ids must be unique.
    pub(crate) fn build(rows: Vec<Row<I>>, places: &PlacesView) -> Self {
        SegmentData::build_with(rows, places, true)
    }

    /// Builds a segment on this thread only (background merges leave the
    /// other core to the writer).
    pub(crate) fn build_serial(rows: Vec<Row<I>>, places: &PlacesView) -> Self {
        SegmentData::build_with(rows, places, false)
    }

    fn build_with(mut rows: Vec<Row<I>>, places: &PlacesView, parallel: bool) -> Self {
        debug_assert!(rows.len() < NONE as usize, "segment too large for u32 row numbers");
        sort_rows(&mut rows, parallel);
        let n = rows.len();
        let mut seg = SegmentData::default();
        let mut tiers = [Tier::default(); TIERS];
        let mut cursor = 0u32;
        for (t, tier) in tiers.iter_mut().enumerate() {
            tier.lo = cursor;
            tier.min_len = i64::MAX;
            tier.max_len = 0;
            while (cursor as usize) < n && rows[cursor as usize].tier() == t {
                let len = rows[cursor as usize].end - rows[cursor as usize].start;
                tier.min_len = tier.min_len.min(len);
                tier.max_len = tier.max_len.max(len);
                cursor += 1;
            }
            tier.hi = cursor;
        }
        seg.tiers = tiers;
        let long = tiers[TIERS - 1];
        seg.long_ends = EndColumn::new(rows[long.lo as usize..long.hi as usize].iter().map(|r| r.end));
        seg.rows = rows;
        let rows = &seg.rows;
        // The id index, the sorted ends and the postings are independent: on
        // large segments they are built on two threads.
        let tier_ends = tiers.map(|t| t.hi);
        // Each tier is sorted by start: its first and last rows bound it.
        let (first, last) = tiers.iter().filter(|t| t.hi > t.lo).fold((i64::MAX, i64::MIN), |(a, b), t| {
            (a.min(rows[t.lo as usize].start), b.max(rows[t.hi as usize - 1].start))
        });
        let clock = start_clock(first.min(last), last);
        let column = |f: fn(Place) -> u32| -> Vec<u32> { rows.iter().map(|r| f(places.get(r.place))).collect() };
        // Split so the two halves take about as long.
        let id_index = || {
            let mut by_id: Vec<(I, u32)> = rows.iter().enumerate().map(|(i, r)| (r.id, i as u32)).collect();
            by_id.sort_unstable_by_key(|&(id, _)| id);
            let ids = SortedIds::new(by_id.len(), |k| by_id[k].0);
            let id_rows: Vec<u32> = pages::collect(by_id.iter().map(|&(_, r)| r));
            let mut ends: Vec<i64> = pages::collect(rows.iter().map(|r| r.end));
            ends.sort_unstable();
            (ids, id_rows, ends)
        };
        let postings = || {
            let (chargers, sites, orgs) = (column(|p| p.charger), column(|p| p.site), column(|p| p.org));
            let mut max_end = Vec::with_capacity(n.div_ceil(BLOCK));
            let mut min_end = Vec::with_capacity(n.div_ceil(BLOCK));
            for chunk in rows.chunks(BLOCK) {
                max_end.push(chunk.iter().map(|r| r.end).max().unwrap_or(i64::MIN));
                min_end.push(chunk.iter().map(|r| r.end).min().unwrap_or(i64::MAX));
            }
            let start_dirs = tiers.map(|t| Directory::build(t.lo as usize, t.hi as usize, |i| rows[i].start));
            let p = [
                Postings::build(&chargers, rows, tier_ends, clock),
                Postings::build(&sites, rows, tier_ends, clock),
                Postings::build(&orgs, rows, tier_ends, clock),
            ];
            (p, (max_end, min_end, start_dirs))
        };
        let ((ids, id_rows, ends), (postings, blocks)) = if parallel && n >= PARALLEL_BUILD_ROWS {
            std::thread::scope(|scope| {
                let helper = scope.spawn(id_index);
                let p = postings();
                // A panic on the helper would be a bug; rebuild on this thread then.
                (helper.join().unwrap_or_else(|_| id_index()), p)
            })
        } else {
            (id_index(), postings())
        };
        let [by_charger, by_site, by_org] = postings;
        (seg.by_charger, seg.by_site, seg.by_org) = (by_charger, by_site, by_org);
        (seg.block_max_end, seg.block_min_end, seg.start_dirs) = blocks;
        (seg.ids_sorted, seg.id_rows, seg.ends_sorted) = (ids, id_rows, ends);
        seg.end_dir = Directory::build(0, seg.ends_sorted.len(), |i| seg.ends_sorted[i]);
        seg.id_dir = Directory::build(0, seg.ids_sorted.len(), |i| prefix_key(seg.ids_sorted.prefix(i)));
        seg
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
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

    /// The rows holding `ids` (dead or alive), appended to `out` in order.
    /// The directory brackets all ids first and the searches inside the
    /// brackets advance in lockstep, so the cache misses of different ids
    /// overlap instead of queueing one behind another.
    pub(crate) fn rows_of(&self, ids: &[I], out: &mut Vec<Option<u32>>) {
        let found =
            self.id_dir.partition_points_of(ids.iter().copied(), id_key, |id, mid| self.ids_sorted.below(mid, id));
        out.extend(found.iter().map(|&(k, _, id)| self.ids_sorted.holds(k, id).then(|| self.id_rows[k])));
    }

    /// The row holding `id`, dead or alive.
    pub(crate) fn row_of(&self, id: I) -> Option<u32> {
        let k = self.id_position(id);
        self.ids_sorted.holds(k, id).then(|| self.id_rows[k])
    }

    /// Position in `ids_sorted` of the first id `>= id`.
    pub(crate) fn id_position(&self, id: I) -> usize {
        self.id_dir.partition_point(id_key(id), |k| k, |k| self.ids_sorted.below(k, id))
    }

    /// Position in `ids_sorted` of the first id `> id`.
    pub(crate) fn id_position_after(&self, id: I) -> usize {
        self.id_dir.partition_point(id_key(id), |k| k, |k| self.ids_sorted.at_most(k, id))
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
        TierScan { lo: a as u32, hi: b as u32, from, to, after }
    }

    /// Approximate bytes of memory held (capacity, not length, of every vector;
    /// bitmaps by their serialized size, close to their in-memory size).
    pub(crate) fn heap_bytes(&self) -> usize {
        fn v<T>(x: &Vec<T>) -> usize {
            x.capacity() * std::mem::size_of::<T>()
        }
        v(&self.rows)
            + v(&self.block_max_end)
            + v(&self.block_min_end)
            + self.long_ends.heap_bytes()
            + self.ids_sorted.heap_bytes()
            + v(&self.id_rows)
            + v(&self.ends_sorted)
            + self.start_dirs.iter().map(Directory::heap_bytes).sum::<usize>()
            + self.end_dir.heap_bytes()
            + self.id_dir.heap_bytes()
            + self.by_charger.heap_bytes()
            + self.by_site.heap_bytes()
            + self.by_org.heap_bytes()
    }

    /// Checks every structure against the rows; `places` are the index's.
    pub(crate) fn check_invariants(&self, places: &[Place]) -> Result<(), String> {
        let n = self.len();
        if let Some(r) = self.rows.iter().find(|r| r.place as usize >= places.len()) {
            return Err(format!("row of id {} has unknown placement {}", r.id, r.place));
        }
        for (name, len) in [
            ("ids_sorted", self.ids_sorted.len()),
            ("id_rows", self.id_rows.len()),
            ("ends_sorted", self.ends_sorted.len()),
        ] {
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
        if self.start_dirs != start_dirs
            || self.end_dir != Directory::build(0, n, |i| self.ends_sorted[i])
            || self.id_dir != Directory::build(0, n, |i| prefix_key(self.ids_sorted.prefix(i)))
        {
            return Err("search directories are stale".into());
        }
        let mut ends: Vec<i64> = self.rows.iter().map(|r| r.end).collect();
        ends.sort_unstable();
        if ends != self.ends_sorted {
            return Err("ends_sorted is not the sorted ends".into());
        }
        for family in [Family::Charger, Family::Site, Family::Org] {
            let column: Vec<u32> = self
                .rows
                .iter()
                .map(|r| {
                    let p = places[r.place as usize];
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
        Ok(())
    }
}

/// A segment as the index holds it: shared, immutable data and this copy's
/// tombstones. Deleting sets a tombstone here without touching the data, so
/// a merge reading the data elsewhere is never disturbed.
#[derive(Clone, Debug)]
pub(crate) struct Segment<I> {
    data: Arc<SegmentData<I>>,
    /// Tombstones: one bit per row for checks, a bitmap for iteration.
    dead_bits: Vec<u64>,
    pub(crate) dead: RoaringBitmap,
    /// How many rows are dead (a roaring bitmap's length is a walk over its
    /// containers; writers ask for it on every delete).
    dead_len: u32,
    /// For each dead row but the newest few, a distinct position in
    /// `ends_sorted` holding its end, so dead rows with `end <= t` are counted
    /// without visiting them.
    dead_by_end: RoaringBitmap,
    /// The ends of the newest dead rows, not yet placed in `dead_by_end`:
    /// placing one costs a search of `ends_sorted` (a few dependent cache
    /// misses), so a delete only notes its end, and every
    /// [`PENDING_ENDS`] notes are placed together, their searches in lockstep.
    pending_ends: Vec<i64>,
}

/// Dead rows' ends noted before they are placed in `dead_by_end` at once.
const PENDING_ENDS: usize = 64;

impl<I> std::ops::Deref for Segment<I> {
    type Target = SegmentData<I>;

    #[inline]
    fn deref(&self) -> &SegmentData<I> {
        &self.data
    }
}

impl<I: WindowId> Segment<I> {
    /// Builds a segment from rows in any order. Ids must be unique.
    pub(crate) fn build(rows: Vec<Row<I>>, places: &PlacesView) -> Self {
        Segment::from_data(Arc::new(SegmentData::build(rows, places)))
    }

    /// A segment over `data`, with no row dead.
    pub(crate) fn from_data(data: Arc<SegmentData<I>>) -> Self {
        let n = data.len();
        Segment {
            data,
            dead_bits: vec![0; n.div_ceil(64)],
            dead: RoaringBitmap::new(),
            dead_len: 0,
            dead_by_end: RoaringBitmap::new(),
            pending_ends: Vec::new(),
        }
    }

    /// The shared data, for a merge to read.
    pub(crate) fn data(&self) -> &Arc<SegmentData<I>> {
        &self.data
    }

    pub(crate) fn live(&self) -> usize {
        self.len() - self.dead_len as usize
    }

    /// How many rows are dead.
    pub(crate) fn dead_len(&self) -> usize {
        self.dead_len as usize
    }

    #[inline]
    pub(crate) fn is_dead(&self, r: u32) -> bool {
        self.dead_bits[r as usize / 64] & (1 << (r % 64)) != 0
    }

    /// Whether any row is dead (most large segments have none for a while).
    #[inline]
    pub(crate) fn has_dead(&self) -> bool {
        self.dead_len != 0
    }

    /// The tombstone bits of block `b` (blocks and words both span 64 rows).
    #[inline]
    pub(crate) fn dead_word(&self, b: usize) -> u64 {
        self.dead_bits[b]
    }

    /// Loads what [`Segment::kill`] of row `r` reads and writes (its row,
    /// its tombstone word and bitmap container), so that a batch of writes
    /// takes these cache misses together, ahead of applying them one by one.
    pub(crate) fn warm_kill(&self, r: u32) -> i64 {
        let row = self.rows.get(r as usize).map_or(0, Row::touch);
        let word = self.dead_bits.get(r as usize / 64).copied().unwrap_or(0);
        row ^ word as i64 ^ i64::from(self.dead.contains(r))
    }

    pub(crate) fn kill(&mut self, r: u32) {
        debug_assert!(!self.is_dead(r), "row {r} killed twice");
        self.dead_bits[r as usize / 64] |= 1 << (r % 64);
        self.dead.insert(r);
        self.dead_len += 1;
        self.pending_ends.push(self.rows[r as usize].end);
        if self.pending_ends.len() >= PENDING_ENDS {
            self.place_pending_ends();
        }
    }

    /// Gives every pending dead end a position in `dead_by_end`. The
    /// searches of `ends_sorted` advance in lockstep, one probe of each per
    /// round, so their cache misses overlap.
    fn place_pending_ends(&mut self) {
        let mut ends = std::mem::take(&mut self.pending_ends);
        // Ascending, so equal ends come together and take consecutive
        // free positions of their run below.
        ends.sort_unstable();
        let found =
            self.end_dir.partition_points_of(ends.iter().copied(), |e| e, |end, mid| self.ends_sorted[mid] < end);
        for &(first, _, end) in &found {
            let mut p = first as u32;
            // Equal ends share a run of positions; take the first one still free.
            while self.dead_by_end.contains(p) {
                p += 1;
            }
            debug_assert_eq!(
                self.ends_sorted.get(p as usize),
                Some(&end),
                "dead_by_end ran past the run of equal ends"
            );
            self.dead_by_end.insert(p);
        }
        ends.clear();
        self.pending_ends = ends;
    }

    /// The live row holding `id`, if any.
    pub(crate) fn find(&self, id: I) -> Option<u32> {
        self.row_of(id).filter(|&r| !self.is_dead(r))
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
        const { assert!(S * TIERS + E <= MAX_PROBES, "too many searches for one rank") };
        // One search per tier and start bound (`start < t`), then one per end
        // bound (`end <= t`).
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
            let (lo, hi) = self.end_dir.bracket(t);
            searches[n] = (lo, hi, (t, true));
            n += 1;
        }
        directory::partition_points(&mut searches[..n], |(t, ends), mid| {
            if ends { self.ends_sorted[mid] <= t } else { self.rows[mid].start < t }
        });
        let starts = std::array::from_fn(|i| {
            (0..TIERS)
                .map(|k| {
                    let (tier, end) = (self.tiers[k], searches[i * TIERS + k].0 as u32);
                    u64::from(end - tier.lo) - self.dead.range_cardinality(tier.lo..end)
                })
                .sum()
        });
        let ends = std::array::from_fn(|j| {
            let p = searches[S * TIERS + j].0 as u32;
            let pending = self.pending_ends.iter().filter(|&&e| e <= ends_at_most[j]).count() as u64;
            u64::from(p) - self.dead_by_end.range_cardinality(0..p) - pending
        });
        (starts, ends)
    }

    /// Approximate bytes of memory held, data and tombstones.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.data.heap_bytes()
            + self.dead_bits.capacity() * 8
            + self.dead.serialized_size()
            + self.dead_by_end.serialized_size()
            + self.pending_ends.capacity() * 8
    }

    pub(crate) fn check_invariants(&self, places: &[Place]) -> Result<(), String> {
        self.data.check_invariants(places)?;
        let n = self.len();
        if self.dead_bits.len() != n.div_ceil(64) {
            return Err("tombstone bits do not cover the rows".into());
        }
        let bits: u64 = self.dead_bits.iter().map(|w| u64::from(w.count_ones())).sum();
        if bits != self.dead.len() || self.dead.iter().any(|r| !self.is_dead(r) || r as usize >= n) {
            return Err("tombstone bitmap and bits disagree".into());
        }
        if u64::from(self.dead_len) != self.dead.len() {
            return Err("the count of dead rows disagrees with the tombstones".into());
        }
        if self.dead_by_end.len() + self.pending_ends.len() as u64 != self.dead.len() {
            return Err("dead_by_end and pending ends disagree in number with the tombstones".into());
        }
        let mut dead_ends: Vec<i64> = self.dead.iter().map(|r| self.rows[r as usize].end).collect();
        let mut by_end: Vec<i64> =
            self.dead_by_end.iter().map(|p| self.ends_sorted.get(p as usize).copied().unwrap_or(i64::MIN)).collect();
        by_end.extend_from_slice(&self.pending_ends);
        dead_ends.sort_unstable();
        by_end.sort_unstable();
        if dead_ends != by_end {
            return Err("dead_by_end positions do not hold the dead rows' ends".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            seg.check_invariants(&places).unwrap();
        }
        assert!(seg.dead_len() > 2 * PENDING_ENDS, "the test must place several batches");
    }

    #[test]
    fn partition_puts_every_left_element_first() {
        for n in [0usize, 1, 2, 7, 100, 1_001] {
            for cut in [0u64, 1, 3, 50, 999, u64::MAX] {
                let mut v: Vec<u64> = (0..n as u64).map(|i| i * 7_919 % 1_009).collect();
                let mut want = v.clone();
                let mid = partition(&mut v, |&x| x < cut);
                assert_eq!(mid, want.iter().filter(|&&x| x < cut).count(), "n {n} cut {cut}");
                assert!(v[..mid].iter().all(|&x| x < cut) && v[mid..].iter().all(|&x| x >= cut));
                v.sort_unstable();
                want.sort_unstable();
                assert_eq!(v, want, "partition must only move elements");
            }
        }
    }

    #[test]
    fn large_bulk_loads_sort_on_two_threads_like_one() {
        // Scattered starts and lengths across all tiers, ids unique; large
        // enough for the split-and-sort path.
        let n = PARALLEL_BUILD_ROWS as u64 + 12_345;
        let hour = 3_600_000_000i64;
        let mut rows: Vec<Row<u64>> = (0..n)
            .map(|i| {
                let start = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as i64 * 1_000;
                let len = [hour, 30 * hour, 1_000 * hour][(i % 7 % 3) as usize] + (i % 13) as i64;
                Row { start, end: start + len, id: i * 3 % n, place: 0, slot: i as u32 }
            })
            .collect();
        let mut want = rows.clone();
        want.sort_by_key(|r| (r.tier(), r.start, r.id));
        sort_rows(&mut rows, true);
        assert!(rows.iter().zip(&want).all(|(a, b)| (a.id, a.start, a.slot) == (b.id, b.start, b.slot)));
    }
}
