//! A segment's ends, sorted, with a radix directory: `#(end <= t)` is one
//! search, and a dead row's end finds a position of its own in them (see
//! [`Tombstones`](super::tombstones::Tombstones)).

use super::directory::Directory;
use crate::memory::{Column, SharedBytes};

/// Every row's end, ascending.
#[derive(Clone, Debug, Default, rkyv::Archive, rkyv::Serialize)]
pub(crate) struct SortedEnds {
    values: Column<i64>,
    dir: Directory,
}

impl SortedEnds {
    /// The column of `values`, which must be sorted ascending.
    pub(crate) fn new(values: Vec<i64>) -> Self {
        debug_assert!(values.is_sorted(), "ends must be sorted");
        let dir = Directory::build(0, values.len(), |i| values[i]);
        SortedEnds { values: values.into(), dir }
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The end at position `k`.
    #[inline]
    pub(crate) fn get(&self, k: usize) -> Option<i64> {
        self.values.get(k).copied()
    }

    /// The end at position `k`, which must exist (inside searches).
    #[inline]
    pub(crate) fn at(&self, k: usize) -> i64 {
        self.values[k]
    }

    /// Positions bracketing the partition points of `end <= t` and
    /// `end < t` (see [`Directory::bracket`]).
    #[inline]
    pub(crate) fn bracket(&self, t: i64) -> (usize, usize) {
        self.dir.bracket(t)
    }

    /// For each of `ends` (ascending), the first position holding a value
    /// at least it, with the end; the searches advance in lockstep.
    pub(crate) fn first_positions(&self, ends: &[i64]) -> Vec<(usize, usize, i64)> {
        self.dir.partition_points_of(ends.iter().copied(), |e| e, |end, mid| self.values[mid] < end)
    }

    /// The column read back from a snapshot, checked to hold `len` ends in
    /// order under a directory over all of them.
    /// Both are read in place if they lie in `owner`'s bytes.
    pub(crate) fn from_archived(
        a: &ArchivedSortedEnds,
        len: usize,
        owner: Option<&SharedBytes>,
    ) -> Result<Self, String> {
        if a.values.len() != len {
            return Err(format!("{} sorted ends for {len} rows", a.values.len()));
        }
        let values = Column::of_archived(&a.values, owner);
        if !values.is_sorted() {
            return Err("sorted ends out of order".into());
        }
        let dir = Directory::from_archived(&a.dir, (0, len), owner)?;
        Ok(SortedEnds { values, dir })
    }

    /// The column in memory of its own (see [`Column::owned`]).
    pub(crate) fn owned(&self) -> Self {
        SortedEnds { values: self.values.owned(), dir: self.dir.owned() }
    }

    /// Whether the values lie in shared bytes (a snapshot read in place).
    pub(crate) fn is_shared(&self) -> bool {
        self.values.is_shared()
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.values.bytes() + self.dir.heap_bytes()
    }

    /// Checks that the column holds exactly `ends` (in any order) and that
    /// its directory is current.
    pub(crate) fn check_invariants(&self, ends: impl Iterator<Item = i64>) -> Result<(), String> {
        let mut want: Vec<i64> = ends.collect();
        want.sort_unstable();
        if want[..] != self.values[..] {
            return Err("the sorted ends are not the rows' ends".into());
        }
        if self.dir != Directory::build(0, self.values.len(), |i| self.values[i]) {
            return Err("the sorted ends' directory is stale".into());
        }
        Ok(())
    }
}
