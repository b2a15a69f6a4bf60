//! The write buffer: a small sorted run of recent rows in front of the
//! segments, built into a segment when full. Each version of the index holds
//! a copy: a [`SortedRun`], so the copy is the shared base's `Arc` and a
//! tail of at most [`TAIL`](super::sorted_run::TAIL) rows.

use super::row::{Row, TIERS};
use std::sync::Arc;

use super::key_filter::KeyFilter;
use super::sorted_run::{RunKey, SortedRun};
use crate::WindowId;
use crate::catalog::Place;

/// A run of a buffer's rows, all of one tier, with the number of its first.
pub(crate) type TierRows<'a, I> = (usize, &'a [Row<I>]);

/// Where a row sits in a write buffer: its length tier, start and id, the
/// order a segment keeps its rows in.
pub(crate) type BufferKey<I> = (u8, i64, I);

impl<I: WindowId> RunKey for Row<I> {
    type Key = BufferKey<I>;

    #[inline]
    fn key(&self) -> BufferKey<I> {
        (self.tier() as u8, self.start, self.id)
    }
}

/// Recent windows in the order a segment keeps its rows: by length tier,
/// then `(start, id)`, in each of the run's two layers. A full buffer is
/// then built into a segment without a sort, and a query scans each tier
/// from the earliest start its longest row allows (one long window no
/// longer makes every scan read the whole buffer). Rows are numbered as the
/// run numbers them (base, then tail).
#[derive(Clone, Debug)]
pub(crate) struct WriteBuffer<I> {
    rows: SortedRun<Row<I>>,
    /// Per tier, at least its longest row's length (the longest since the
    /// buffer was last emptied): a window of the tier that ends after `t`
    /// starts after `t - max_len[tier]`, so a scan skips every row of the
    /// tier starting before that.
    pub(crate) max_len: [i64; TIERS],
    /// The chargers and sites of every row added since the buffer was last
    /// empty, shared by every version holding it; `None` if rows came
    /// otherwise (a copy made of rows alone), when no query skips it.
    keys: Option<Arc<KeyFilter>>,
}

impl<I> Default for WriteBuffer<I> {
    fn default() -> Self {
        WriteBuffer { rows: SortedRun::default(), max_len: [0; TIERS], keys: None }
    }
}

impl<I: WindowId> WriteBuffer<I> {
    /// A buffer of `rows`, in key order (a sealed buffer), sharing them.
    pub(crate) fn of_shared(rows: Arc<Vec<Row<I>>>) -> Self {
        let mut max_len = [0; TIERS];
        for r in rows.iter() {
            max_len[r.tier()] = max_len[r.tier()].max(r.end.saturating_sub(r.start));
        }
        WriteBuffer { rows: SortedRun::of_shared(rows), max_len, keys: None }
    }

    /// A sealed buffer: the rows and filter [`WriteBuffer::take_sealed`]
    /// took.
    pub(crate) fn sealed(rows: Arc<Vec<Row<I>>>, keys: Option<Arc<KeyFilter>>) -> Self {
        WriteBuffer { keys, ..WriteBuffer::of_shared(rows) }
    }

    /// Whether no row of the buffer can match filters on these chargers and
    /// sites (see [`KeyFilter::excludes`]).
    #[inline]
    pub(crate) fn excludes(&self, chargers: Option<&[u32]>, sites: Option<&[u32]>) -> bool {
        self.keys.as_ref().is_some_and(|k| k.excludes(chargers, sites))
    }

    /// Each layer's rows split by tier: `[layer][tier]`, with the number of
    /// each slice's first row.
    #[inline]
    pub(crate) fn tiers(&self) -> [[TierRows<'_, I>; TIERS]; 2] {
        let mut first = 0;
        self.rows.parts().map(|rows| {
            let mut at = 0;
            let split = std::array::from_fn(|t| {
                let end = if t + 1 == TIERS { rows.len() } else { rows.partition_point(|r| r.tier() <= t) };
                let slice = (first + at, &rows[at..end]);
                at = end;
                slice
            });
            first += rows.len();
            split
        })
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
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

    /// The number of the row with `key`.
    #[inline]
    pub(crate) fn find(&self, key: BufferKey<I>) -> Option<usize> {
        self.rows.find(key)
    }

    /// Every row, in key order.
    pub(crate) fn sorted(&self) -> impl Iterator<Item = &Row<I>> {
        self.rows.sorted()
    }

    /// Every row with its number.
    pub(crate) fn numbered(&self) -> impl Iterator<Item = (usize, &Row<I>)> {
        self.rows.numbered()
    }

    /// Adds `row`, whose id the buffer does not hold, at `place` (its
    /// placement's entities).
    #[inline]
    pub(crate) fn insert(&mut self, row: Row<I>, place: Place) {
        if self.rows.is_empty() && self.keys.is_none() {
            self.keys = Some(Arc::default());
        }
        if let Some(keys) = &self.keys {
            keys.add(place);
        }
        self.rows.insert_new(row);
        let t = row.tier();
        self.max_len[t] = self.max_len[t].max(row.end.saturating_sub(row.start));
    }

    pub(crate) fn remove(&mut self, at: usize) -> Row<I> {
        self.rows.remove(at)
    }

    /// Every row, in key order, leaving the buffer empty.
    pub(crate) fn take(&mut self) -> Vec<Row<I>> {
        self.max_len = [0; TIERS];
        self.keys = None;
        self.rows.take_sorted()
    }

    /// Takes every row, in key order, as rows the buffer's copies may
    /// still share (nothing is copied), with the filter of their keys,
    /// leaving the buffer empty.
    pub(crate) fn take_sealed(&mut self) -> (Arc<Vec<Row<I>>>, Option<Arc<KeyFilter>>) {
        self.max_len = [0; TIERS];
        (self.rows.take_shared(), self.keys.take())
    }

    /// Makes this a copy of `other` in the memory this holds.
    pub(crate) fn copy_from(&mut self, other: &WriteBuffer<I>) {
        self.rows.copy_from(&other.rows);
        self.max_len = other.max_len;
        let same = match (&self.keys, &other.keys) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.keys.clone_from(&other.keys);
        }
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
        if let Some((_, r)) = self.rows.numbered().find(|(_, r)| r.end - r.start > self.max_len[r.tier()]) {
            return Err(format!("write buffer row {:?} is longer than the recorded longest", r.id));
        }
        Ok(())
    }
}
