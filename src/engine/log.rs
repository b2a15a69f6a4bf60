//! The payload log: the payloads of the windows in the write buffer, each in
//! a slot written once.
//!
//! Versions of the index share the log with the writer: a write fills the
//! next free slot in place (no copy), and a version reads only the slots its
//! buffered rows name, all filled before it was published. An upsert takes
//! a new slot rather than overwriting one a version may still read. When the
//! buffer is built into a segment, its payloads move there (taken if no
//! version holds the log any more, cloned if one does) and a new log starts.

use std::sync::{Arc, OnceLock};

use crate::memory::Prefetch;

/// Slots written once, and how many are taken.
#[derive(Debug)]
pub(crate) struct PayloadLog<P> {
    slots: Arc<[OnceLock<P>]>,
    used: usize,
}

impl<P> PayloadLog<P> {
    /// A log of `capacity` slots.
    pub(crate) fn new(capacity: usize) -> Self {
        PayloadLog { slots: (0..capacity.max(1)).map(|_| OnceLock::new()).collect(), used: 0 }
    }

    /// Whether every slot is taken.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.used == self.slots.len()
    }

    /// Stores `payload` in the next slot and returns its number; `None` if
    /// the log is full.
    pub(crate) fn put(&mut self, payload: P) -> Option<u32> {
        let slot = self.slots.get(self.used)?;
        // Slots are taken in order and only here, so this one is empty.
        let _ = slot.set(payload);
        self.used += 1;
        u32::try_from(self.used - 1).ok()
    }

    /// The slots, for a version to hold.
    #[inline]
    pub(crate) fn shared(&self) -> &Arc<[OnceLock<P>]> {
        &self.slots
    }

    /// The payload in `slot`.
    #[inline]
    pub(crate) fn get(&self, slot: u32) -> Option<&P> {
        read(&self.slots, slot)
    }

    /// Moves out the payloads of `slots` in that order: taken if no version
    /// holds the log, cloned otherwise.
    pub(crate) fn drain(self, slots: impl Iterator<Item = u32>) -> Vec<Option<P>>
    where
        P: Clone,
    {
        let mut log = self.slots;
        match Arc::get_mut(&mut log) {
            Some(own) => slots.map(|s| own.get_mut(s as usize).and_then(OnceLock::take)).collect(),
            None => slots.map(|s| log.get(s as usize).and_then(OnceLock::get).cloned()).collect(),
        }
    }

    /// Checks that exactly the slots below `used` are filled.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        if let Some(s) = self.slots.iter().enumerate().position(|(i, s)| s.get().is_some() != (i < self.used)) {
            return Err(format!("payload log slot {s} is filled out of turn ({} used)", self.used));
        }
        Ok(())
    }
}

/// Reads payloads of a log a version holds.
#[inline]
pub(crate) fn read<P>(log: &[OnceLock<P>], slot: u32) -> Option<&P> {
    log.get(slot as usize)?.get()
}

/// A prefetcher of a log's slots.
pub(crate) fn prefetch<P>(log: &[OnceLock<P>]) -> Prefetch {
    Prefetch::of(log)
}
