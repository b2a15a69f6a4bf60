//! Which ids the write buffer and the sealed buffers may hold: a counting
//! filter, so that the id lookup of a write (most of them for new ids, or
//! for ids in segments) skips scanning up to seventeen buffers of ids.

use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

use crate::WindowId;

/// Slots of the filter (a power of two).
const SLOTS: usize = 4096;

/// A count per slot of the buffered ids hashing to it: a slot at zero
/// means no buffered id has that hash, so an id of it is in no buffer.
/// The slots are allocated at the first id (an empty index stays small).
#[derive(Clone, Debug, Default)]
pub(crate) struct RecentIds {
    counts: Vec<u32>,
}

impl RecentIds {
    #[inline]
    fn slot<I: WindowId>(id: I) -> usize {
        (FxBuildHasher.hash_one(id) >> 32) as usize & (SLOTS - 1)
    }

    /// `id` was buffered.
    #[inline]
    pub(crate) fn add<I: WindowId>(&mut self, id: I) {
        if self.counts.is_empty() {
            self.counts = vec![0; SLOTS];
        }
        self.counts[Self::slot(id)] += 1;
    }

    /// A buffered `id` left the buffers.
    #[inline]
    pub(crate) fn remove<I: WindowId>(&mut self, id: I) {
        let c = self.counts.get_mut(Self::slot(id));
        debug_assert!(c.as_ref().is_some_and(|c| **c > 0), "id {id} left the buffers without entering them");
        if let Some(c) = c {
            *c = c.saturating_sub(1);
        }
    }

    /// Whether a buffer may hold `id` (`false`: surely none does).
    #[inline]
    pub(crate) fn may_hold<I: WindowId>(&self, id: I) -> bool {
        self.counts.get(Self::slot(id)).is_some_and(|&c| c != 0)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.counts.capacity() * size_of::<u32>()
    }

    /// Checks the counts against the ids buffered.
    pub(crate) fn check_invariants<I: WindowId>(&self, ids: impl Iterator<Item = I>) -> Result<(), String> {
        let mut want = RecentIds::default();
        ids.for_each(|id| want.add(id));
        let zero = |c: &[u32]| c.iter().all(|&c| c == 0);
        if want.counts != self.counts && !(zero(&want.counts) && zero(&self.counts)) {
            return Err("the recent-id filter disagrees with the buffered ids".into());
        }
        Ok(())
    }
}
