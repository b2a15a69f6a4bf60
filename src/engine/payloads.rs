//! The payload slab: the caller's records, one slot per live window. A row
//! holds its window's slot number; a delete frees the slot and a later
//! insert reuses it.

use crate::catalog::dense_number;
use crate::memory::Prefetch;

/// Payloads by slot, with the free slots.
#[derive(Clone, Debug)]
pub(crate) struct Payloads<P> {
    slots: Vec<Option<P>>,
    free: Vec<u32>,
}

impl<P> Default for Payloads<P> {
    fn default() -> Self {
        Payloads { slots: Vec::new(), free: Vec::new() }
    }
}

impl<P> Payloads<P> {
    /// Slots ever used (occupied or free).
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether one more payload has a slot.
    pub(crate) fn has_room(&self) -> bool {
        !self.free.is_empty() || dense_number(self.slots.len()).is_some()
    }

    /// Stores `payload` in a free slot (or a new one) and returns its number;
    /// `None` when no slot is left (see [`Payloads::has_room`]).
    pub(crate) fn put(&mut self, payload: P) -> Option<u32> {
        if let Some(slot) = self.free.pop() {
            self.slots[slot as usize] = Some(payload);
            return Some(slot);
        }
        let slot = dense_number(self.slots.len())?;
        self.slots.push(Some(payload));
        Some(slot)
    }

    /// Makes room for `n` more slots.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
    }

    /// Stores `payload` in a new slot (never a free one) and returns its
    /// number; the caller has checked there is room (a bulk load keeps its
    /// payloads together, in row order).
    #[inline]
    pub(crate) fn push_new(&mut self, payload: Option<P>) -> u32 {
        debug_assert!(dense_number(self.slots.len()).is_some(), "payload slots exhausted");
        self.slots.push(payload);
        (self.slots.len() - 1) as u32
    }

    /// Replaces the payload of an occupied slot, returning the one it held.
    pub(crate) fn replace(&mut self, slot: u32, payload: P) -> Option<P> {
        self.slots.get_mut(slot as usize)?.replace(payload)
    }

    /// Takes the payload out of a slot and frees the slot.
    pub(crate) fn take(&mut self, slot: u32) -> Option<P> {
        let payload = self.slots.get_mut(slot as usize)?.take();
        if payload.is_some() {
            self.free.push(slot);
        }
        payload
    }

    /// The payload in a slot.
    #[inline]
    pub(crate) fn get(&self, slot: u32) -> Option<&P> {
        self.slots.get(slot as usize)?.as_ref()
    }

    /// A prefetcher of slots.
    pub(crate) fn prefetch(&self) -> Prefetch {
        Prefetch::of(&self.slots)
    }

    /// Bytes of bookkeeping (the free list; the payloads are the caller's).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.free.capacity() * 4
    }

    /// Checks that exactly `live` slots are occupied and every other one is
    /// free, once.
    pub(crate) fn check_invariants(&self, live: usize) -> Result<(), String> {
        let occupied = self.slots.iter().filter(|p| p.is_some()).count();
        if occupied != live {
            return Err(format!("{occupied} payload slots occupied for {live} windows"));
        }
        let mut free = self.free.clone();
        free.sort_unstable();
        free.dedup();
        if free.len() != self.free.len() || free.iter().any(|&f| self.slots.get(f as usize).is_none_or(Option::is_some))
        {
            return Err("free list holds duplicates or occupied slots".into());
        }
        if free.len() + occupied != self.slots.len() {
            return Err("a payload slot is neither occupied nor free".into());
        }
        Ok(())
    }
}
