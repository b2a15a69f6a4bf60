//! Posting lists: the rows of each charger, site or organization in one
//! segment, each with its start and (to the second) its length beside it.
//!
//! A list is laid out like the segment: by length tier, then `(start, id)`
//! (its rows ascend). Keeping the times in the list means a filtered query
//! finds where its time range begins by searching the list itself, rules out
//! candidates on memory it reads in order, and reads only the rows that can
//! match: a charger's 200 rows scattered over 10M are otherwise one cache miss
//! each. An entry is 16 bytes: the exact start, the row, and the length
//! rounded up to whole seconds, which settles the end test for all but
//! windows ending within a second of the query's bound (those are checked on
//! the row). One family's lists share one flat array, so small segments built
//! by every flush allocate per family, not per key.

use rustc_hash::FxHashMap;

use crate::WindowId;
use crate::directory;
use crate::pages;
use crate::segment::{NONE, Row, TIERS};

const MICROS_PER_SEC: i64 = 1_000_000;

/// One row of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) start: i64,
    pub(crate) row: u32,
    /// `ceil((end - start) / 1 s)`, saturated: `u32::MAX` means at least that.
    secs: u32,
}

/// What an entry's rounded length tells of an end test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fit {
    /// The end is surely inside the bounds.
    In,
    /// The end is surely outside.
    Out,
    /// The end is within a second of a bound: read the row.
    Maybe,
}

impl Entry {
    pub(crate) fn new(start: i64, end: i64, row: u32) -> Self {
        let len = end.saturating_sub(start).max(1);
        let secs = u32::try_from((len as u64).div_ceil(MICROS_PER_SEC as u64)).unwrap_or(u32::MAX);
        Entry { start, row, secs }
    }

    /// The end lies in `(lo_excl, hi]`: after this bound and at most that one.
    #[inline]
    fn end_bounds(&self) -> (i64, i64) {
        let secs = i64::from(self.secs);
        let lo_excl = self.start.saturating_add((secs - 1) * MICROS_PER_SEC);
        let hi = if self.secs == u32::MAX { i64::MAX } else { self.start.saturating_add(secs * MICROS_PER_SEC) };
        (lo_excl, hi)
    }

    /// Whether the end satisfies `e_lo < end <= e_hi`.
    #[inline]
    pub(crate) fn end_fit(&self, e_lo: i64, e_hi: i64) -> Fit {
        let (lo_excl, hi) = self.end_bounds();
        if hi <= e_lo || lo_excl >= e_hi {
            Fit::Out
        } else if lo_excl >= e_lo && hi <= e_hi {
            Fit::In
        } else {
            Fit::Maybe
        }
    }

    /// Whether this entry's rounded length describes `end`.
    pub(crate) fn admits_end(&self, end: i64) -> bool {
        let (lo_excl, hi) = self.end_bounds();
        end > lo_excl && end <= hi
    }
}

/// A radix directory over the starts of one tier's run of a list (see
/// [`crate::directory`]), its bucket starts kept in the family's `first`
/// array. Runs too short to need one have none.
#[derive(Clone, Copy, Debug, Default)]
struct RunDir {
    /// The run's first start (kept for runs without a directory too: a walk
    /// from at most it starts at the run's head without a search).
    base: i64,
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
#[derive(Clone, Copy, Debug, Default)]
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
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(64))]
struct Line(List);

/// Lists by key: a table indexed by key when keys are dense (a large
/// segment holds most chargers, sites and organizations), a hash map from key
/// to list number when they are sparse (a small segment holds few of them;
/// the map's slots stay 8 bytes, so the many small segments that flushes
/// build insert small values, and the lists are written once, in order).
#[derive(Clone, Debug)]
enum Keys {
    Dense(Vec<Line>),
    Sparse { index: FxHashMap<u32, u32>, lists: Vec<List> },
}

impl Default for Keys {
    fn default() -> Self {
        Keys::Sparse { index: FxHashMap::default(), lists: Vec::new() }
    }
}

/// All lists of one family in one segment, keyed by dense entity number.
#[derive(Clone, Debug, Default)]
pub(crate) struct Postings {
    keys: Keys,
    entries: Vec<Entry>,
    /// The bucket starts of every run's directory, back to back.
    first: Vec<u32>,
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
const DIR_MIN_RUN: usize = 64;

/// Entries per directory bucket the run directories aim for (two cache lines).
const PER_RUN_BUCKET: usize = 8;

/// A walk over one list's entries in one tier: positions `pos..end` of the
/// family's entry array, read front to back.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stream {
    pub(crate) pos: u32,
    pub(crate) end: u32,
    /// The tier, for the caller.
    pub(crate) tier: u32,
    /// The start [`lower_bounds`] positions the walk at.
    target: i64,
    /// Upper end of the search, while it runs.
    hi: u32,
}

impl Stream {
    /// A walk over `run` (positions in the family's array) that will start at
    /// the first entry whose start is at least `target`, which lies in
    /// `bracket` (a part of `run`).
    fn new(run: std::ops::Range<u32>, bracket: (u32, u32), tier: usize, target: i64) -> Self {
        debug_assert!(run.start <= bracket.0 && bracket.0 <= bracket.1 && bracket.1 <= run.end);
        Stream { pos: bracket.0, end: run.end, tier: tier as u32, target, hi: bracket.1 }
    }
}

/// Moves every stream to the first entry of its run whose start is at least
/// its target.
///
/// The run's directory has already narrowed each stream to a bucket of about
/// [`PER_RUN_BUCKET`] entries (short runs have none and start whole). Every
/// further step is taken for all streams at once, so the cache misses of
/// different lists overlap instead of queueing one search behind another.
pub(crate) fn lower_bounds(entries: &[Entry], streams: &mut [Stream]) {
    // Invariant: every entry before `pos` starts before the target, every
    // entry from `hi` on starts at or after it.
    // Halve in lockstep down to a few cache lines per run...
    loop {
        let mut active = false;
        for s in streams.iter_mut() {
            let size = s.hi - s.pos;
            if size > SCAN_RUN {
                let half = size / 2;
                let mid = s.pos + half;
                if entries[mid as usize].start < s.target {
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
        s.pos += run.iter().map(|e| u32::from(e.start < s.target)).sum::<u32>();
        s.hi = s.end;
    }
}

/// Entries a search finishes by counting rather than halving (4 cache lines).
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

    /// A walk over tier `t`'s run from its first entry whose start is at
    /// least `target`, narrowed by the run's directory; [`lower_bounds`]
    /// finishes positioning it.
    #[inline]
    pub(crate) fn stream(&self, t: usize, target: i64) -> Stream {
        let run = self.tier_range(t);
        let dir = &self.list.dirs[t];
        let buckets = dir.buckets();
        let bracket = if run.is_empty() || target <= dir.base {
            (run.start, run.start)
        } else if buckets == 0 {
            (run.start, run.end)
        } else {
            let first = &self.first[dir.first_at as usize..dir.first_at as usize + buckets + 1];
            let (a, b) =
                directory::bracket_in(first, run.start as usize, run.end as usize, dir.base, dir.shift(), target);
            (a as u32, b as u32)
        };
        Stream::new(run, bracket, t, target)
    }

    /// All entries.
    pub(crate) fn entries(&self) -> &'a [Entry] {
        self.entries
    }
}

impl Postings {
    /// Groups the rows of `column` (one dense key per row, [`NONE`] for none)
    /// of a segment whose rows are `rows`, split in tiers ending at `tier_ends`.
    pub(crate) fn build<I: WindowId>(column: &[u32], rows: &[Row<I>], tier_ends: [u32; TIERS]) -> Self {
        let (keys, offsets, entries) = group_entries(column, rows);
        let mut first = Vec::new();
        let lists = keys.iter().enumerate().map(|(k, &key)| {
            let at = offsets[k];
            let list = &entries[at as usize..offsets[k + 1] as usize];
            let mut ends = [0u32; TIERS];
            for (t, e) in ends.iter_mut().enumerate() {
                *e = list.partition_point(|e| e.row < tier_ends[t]) as u32;
            }
            let mut list = List { at, tier_ends: ends, dirs: [RunDir::default(); TIERS] };
            for t in 0..TIERS {
                let run = list.tier_range(t);
                let (lo, hi) = (run.start as usize, run.end as usize);
                if hi > lo {
                    list.dirs[t].base = entries[lo].start;
                }
                if hi - lo >= DIR_MIN_RUN {
                    let first_at = first.len() as u32;
                    let (base, shift) = directory::build_into(lo, hi, PER_RUN_BUCKET, |i| entries[i].start, &mut first);
                    let buckets = first.len() - first_at as usize - 1;
                    // Keep the bucket count within its bits: at most 2^24 - 1
                    // buckets (8 entries each) covers any run of a segment.
                    debug_assert!(buckets < 1 << RunDir::BUCKET_BITS);
                    list.dirs[t] = RunDir { base, first_at, shape: (shift << RunDir::BUCKET_BITS) | buckets as u32 };
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
            Keys::Dense(table)
        } else {
            let index = keys.iter().enumerate().map(|(i, &key)| (key, i as u32)).collect();
            Keys::Sparse { index, lists: lists.map(|(_, list)| list).collect() }
        };
        Postings { keys, entries, first }
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

    /// Every entry of the family, lists back to back.
    #[inline]
    pub(crate) fn all_entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every key with its list, for validation.
    pub(crate) fn lists(&self) -> Vec<(u32, PostingRef<'_>)> {
        let keys: Vec<u32> = match &self.keys {
            Keys::Dense(table) => (0..table.len() as u32).collect(),
            Keys::Sparse { index, .. } => index.keys().copied().collect(),
        };
        keys.into_iter().filter_map(|k| self.get(k).map(|p| (k, p))).collect()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        let keys = match &self.keys {
            Keys::Dense(table) => table.capacity() * std::mem::size_of::<Line>(),
            Keys::Sparse { index, lists } => {
                index.capacity() * (std::mem::size_of::<(u32, u32)>() + 1)
                    + lists.capacity() * std::mem::size_of::<List>()
            }
        };
        keys + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.first.capacity() * std::mem::size_of::<u32>()
    }
}

/// The rows' entries grouped by key, each group in row order, keys
/// ascending, as flat arrays `(keys, offsets, entries)`. When keys are few
/// relative to rows, a counting sort reads the rows in order and scatters
/// each entry to its place (writes that miss cache do not stall the way
/// reads do); otherwise packed `(key, row)` pairs are sorted. Flat arrays keep
/// the build from scattering thousands of short-lived allocations among the
/// long-lived ones.
fn group_entries<I: WindowId>(column: &[u32], rows: &[Row<I>]) -> (Vec<u32>, Vec<u32>, Vec<Entry>) {
    let entry = |r: usize| Entry::new(rows[r].start, rows[r].end, r as u32);
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
        let mut entries = pages::filled(Entry::new(0, 1, 0), starts[universe] as usize);
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
                keys.push(k as u32);
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
    pairs.sort_unstable();
    let mut keys = Vec::new();
    let mut offsets = vec![0u32];
    for (i, p) in pairs.iter().enumerate() {
        let key = (p >> 32) as u32;
        if keys.last() != Some(&key) {
            if i > 0 {
                offsets.push(i as u32);
            }
            keys.push(key);
        }
    }
    offsets.push(pairs.len() as u32);
    let entries = pages::collect(pairs.into_iter().map(|p| entry(p as u32 as usize)));
    (keys, offsets, entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const _: () = assert!(std::mem::size_of::<Entry>() == 16);

    proptest! {
        #[test]
        fn lower_bounds_agree_with_partition_point(
            lists in prop::collection::vec(
                (prop_oneof![
                    prop::collection::vec(prop_oneof![-1_000i64..1_000, any::<i64>()], 0..300),
                    prop::collection::vec(-1_000_000i64..1_000_000, 0..3_000),
                    prop::collection::vec(prop_oneof![0i64..10, 1_000_000i64..1_000_010], 0..1_000),
                ],
                 prop_oneof![-1_001i64..1_001, any::<i64>()]),
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
                let at = entries.len() as u32;
                entries.extend(v.iter().map(|&x| Entry::new(x, x.saturating_add(1), 0)));
                let run = at..entries.len() as u32;
                streams.push(Stream::new(run.clone(), (run.start, run.end), t, *target));
                want.push(at as usize + v.partition_point(|&x| x < *target));
            }
            lower_bounds(&entries, &mut streams);
            for (s, w) in streams.iter().zip(&want) {
                prop_assert_eq!(s.pos as usize, *w);
            }
        }

        #[test]
        fn directories_position_every_list(
            tiers in prop::collection::vec(
                prop::collection::vec((prop_oneof![0i64..5_000, 0i64..50, any::<i64>()], 0u32..6), 0..700),
                TIERS,
            ),
            targets in prop::collection::vec(prop_oneof![-10i64..5_010, any::<i64>()], 1..12),
        ) {
            // Rows tier by tier, each tier sorted by start; keys drawn from a
            // few, so some lists are long enough for directories.
            let mut rows = Vec::new();
            let mut tier_ends = [0u32; TIERS];
            for (t, tier) in tiers.iter().enumerate() {
                let mut tier = tier.clone();
                tier.sort_unstable();
                for &(start, key) in &tier {
                    let end = start.saturating_add(1 + t as i64).max(start.saturating_add(1));
                    let end = if end == start { i64::MAX } else { end };
                    rows.push((Row { start, end, id: rows.len() as u64, place: key, slot: 0 }, key));
                }
                tier_ends[t] = rows.len() as u32;
            }
            prop_assume!(rows.iter().all(|(r, _)| r.end > r.start));
            let column: Vec<u32> = rows.iter().map(|&(_, k)| k).collect();
            let rows: Vec<Row<u64>> = rows.into_iter().map(|(r, _)| r).collect();
            let postings = Postings::build(&column, &rows, tier_ends);
            for key in 0..6u32 {
                let Some(p) = postings.get(key) else {
                    prop_assert!(!column.contains(&key));
                    continue;
                };
                for t in 0..TIERS {
                    let run = p.tier_range(t);
                    let starts: Vec<i64> = postings.all_entries()[run.start as usize..run.end as usize].iter().map(|e| e.start).collect();
                    let mut streams: Vec<Stream> = targets.iter().map(|&x| p.stream(t, x)).collect();
                    lower_bounds(postings.all_entries(), &mut streams);
                    for (s, &x) in streams.iter().zip(&targets) {
                        prop_assert_eq!(s.pos, run.start + starts.partition_point(|&v| v < x) as u32);
                        prop_assert_eq!(s.end, run.end);
                    }
                }
            }
        }

        #[test]
        fn end_fit_never_contradicts_the_exact_test(
            start in prop_oneof![-10_000_000i64..10_000_000, any::<i64>()],
            len in prop_oneof![1i64..5_000_000, 1i64..i64::MAX],
            e_lo in prop_oneof![-20_000_000i64..20_000_000, any::<i64>()],
            span in prop_oneof![0i64..10_000_000, any::<i64>()],
        ) {
            let end = start.saturating_add(len);
            prop_assume!(end > start);
            let e_hi = e_lo.saturating_add(span.max(0));
            let entry = Entry::new(start, end, 7);
            prop_assert!(entry.admits_end(end));
            let exact = end > e_lo && end <= e_hi;
            match entry.end_fit(e_lo, e_hi) {
                Fit::In => prop_assert!(exact),
                Fit::Out => prop_assert!(!exact),
                Fit::Maybe => {}
            }
        }
    }

    #[test]
    fn whole_seconds_settle_the_end_test() {
        let s = 1_000 * MICROS_PER_SEC;
        let entry = Entry::new(s, s + 3_600 * MICROS_PER_SEC, 0);
        assert_eq!(entry.end_fit(s, s + 7_200 * MICROS_PER_SEC), Fit::In);
        assert_eq!(entry.end_fit(s + 7_200 * MICROS_PER_SEC, i64::MAX), Fit::Out);
        // A whole-second length is exact: an end on the bound is settled.
        assert_eq!(entry.end_fit(s + 3_600 * MICROS_PER_SEC, i64::MAX), Fit::Out);
        // A bound inside the end's last second is not.
        assert_eq!(entry.end_fit(s + 3_600 * MICROS_PER_SEC - 1, i64::MAX), Fit::Maybe);
        let odd = Entry::new(s, s + 3_600 * MICROS_PER_SEC - 1, 0);
        assert_eq!(odd.end_fit(s + 3_600 * MICROS_PER_SEC - 1, i64::MAX), Fit::Maybe);
    }
}
