//! A version: the index as it was after one write, immutable, readable on
//! any thread for as long as it is held.
//!
//! It shares the segment list with its payloads, the payload log of the
//! write buffer and the catalog with the writer and with other versions,
//! and holds its own copy of what each write changes: the write buffer's
//! rows and the kills (a few kilobytes). Holding one costs what changed
//! since it: the segments and tombstones replaced after it was made stay
//! alive until it is dropped.

use std::sync::{Arc, OnceLock};

use super::parts::Parts;
use super::sealed::Sealed;
use super::state::State;
use crate::WindowId;
use crate::catalog::CatalogView;
use crate::segment::{Kills, SegmentData, WriteBuffer};

/// One state of the index, frozen.
#[derive(Debug)]
pub(crate) struct Version<I, P> {
    /// How many writes made it.
    pub(crate) number: u64,
    /// Live windows.
    pub(crate) len: usize,
    pub(crate) parts: Arc<Parts<I, P>>,
    pub(crate) kills: Kills,
    pub(crate) buffer: WriteBuffer<I>,
    pub(crate) log: Arc<[OnceLock<P>]>,
    pub(crate) sealed: Arc<Sealed<I, P>>,
    pub(crate) catalog: Arc<CatalogView>,
}

impl<I: WindowId, P> Version<I, P> {
    /// The version, for reads.
    #[inline]
    pub(crate) fn state(&self) -> State<'_, I, P> {
        State {
            parts: &self.parts,
            kills: &self.kills,
            buffer: &self.buffer,
            log: &self.log,
            sealed: &self.sealed,
            catalog: &self.catalog,
        }
    }

    /// The serial number and data of the oldest segment that reads a
    /// snapshot's bytes in place, if one does.
    pub(crate) fn shared_segment(&self) -> Option<(u64, Arc<SegmentData<I>>)> {
        self.parts.segments.iter().find(|s| s.is_shared()).map(|s| (s.serial(), Arc::clone(s.data())))
    }

    /// Checks every layer of the version (see [`State::check_invariants`]).
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.state().check_invariants(self.len)
    }

    /// Bytes of this version's write buffer and kills that `current` does
    /// not share: the tails it owns, and each base `current` no longer holds.
    pub(crate) fn bytes_beside(&self, current: &Version<I, P>) -> usize {
        size_of::<Self>() + self.buffer.bytes_beside(&current.buffer) + self.kills.bytes_beside(&current.kills)
    }
}
