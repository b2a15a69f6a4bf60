//! Which ids the write buffer and the sealed buffers may hold: a counting
//! filter (two slots an id), so that the id lookup of a write (most of them for new ids, or
//! for ids in segments) skips scanning up to seventeen buffers of ids.

use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

use crate::WindowId;

/// Slots of the filter per window a write buffer holds (rounded up to a
/// power of two, within [`MIN_SLOTS`]..=[`MAX_SLOTS`]): with a buffer and a
/// sealed one or two in flight, a few percent of the slots are taken, so a
/// lookup of an id no buffer holds rarely scans them. With 4,096 slots for
/// a shared index's 1,024-window buffers, about a third were taken and a
/// write scanned some thousand buffered ids one time in three; 65,536
/// slots (256 KB) took inserts at 10M windows through the handle from
/// 1.19-1.26 to 1.32-1.36 M/s and moves from 0.56-0.59 to 0.59-0.61
/// (`concurrency --windows 10000000 --only writes`, two runs each,
/// alternated).
const SLOTS_PER_WINDOW: usize = 64;
const MIN_SLOTS: usize = 4_096;
const MAX_SLOTS: usize = 1 << 16;

/// A count per slot of the buffered ids hashing to it: a slot at zero
/// means no buffered id has that hash, so an id of it is in no buffer.
/// The slots are allocated at the first id (an empty index stays small).
#[derive(Clone, Debug)]
pub(crate) struct RecentIds {
    counts: Vec<u32>,
    /// How many slots there are (a power of two).
    slots: usize,
}

impl RecentIds {
    /// A filter for write buffers of `buffer` windows, holding `ids`.
    pub(crate) fn of<I: WindowId>(buffer: usize, ids: impl Iterator<Item = I>) -> Self {
        let slots = buffer.saturating_mul(SLOTS_PER_WINDOW).next_power_of_two().clamp(MIN_SLOTS, MAX_SLOTS);
        RecentIds { counts: Vec::new(), slots }.with(ids)
    }

    /// This filter with `ids` added.
    fn with<I: WindowId>(mut self, ids: impl Iterator<Item = I>) -> Self {
        ids.for_each(|id| self.add(id));
        self
    }

    /// The two slots of `id` (from the hash's two high quarters: FxHash's
    /// low bits are weak). An id no buffer holds passes only if both are
    /// taken: with one slot, a move at 10M windows through the handle
    /// scanned the buffered ids about one write in twenty, for none.
    #[inline]
    fn slots<I: WindowId>(&self, id: I) -> [usize; 2] {
        let h = FxBuildHasher.hash_one(id);
        [(h >> 32) as usize & (self.slots - 1), (h >> 48) as usize & (self.slots - 1)]
    }

    /// `id` was buffered.
    #[inline]
    pub(crate) fn add<I: WindowId>(&mut self, id: I) {
        if self.counts.is_empty() {
            self.counts = vec![0; self.slots];
        }
        for slot in self.slots(id) {
            self.counts[slot] += 1;
        }
    }

    /// A buffered `id` left the buffers.
    #[inline]
    pub(crate) fn remove<I: WindowId>(&mut self, id: I) {
        for slot in self.slots(id) {
            let c = self.counts.get_mut(slot);
            debug_assert!(c.as_ref().is_some_and(|c| **c > 0), "id {id} left the buffers without entering them");
            if let Some(c) = c {
                *c = c.saturating_sub(1);
            }
        }
    }

    /// Whether a buffer may hold `id` (`false`: surely none does).
    #[inline]
    pub(crate) fn may_hold<I: WindowId>(&self, id: I) -> bool {
        let [a, b] = self.slots(id);
        self.counts.get(a).is_some_and(|&c| c != 0) && self.counts.get(b).is_some_and(|&c| c != 0)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.counts.capacity() * size_of::<u32>()
    }

    /// Checks the counts against the ids buffered.
    pub(crate) fn check_invariants<I: WindowId>(&self, ids: impl Iterator<Item = I>) -> Result<(), String> {
        let want = RecentIds { counts: Vec::new(), slots: self.slots }.with(ids);
        let zero = |c: &[u32]| c.iter().all(|&c| c == 0);
        if want.counts != self.counts && !(zero(&want.counts) && zero(&self.counts)) {
            return Err("the recent-id filter disagrees with the buffered ids".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_holds_every_buffered_id_and_few_others() {
        let mut recent = RecentIds::of(1_024, std::iter::empty::<u64>());
        let ids: Vec<u64> = (0..3_000u64).map(|i| i * 7_919 + 11).collect();
        ids.iter().for_each(|&id| recent.add(id));
        assert!(ids.iter().all(|&id| recent.may_hold(id)), "a buffered id was ruled out");
        // Ids never added: about (3,000 * 2 / 65,536)^2 of them pass.
        let passed = (0..100_000u64).map(|i| 1_000_000_000 + i * 13).filter(|&id| recent.may_hold(id)).count();
        assert!(passed < 2_000, "{passed} of 100,000 ids never buffered passed");
        // Removed, they leave (but for the few that share both slots).
        ids.iter().for_each(|&id| recent.remove(id));
        assert!(ids.iter().all(|&id| !recent.may_hold(id)));
        recent.check_invariants(std::iter::empty::<u64>()).unwrap();
    }
}
