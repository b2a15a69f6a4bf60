//! Kills: rows of segments deleted since the segment list was last
//! replaced, kept apart from the segments' tombstones.
//!
//! A version of the index is published after every write, and must cost
//! little to make. Setting a tombstone would change a segment, and with it
//! the segment list every version shares; a kill is instead one small entry
//! in a short sorted run (a [`SortedRun`]: each version shares its base and
//! copies a tail of under 32 kills). From half a write buffer's worth, the
//! build thread moves them into the tombstones of copies of their segments,
//! which the writer installs (an `Index`, whose segment list no version
//! holds, kills in the tombstones at once). Queries see a segment through
//! [`LiveSegment`]: its tombstones and its kills together.

use std::ops::Deref;

use super::chunked_bits::WordCursor;
use super::sorted_run::{RunKey, SortedRun, merge_by_key};
use super::{Segment, SegmentData};

/// Row `row` of segment `seg` died; its times are kept so counts need not
/// read the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Kill {
    pub(crate) seg: u32,
    pub(crate) row: u32,
    pub(crate) start: i64,
    pub(crate) end: i64,
}

impl RunKey for Kill {
    type Key = (u32, u32);

    #[inline]
    fn key(&self) -> (u32, u32) {
        (self.seg, self.row)
    }
}

/// Kills sorted by segment, then row; at most one per row. A
/// [`SortedRun`]: a version's copy is the shared base and a short tail.
#[derive(Clone, Debug, Default)]
pub(crate) struct Kills(SortedRun<Kill>);

/// `kills`, sorted, grouped by segment: each segment's killed rows
/// (ascending) with their ends.
fn by_segment<'a>(kills: impl Iterator<Item = &'a Kill>) -> Vec<(u32, Vec<(u32, i64)>)> {
    let mut out: Vec<(u32, Vec<(u32, i64)>)> = Vec::new();
    for k in kills {
        match out.last_mut() {
            Some((s, rows)) if *s == k.seg => rows.push((k.row, k.end)),
            _ => out.push((k.seg, vec![(k.row, k.end)])),
        }
    }
    out
}

/// The kills of one segment, by row, in the run's two layers.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SegKills<'a>([&'a [Kill]; 2]);

impl<'a> SegKills<'a> {
    /// Kills given as one sorted slice.
    #[cfg(test)]
    pub(crate) fn of_slice(kills: &'a [Kill]) -> Self {
        SegKills([kills, &[]])
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.0[0].is_empty() && self.0[1].is_empty()
    }

    #[inline]
    fn parts(&self) -> [&'a [Kill]; 2] {
        self.0
    }

    /// Every kill, in no particular order across the layers.
    #[inline]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a Kill> + use<'a> {
        self.0[0].iter().chain(self.0[1])
    }

    /// The killed rows, ascending.
    pub(crate) fn rows(&self) -> impl Iterator<Item = u32> + use<'a> {
        merge_by_key(self.0[0].iter().map(|k| k.row), self.0[1].iter().map(|k| k.row), |&r| r)
    }

    /// Kills with `row` in `range`.
    #[inline]
    fn count_in(&self, range: &std::ops::Range<u32>) -> usize {
        self.0
            .iter()
            .map(|part| {
                let at = |r: u32| part.partition_point(|k| k.row < r);
                at(range.end) - at(range.start)
            })
            .sum()
    }
}

impl Kills {
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The kills in segment `seg`, by row.
    #[inline]
    pub(crate) fn of(&self, seg: u32) -> SegKills<'_> {
        if self.0.is_empty() {
            return SegKills::default();
        }
        SegKills(self.0.parts().map(|part| {
            let lo = part.partition_point(|k| k.seg < seg);
            let hi = lo + part[lo..].partition_point(|k| k.seg == seg);
            &part[lo..hi]
        }))
    }

    #[inline]
    pub(crate) fn contains(&self, seg: u32, row: u32) -> bool {
        !self.0.is_empty() && self.0.find((seg, row)).is_some()
    }

    /// Adds `kill`; `false` if its row was killed already (the tests'
    /// checked form of [`Kills::insert_new`]).
    #[cfg(test)]
    pub(crate) fn insert(&mut self, kill: Kill) -> bool {
        self.0.insert(kill)
    }

    /// Adds `kill` of a row not killed yet (a row a write found alive).
    pub(crate) fn insert_new(&mut self, kill: Kill) {
        self.0.insert_new(kill);
    }

    /// Makes this a copy of `other`, in the memory this holds.
    pub(crate) fn copy_from(&mut self, other: &Kills) {
        self.0.copy_from(&other.0);
    }

    /// Renumbers the kills' segments after the segment list changed: `to`
    /// gives a segment's new number, or `None` for a segment gone (merged
    /// away, its kills in the merge's output already, or dropped).
    pub(crate) fn renumber(&mut self, to: impl Fn(u32) -> Option<u32>) {
        self.0.retain_mut(|k| match to(k.seg) {
            Some(s) => {
                k.seg = s;
                true
            }
            None => false,
        });
    }

    /// Drops the kills of each segment `seg` of `moved` whose rows are in
    /// its `rows` (sorted): they are in its tombstones now. One pass over
    /// the kills in order, a cursor per segment walking its rows beside
    /// them (a pass per segment, each sorting the kills again, took the
    /// writer over 10 µs in about half of these installs at 10M windows).
    pub(crate) fn forget(&mut self, moved: &[(u32, impl AsRef<[u32]>)]) {
        if moved.is_empty() {
            return;
        }
        // Each layer of the run comes in (segment, row) order: a cursor
        // starts again where a layer does (its row goes back).
        let mut at = vec![(0usize, 0u32); moved.len()];
        self.0.retain(|k| {
            let Some(m) = moved.iter().position(|&(seg, _)| seg == k.seg) else { return true };
            let (rows, (next, last)) = (moved[m].1.as_ref(), &mut at[m]);
            if k.row < *last {
                *next = 0;
            }
            *last = k.row;
            while rows.get(*next).is_some_and(|&r| r < k.row) {
                *next += 1;
            }
            rows.get(*next) != Some(&k.row)
        });
    }

    /// The segments with kills, each with its killed rows (ascending) and
    /// their ends.
    pub(crate) fn by_segment(&self) -> Vec<(u32, Vec<(u32, i64)>)> {
        by_segment(self.0.sorted())
    }

    /// Takes every kill, leaving none, grouped as [`Kills::by_segment`]
    /// groups them.
    pub(crate) fn take_by_segment(&mut self) -> Vec<(u32, Vec<(u32, i64)>)> {
        by_segment(self.0.take_sorted().iter())
    }

    /// Bytes this copy holds that `other` does not share.
    pub(crate) fn bytes_beside(&self, other: &Kills) -> usize {
        self.0.bytes_beside(&other.0)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }

    /// Checks the order, and that every kill names a live row of a segment
    /// among `segments` with the row's times.
    pub(crate) fn check_invariants<I: crate::WindowId>(&self, segments: &[Segment<I>]) -> Result<(), String> {
        self.0.check_invariants().map_err(|e| format!("kills: {e}"))?;
        for k in self.0.sorted() {
            let Some(seg) = segments.get(k.seg as usize) else {
                return Err(format!("a kill names segment {} of {}", k.seg, segments.len()));
            };
            match seg.rows.get(k.row as usize) {
                Some(row) if !seg.is_dead(k.row) && row.start == k.start && row.end == k.end => {}
                _ => return Err(format!("the kill of row {} of segment {} is stale", k.row, k.seg)),
            }
        }
        Ok(())
    }
}

/// The kills of each segment, found by the segment's serial number rather
/// than its place in the list, which a change of the segment list moves.
#[derive(Debug, Default)]
pub(crate) struct PendingKills<'a> {
    by_serial: rustc_hash::FxHashMap<u64, SegKills<'a>>,
}

impl<'a> PendingKills<'a> {
    /// `kills`, whose segment `s` has the serial number `serials[s]`.
    pub(crate) fn new(kills: &'a Kills, serials: &[u64]) -> Self {
        let mut by_serial = rustc_hash::FxHashMap::default();
        if !kills.is_empty() {
            for (s, &serial) in serials.iter().enumerate() {
                let mine = kills.of(super::row32(s));
                if !mine.is_empty() {
                    by_serial.insert(serial, mine);
                }
            }
        }
        PendingKills { by_serial }
    }

    /// The kills of `seg`.
    pub(crate) fn of<I: crate::WindowId>(&self, seg: &Segment<I>) -> SegKills<'a> {
        self.by_serial.get(&seg.serial()).copied().unwrap_or_default()
    }
}

/// A segment as a query sees it: its data, its tombstones, and its kills.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LiveSegment<'a, I> {
    seg: &'a Segment<I>,
    kills: SegKills<'a>,
}

impl<I> Deref for LiveSegment<'_, I> {
    type Target = SegmentData<I>;

    #[inline]
    fn deref(&self) -> &SegmentData<I> {
        self.seg
    }
}

impl<'a, I: crate::WindowId> LiveSegment<'a, I> {
    #[inline]
    pub(crate) fn new(seg: &'a Segment<I>, kills: SegKills<'a>) -> Self {
        LiveSegment { seg, kills }
    }

    /// Starts loading the tombstones of the rows of `batch` (row numbers
    /// first), if the segment has any: see [`Segment::prefetch_dead`].
    #[inline]
    pub(crate) fn prefetch_dead(&self, batch: &[(u32, u32)]) {
        if self.seg.has_dead() {
            batch.iter().for_each(|&(n, _)| self.seg.prefetch_dead(n));
        }
    }

    /// Whether any row is dead.
    #[inline]
    pub(crate) fn has_dead(&self) -> bool {
        self.seg.has_dead() || !self.kills.is_empty()
    }

    #[inline]
    pub(crate) fn is_dead(&self, r: u32) -> bool {
        self.seg.is_dead(r)
            || (!self.kills.is_empty()
                && self.kills.parts().iter().any(|p| p.binary_search_by(|k| k.row.cmp(&r)).is_ok()))
    }

    /// A reader of the dead bits of blocks of 64 rows, fastest when blocks
    /// are visited in ascending order.
    #[inline]
    pub(crate) fn dead_words(&self) -> DeadWords<'a> {
        DeadWords { tombstones: self.seg.dead_words(), kills: self.kills.parts(), at: [0; 2] }
    }

    /// [`Segment::rank_positions`]: rows dead or alive.
    #[inline]
    pub(crate) fn rank_positions<const S: usize, const E: usize>(
        &self,
        starts_below: [i64; S],
        ends_at_most: [i64; E],
    ) -> ([usize; S], [usize; E]) {
        self.seg.rank_positions(starts_below, ends_at_most)
    }

    /// Dead rows in `range`: tombstones and kills.
    #[inline]
    pub(crate) fn dead_in(&self, range: std::ops::Range<u32>) -> u64 {
        let killed = if self.kills.is_empty() { 0 } else { self.kills.count_in(&range) };
        self.seg.dead_count_in(range) + killed as u64
    }

    /// The dead rows, ascending.
    pub(crate) fn dead_rows(&self) -> impl Iterator<Item = u32> + '_ {
        merge_by_key(self.seg.dead_rows().iter(), self.kills.rows(), |&r| r)
    }

    /// [`Segment::live_ranks`] less the kills: a killed row counts where its
    /// start is below a bound, or its end at most one.
    ///
    /// A layer of kills is in row order, so within each tier in order of
    /// start: those started below a bound are a prefix (a binary search),
    /// and of those that ended by a bound only the ones that started within
    /// the tier's spread of lengths before it need their end read (started
    /// `max_len` or more before, a row has ended; less than `min_len`
    /// before, it has not). A count used to read every kill of the segment,
    /// up to 1,024 under sustained moves.
    #[inline]
    pub(crate) fn live_ranks<const S: usize, const E: usize>(
        &self,
        starts_below: [i64; S],
        ends_at_most: [i64; E],
    ) -> ([u64; S], [u64; E]) {
        let (mut starts, mut ends) = self.seg.live_ranks(starts_below, ends_at_most);
        for layer in self.kills.parts() {
            if layer.len() <= FEW_KILLS {
                for k in layer {
                    for (n, &t) in starts.iter_mut().zip(&starts_below) {
                        *n -= u64::from(k.start < t);
                    }
                    for (n, &t) in ends.iter_mut().zip(&ends_at_most) {
                        *n -= u64::from(k.end <= t);
                    }
                }
                continue;
            }
            for tier in &self.seg.tiers {
                let from = layer.partition_point(|k| k.row < tier.lo);
                let kills = &layer[from..from + layer[from..].partition_point(|k| k.row < tier.hi)];
                if kills.is_empty() {
                    continue;
                }
                for (n, &t) in starts.iter_mut().zip(&starts_below) {
                    *n -= kills.partition_point(|k| k.start < t) as u64;
                }
                for (n, &t) in ends.iter_mut().zip(&ends_at_most) {
                    let ended = kills.partition_point(|k| k.start <= t.saturating_sub(tier.max_len));
                    let unsure = kills.partition_point(|k| k.start <= t.saturating_sub(tier.min_len));
                    let band = kills[ended..unsure.max(ended)].iter().filter(|k| k.end <= t).count();
                    *n -= (ended + band) as u64;
                }
            }
        }
        (starts, ends)
    }
}

/// Kills of a layer up to which a count reads each one: at 1M rows a
/// count less 100 kills took as long either way, less 1,000 kills 757 ns
/// read one by one and 433 searched by tier (247 with none).
const FEW_KILLS: usize = 128;

/// The dead bits of blocks: tombstones and kills.
pub(crate) struct DeadWords<'a> {
    tombstones: WordCursor<'a>,
    kills: [&'a [Kill]; 2],
    /// In each layer, the first kill not below the last block asked for.
    at: [usize; 2],
}

impl DeadWords<'_> {
    /// The dead bits of rows `64 * w .. 64 * w + 64`.
    #[inline]
    pub(crate) fn get(&mut self, w: usize) -> u64 {
        let mut bits = self.tombstones.get(w);
        let first = (w * 64) as u64;
        for (kills, at) in self.kills.iter().zip(&mut self.at) {
            if kills.is_empty() {
                continue;
            }
            if *at > 0 && u64::from(kills[*at - 1].row) >= first {
                *at = kills.partition_point(|k| u64::from(k.row) < first);
            } else if kills.get(*at).is_some_and(|k| u64::from(k.row) < first) {
                // Past kills below this block by a search, not one by one:
                // a scan starts mid-segment, beyond most of them (a page
                // of a time range at 10M windows read 0.2-0.3 us more with
                // 400 kills pending than with none, walking them).
                *at += kills[*at..].partition_point(|k| u64::from(k.row) < first);
            }
            while let Some(k) = kills.get(*at) {
                let r = u64::from(k.row);
                if r >= first + 64 {
                    break;
                }
                if r >= first {
                    bits |= 1 << (r - first);
                }
                *at += 1;
            }
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{NONE, Place, PlacesView};
    use crate::segment::Row;

    /// A segment of `rows`, all at one placement, with every `step`-th row
    /// dead in its tombstones.
    fn segment_with_tombstones(rows: Vec<Row<u64>>, step: usize) -> Segment<u64> {
        let n = rows.len() as u32;
        let places = [Place { charger: NONE, site: NONE, org: 0 }];
        let mut seg = Segment::build(rows, &PlacesView::of(&places));
        for r in (0..n).step_by(step) {
            seg.kill(r);
        }
        seg
    }

    /// Counts less many kills (searched by tier, not read one by one) equal
    /// a scan of the live rows at every kill's start and end and either
    /// side, with lengths spread across each tier so that bounds fall where
    /// a kill's end must be read.
    #[test]
    fn counts_less_many_kills_equal_a_scan_at_every_kills_times() {
        const MIN: i64 = 60_000_000;
        // Spreads within tiers of up to 8 hours, 7 days and beyond.
        let spreads = [(MIN, 8 * 60 * MIN), (9 * 60 * MIN, 7 * 24 * 60 * MIN), (8 * 24 * 60 * MIN, 90 * 24 * 60 * MIN)];
        let rows: Vec<Row<u64>> = (0..3_000u64)
            .map(|i| {
                let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let (lo, hi) = spreads[(x % 3) as usize];
                let start = ((x >> 8) % (400 * 24 * 60)) as i64 * MIN;
                let len = lo + ((x >> 32) as i64).rem_euclid(hi - lo + 1);
                Row { start, end: start + len, id: i, place: 0, slot: i as u32 }
            })
            .collect();
        let seg = segment_with_tombstones(rows, 11);
        // Kills in a base and a tail (every 32 inserts the tail merges).
        let mut kills = Kills::default();
        for r in (0..3_000u32).filter(|r| r % 11 != 0 && r % 4 == 1).take(300) {
            let row = seg.row(r);
            assert!(kills.insert(Kill { seg: 0, row: r, start: row.start, end: row.end }));
        }
        let [base, tail] = kills.of(0).parts();
        assert!(base.len() > FEW_KILLS && !tail.is_empty(), "both layers, the base past the short path");
        let live = LiveSegment::new(&seg, kills.of(0));
        let alive: Vec<Row<u64>> = (0..3_000u32).filter(|&r| !live.is_dead(r)).map(|r| seg.row(r)).collect();
        let times = kills.0.sorted().flat_map(|k| [k.start, k.end]).flat_map(|t| [t - 1, t, t + 1]);
        for t in times.chain([i64::MIN, i64::MAX]) {
            let (starts, ends) = live.live_ranks([t], [t]);
            let s = alive.iter().filter(|r| r.start < t).count() as u64;
            let e = alive.iter().filter(|r| r.end <= t).count() as u64;
            assert_eq!((starts, ends), ([s], [e]), "ranks at {t}");
        }
    }

    #[test]
    fn forgetting_moved_kills_keeps_every_other_kill_in_order() {
        let kill = |seg: u32, row: u32| Kill { seg, row, start: i64::from(row), end: i64::from(row) + 5 };
        for seed in 0..20u32 {
            let mut kills = Kills::default();
            let mut model = std::collections::BTreeSet::new();
            // Enough kills for a base and a tail (a run merges its tail of
            // 32 into the base), over four segments.
            for i in 0..(100 + seed * 7) {
                let (seg, row) = (i * 7 % 4, (i * 7_919 + seed * 13) % 997);
                assert_eq!(kills.insert(kill(seg, row)), model.insert((seg, row)));
            }
            // Some rows of segments 1 and 3 moved, some not killed at all.
            let moved_rows = |seg: u32| -> Vec<u32> {
                (0..997).filter(|r| (r + seed) % 3 == 0 && (r % 2 == 0 || model.contains(&(seg, *r)))).collect()
            };
            let (one, three) = (moved_rows(1), moved_rows(3));
            kills.forget(&[(3, &three), (1, &one)]);
            model.retain(|&(seg, row)| match seg {
                1 => one.binary_search(&row).is_err(),
                3 => three.binary_search(&row).is_err(),
                _ => true,
            });
            kills.0.check_invariants().unwrap();
            let got: Vec<(u32, u32)> = kills.0.sorted().map(|k| (k.seg, k.row)).collect();
            assert_eq!(got, model.iter().copied().collect::<Vec<_>>(), "seed {seed}");
        }
    }

    #[test]
    fn a_live_segment_sees_tombstones_and_kills_together() {
        let rows: Vec<Row<u64>> = (0..1_000u32)
            .map(|i| {
                let start = i64::from(i % 37) * 100;
                Row { start, end: start + 50 + i64::from(i % 3) * 400, id: u64::from(i), place: 0, slot: i }
            })
            .collect();
        let seg = segment_with_tombstones(rows, 7);
        let mut kills = Kills::default();
        for r in (0..1_000u32).step_by(5).filter(|r| r % 7 != 0) {
            let row = seg.row(r);
            assert!(kills.insert(Kill { seg: 0, row: r, start: row.start, end: row.end }));
            assert!(!kills.insert(Kill { seg: 0, row: r, start: row.start, end: row.end }));
        }
        kills.check_invariants(std::slice::from_ref(&seg)).unwrap();
        let live = LiveSegment::new(&seg, kills.of(0));
        let dead: Vec<u32> = (0..1_000).filter(|r| r % 7 == 0 || r % 5 == 0).collect();
        assert_eq!(live.dead_rows().collect::<Vec<_>>(), dead);
        assert!((0..1_000).all(|r| live.is_dead(r) == dead.contains(&r)));
        let mut words = live.dead_words();
        for w in [0usize, 1, 2, 5, 3, 15, 0] {
            let want = (0..64u32).filter(|b| dead.contains(&(w as u32 * 64 + b))).fold(0u64, |m, b| m | 1 << b);
            assert_eq!(words.get(w), want, "word {w}");
        }
        for t in [0i64, 150, 1_800, 3_700, 10_000] {
            let (starts, ends) = live.live_ranks([t], [t]);
            let alive = (0..1_000u32).filter(|r| !dead.contains(r)).map(|r| seg.row(r));
            let (s, e) = alive.fold((0, 0), |(s, e), row| (s + u64::from(row.start < t), e + u64::from(row.end <= t)));
            assert_eq!((starts, ends), ([s], [e]), "ranks at {t}");
        }
        assert!(kills.of(1).is_empty());
    }
}
