//! Dense numbering of charger and site ids, so placements store `u32`s and
//! posting maps key on small integers. Numbers are given in order and never
//! taken back; the way back to a public id is the placement's (see
//! [`super::place`]).
//!
//! The table is read by queries on any thread while the writer adds to it:
//! an open-addressing hash table whose slots are written once
//! ([`OnceLock`]), so an entry, once there, never changes and a reader never
//! sees half of one. The writer fills a free slot in place (no copy); only
//! growing builds a new table, which versions published after it hold, while
//! older versions keep the old one (it has every number their rows use).
//! A reader may meet numbers given after its version: they match no row of
//! it, so a filter on them finds nothing, as it should.

use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, OnceLock};

use rustc_hash::FxBuildHasher;

use super::dense::dense_number;

/// Slots of a new table.
const MIN_SLOTS: usize = 16;

/// A table of entries, read concurrently, written once per slot.
#[derive(Debug)]
pub(crate) struct DictTable<K> {
    slots: Box<[OnceLock<(K, u32)>]>,
}

impl<K: Copy + Eq + Hash> Default for DictTable<K> {
    fn default() -> Self {
        DictTable::with_slots(MIN_SLOTS)
    }
}

impl<K: Copy + Eq + Hash> DictTable<K> {
    fn with_slots(n: usize) -> Self {
        DictTable { slots: (0..n).map(|_| OnceLock::new()).collect() }
    }

    #[inline]
    fn home(&self, key: K) -> usize {
        FxBuildHasher.hash_one(key) as usize & (self.slots.len() - 1)
    }

    /// The slot holding `key`, or the free slot where it would go.
    #[inline]
    fn probe(&self, key: K) -> (usize, Option<u32>) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        // At most half the slots are full, so a free one ends every probe.
        loop {
            match self.slots[i].get() {
                None => return (i, None),
                Some(&(k, d)) if k == key => return (i, Some(d)),
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    /// The dense number of `key`, if it was given one.
    #[inline]
    pub(crate) fn get(&self, key: K) -> Option<u32> {
        self.probe(key).1
    }

    fn entries(&self) -> impl Iterator<Item = (K, u32)> + '_ {
        self.slots.iter().filter_map(|s| s.get().copied())
    }

    /// The keys numbered so far, by number (for a snapshot).
    pub(crate) fn keys_in_order(&self) -> Vec<K> {
        let mut entries: Vec<(K, u32)> = self.entries().collect();
        entries.sort_unstable_by_key(|&(_, d)| d);
        entries.into_iter().map(|(k, _)| k).collect()
    }
}

/// The writer's side: the table and how many entries it holds.
#[derive(Debug)]
pub(crate) struct Dict<K> {
    table: Arc<DictTable<K>>,
    len: usize,
}

impl<K: Copy + Eq + Hash> Default for Dict<K> {
    fn default() -> Self {
        Dict { table: Arc::default(), len: 0 }
    }
}

impl<K: Copy + Eq + Hash> Clone for Dict<K> {
    /// A clone writes to a table of its own: two writers must never fill
    /// the same slots.
    fn clone(&self) -> Self {
        let mut copy = Dict { table: Arc::new(DictTable::with_slots(self.table.slots.len())), len: 0 };
        for (k, d) in self.table.entries() {
            copy.place(k, d);
        }
        copy.len = self.len;
        copy
    }
}

impl<K: Copy + Eq + Hash> Dict<K> {
    #[cfg(test)]
    fn get(&self, key: K) -> Option<u32> {
        self.table.get(key)
    }

    /// The table readers hold (replaced when the dictionary grows).
    pub(crate) fn table(&self) -> &Arc<DictTable<K>> {
        &self.table
    }

    /// The dense number of `key`, assigning the next one if it is new, and
    /// whether the table was replaced (readers must then take the new one).
    /// `None` once `u32::MAX - 1` keys exist.
    pub(crate) fn intern(&mut self, key: K) -> Option<(u32, bool)> {
        if let Some(d) = self.table.get(key) {
            return Some((d, false));
        }
        let d = dense_number(self.len)?;
        let grew = (self.len + 1) * 2 > self.table.slots.len();
        if grew {
            let bigger = Dict { table: Arc::new(DictTable::with_slots(self.table.slots.len() * 2)), len: 0 };
            for (k, v) in self.table.entries() {
                bigger.place(k, v);
            }
            self.table = bigger.table;
        }
        self.place(key, d);
        self.len += 1;
        Some((d, grew))
    }

    /// Writes `key`'s entry into its free slot.
    fn place(&self, key: K, d: u32) {
        let (slot, found) = self.table.probe(key);
        debug_assert!(found.is_none(), "key numbered twice");
        // Only the writer sets slots, and only free ones.
        let _ = self.table.slots[slot].set((key, d));
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Checks that the numbers given are `0..len`, each once, each found by
    /// its key.
    pub(crate) fn check_invariants(&self, what: &str) -> Result<(), String> {
        let mut seen = vec![false; self.len];
        let mut n = 0;
        for (k, d) in self.table.entries() {
            n += 1;
            match seen.get_mut(d as usize) {
                Some(s) if !*s => *s = true,
                _ => return Err(format!("{what} number {d} given twice or out of range")),
            }
            if self.table.get(k) != Some(d) {
                return Err(format!("{what} number {d} is not found under its key"));
            }
        }
        if n != self.len || self.len * 2 > self.table.slots.len() {
            return Err(format!(
                "{what} table holds {n} entries in {} slots, expected {}",
                self.table.slots.len(),
                self.len
            ));
        }
        Ok(())
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.table.slots.len() * size_of::<OnceLock<(K, u32)>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_tables_keep_their_entries_while_the_dictionary_grows() {
        let mut dict = Dict::<u64>::default();
        let mut tables = Vec::new();
        for k in 0..5_000u64 {
            let key = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let (d, grew) = dict.intern(key).unwrap();
            assert_eq!(d, k as u32);
            assert_eq!(dict.intern(key), Some((d, false)));
            if grew {
                tables.push((k, Arc::clone(dict.table())));
            }
        }
        dict.check_invariants("test").unwrap();
        for (upto, table) in &tables {
            for k in 0..=*upto {
                assert_eq!(table.get(k.wrapping_mul(0x9e37_79b9_7f4a_7c15)), Some(k as u32));
            }
        }
        assert!(tables.len() > 5);
        let copy = dict.clone();
        copy.check_invariants("copy").unwrap();
        assert!(!Arc::ptr_eq(copy.table(), dict.table()));
        assert_eq!(copy.get(0), Some(0));
        assert_eq!(copy.get(1), None);
    }
}
