//! Posting lists: the rows of each charger, site or organization in one
//! segment, by row number, each with its start and length, coarsely.
//!
//! A segment's rows are ordered by length tier, then `(start, id)`, and a
//! row's number is its position, so a list of row numbers in ascending order
//! is in that order too. A query's time range is, per tier, a range of row
//! numbers, found once per segment on the start directory and shared by every
//! list the query reads; each list is positioned by searching its own
//! numbers. Beside each number, 4 bytes hold the start to a segment-wide
//! quantum (a power of two of microseconds that fits the segment's starts in
//! 20 bits: 67 s for two years) and the length to within 1/64: enough to
//! merge lists in time order and to settle most end tests without reading
//! the row, which stays the judge of every test the entry leaves open. An
//! entry is 8 bytes. One family's lists share one flat array, so small
//! segments built by every flush allocate per family, not per key.

use rustc_hash::FxHashMap;

use super::clock::Clock;
use super::directory;
use super::row::{Row, TIERS, row32};
use crate::WindowId;
use crate::catalog::NONE;
use crate::memory::{ArchivedAs, Column, SharedBytes, huge_pages};

/// Bits of an entry's key that hold the length code.
const LEN_BITS: u32 = 12;
/// Bits of an entry's key that hold the start's quantum.
const START_BITS: u32 = 32 - LEN_BITS;
/// Mantissa bits of a length code.
const MANTISSA: u32 = 6;

/// The clock of a segment whose starts lie in `[first, last]`: starts as
/// quanta of [`START_BITS`] bits.
pub(crate) fn start_clock(first: i64, last: i64) -> Clock {
    Clock::new(first, last, START_BITS)
}

/// The largest key (see [`Entry::key`]) of a row starting at most at `t`
/// on `clock`, or `None` when no row of the segment can (every start is
/// later). Keys above it belong to rows starting after `t`.
#[inline]
pub(crate) fn last_key_at_most(clock: &Clock, t: i64) -> Option<u32> {
    (t >= clock.base()).then(|| (clock.quantum(t) << LEN_BITS) | ((1 << LEN_BITS) - 1))
}

/// The length code of `len` (at least 1): exact below 64 microseconds,
/// then a 6-bit mantissa under the leading bit (within 1/64).
#[inline]
fn len_code(len: i64) -> u32 {
    let len = len.max(1) as u64;
    let e = 63 - len.leading_zeros();
    if e < MANTISSA {
        return len as u32;
    }
    let m = (len >> (e - MANTISSA)) & ((1 << MANTISSA) - 1);
    ((e - MANTISSA + 1) << MANTISSA) | m as u32
}

/// The lengths `code` stands for: `[lo, hi]`.
#[inline]
fn len_bounds(code: u32) -> (i64, i64) {
    if code < 1 << MANTISSA {
        return (i64::from(code), i64::from(code));
    }
    let e = (code >> MANTISSA) + MANTISSA - 1;
    let m = u64::from(code & ((1 << MANTISSA) - 1));
    let lo = ((1 << MANTISSA) | m) << (e - MANTISSA);
    let hi = lo.saturating_add((1 << (e - MANTISSA)) - 1);
    (lo.min(i64::MAX as u64) as i64, hi.min(i64::MAX as u64) as i64)
}

/// Which posting family a driver iterates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Charger,
    Site,
    Org,
}

/// One row of a list. `repr(C)`, as its archived form is: a snapshot's
/// entries are read where they lie.
#[derive(Clone, Copy, Debug, rkyv::Archive, rkyv::Serialize, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct Entry {
    pub(crate) row: u32,
    /// The start's quantum (high bits) and the length's code (low bits):
    /// keys ascend with starts, so lists merge in time order by key.
    pub(crate) key: u32,
}

const _: () = {
    assert!(size_of::<ArchivedEntry>() == size_of::<Entry>());
    assert!(std::mem::offset_of!(ArchivedEntry, row) == std::mem::offset_of!(Entry, row));
    assert!(std::mem::offset_of!(ArchivedEntry, key) == std::mem::offset_of!(Entry, key));
};

// SAFETY: both are `repr(C)` with the same fields in the same places (the
// assertions above), each field a `u32_le` where the entry has a `u32`:
// the same bytes on a little-endian target (see `ArchivedAs for u32_le`).
#[allow(unsafe_code)]
unsafe impl ArchivedAs<Entry> for ArchivedEntry {
    const IN_PLACE: bool = <rkyv::rend::u32_le as ArchivedAs<u32>>::IN_PLACE;
    #[inline]
    fn native(&self) -> Entry {
        Entry { row: self.row.to_native(), key: self.key.to_native() }
    }
}

/// What an entry's coarse times tell of a query's time tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fit {
    /// The row surely passes them.
    In,
    /// The row surely fails one.
    Out,
    /// Too close to a bound to tell: read the row.
    Maybe,
}

/// Each row's entry key on `clock` (its start's quantum and its length's
/// code), computed once for every posting family of a segment: each
/// family's build computed them again from the rows, reading a 32-byte row
/// where the families now read 4 bytes.
pub(crate) fn entry_keys<I: WindowId>(rows: &[Row<I>], clock: &Clock) -> Vec<u32> {
    rows.iter().map(|r| Entry::new(clock, r.start, r.end, 0).key).collect()
}

impl Entry {
    pub(crate) fn new(clock: &Clock, start: i64, end: i64, row: u32) -> Self {
        let key = (clock.quantum(start) << LEN_BITS) | len_code(end.saturating_sub(start));
        Entry { row, key }
    }

    /// The row's start lies in `[lo, hi]`, its end in `[end_lo, end_hi]`.
    #[inline]
    fn bounds(&self, clock: &Clock) -> ((i64, i64), (i64, i64)) {
        let (s_lo, s_hi) = clock.times(self.key >> LEN_BITS);
        let (l_lo, l_hi) = len_bounds(self.key & ((1 << LEN_BITS) - 1));
        ((s_lo, s_hi), (s_lo.saturating_add(l_lo), s_hi.saturating_add(l_hi)))
    }

    /// Whether the row's start is in `[from, to)` and its end in
    /// `(e_lo, e_hi]`, as far as the entry tells.
    #[inline]
    pub(crate) fn fit(&self, clock: &Clock, from: i64, to: i64, e_lo: i64, e_hi: i64) -> Fit {
        let ((s_lo, s_hi), (end_lo, end_hi)) = self.bounds(clock);
        if s_hi < from || s_lo >= to || end_hi <= e_lo || end_lo > e_hi {
            Fit::Out
        } else if s_lo >= from && s_hi < to && end_lo > e_lo && end_hi <= e_hi {
            Fit::In
        } else {
            Fit::Maybe
        }
    }

    /// Whether this entry describes a row with these times.
    pub(crate) fn admits(&self, clock: &Clock, start: i64, end: i64) -> bool {
        let ((s_lo, s_hi), (end_lo, end_hi)) = self.bounds(clock);
        (s_lo..=s_hi).contains(&start) && (end_lo..=end_hi).contains(&end)
    }
}

/// A radix directory over the row numbers of one tier's run of a list (see
/// [`crate::directory`]), its bucket starts kept in the family's `first`
/// array. Runs too short to need one have none.
#[derive(Clone, Copy, Debug, rkyv::Archive, rkyv::Serialize, Default)]
struct RunDir {
    /// The run's first row (kept for runs without a directory too: a walk
    /// from at most it starts at the run's head without a search).
    base: u32,
    /// Where its bucket starts begin in [`Postings::first`].
    first_at: u32,
    /// The bucket width's log2 (high 8 bits) and the number of buckets (low
    /// 24 bits; 0 for no directory).
    shape: u32,
}

impl RunDir {
    const BUCKET_BITS: u32 = 24;

    fn buckets(&self) -> usize {
        (self.shape & ((1 << Self::BUCKET_BITS) - 1)) as usize
    }

    fn shift(&self) -> u32 {
        self.shape >> Self::BUCKET_BITS
    }
}

/// Where one key's list sits in the family's array, and how to search it:
/// 64 bytes, so one cache line tells a query everything it needs to start
/// reading the list.
#[derive(Clone, Copy, Debug, rkyv::Archive, rkyv::Serialize, Default)]
struct List {
    at: u32,
    /// Entries of the list up to the end of each tier (cumulative).
    tier_ends: [u32; TIERS],
    dirs: [RunDir; TIERS],
}

impl List {
    /// Positions of tier `t`'s entries in the family's array.
    #[inline]
    fn tier_range(&self, t: usize) -> std::ops::Range<u32> {
        let from = if t == 0 { 0 } else { self.tier_ends[t - 1] };
        self.at + from..self.at + self.tier_ends[t]
    }
}

/// A [`List`] on a cache line of its own.
#[derive(Clone, Copy, Debug, rkyv::Archive, rkyv::Serialize, Default)]
#[repr(align(64))]
struct Line(List);

/// Lists by key: a table indexed by key when keys are dense (a large
/// segment holds most chargers, sites and organizations), a hash map from key
/// to list number when they are sparse (a small segment holds few of them;
/// the map's slots stay 8 bytes, so the many small segments that flushes
/// build insert small values, and the lists are written once, in order).
#[derive(Clone, Debug, rkyv::Archive, rkyv::Serialize)]
enum Keys {
    Dense(Column<Line>),
    Sparse { index: FxHashMap<u32, u32>, lists: Vec<List> },
}

impl Default for Keys {
    fn default() -> Self {
        Keys::Sparse { index: FxHashMap::default(), lists: Vec::new() }
    }
}

/// All lists of one family in one segment, keyed by dense entity number.
#[derive(Clone, Debug, rkyv::Archive, rkyv::Serialize, Default)]
pub(crate) struct Postings {
    keys: Keys,
    clock: Clock,
    /// Entries, list after list.
    entries: Column<Entry>,
    /// The bucket starts of every run's directory, back to back.
    first: Column<u32>,
}

/// One key's list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PostingRef<'a> {
    list: List,
    entries: &'a [Entry],
    first: &'a [u32],
}

/// Runs at least this long get a directory; shorter ones are searched
/// directly (at most 4 halvings and a count).
const DIR_MIN_RUN: usize = 128;

/// Entries per directory bucket the run directories aim for (one cache line).
const PER_RUN_BUCKET: usize = 16;

/// A walk over one list's entries in one tier: positions `pos..end` of the
/// family's entry array, read front to back, up to the first row at or past
/// `stop`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stream {
    pub(crate) pos: u32,
    pub(crate) end: u32,
    /// The tier, for the caller.
    pub(crate) tier: u32,
    /// Rows from this one on are past the walk.
    pub(crate) stop: u32,
    /// The row [`lower_bounds`] positions the walk at.
    target: u32,
    /// Upper end of the search, while it runs.
    hi: u32,
}

impl Stream {
    /// A walk over `run` (positions in the family's array) that will start at
    /// the first entry at least `target`, which lies in `bracket` (a part of
    /// `run`), and stop before `stop`.
    fn new(run: std::ops::Range<u32>, bracket: (u32, u32), tier: usize, target: u32, stop: u32) -> Self {
        debug_assert!(run.start <= bracket.0 && bracket.0 <= bracket.1 && bracket.1 <= run.end);
        Stream { pos: bracket.0, end: run.end, tier: row32(tier), stop, target, hi: bracket.1 }
    }

    /// The entry at the walk's position, if its row is before `stop`.
    #[inline]
    pub(crate) fn peek(&self, entries: &[Entry]) -> Option<Entry> {
        let e = *entries.get(self.pos as usize).filter(|_| self.pos < self.end)?;
        (e.row < self.stop).then_some(e)
    }

    /// The entry at the walk's position, if its row is before `stop`,
    /// stepping past it (or to the end of the walk, if it is not).
    #[inline]
    pub(crate) fn next(&mut self, entries: &[Entry]) -> Option<Entry> {
        let e = self.peek(entries);
        self.pos = if e.is_some() { self.pos + 1 } else { self.end };
        e
    }
}

/// Moves every stream to the first entry of its run that is at least its
/// target.
///
/// The run's directory has already narrowed each stream to a bucket of about
/// [`PER_RUN_BUCKET`] entries (short runs have none and start whole). Every
/// further step is taken for all streams at once, so the cache misses of
/// different lists overlap instead of queueing one search behind another.
pub(crate) fn lower_bounds(entries: &[Entry], streams: &mut [Stream]) {
    // Invariant: every entry before `pos` is below the target, every entry
    // from `hi` on is at least it.
    // Halve in lockstep down to a cache line or two per run...
    loop {
        let mut active = false;
        for s in streams.iter_mut() {
            let size = s.hi - s.pos;
            if size > SCAN_RUN {
                let half = size / 2;
                let mid = s.pos + half;
                if entries[mid as usize].row < s.target {
                    s.pos = mid;
                }
                s.hi = s.pos + (size - half);
                active = true;
            }
        }
        if !active {
            break;
        }
    }
    // ...then count the entries below the target: the loads of a short run
    // are independent, so its lines arrive together instead of one probe at a
    // time.
    for s in streams.iter_mut() {
        let run = &entries[s.pos as usize..s.hi as usize];
        s.pos += run.iter().map(|e| u32::from(e.row < s.target)).sum::<u32>();
        s.hi = s.end;
    }
}

/// Entries a search finishes by counting rather than halving (2 cache lines).
const SCAN_RUN: u32 = 16;

impl<'a> PostingRef<'a> {
    /// Entries per tier.
    pub(crate) fn counts(&self) -> [u32; TIERS] {
        let mut prev = 0;
        self.list.tier_ends.map(|e| {
            let c = e - prev;
            prev = e;
            c
        })
    }

    /// Positions of tier `t`'s entries in the family's array.
    #[inline]
    pub(crate) fn tier_range(&self, t: usize) -> std::ops::Range<u32> {
        self.list.tier_range(t)
    }

    /// A walk over tier `t`'s rows from `from` (a row number) up to `stop`,
    /// narrowed by the run's directory; [`lower_bounds`] finishes
    /// positioning it.
    #[inline]
    pub(crate) fn stream(&self, t: usize, from: u32, stop: u32) -> Stream {
        let run = self.tier_range(t);
        let dir = &self.list.dirs[t];
        let buckets = dir.buckets();
        let bracket = if run.is_empty() || from <= dir.base {
            (run.start, run.start)
        } else if buckets == 0 {
            (run.start, run.end)
        } else {
            let first = &self.first[dir.first_at as usize..dir.first_at as usize + buckets + 1];
            let (a, b) = directory::bracket_in(
                first,
                run.start as usize,
                run.end as usize,
                i64::from(dir.base),
                dir.shift(),
                i64::from(from),
            );
            (row32(a), row32(b))
        };
        Stream::new(run, bracket, t, from, stop)
    }

    /// All entries.
    pub(crate) fn entries(&self) -> &'a [Entry] {
        self.entries
    }
}

impl Postings {
    /// Groups the rows of `column` (one dense key per row, [`NONE`] for none)
    /// of a segment whose rows are `rows`, split in tiers ending at
    /// `tier_ends`, their starts kept on `clock`.
    /// `entry_keys` are the rows' entry keys on `clock` (see
    /// [`entry_keys`]).
    pub(crate) fn build(column: &[u32], entry_keys: &[u32], tier_ends: [u32; TIERS], clock: Clock) -> Self {
        let (keys, offsets, entries) = group_entries(column, entry_keys);
        Postings::of_groups(&keys, &offsets, entries, tier_ends, clock)
    }

    /// The lists of `groups`: group `k` (key `k`) holds the rows of
    /// `rows_by_group[k * size..(k + 1) * size]`, in any order (an id
    /// block's rows: its ids' rows). Each group is sorted on its own, in
    /// cache, instead of scattering a column of keys.
    pub(crate) fn build_groups(
        rows_by_group: &[u32],
        size: usize,
        entry_keys: &[u32],
        tier_ends: [u32; TIERS],
        clock: Clock,
    ) -> Self {
        let mut entries = huge_pages::with_capacity(rows_by_group.len());
        let mut group = Vec::with_capacity(size);
        let (mut keys, mut offsets) = (Vec::new(), vec![0u32]);
        for (k, chunk) in rows_by_group.chunks(size.max(1)).enumerate() {
            group.clear();
            group.extend_from_slice(chunk);
            group.sort_unstable();
            entries.extend(group.iter().map(|&r| Entry { row: r, key: entry_keys[r as usize] }));
            keys.push(row32(k));
            offsets.push(row32(entries.len()));
        }
        Postings::of_groups(&keys, &offsets, entries, tier_ends, clock)
    }

    /// The lists of `keys` (ascending), key `keys[k]` holding
    /// `entries[offsets[k]..offsets[k + 1]]` in row order.
    fn of_groups(keys: &[u32], offsets: &[u32], entries: Vec<Entry>, tier_ends: [u32; TIERS], clock: Clock) -> Self {
        let mut first = Vec::new();
        let lists = keys.iter().enumerate().map(|(k, &key)| {
            let at = offsets[k];
            let list = &entries[at as usize..offsets[k + 1] as usize];
            let mut ends = [0u32; TIERS];
            for (t, e) in ends.iter_mut().enumerate() {
                *e = row32(list.partition_point(|e| e.row < tier_ends[t]));
            }
            let mut list = List { at, tier_ends: ends, dirs: [RunDir::default(); TIERS] };
            for t in 0..TIERS {
                let run = list.tier_range(t);
                let (lo, hi) = (run.start as usize, run.end as usize);
                if hi > lo {
                    list.dirs[t].base = entries[lo].row;
                }
                if hi - lo >= DIR_MIN_RUN {
                    let first_at = row32(first.len());
                    let (base, shift) =
                        directory::build_into(lo, hi, PER_RUN_BUCKET, |i| i64::from(entries[i].row), &mut first);
                    let buckets = first.len() - first_at as usize - 1;
                    // Keep the bucket count within its bits: at most 2^24 - 1
                    // buckets (16 entries each) covers any run of a segment.
                    debug_assert!(buckets < 1 << RunDir::BUCKET_BITS);
                    list.dirs[t] =
                        RunDir { base: base as u32, first_at, shape: (shift << RunDir::BUCKET_BITS) | buckets as u32 };
                }
            }
            (key, list)
        });
        let universe = keys.last().map_or(0, |&k| k as usize + 1);
        // A table by key when it is at most a few times the size of a map.
        let keys = if universe <= 2 * keys.len().max(8) {
            let mut table = vec![Line::default(); universe];
            for (key, list) in lists {
                table[key as usize] = Line(list);
            }
            Keys::Dense(table.into())
        } else {
            let index = keys.iter().enumerate().map(|(i, &key)| (key, row32(i))).collect();
            Keys::Sparse { index, lists: lists.map(|(_, list)| list).collect() }
        };
        Postings { keys, clock, entries: entries.into(), first: first.into() }
    }

    #[inline]
    pub(crate) fn get(&self, key: u32) -> Option<PostingRef<'_>> {
        let list = match &self.keys {
            Keys::Dense(table) => table.get(key as usize)?.0,
            Keys::Sparse { index, lists } => *lists.get(*index.get(&key)? as usize)?,
        };
        let (from, to) = (list.at as usize, list.at as usize + list.tier_ends[TIERS - 1] as usize);
        if from == to {
            return None;
        }
        Some(PostingRef { list, entries: self.entries.get(from..to)?, first: &self.first })
    }

    /// Postings read back from a snapshot, checked against a segment of
    /// `rows` rows: every entry's row is one of them, every list lies
    /// inside the entries and every run directory inside its run, so no
    /// walk leaves its arrays.
    /// The entries and run directories are read in place if they lie in
    /// `owner`'s bytes.
    pub(crate) fn from_archived(
        a: &ArchivedPostings,
        rows: usize,
        owner: Option<&SharedBytes>,
    ) -> Result<Self, String> {
        let entries = Column::<Entry>::of_archived(&a.entries, owner);
        if entries.iter().any(|e| e.row as usize >= rows) {
            return Err("a posting entry past the segment's rows".into());
        }
        let first = Column::<u32>::of_archived(&a.first, owner);
        let list = |l: &ArchivedList| -> Result<List, String> {
            let list = List {
                at: l.at.to_native(),
                tier_ends: [0, 1, 2].map(|t| l.tier_ends[t].to_native()),
                dirs: [0, 1, 2].map(|t| RunDir {
                    base: l.dirs[t].base.to_native(),
                    first_at: l.dirs[t].first_at.to_native(),
                    shape: l.dirs[t].shape.to_native(),
                }),
            };
            let end = u64::from(list.at) + u64::from(list.tier_ends[TIERS - 1]);
            if !list.tier_ends.is_sorted() || end > entries.len() as u64 {
                return Err("a posting list outside its family's entries".into());
            }
            for t in 0..TIERS {
                let dir = &list.dirs[t];
                let run = list.tier_range(t);
                let entries_in = &entries[run.start as usize..run.end as usize];
                if !entries_in.windows(2).all(|w| w[0].row < w[1].row) {
                    return Err("a posting run out of row order".into());
                }
                if dir.buckets() > 0 {
                    let at = dir.first_at as usize;
                    let starts = first.get(at..at + dir.buckets() + 1).ok_or("a run directory past its array")?;
                    directory::check_bucket_starts(starts, run.start, run.end, dir.shift())?;
                }
            }
            Ok(list)
        };
        let keys = match &a.keys {
            ArchivedKeys::Dense(table) => {
                Keys::Dense(table.iter().map(|l| list(&l.0).map(Line)).collect::<Result<Vec<_>, _>>()?.into())
            }
            ArchivedKeys::Sparse { index, lists } => {
                let lists: Vec<List> = lists.iter().map(list).collect::<Result<_, _>>()?;
                let index: FxHashMap<u32, u32> = index.iter().map(|(k, v)| (k.to_native(), v.to_native())).collect();
                if index.values().any(|&v| v as usize >= lists.len()) {
                    return Err("a posting key naming no list".into());
                }
                Keys::Sparse { index, lists }
            }
        };
        Ok(Postings { keys, clock: Clock::from_archived(&a.clock)?, entries, first })
    }

    /// The family in memory of its own (see [`Column::owned`]).
    pub(crate) fn owned(&self) -> Self {
        let keys = match &self.keys {
            Keys::Dense(table) => Keys::Dense(table.owned()),
            Keys::Sparse { index, lists } => Keys::Sparse { index: index.clone(), lists: lists.clone() },
        };
        Postings { keys, clock: self.clock, entries: self.entries.owned(), first: self.first.owned() }
    }

    /// Whether the entries lie in shared bytes (a snapshot read in place).
    pub(crate) fn is_shared(&self) -> bool {
        self.entries.is_shared()
    }

    /// Every entry of the family, lists back to back.
    #[inline]
    pub(crate) fn all_entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The clock the entries' starts are kept on.
    #[inline]
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Every key with its list, for validation.
    pub(crate) fn lists(&self) -> Vec<(u32, PostingRef<'_>)> {
        let keys: Vec<u32> = match &self.keys {
            Keys::Dense(table) => (0..row32(table.len())).collect(),
            Keys::Sparse { index, .. } => index.keys().copied().collect(),
        };
        keys.into_iter().filter_map(|k| self.get(k).map(|p| (k, p))).collect()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let keys = match &self.keys {
            Keys::Dense(table) => table.bytes(),
            Keys::Sparse { index, lists } => {
                index.capacity() * (std::mem::size_of::<(u32, u32)>() + 1)
                    + lists.capacity() * std::mem::size_of::<List>()
            }
        };
        keys + self.entries.bytes() + self.first.bytes()
    }
}

/// The rows' entries grouped by key, each group in row order, keys
/// ascending, as flat arrays `(keys, offsets, entries)`. When keys are few relative to rows, a
/// counting sort reads the column in order and scatters each entry to
/// its place (writes that miss cache do not stall the way reads do);
/// otherwise packed `(key, row)` pairs are sorted. Flat arrays keep the
/// build from scattering thousands of short-lived allocations among the
/// long-lived ones.
fn group_entries(column: &[u32], entry_keys: &[u32]) -> (Vec<u32>, Vec<u32>, Vec<Entry>) {
    let entry = |r: usize| Entry { row: row32(r), key: entry_keys[r] };
    let Some(max_key) = column.iter().copied().filter(|&k| k != NONE).max() else {
        return (Vec::new(), vec![0], Vec::new());
    };
    let universe = max_key as usize + 1;
    if universe <= column.len() * 2 {
        let mut starts = vec![0u32; universe + 1];
        for &k in column.iter().filter(|&&k| k != NONE) {
            starts[k as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut entries = huge_pages::filled(Entry { row: 0, key: 0 }, starts[universe] as usize);
        let mut fill = starts.clone();
        for (row, &k) in column.iter().enumerate() {
            if k != NONE {
                entries[fill[k as usize] as usize] = entry(row);
                fill[k as usize] += 1;
            }
        }
        let mut keys = Vec::new();
        let mut offsets = vec![0u32];
        for k in 0..universe {
            if starts[k + 1] > starts[k] {
                keys.push(row32(k));
                offsets.push(starts[k + 1]);
            }
        }
        return (keys, offsets, entries);
    }
    let mut pairs: Vec<u64> = column
        .iter()
        .enumerate()
        .filter(|&(_, &k)| k != NONE)
        .map(|(row, &k)| (u64::from(k) << 32) | row as u64)
        .collect();
    if super::radix::suits(pairs.len()) {
        // Rows ascend already: a stable sort by key alone keeps them so.
        super::radix::radix_sort_by_key(&mut pairs, |&p| p >> 32);
    } else {
        pairs.sort_unstable();
    }
    let mut keys = Vec::new();
    let mut offsets = vec![0u32];
    for (i, p) in pairs.iter().enumerate() {
        let key = (p >> 32) as u32;
        if keys.last() != Some(&key) {
            if i > 0 {
                offsets.push(row32(i));
            }
            keys.push(key);
        }
    }
    offsets.push(row32(pairs.len()));
    let entries = huge_pages::collect(pairs.into_iter().map(|p| entry(p as u32 as usize)));
    (keys, offsets, entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const _: () = assert!(std::mem::size_of::<Entry>() == 8);

    fn rows_of(n: usize) -> Vec<Row<u64>> {
        (0..n).map(|r| Row { start: r as i64, end: r as i64 + 1, id: r as u64, place: 0, slot: 0 }).collect()
    }

    proptest! {
        #[test]
        fn lower_bounds_agree_with_partition_point(
            lists in prop::collection::vec(
                (prop_oneof![
                    prop::collection::vec(prop_oneof![0u32..1_000, any::<u32>()], 0..300),
                    prop::collection::vec(0u32..1_000_000, 0..3_000),
                    prop::collection::vec(prop_oneof![0u32..10, 1_000_000u32..1_000_010], 0..1_000),
                ],
                 prop_oneof![0u32..1_001, any::<u32>()]),
                0..6,
            ),
        ) {
            // All runs back to back in one array, as a family stores them.
            let mut entries = Vec::new();
            let mut streams = Vec::new();
            let mut want = Vec::new();
            for (t, (values, target)) in lists.iter().enumerate() {
                let mut v = values.clone();
                v.sort_unstable();
                v.dedup();
                let at = entries.len() as u32;
                entries.extend(v.iter().map(|&row| Entry { row, key: 0 }));
                let run = at..entries.len() as u32;
                streams.push(Stream::new(run.clone(), (run.start, run.end), t, *target, u32::MAX));
                want.push(at as usize + v.partition_point(|&x| x < *target));
            }
            lower_bounds(&entries, &mut streams);
            for (s, w) in streams.iter().zip(&want) {
                prop_assert_eq!(s.pos as usize, *w);
            }
        }

        #[test]
        fn directories_position_every_list(
            keys in prop::collection::vec(prop_oneof![0u32..6, Just(NONE)], 0..3_000),
            cuts in prop::collection::vec(0u32..3_000, TIERS - 1),
            targets in prop::collection::vec((0u32..3_010, 0u32..3_010), 1..12),
        ) {
            // Tiers end at sorted cuts; keys drawn from a few, so some lists
            // are long enough for directories.
            let n = keys.len() as u32;
            let mut tier_ends = [n; TIERS];
            let mut cuts: Vec<u32> = cuts.iter().map(|&c| c.min(n)).collect();
            cuts.sort_unstable();
            tier_ends[..TIERS - 1].copy_from_slice(&cuts);
            let rows = rows_of(keys.len());
            let clock = start_clock(0, n as i64);
            let postings = Postings::build(&keys, &entry_keys(&rows, &clock), tier_ends, clock);
            for key in 0..6u32 {
                let Some(p) = postings.get(key) else {
                    prop_assert!(!keys.contains(&key));
                    continue;
                };
                let want_rows: Vec<u32> = (0..n).filter(|&r| keys[r as usize] == key).collect();
                let got_rows: Vec<u32> = p.entries().iter().map(|e| e.row).collect();
                prop_assert_eq!(got_rows, want_rows.clone());
                for t in 0..TIERS {
                    let run = p.tier_range(t);
                    let lo = if t == 0 { 0 } else { tier_ends[t - 1] };
                    let in_tier: Vec<u32> = want_rows.iter().copied().filter(|&r| r >= lo && r < tier_ends[t]).collect();
                    prop_assert_eq!(run.len(), in_tier.len());
                    let mut streams: Vec<Stream> = targets.iter().map(|&(from, stop)| p.stream(t, from, stop)).collect();
                    lower_bounds(postings.all_entries(), &mut streams);
                    for (s, &(from, stop)) in streams.iter_mut().zip(&targets) {
                        let want: Vec<u32> = in_tier.iter().copied().filter(|&r| r >= from && r < stop).collect();
                        let got: Vec<u32> = std::iter::from_fn(|| s.next(postings.all_entries()).map(|e| e.row)).collect();
                        prop_assert_eq!(got, want);
                    }
                }
            }
        }

        #[test]
        fn fit_never_contradicts_the_exact_tests(
            (first, last) in prop_oneof![
                (-10_000_000i64..10_000_000, 0i64..100_000_000).prop_map(|(a, w)| (a, a + w)),
                (any::<i64>(), any::<i64>()).prop_map(|(a, b)| (a.min(b), a.max(b))),
            ],
            at in 0.0f64..=1.0,
            len in prop_oneof![1i64..5_000_000, 1i64..i64::MAX],
            (from, to) in (prop_oneof![-20_000_000i64..20_000_000, any::<i64>()], prop_oneof![0i64..100_000_000, any::<i64>()])
                .prop_map(|(a, w)| (a, a.saturating_add(w.max(0)))),
            (e_lo, e_hi) in (prop_oneof![-20_000_000i64..20_000_000, any::<i64>()], prop_oneof![0i64..100_000_000, any::<i64>()])
                .prop_map(|(a, w)| (a, a.saturating_add(w.max(0)))),
        ) {
            let clock = start_clock(first, last);
            let start = first.saturating_add(((last as f64 - first as f64) * at) as i64).clamp(first, last);
            let end = start.saturating_add(len);
            prop_assume!(end > start);
            let entry = Entry::new(&clock, start, end, 7);
            prop_assert!(entry.admits(&clock, start, end));
            let exact = start >= from && start < to && end > e_lo && end <= e_hi;
            match entry.fit(&clock, from, to, e_lo, e_hi) {
                Fit::In => prop_assert!(exact),
                Fit::Out => prop_assert!(!exact),
                Fit::Maybe => {}
            }
        }

        #[test]
        fn keys_ascend_with_starts(
            (first, last) in (any::<i64>(), any::<i64>()).prop_map(|(a, b)| (a.min(b), a.max(b))),
            a in 0.0f64..=1.0,
            b in 0.0f64..=1.0,
        ) {
            let clock = start_clock(first, last);
            let at = |x: f64| first.saturating_add(((last as f64 - first as f64) * x) as i64).clamp(first, last);
            let (s, t) = (at(a.min(b)), at(a.max(b)));
            let (k, l) = (Entry::new(&clock, s, s + 1, 0).key, Entry::new(&clock, t, t.saturating_add(1), 0).key);
            prop_assert!(k >> LEN_BITS <= l >> LEN_BITS);
            // The bound a page's last start sets lets through every row at or
            // before it.
            prop_assert!(last_key_at_most(&clock, t).is_some_and(|m| k <= m && l <= m));
            if s > first {
                prop_assert_eq!(last_key_at_most(&clock, first - 1), None);
            }
        }

        #[test]
        fn length_codes_bracket_their_lengths(len in prop_oneof![1i64..200, 1i64..i64::MAX]) {
            let (lo, hi) = len_bounds(len_code(len));
            prop_assert!(lo <= len && len <= hi);
            prop_assert!(len_code(len) < 1 << LEN_BITS);
            // Within 1/64 of the length.
            prop_assert!((hi - lo) as f64 <= len as f64 / 64.0 + 1.0);
        }
    }

    #[test]
    fn two_years_of_starts_keep_a_one_minute_quantum() {
        let two_years = 2 * 366 * 86_400 * 1_000_000i64;
        let clock = start_clock(0, two_years);
        assert_eq!(clock.shift(), 26, "2^26 us = 67 s");
        let (lo, hi) = clock.times(clock.quantum(two_years));
        assert!(lo <= two_years && two_years <= hi);
    }
}
