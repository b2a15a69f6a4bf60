//! What a query reads: one state of the index, borrowed for the query's
//! whole run, so everything it plans and scans sees the same windows.

use super::cursor::CursorKey;
use crate::catalog::CatalogView;
use crate::segment::{Kills, LiveSegment, Segment, WriteBuffer, row32};

/// The parts of the index a query reads (never the payloads: the engine
/// attaches them to the hits).
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a, I> {
    pub(crate) segments: &'a [Segment<I>],
    /// Rows of `segments` deleted after their tombstones were last set.
    pub(crate) kills: &'a Kills,
    pub(crate) buffer: &'a WriteBuffer<I>,
    /// Write buffers sealed and waiting for their segments to be built,
    /// oldest first (sources [`sealed_src`](super::sink::sealed_src)).
    pub(crate) sealed: &'a [WriteBuffer<I>],
    pub(crate) catalog: &'a CatalogView,
    pub(crate) key: &'a CursorKey,
}

impl<'a, I: crate::WindowId> View<'a, I> {
    /// Rows in the write buffer and the sealed ones.
    pub(crate) fn buffered(&self) -> usize {
        self.buffer.len() + self.sealed.iter().map(WriteBuffer::len).sum::<usize>()
    }

    /// Every segment with its kills.
    #[inline]
    pub(crate) fn live_segments(&self) -> impl Iterator<Item = LiveSegment<'a, I>> + use<'a, I> {
        let kills = self.kills;
        self.segments.iter().enumerate().map(move |(s, seg)| LiveSegment::new(seg, kills.of(row32(s))))
    }
}
