//! Dense numbering of charger and site ids, so placements store `u32`s and
//! posting maps key on small integers. Numbers are given in order and never
//! taken back; the way back to a public id is the placement's (see
//! [`crate::place`]).

use std::hash::Hash;

use rustc_hash::FxHashMap;

use crate::segment::NONE;

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
        let d = u32::try_from(self.dense.len()).ok().filter(|&d| d != NONE)?;
        self.dense.insert(key, d);
        Some(d)
    }

    pub(crate) fn len(&self) -> usize {
        self.dense.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.dense.capacity() * (std::mem::size_of::<(K, u32)>() + 1)
    }
}
