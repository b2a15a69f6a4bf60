//! Tombstones: which rows of a segment are dead. A delete marks its row here
//! and never touches the segment's shared data, so a merge reading the data
//! on another thread is never disturbed.

use super::chunked_bits::ChunkedBits;
use super::ends::SortedEnds;
use super::row::row32;

/// Dead rows' ends noted before they are placed in `by_end` at once.
const PENDING_ENDS: usize = 64;

/// Kills ahead of the one being made whose chunks are loaded meanwhile.
const PREFETCH_AHEAD: usize = 4;

/// The dead rows of one segment, and for counting by end, a distinct
/// position in the segment's sorted ends for each dead row. Both are
/// [`ChunkedBits`]: cheap to copy, and a copy keeps what it held while the
/// original goes on (what versions of the index will need).
#[derive(Clone, Debug)]
pub(crate) struct Tombstones {
    rows: ChunkedBits,
    /// For each dead row but the newest few, a distinct position in the
    /// sorted ends holding its end, so dead rows with `end <= t` are counted
    /// without visiting them.
    by_end: ChunkedBits,
    /// The ends of the newest dead rows, not yet placed in `by_end`: placing
    /// one costs a search of the sorted ends (a few dependent cache misses),
    /// so a delete only notes its end, and every [`PENDING_ENDS`] notes are
    /// placed together, their searches in lockstep. Sorted: a count read
    /// them all to find those `<= t`, a twelfth of its instructions.
    pending_ends: Vec<i64>,
}

impl Tombstones {
    /// No dead row among `rows`.
    pub(crate) fn new(rows: usize) -> Self {
        Tombstones { rows: ChunkedBits::new(rows), by_end: ChunkedBits::new(rows), pending_ends: Vec::new() }
    }

    /// How many rows are dead.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is dead (most large segments have none for a while).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.len() == 0
    }

    #[inline]
    pub(crate) fn contains(&self, r: u32) -> bool {
        self.rows.contains(r)
    }

    /// The dead rows.
    pub(crate) fn rows(&self) -> &ChunkedBits {
        &self.rows
    }

    /// Dead rows among `range`.
    #[inline]
    pub(crate) fn count_in(&self, range: std::ops::Range<u32>) -> u64 {
        self.rows.count_in(range)
    }

    /// Dead rows with `end <= t`, where `p` is the number of the segment's
    /// ends that are `<= t`.
    #[inline]
    pub(crate) fn count_ended(&self, p: u32, t: i64) -> u64 {
        let pending = self.pending_ends.partition_point(|&e| e <= t) as u64;
        self.by_end.rank(p) + pending
    }

    /// Loads what [`Tombstones::kill`] of row `r` reads and writes,
    /// returning something the caller folds away.
    pub(crate) fn warm(&self, r: u32) -> u64 {
        self.rows.word(r as usize / 64)
    }

    /// Marks row `r`, whose end is `end`, dead; `ends` are the segment's.
    pub(crate) fn kill(&mut self, r: u32, end: i64, ends: &SortedEnds) {
        let fresh = self.rows.insert(r);
        debug_assert!(fresh, "row {r} killed twice");
        // Kept sorted, so a count finds those `<= t` by a search.
        let at = self.pending_ends.partition_point(|&e| e <= end);
        self.pending_ends.insert(at, end);
        if self.pending_ends.len() >= PENDING_ENDS {
            self.place_pending_ends(ends);
        }
    }

    /// [`Tombstones::kill`] of each `(row, end)` of `killed`, loading the
    /// chunks the kills a few ahead change while these are made: in a
    /// large segment each kill's chunk is a cache miss, and a move of kills
    /// into the tombstones otherwise takes them one after another.
    pub(crate) fn kill_all(&mut self, killed: &[(u32, i64)], ends: &SortedEnds) {
        for (i, &(r, end)) in killed.iter().enumerate() {
            if let Some(&(ahead, _)) = killed.get(i + PREFETCH_AHEAD) {
                self.rows.prefetch(ahead);
            }
            self.kill(r, end, ends);
        }
    }

    /// Gives every pending dead end a position in `by_end`. The searches of
    /// the sorted ends advance in lockstep, one probe of each per round, so
    /// their cache misses overlap.
    fn place_pending_ends(&mut self, ends: &SortedEnds) {
        let mut pending = std::mem::take(&mut self.pending_ends);
        // Ascending, so equal ends come together and take consecutive
        // free positions of their run below.
        pending.sort_unstable();
        let placed = ends.first_positions(&pending);
        for (i, &(first, _, end)) in placed.iter().enumerate() {
            if let Some(&(ahead, _, _)) = placed.get(i + PREFETCH_AHEAD) {
                self.by_end.prefetch(row32(ahead));
            }
            let mut p = row32(first);
            // Equal ends share a run of positions; take the first one still free.
            while self.by_end.contains(p) {
                p += 1;
            }
            debug_assert_eq!(ends.get(p as usize), Some(end), "dead ends ran past the run of equal ends");
            self.by_end.insert(p);
        }
        pending.clear();
        self.pending_ends = pending;
    }

    /// Bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.rows.heap_bytes() + self.by_end.heap_bytes() + self.pending_ends.capacity() * 8
    }

    /// Checks both sets and that the dead rows' ends are exactly those at
    /// the positions taken (plus the pending ones), for a segment of `rows`
    /// rows whose row `r` ends at `end_of(r)`, with sorted ends `ends`.
    pub(crate) fn check_invariants(
        &self,
        rows: usize,
        end_of: impl Fn(u32) -> i64,
        ends: &SortedEnds,
    ) -> Result<(), String> {
        self.rows.check_invariants(rows)?;
        self.by_end.check_invariants(rows)?;
        if self.by_end.len() + self.pending_ends.len() != self.rows.len() {
            return Err("dead ends and pending ends disagree in number with the tombstones".into());
        }
        let mut dead_ends: Vec<i64> = self.rows.iter().map(end_of).collect();
        let mut by_end: Vec<i64> = self.by_end.iter().map(|p| ends.get(p as usize).unwrap_or(i64::MIN)).collect();
        by_end.extend_from_slice(&self.pending_ends);
        dead_ends.sort_unstable();
        by_end.sort_unstable();
        if dead_ends != by_end {
            return Err("dead ends' positions do not hold the dead rows' ends".into());
        }
        Ok(())
    }
}

/// Rows killed before the test checks that several batches were placed.
#[cfg(test)]
pub(crate) const PENDING_BATCH: usize = PENDING_ENDS;
