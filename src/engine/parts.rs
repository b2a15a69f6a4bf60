//! Parts: the segment list with each segment's payloads, the part of the
//! index replaced (never changed) when segments are added, merged or lose
//! rows, and shared by every version published in between.

use std::ops::Range;
use std::sync::Arc;

use crate::WindowId;
use crate::catalog::PlacesView;
use crate::memory::{Prefetch, huge_pages};
use crate::query::CursorKey;
use crate::segment::{Row, Segment, SegmentData, row32};

/// How many rows ahead a payload gather starts its reads.
const PAYLOAD_PREFETCH: usize = 16;

/// A segment and its payloads, in row order.
pub(crate) type Part<I, P> = (Segment<I>, Arc<Vec<P>>);

/// The segments, oldest first, and their payloads: `payloads[s][r]` belongs
/// to row `r` of segment `s` (whose slot is `r`).
#[derive(Clone, Debug)]
pub(crate) struct Parts<I, P> {
    pub(crate) segments: Vec<Segment<I>>,
    payloads: Vec<Arc<Vec<P>>>,
    /// Prefetchers of each segment's payloads, for page sinks.
    prefetch: Vec<Prefetch>,
    pub(crate) key: CursorKey,
}

impl<I: WindowId, P> Parts<I, P> {
    pub(crate) fn new(key: CursorKey) -> Self {
        Parts { segments: Vec::new(), payloads: Vec::new(), prefetch: Vec::new(), key }
    }

    pub(crate) fn len(&self) -> usize {
        self.segments.len()
    }

    /// The payload of row `r` of segment `s`.
    #[inline]
    pub(crate) fn payload(&self, s: usize, r: u32) -> Option<&P> {
        self.payloads.get(s)?.get(r as usize)
    }

    /// The payloads of segment `s`, for a merge to read.
    pub(crate) fn payloads_of(&self, s: usize) -> &Arc<Vec<P>> {
        &self.payloads[s]
    }

    /// Prefetchers of every segment's payloads.
    #[inline]
    pub(crate) fn prefetchers(&self) -> &[Prefetch] {
        &self.prefetch
    }

    /// Adds the newest segment.
    pub(crate) fn push(&mut self, (seg, payloads): Part<I, P>) {
        self.prefetch.push(Prefetch::of(&payloads));
        self.segments.push(seg);
        self.payloads.push(payloads);
    }

    /// Replaces the segments of `run` by `with` (or by nothing) and returns
    /// the ones replaced.
    pub(crate) fn splice(&mut self, run: Range<usize>, with: Option<Part<I, P>>) -> Vec<Part<I, P>> {
        let (seg, payloads): (Vec<_>, Vec<_>) = with.into_iter().unzip();
        self.prefetch.splice(run.clone(), payloads.iter().map(|p| Prefetch::of(p)));
        let segs = self.segments.splice(run.clone(), seg).collect::<Vec<_>>();
        let pays = self.payloads.splice(run, payloads).collect::<Vec<_>>();
        segs.into_iter().zip(pays).collect()
    }

    /// Removes the segments `drop` picks and returns them.
    pub(crate) fn remove_where(&mut self, mut drop: impl FnMut(&Segment<I>) -> bool) -> Vec<Part<I, P>> {
        let mut out = Vec::new();
        let mut s = 0;
        while s < self.segments.len() {
            if drop(&self.segments[s]) {
                out.extend(self.splice(s..s + 1, None));
            } else {
                s += 1;
            }
        }
        out
    }

    /// Bytes of the segments (payloads excluded).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.segments.iter().map(Segment::heap_bytes).sum::<usize>()
            + self.payloads.capacity() * size_of::<Arc<Vec<P>>>()
            + self.prefetch.capacity() * size_of::<Prefetch>()
    }

    /// Checks that every segment has one payload per row, and the rows'
    /// slots are their numbers.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        if self.payloads.len() != self.segments.len() || self.prefetch.len() != self.segments.len() {
            return Err("segments and their payload lists disagree in number".into());
        }
        for (s, (seg, payloads)) in self.segments.iter().zip(&self.payloads).enumerate() {
            if payloads.len() != seg.len() {
                return Err(format!("segment {s} has {} rows and {} payloads", seg.len(), payloads.len()));
            }
            if let Some(r) = seg.rows.iter().enumerate().position(|(r, row)| row.slot as usize != r) {
                return Err(format!("row {r} of segment {s} has payload slot {}", seg.rows[r].slot));
            }
        }
        Ok(())
    }
}

/// Builds a segment from `rows`, in any order, whose payloads are
/// `payloads[row.slot]`: the payloads are laid out in the segment's row
/// order (those of a page then sit together in memory) and each row's slot
/// becomes its number. On two threads when `parallel` and large.
pub(crate) fn build<I: WindowId, P>(
    rows: Vec<Row<I>>,
    mut payloads: Vec<Option<P>>,
    places: &PlacesView,
    parallel: bool,
) -> Part<I, P> {
    let mut data = if parallel { SegmentData::build(rows, places) } else { SegmentData::build_serial(rows, places) };
    let payloads = gather(&mut data, &mut payloads);
    (Segment::from_data(Arc::new(data)), payloads)
}

/// Checks a bulk load's rows for repeated ids before it is built: the
/// segment's id index is sorted, so a repeat sits next to itself.
pub(crate) fn first_repeat<I: WindowId>(data: &SegmentData<I>) -> Option<I> {
    let k = data.ids_sorted.first_repeat()?;
    Some(data.rows[data.id_rows[k] as usize].id)
}

/// Builds a bulk load's segment, or names an id it repeats.
pub(crate) fn build_unique<I: WindowId, P>(
    rows: Vec<Row<I>>,
    mut payloads: Vec<Option<P>>,
    places: &PlacesView,
) -> Result<Part<I, P>, I> {
    let mut data = SegmentData::build(rows, places);
    if let Some(id) = first_repeat(&data) {
        return Err(id);
    }
    let payloads = gather(&mut data, &mut payloads);
    Ok((Segment::from_data(Arc::new(data)), payloads))
}

/// Moves `payloads` into row order. A gather: each read is a cache miss,
/// so the reads a few rows ahead are started early and their misses overlap.
fn gather<I: WindowId, P>(data: &mut SegmentData<I>, payloads: &mut [Option<P>]) -> Arc<Vec<P>> {
    let ahead = Prefetch::of(payloads);
    let rows = data.rows.to_mut();
    let mut out = huge_pages::with_capacity(rows.len());
    for r in 0..rows.len() {
        if let Some(next) = rows.get(r + PAYLOAD_PREFETCH) {
            ahead.slot(next.slot);
        }
        let row = &mut rows[r];
        let payload = payloads.get_mut(row.slot as usize).and_then(Option::take);
        debug_assert!(payload.is_some(), "row {} has no payload", row.id);
        if let Some(p) = payload {
            out.push(p);
        }
        row.slot = row32(r);
    }
    Arc::new(out)
}
