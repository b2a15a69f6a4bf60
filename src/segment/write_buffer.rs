//! The write buffer: a small sorted run of recent rows in front of the
//! segments, built into a segment when full.

use super::row::Row;
use crate::WindowId;

/// Recent windows, sorted by `(start, id)`. Small by construction (the
/// store's flush threshold), so a query scans the rows whose starts can
/// match (bounded by the longest row's length) and a write shifts at most
/// that many rows.
#[derive(Clone, Debug)]
pub(crate) struct WriteBuffer<I> {
    pub(crate) rows: Vec<Row<I>>,
    /// The rows' ids in the same order: finding an id scans this compact
    /// array (a few cache lines) rather than the rows.
    ids: Vec<I>,
    /// At least the longest row's length (the longest since the buffer was
    /// last emptied): a window that ends after `t` starts after
    /// `t - max_len`, so a scan skips every row starting before that.
    pub(crate) max_len: i64,
}

impl<I> Default for WriteBuffer<I> {
    fn default() -> Self {
        WriteBuffer { rows: Vec::new(), ids: Vec::new(), max_len: 0 }
    }
}

impl<I: WindowId> WriteBuffer<I> {
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn insert(&mut self, row: Row<I>) {
        let at = self.rows.partition_point(|r| (r.start, r.id) < (row.start, row.id));
        self.rows.insert(at, row);
        self.ids.insert(at, row.id);
        self.max_len = self.max_len.max(row.end.saturating_sub(row.start));
    }

    pub(crate) fn position(&self, id: I) -> Option<usize> {
        self.ids.iter().position(|&x| x == id)
    }

    pub(crate) fn remove(&mut self, at: usize) -> Row<I> {
        self.ids.remove(at);
        self.rows.remove(at)
    }

    pub(crate) fn take(&mut self) -> Vec<Row<I>> {
        self.ids.clear();
        self.max_len = 0;
        std::mem::take(&mut self.rows)
    }

    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        if !self.rows.iter().map(|r| r.id).eq(self.ids.iter().copied()) {
            return Err("write buffer id column disagrees with its rows".into());
        }
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
