//! The index as a snapshot holds it: a version taken apart into what a
//! file stores (catalog, cursor key, each segment with its dead rows and
//! payloads, the windows not yet in a segment), and put back together into
//! a store, every segment as it was (nothing sorted or built again).

use std::sync::Arc;

use super::log;
use super::mutation::Mutation;
use super::parts::Parts;
use super::store::Store;
use super::version::Version;
use crate::catalog::{Catalog, CatalogWire};
use crate::query::CursorKey;
use crate::segment::{LiveSegment, OrgRanks, Postings, Row, Segment, SegmentWire};
use crate::{Error, Window, WindowId};

/// A segment as a snapshot writes it: its wire form (its kills made dead
/// rows), its id blocks and organization ranks if it has them, and its
/// payloads in row order.
pub(crate) struct SegmentParts<'a, I, P> {
    pub(crate) wire: SegmentWire<'a>,
    /// The rows, for a rows block, when the wire form leaves them out (see
    /// [`records`](crate::segment::records)).
    pub(crate) rows: Option<&'a [Row<I>]>,
    pub(crate) id_blocks: Option<&'a Postings>,
    pub(crate) org_ranks: Option<&'a OrgRanks>,
    pub(crate) payloads: &'a [P],
}

/// An index read back from a snapshot, ready to become a store.
#[derive(Debug)]
pub(crate) struct Image<I, P> {
    pub(crate) key: CursorKey,
    pub(crate) catalog: Catalog,
    /// Segments, oldest first, each with its payloads in row order.
    pub(crate) segments: Vec<(Segment<I>, Vec<P>)>,
    /// Windows of the write buffer and sealed buffers.
    pub(crate) loose: Vec<(Window<I>, P)>,
}

impl<I: WindowId, P: Clone> Version<I, P> {
    /// The cursor key's secret.
    pub(crate) fn key_secret(&self) -> [u8; 32] {
        self.parts.key.secret()
    }

    /// The numbering of what the version's windows apply to.
    pub(crate) fn catalog_wire(&self) -> CatalogWire {
        CatalogWire::of(&self.catalog)
    }

    /// How many segments the version holds.
    pub(crate) fn segment_count(&self) -> usize {
        self.parts.len()
    }

    /// Segment `s` as a snapshot writes it.
    /// With `records`, the rows of the ids that admit it go in a rows
    /// block (format 5), not in the wire form's columns.
    pub(crate) fn segment_wire(&self, s: usize, records: bool) -> SegmentParts<'_, I, P> {
        let seg = &self.parts.segments[s];
        let dead = LiveSegment::new(seg, self.kills.of(crate::segment::row32(s))).dead_rows().collect();
        let as_records = records && crate::segment::records::as_records::<I>();
        SegmentParts {
            wire: SegmentWire::of(seg, dead, !as_records),
            rows: as_records.then_some(&seg.rows[..]),
            id_blocks: seg.id_blocks(),
            org_ranks: seg.org_ranks(),
            payloads: self.parts.payloads_of(s).as_slice(),
        }
    }

    /// The windows not in a segment yet (write buffer and sealed buffers),
    /// with their payloads.
    pub(crate) fn loose(&self) -> Vec<(Window<I>, P)> {
        let state = self.state();
        let buffers =
            std::iter::once((&self.buffer, &self.log)).chain(self.sealed.buffers.iter().zip(&self.sealed.logs));
        let mut out = Vec::new();
        for (buffer, payloads) in buffers {
            for (_, row) in buffer.numbered() {
                if let Some(p) = log::read(payloads, row.slot) {
                    out.push((state.window_of(row), p.clone()));
                }
            }
        }
        out
    }
}

impl<I: WindowId, P: Clone + Send + Sync + 'static> Store<I, P> {
    /// Puts an image back into `self`, an empty store made with the
    /// index's settings (its cursor key and catalog are replaced).
    ///
    /// # Errors
    ///
    /// Those of [`Mutation::Bulk`] on the loose windows: a repeated id
    /// means a damaged snapshot.
    pub(crate) fn restore(&mut self, image: Image<I, P>) -> Result<(), Error> {
        let mut parts = Parts::new(image.key);
        let mut len = 0;
        for (seg, payloads) in image.segments {
            debug_assert_eq!(payloads.len(), seg.len(), "the reader checks payload counts");
            len += seg.live();
            parts.push((seg, Arc::new(payloads)));
        }
        self.replace_contents(image.catalog, parts, len);
        if !image.loose.is_empty() {
            self.apply(Mutation::Bulk(image.loose))?;
        }
        Ok(())
    }
}
