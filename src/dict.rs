//! Dense numbering of charger and site ids, so rows store `u32`s and posting
//! maps key on small integers.

use std::hash::Hash;

use rustc_hash::FxHashMap;

use crate::segment::NONE;

#[derive(Clone, Debug)]
pub(crate) struct Dict<K> {
    dense: FxHashMap<K, u32>,
    keys: Vec<K>,
}

impl<K> Default for Dict<K> {
    fn default() -> Self {
        Dict { dense: FxHashMap::default(), keys: Vec::new() }
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
        let d = u32::try_from(self.keys.len()).ok().filter(|&d| d != NONE)?;
        self.dense.insert(key, d);
        self.keys.push(key);
        Some(d)
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<K>() + self.dense.capacity() * (std::mem::size_of::<(K, u32)>() + 1)
    }
}
