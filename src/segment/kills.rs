//! Kills: rows of segments deleted since the segment list was last
//! replaced, kept apart from the segments' tombstones.
//!
//! A version of the index is published after every write, and must cost
//! little to make. Setting a tombstone would change a segment, and with it
//! the segment list every version shares; a kill is instead an entry in a
//! sorted list. The list is two: a base shared between versions behind an
//! `Arc`, and the few kills since it was made ([`RECENT`] at most), which
//! each version copies (under a kilobyte). When the recent kills fill, they
//! are merged into a new base (a copy of the list every [`RECENT`] kills,
//! not one per write). When the writer next replaces the segment list (a
//! flush of the write buffer, a merge), the kills follow their segments,
//! and later move into the tombstones. Queries see a segment through
//! [`LiveSegment`]: its tombstones and its kills together.

use std::ops::Deref;
use std::sync::Arc;

use super::chunked_bits::WordCursor;
use super::{Segment, SegmentData};

/// Kills a version copies before they are merged into the shared base, at
/// most (fewer with a small write buffer: [`Kills::new`]).
pub(crate) const RECENT: usize = 32;

/// Row `row` of segment `seg` died; its times are kept so counts need not
/// read the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Kill {
    pub(crate) seg: u32,
    pub(crate) row: u32,
    pub(crate) start: i64,
    pub(crate) end: i64,
}

/// Kills sorted by segment, then row; at most one per row: a shared base
/// and the recent ones, each sorted, no row in both.
#[derive(Clone, Debug)]
pub(crate) struct Kills {
    base: Arc<Vec<Kill>>,
    recent: Vec<Kill>,
    /// Recent kills that make a merge into the base.
    cap: usize,
}

impl Default for Kills {
    fn default() -> Self {
        Kills::new(usize::MAX)
    }
}

/// The kills of one segment: those of the base and the recent ones, each
/// sorted by row.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KillsOf<'a> {
    base: &'a [Kill],
    recent: &'a [Kill],
}

impl<'a> KillsOf<'a> {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.base.is_empty() && self.recent.is_empty()
    }

    /// Every kill, base first (each part sorted, not the whole).
    #[inline]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a Kill> + 'a {
        self.base.iter().chain(self.recent)
    }

    #[inline]
    fn contains(&self, r: u32) -> bool {
        let has = |part: &[Kill]| !part.is_empty() && part.binary_search_by(|k| k.row.cmp(&r)).is_ok();
        has(self.base) || has(self.recent)
    }

    /// The killed rows, ascending.
    fn rows(&self) -> Vec<u32> {
        let mut rows: Vec<u32> = self.iter().map(|k| k.row).collect();
        rows.sort_unstable();
        rows
    }
}

/// The kills of segment `seg` in one sorted part.
#[inline]
fn part_of(part: &[Kill], seg: u32) -> &[Kill] {
    if part.is_empty() {
        return &[];
    }
    let lo = part.partition_point(|k| k.seg < seg);
    let hi = lo + part[lo..].partition_point(|k| k.seg == seg);
    &part[lo..hi]
}

fn find(part: &[Kill], seg: u32, row: u32) -> Result<usize, usize> {
    part.binary_search_by(|k| (k.seg, k.row).cmp(&(seg, row)))
}

impl Kills {
    /// No kills, for an index whose write buffer holds `write_buffer`
    /// windows: an eighth of it are merged into the base at a time (so
    /// that the base is reached in tests with small buffers too), at most
    /// [`RECENT`].
    pub(crate) fn new(write_buffer: usize) -> Self {
        Kills { base: Arc::default(), recent: Vec::new(), cap: (write_buffer / 8).clamp(2, RECENT) }
    }

    pub(crate) fn len(&self) -> usize {
        self.base.len() + self.recent.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.base.is_empty() && self.recent.is_empty()
    }

    /// The kills in segment `seg`, by row.
    #[inline]
    pub(crate) fn of(&self, seg: u32) -> KillsOf<'_> {
        KillsOf { base: part_of(&self.base, seg), recent: part_of(&self.recent, seg) }
    }

    #[inline]
    pub(crate) fn contains(&self, seg: u32, row: u32) -> bool {
        (!self.base.is_empty() && find(&self.base, seg, row).is_ok())
            || (!self.recent.is_empty() && find(&self.recent, seg, row).is_ok())
    }

    /// Adds `kill`; `false` if its row was killed already.
    pub(crate) fn insert(&mut self, kill: Kill) -> bool {
        if find(&self.base, kill.seg, kill.row).is_ok() {
            return false;
        }
        match find(&self.recent, kill.seg, kill.row) {
            Ok(_) => return false,
            Err(at) => self.recent.insert(at, kill),
        }
        if self.recent.len() >= self.cap {
            self.merge_recent();
        }
        true
    }

    /// Merges the recent kills into a new base.
    fn merge_recent(&mut self) {
        let mut merged = Vec::with_capacity(self.len());
        let (a, b) = (&self.base[..], &self.recent[..]);
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if (a[i].seg, a[i].row) < (b[j].seg, b[j].row) {
                merged.push(a[i]);
                i += 1;
            } else {
                merged.push(b[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&a[i..]);
        merged.extend_from_slice(&b[j..]);
        self.base = Arc::new(merged);
        self.recent.clear();
    }

    /// The whole list, sorted and unshared, for the changes below.
    fn whole(&mut self) -> &mut Vec<Kill> {
        if !self.recent.is_empty() {
            self.merge_recent();
        }
        Arc::make_mut(&mut self.base)
    }

    /// Makes this a copy of `other`, in the memory this holds: the base is
    /// shared, the recent kills copied.
    pub(crate) fn copy_from(&mut self, other: &Kills) {
        self.base = Arc::clone(&other.base);
        self.cap = other.cap;
        self.recent.clear();
        self.recent.reserve(other.cap);
        self.recent.extend_from_slice(&other.recent);
    }

    /// Renumbers the kills' segments after the segment list changed: `to`
    /// gives a segment's new number, or `None` for a segment gone (merged
    /// away, its kills in the merge's output already, or dropped).
    pub(crate) fn renumber(&mut self, to: impl Fn(u32) -> Option<u32>) {
        let all = self.whole();
        all.retain_mut(|k| match to(k.seg) {
            Some(s) => {
                k.seg = s;
                true
            }
            None => false,
        });
        all.sort_unstable_by_key(|k| (k.seg, k.row));
    }

    /// Drops the kills of segment `seg` whose rows are in `rows` (sorted):
    /// they are in its tombstones now.
    pub(crate) fn forget(&mut self, seg: u32, rows: &[u32]) {
        self.whole().retain(|k| k.seg != seg || rows.binary_search(&k.row).is_err());
    }

    /// The segments with kills, each with its killed rows (ascending).
    pub(crate) fn by_segment(&self) -> Vec<(u32, Vec<u32>)> {
        let mut all: Vec<(u32, u32)> = self.base.iter().chain(&self.recent).map(|k| (k.seg, k.row)).collect();
        all.sort_unstable();
        let mut out: Vec<(u32, Vec<u32>)> = Vec::new();
        for (seg, row) in all {
            match out.last_mut() {
                Some((s, rows)) if *s == seg => rows.push(row),
                _ => out.push((seg, vec![row])),
            }
        }
        out
    }

    /// The whole list, sorted, for [`PendingKills`]: merges the recent
    /// kills into the base first.
    pub(crate) fn sorted(&mut self) -> &[Kill] {
        self.whole()
    }

    /// Takes every kill, leaving none.
    pub(crate) fn take(&mut self) -> Vec<Kill> {
        std::mem::take(self.whole())
    }

    /// Bytes this holds: the recent kills, and the base (shared between
    /// versions, so counted by each).
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.base.capacity() + self.recent.capacity()) * size_of::<Kill>()
    }

    /// Checks the order, and that every kill names a live row of a segment
    /// among `segments` with the row's times.
    pub(crate) fn check_invariants<I: crate::WindowId>(&self, segments: &[Segment<I>]) -> Result<(), String> {
        for part in [&self.base[..], &self.recent[..]] {
            if !part.windows(2).all(|w| (w[0].seg, w[0].row) < (w[1].seg, w[1].row)) {
                return Err("kills are not sorted by segment and row, or repeat one".into());
            }
        }
        if self.recent.len() >= self.cap {
            return Err(format!("{} recent kills, at most {} before a merge", self.recent.len(), self.cap - 1));
        }
        if let Some(k) = self.recent.iter().find(|k| find(&self.base, k.seg, k.row).is_ok()) {
            return Err(format!("row {} of segment {} killed twice", k.row, k.seg));
        }
        for k in self.base.iter().chain(&self.recent) {
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

/// The kills of each segment, found by the segment's data (its address)
/// rather than its number, which a change of the segment list moves.
#[derive(Debug, Default)]
pub(crate) struct PendingKills<'a> {
    by_data: rustc_hash::FxHashMap<usize, &'a [Kill]>,
}

impl<'a> PendingKills<'a> {
    /// `kills` (sorted by segment), whose segment `s` has its data at
    /// `data[s]`.
    pub(crate) fn new(kills: &'a [Kill], data: &[usize]) -> Self {
        let mut by_data = rustc_hash::FxHashMap::default();
        let mut rest = kills;
        while let Some(first) = rest.first() {
            let n = rest.partition_point(|k| k.seg == first.seg);
            if let Some(&d) = data.get(first.seg as usize) {
                by_data.insert(d, &rest[..n]);
            }
            rest = &rest[n..];
        }
        PendingKills { by_data }
    }

    /// The kills of `seg`.
    pub(crate) fn of<I: crate::WindowId>(&self, seg: &Segment<I>) -> &'a [Kill] {
        self.by_data.get(&(Arc::as_ptr(seg.data()) as usize)).copied().unwrap_or(&[])
    }
}

/// A segment as a query sees it: its data, its tombstones, and its kills.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LiveSegment<'a, I> {
    seg: &'a Segment<I>,
    kills: KillsOf<'a>,
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
    pub(crate) fn new(seg: &'a Segment<I>, kills: KillsOf<'a>) -> Self {
        LiveSegment { seg, kills }
    }

    /// Whether any row is dead.
    #[inline]
    pub(crate) fn has_dead(&self) -> bool {
        self.seg.has_dead() || !self.kills.is_empty()
    }

    #[inline]
    pub(crate) fn is_dead(&self, r: u32) -> bool {
        self.seg.is_dead(r) || (!self.kills.is_empty() && self.kills.contains(r))
    }

    /// A reader of the dead bits of blocks of 64 rows, fastest when blocks
    /// are visited in ascending order.
    #[inline]
    pub(crate) fn dead_words(&self) -> DeadWords<'a> {
        DeadWords { tombstones: self.seg.dead_words(), kills: [self.kills.base, self.kills.recent], at: [0, 0] }
    }

    /// The dead rows, ascending.
    pub(crate) fn dead_rows(&self) -> impl Iterator<Item = u32> + '_ {
        let mut tombs = self.seg.dead_rows().iter().peekable();
        let mut kills = self.kills.rows().into_iter().peekable();
        std::iter::from_fn(move || match (tombs.peek(), kills.peek()) {
            (Some(&t), Some(&k)) if t < k => tombs.next(),
            (_, Some(_)) => kills.next(),
            (Some(_), None) => tombs.next(),
            (None, None) => None,
        })
    }

    /// [`Segment::live_ranks`] less the kills: a killed row counts where its
    /// start is below a bound, or its end at most one.
    #[inline]
    pub(crate) fn live_ranks<const S: usize, const E: usize>(
        &self,
        starts_below: [i64; S],
        ends_at_most: [i64; E],
    ) -> ([u64; S], [u64; E]) {
        let (mut starts, mut ends) = self.seg.live_ranks(starts_below, ends_at_most);
        for k in self.kills.iter() {
            for (n, &t) in starts.iter_mut().zip(&starts_below) {
                *n -= u64::from(k.start < t);
            }
            for (n, &t) in ends.iter_mut().zip(&ends_at_most) {
                *n -= u64::from(k.end <= t);
            }
        }
        (starts, ends)
    }
}

/// The dead bits of blocks: tombstones and kills.
pub(crate) struct DeadWords<'a> {
    tombstones: WordCursor<'a>,
    /// The base and the recent kills.
    kills: [&'a [Kill]; 2],
    /// In each, the first kill not below the last block asked for.
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

    #[test]
    fn a_live_segment_sees_tombstones_and_kills_together() {
        let rows: Vec<Row<u64>> = (0..1_000u32)
            .map(|i| {
                let start = i64::from(i % 37) * 100;
                Row { start, end: start + 50 + i64::from(i % 3) * 400, id: u64::from(i), place: 0, slot: i }
            })
            .collect();
        let places = [Place { charger: NONE, site: NONE, org: 0 }];
        let mut seg = Segment::build(rows, &PlacesView::of(&places));
        for r in (0..1_000).step_by(7) {
            seg.kill(r);
        }
        let mut kills = Kills::default();
        for r in (0..1_000u32).step_by(5).filter(|r| r % 7 != 0) {
            let row = seg.row(r);
            assert!(kills.insert(Kill { seg: 0, row: r, start: row.start, end: row.end }));
            assert!(!kills.insert(Kill { seg: 0, row: r, start: row.start, end: row.end }));
        }
        kills.check_invariants(std::slice::from_ref(&seg)).unwrap();
        let live = LiveSegment::new(&seg, kills.of(0));
        assert!(!kills.recent.is_empty() && !kills.base.is_empty(), "the test must reach both parts");
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
