//! The write buffer: a small sorted run of recent rows in front of the
//! segments, built into a segment when full. Each version of the index holds
//! a copy (it is small: a few kilobytes).

use super::row::Row;
use crate::WindowId;

/// Recent windows, sorted by `(start, id)`. Small by construction (the
/// store's flush threshold), so a query scans the rows whose starts can
/// match (bounded by the longest row's length) and a write shifts at most
/// that many rows.
#[derive(Clone, Debug)]
pub(crate) struct WriteBuffer<I> {
    pub(crate) rows: Vec<Row<I>>,
    /// At least the longest row's length (the longest since the buffer was
    /// last emptied): a window that ends after `t` starts after
    /// `t - max_len`, so a scan skips every row starting before that.
    pub(crate) max_len: i64,
}

impl<I> Default for WriteBuffer<I> {
    fn default() -> Self {
        WriteBuffer { rows: Vec::new(), max_len: 0 }
    }
}

impl<I: WindowId> WriteBuffer<I> {
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Inserts `row` in order and returns where it went.
    pub(crate) fn insert(&mut self, row: Row<I>) -> usize {
        let at = self.rows.partition_point(|r| (r.start, r.id) < (row.start, row.id));
        self.rows.insert(at, row);
        self.max_len = self.max_len.max(row.end.saturating_sub(row.start));
        at
    }

    pub(crate) fn remove(&mut self, at: usize) -> Row<I> {
        self.rows.remove(at)
    }

    pub(crate) fn take(&mut self) -> Vec<Row<I>> {
        self.max_len = 0;
        std::mem::take(&mut self.rows)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.rows.capacity() * size_of::<Row<I>>()
    }

    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        if !self.rows.windows(2).all(|w| (w[0].start, w[0].id) < (w[1].start, w[1].id)) {
            return Err("write buffer not sorted by (start, id) or holds a duplicate".into());
        }
        if let Some(r) = self.rows.iter().find(|r| r.end <= r.start) {
            return Err(format!("write buffer row {:?} has end <= start", r.id));
        }
        if let Some(r) = self.rows.iter().find(|r| r.end - r.start > self.max_len) {
            return Err(format!("write buffer row {:?} is longer than the recorded longest", r.id));
        }
        Ok(())
    }
}
