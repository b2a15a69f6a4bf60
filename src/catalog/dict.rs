//! Dense numbering of charger and site ids, so placements store `u32`s and
//! posting maps key on small integers. Numbers are given in order and never
//! taken back; the way back to a public id is the placement's (see
//! [`super::place`]).

use std::hash::Hash;

use rustc_hash::FxHashMap;

use super::dense::dense_number;

#[derive(Clone, Debug)]
pub(crate) struct Dict<K> {
    dense: FxHashMap<K, u32>,
}

impl<K> Default for Dict<K> {
    fn default() -> Self {
        Dict { dense: FxHashMap::default() }
    }
}

impl<K: Copy + Eq + Hash> Dict<K> {
    pub(crate) fn get(&self, key: K) -> Option<u32> {
        self.dense.get(&key).copied()
    }

    /// The dense number of `key`, assigning the next one if it is new.
    /// `None` once `u32::MAX - 1` keys exist.
    pub(crate) fn intern(&mut self, key: K) -> Option<u32> {
        if let Some(&d) = self.dense.get(&key) {
            return Some(d);
        }
        let d = dense_number(self.dense.len())?;
        self.dense.insert(key, d);
        Some(d)
    }

    pub(crate) fn len(&self) -> usize {
        self.dense.len()
    }

    /// Checks that the numbers given are `0..len`, each once.
    pub(crate) fn check_invariants(&self, what: &str) -> Result<(), String> {
        let mut seen = vec![false; self.dense.len()];
        for &d in self.dense.values() {
            match seen.get_mut(d as usize) {
                Some(s) if !*s => *s = true,
                _ => return Err(format!("{what} number {d} given twice or out of range")),
            }
        }
        Ok(())
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.dense.capacity() * (std::mem::size_of::<(K, u32)>() + 1)
    }
}
