//! The write buffer: a small sorted run of recent rows in front of the
//! segments, built into a segment when full. Each version of the index holds
//! a copy: a [`SortedRun`], so the copy is the shared base's `Arc` and a
//! tail of at most [`TAIL`](super::sorted_run::TAIL) rows.

use super::row::Row;
use super::sorted_run::{RunKey, SortedRun};
use crate::WindowId;

impl<I: WindowId> RunKey for Row<I> {
    type Key = (i64, I);

    #[inline]
    fn key(&self) -> (i64, I) {
        (self.start, self.id)
    }
}

/// Recent windows, sorted by `(start, id)` in each of the run's two layers.
/// Small by construction (the store's flush threshold), so a query scans
/// the rows whose starts can match (bounded by the longest row's length).
/// Rows are numbered as the run numbers them (base, then tail).
#[derive(Clone, Debug)]
pub(crate) struct WriteBuffer<I> {
    rows: SortedRun<Row<I>>,
    /// At least the longest row's length (the longest since the buffer was
    /// last emptied): a window that ends after `t` starts after
    /// `t - max_len`, so a scan skips every row starting before that.
    pub(crate) max_len: i64,
}

impl<I> Default for WriteBuffer<I> {
    fn default() -> Self {
        WriteBuffer { rows: SortedRun::default(), max_len: 0 }
    }
}

impl<I: WindowId> WriteBuffer<I> {
    /// A buffer of `rows`, sorted by `(start, id)` (a sealed buffer).
    pub(crate) fn of_sorted(rows: Vec<Row<I>>) -> Self {
        let max_len = rows.iter().map(|r| r.end.saturating_sub(r.start)).max().unwrap_or(0);
        WriteBuffer { rows: SortedRun::of_sorted(rows), max_len }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The rows in two sorted layers; the second's rows are numbered after
    /// the first's.
    #[inline]
    pub(crate) fn parts(&self) -> [&[Row<I>]; 2] {
        self.rows.parts()
    }

    /// Row number `i`.
    #[inline]
    pub(crate) fn row(&self, i: usize) -> &Row<I> {
        self.rows.get(i).expect("a buffered row's number is below the buffer's length")
    }

    /// The number of the row of `id`, if the buffer holds it.
    #[inline]
    pub(crate) fn position(&self, id: I) -> Option<usize> {
        self.rows.numbered().find(|(_, r)| r.id == id).map(|(i, _)| i)
    }

    /// The number of the row with key `(start, id)`.
    #[inline]
    pub(crate) fn find(&self, key: (i64, I)) -> Option<usize> {
        self.rows.find(key)
    }

    /// Every row, in `(start, id)` order.
    pub(crate) fn sorted(&self) -> impl Iterator<Item = &Row<I>> {
        self.rows.sorted()
    }

    /// Every row with its number.
    pub(crate) fn numbered(&self) -> impl Iterator<Item = (usize, &Row<I>)> {
        self.rows.numbered()
    }

    /// Adds `row`, whose id the buffer does not hold.
    pub(crate) fn insert(&mut self, row: Row<I>) {
        let fresh = self.rows.insert(row);
        debug_assert!(fresh, "window {} buffered twice", row.id);
        self.max_len = self.max_len.max(row.end.saturating_sub(row.start));
    }

    pub(crate) fn remove(&mut self, at: usize) -> Row<I> {
        self.rows.remove(at)
    }

    /// Every row, sorted, leaving the buffer empty.
    pub(crate) fn take(&mut self) -> Vec<Row<I>> {
        self.max_len = 0;
        self.rows.take_sorted()
    }

    /// Makes this a copy of `other` in the memory this holds.
    pub(crate) fn copy_from(&mut self, other: &WriteBuffer<I>) {
        self.rows.copy_from(&other.rows);
        self.max_len = other.max_len;
    }

    /// Bytes this copy holds that `other` does not share.
    pub(crate) fn bytes_beside(&self, other: &WriteBuffer<I>) -> usize {
        self.rows.bytes_beside(&other.rows)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.rows.heap_bytes()
    }

    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.rows.check_invariants().map_err(|e| format!("write buffer: {e}"))?;
        if let Some((_, r)) = self.rows.numbered().find(|(_, r)| r.end <= r.start) {
            return Err(format!("write buffer row {:?} has end <= start", r.id));
        }
        if let Some((_, r)) = self.rows.numbered().find(|(_, r)| r.end - r.start > self.max_len) {
            return Err(format!("write buffer row {:?} is longer than the recorded longest", r.id));
        }
        Ok(())
    }
}
