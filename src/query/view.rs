//! What a query reads: one state of the store, borrowed for the query's
//! whole run, so everything it plans and scans sees the same windows.

use super::cursor::CursorKey;
use crate::catalog::CatalogView;
use crate::segment::{Segment, WriteBuffer};

/// The parts of the store a query reads (never the payloads: the engine
/// attaches them to the hits).
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a, I> {
    pub(crate) segments: &'a [Segment<I>],
    pub(crate) buffer: &'a WriteBuffer<I>,
    pub(crate) catalog: &'a CatalogView,
    pub(crate) key: &'a CursorKey,
}
