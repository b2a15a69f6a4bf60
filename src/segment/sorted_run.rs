//! A short sorted run that every version of the index holds a copy of (the
//! write buffer's rows, the kills), kept in two layers so a copy costs a
//! few hundred bytes rather than the whole run.
//!
//! The **base** is sorted and immutable, shared behind an `Arc` by the
//! writer and the versions made since it was last rebuilt; the **tail**, at
//! most [`TAIL`] items, is sorted and each copy owns it. An insert shifts
//! the tail only; a full tail is merged into a new base (a copy of the run,
//! once every [`TAIL`] inserts). A version is the base's `Arc` and a copy of
//! the tail. Before, each write shifted the whole run to insert into it
//! and each version copied it: at 10M windows under sustained moves, about
//! 9 KB copied a write (the buffer's 256 rows of 32 bytes, and the kills).
//!
//! Items are numbered base first, then tail: a number stays valid in the
//! copy it was read from (a query's hits name rows by it).

use std::sync::Arc;

/// Items the tail holds before it is merged into the base.
pub(crate) const TAIL: usize = 32;

/// What a run is sorted by.
pub(crate) trait RunKey {
    type Key: Ord + Copy;
    fn key(&self) -> Self::Key;
}

/// A sorted run with unique keys, as a shared base and an owned tail.
#[derive(Debug)]
pub(crate) struct SortedRun<T> {
    base: Arc<Vec<T>>,
    tail: Vec<T>,
    /// Bases this run replaced, at most [`SPARES`], kept so that a new base
    /// is written into one that no copy holds any more rather than into
    /// fresh memory. A new base came every [`TAIL`] inserts, and its
    /// allocation and the old one's free were the writer's main use of the
    /// allocator, whose arena lock background threads freeing the writer's
    /// memory held: at 10M windows under moves through the shared handle,
    /// 42% of the writer's futex calls waited or woke there. Copies of the
    /// run (versions) keep none.
    spares: Vec<Arc<Vec<T>>>,
}

/// Replaced bases a run keeps for reuse: a version holds a base until the
/// next one or two writes replace it, so the oldest few are free again.
const SPARES: usize = 4;

impl<T> Default for SortedRun<T> {
    fn default() -> Self {
        SortedRun { base: Arc::new(Vec::new()), tail: Vec::new(), spares: Vec::new() }
    }
}

impl<T: Clone> Clone for SortedRun<T> {
    fn clone(&self) -> Self {
        SortedRun { base: Arc::clone(&self.base), tail: self.tail.clone(), spares: Vec::new() }
    }
}

impl<T: Copy + RunKey> SortedRun<T> {
    /// A run of `items`, sorted by key with no key twice, sharing them.
    pub(crate) fn of_shared(items: Arc<Vec<T>>) -> Self {
        debug_assert!(items.windows(2).all(|w| w[0].key() < w[1].key()));
        SortedRun { base: items, tail: Vec::new(), spares: Vec::new() }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.base.len() + self.tail.len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.base.is_empty() && self.tail.is_empty()
    }

    /// The two layers, each sorted: items `0..base.len()` and the rest.
    #[inline]
    pub(crate) fn parts(&self) -> [&[T]; 2] {
        [&self.base, &self.tail]
    }

    /// Item `i` (base first, then tail).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        let n = self.base.len();
        if i < n { self.base.get(i) } else { self.tail.get(i - n) }
    }

    /// The number of the item with `key`.
    #[inline]
    pub(crate) fn find(&self, key: T::Key) -> Option<usize> {
        if let Ok(i) = self.base.binary_search_by(|x| x.key().cmp(&key)) {
            return Some(i);
        }
        self.tail.binary_search_by(|x| x.key().cmp(&key)).ok().map(|i| self.base.len() + i)
    }

    /// Every item with its number, in no particular order across layers.
    #[inline]
    pub(crate) fn numbered(&self) -> impl Iterator<Item = (usize, &T)> {
        self.base.iter().chain(&self.tail).enumerate()
    }

    /// Every item in key order.
    pub(crate) fn sorted(&self) -> impl Iterator<Item = &T> {
        merge_by_key(self.base.iter(), self.tail.iter(), |x| x.key())
    }

    /// Adds `item`; `false` (and no change) if its key is there already
    /// (the tests' checked form of [`SortedRun::insert_new`]).
    #[cfg(test)]
    pub(crate) fn insert(&mut self, item: T) -> bool {
        let key = item.key();
        if self.base.binary_search_by(|x| x.key().cmp(&key)).is_ok() {
            return false;
        }
        match self.tail.binary_search_by(|x| x.key().cmp(&key)) {
            Ok(_) => return false,
            Err(at) => self.tail.insert(at, item),
        }
        if self.tail.len() >= TAIL {
            self.merge_tail();
        }
        true
    }

    /// Adds `item`, whose key the run does not hold (checked in debug
    /// builds only): no search of the base. Both callers (the write
    /// buffer, whose ids a write has looked up; the kills, of rows found
    /// alive) know the key is new, and the base's search was a third of a
    /// move's instructions here.
    pub(crate) fn insert_new(&mut self, item: T) {
        let key = item.key();
        debug_assert!(self.base.binary_search_by(|x| x.key().cmp(&key)).is_err(), "a key inserted twice");
        let at = self.tail.partition_point(|x| x.key() < key);
        debug_assert!(self.tail.get(at).is_none_or(|x| x.key() != key), "a key inserted twice");
        self.tail.insert(at, item);
        if self.tail.len() >= TAIL {
            self.merge_tail();
        }
    }

    /// Removes and returns item `i` (base first, then tail). An item of the
    /// base copies it if a version holds it.
    pub(crate) fn remove(&mut self, i: usize) -> T {
        let n = self.base.len();
        if i < n { Arc::make_mut(&mut self.base).remove(i) } else { self.tail.remove(i - n) }
    }

    /// Takes every item, in key order, leaving the run empty.
    pub(crate) fn take_sorted(&mut self) -> Vec<T> {
        Arc::unwrap_or_clone(self.take_shared())
    }

    /// Takes every item, in key order, as the base the copies of the run
    /// may still share (nothing is copied), leaving the run empty.
    pub(crate) fn take_shared(&mut self) -> Arc<Vec<T>> {
        self.merge_tail();
        std::mem::take(&mut self.base)
    }

    /// Keeps the items `keep` says to, in order: the base is copied without
    /// the others (a linear pass; no sort), the tail filtered in place.
    /// `keep` sees the base's items in key order, then the tail's.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut base = self.spare(self.base.len());
        let out = Arc::get_mut(&mut base).expect("a spare is unshared");
        out.extend(self.base.iter().filter(|&t| keep(t)).copied());
        if out.len() < self.base.len() {
            self.replace_base(base);
        } else {
            self.keep_spare(base);
        }
        self.tail.retain(|t| keep(t));
    }

    /// Keeps the items `keep` says to, changing them in place first (their
    /// keys may change: the run is sorted again).
    pub(crate) fn retain_mut(&mut self, keep: impl FnMut(&mut T) -> bool) {
        let mut all = self.take_sorted();
        all.retain_mut(keep);
        all.sort_unstable_by_key(RunKey::key);
        self.base = Arc::new(all);
    }

    /// Makes this a copy of `other`, in the tail's memory this holds.
    pub(crate) fn copy_from(&mut self, other: &SortedRun<T>) {
        self.base = Arc::clone(&other.base);
        self.tail.clear();
        self.tail.reserve(TAIL);
        self.tail.extend_from_slice(&other.tail);
    }

    /// Bytes this copy holds that `other` does not share: its tail, and its
    /// base unless `other` has the same one.
    pub(crate) fn bytes_beside(&self, other: &SortedRun<T>) -> usize {
        let base = if Arc::ptr_eq(&self.base, &other.base) { 0 } else { self.base.capacity() };
        (base + self.tail.capacity()) * size_of::<T>()
    }

    /// Bytes of both layers and of the spares.
    pub(crate) fn heap_bytes(&self) -> usize {
        let spares: usize = self.spares.iter().map(|s| s.capacity()).sum();
        (self.base.capacity() + self.tail.capacity() + spares) * size_of::<T>()
    }

    /// Merges the tail into the base: in place if no copy shares the base,
    /// else into a new one. Either way each tail item's place is found by
    /// a binary search and the base's items between two places move as one
    /// block (a merge comparing item by item cost the writer about a
    /// thousand instructions a write at 1M windows under moves).
    fn merge_tail(&mut self) {
        if self.tail.is_empty() {
            return;
        }
        let room = self.base.capacity() >= self.len();
        match Arc::get_mut(&mut self.base).filter(|_| room) {
            Some(base) => {
                // From the back: base items `..rest` are not placed yet, and
                // everything past them and the tail items left is final.
                let mut rest = base.len();
                base.extend_from_slice(&self.tail);
                for (j, item) in self.tail.iter().enumerate().rev() {
                    let key = item.key();
                    let at = base[..rest].partition_point(|x| x.key() < key);
                    base.copy_within(at..rest, at + j + 1);
                    base[at + j] = *item;
                    rest = at;
                }
            }
            None => {
                let mut base = self.spare(self.len());
                let merged = Arc::get_mut(&mut base).expect("a spare is unshared");
                let mut rest: &[T] = &self.base;
                for item in &self.tail {
                    let key = item.key();
                    let at = rest.partition_point(|x| x.key() < key);
                    merged.extend_from_slice(&rest[..at]);
                    merged.push(*item);
                    rest = &rest[at..];
                }
                merged.extend_from_slice(rest);
                self.replace_base(base);
            }
        }
        self.tail.clear();
    }

    /// An empty base with room for `capacity` items that no copy holds: a
    /// spare no version holds any more (the roomiest), else a new one.
    fn spare(&mut self, capacity: usize) -> Arc<Vec<T>> {
        let free = (0..self.spares.len())
            .filter(|&k| Arc::strong_count(&self.spares[k]) == 1 && Arc::weak_count(&self.spares[k]) == 0)
            .max_by_key(|&k| self.spares[k].capacity());
        if let Some(k) = free {
            let mut spare = self.spares.remove(k);
            if let Some(items) = Arc::get_mut(&mut spare) {
                items.clear();
                items.reserve(capacity);
                return spare;
            }
        }
        Arc::new(Vec::with_capacity(capacity))
    }

    /// Makes `base` the base, keeping the one it replaces as a spare.
    fn replace_base(&mut self, base: Arc<Vec<T>>) {
        let old = std::mem::replace(&mut self.base, base);
        self.keep_spare(old);
    }

    /// Keeps `spare` for reuse, dropping the oldest spare past [`SPARES`].
    fn keep_spare(&mut self, spare: Arc<Vec<T>>) {
        if self.spares.len() >= SPARES {
            self.spares.remove(0);
        }
        self.spares.push(spare);
    }

    /// Checks that both layers are sorted and no key is in both.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let sorted = |v: &[T]| v.windows(2).all(|w| w[0].key() < w[1].key());
        if !sorted(&self.base) || !sorted(&self.tail) || self.tail.len() >= TAIL.max(1) {
            return Err("a sorted run's layer is out of order, repeats a key, or its tail is too long".into());
        }
        if self.tail.iter().any(|t| self.base.binary_search_by(|b| b.key().cmp(&t.key())).is_ok()) {
            return Err("a sorted run holds a key twice".into());
        }
        Ok(())
    }
}

/// Two sequences ascending by `key` merged into one (on equal keys, `a`'s
/// item first).
pub(crate) fn merge_by_key<T, K: Ord>(
    a: impl Iterator<Item = T>,
    b: impl Iterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> impl Iterator<Item = T> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if key(y) < key(x) => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    impl RunKey for u32 {
        type Key = u32;
        fn key(&self) -> u32 {
            *self
        }
    }

    #[test]
    fn a_run_matches_a_sorted_vector_through_inserts_removes_and_copies() {
        let mut run = SortedRun::<u32>::default();
        let mut model: Vec<u32> = Vec::new();
        let mut x = 12345u32;
        let mut copies = Vec::new();
        for step in 0..3_000 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let v = x >> 22;
            if step % 5 == 4 && !run.is_empty() {
                let i = (x as usize) % run.len();
                let got = run.remove(i);
                model.retain(|&m| m != got);
            } else {
                let fresh = !model.contains(&v);
                // New keys go in both ways: checked, and as known new.
                if fresh && step % 2 == 0 {
                    run.insert_new(v);
                } else {
                    assert_eq!(run.insert(v), fresh);
                }
                if fresh {
                    model.push(v);
                    model.sort_unstable();
                }
            }
            run.check_invariants().unwrap();
            assert_eq!(run.sorted().copied().collect::<Vec<_>>(), model);
            assert_eq!(run.len(), model.len());
            for (i, &item) in run.numbered() {
                assert_eq!(run.get(i), Some(&item));
                assert_eq!(run.find(item), Some(i));
            }
            if step % 97 == 0 {
                let mut copy = SortedRun::default();
                copy.copy_from(&run);
                copies.push((copy, model.clone()));
            }
        }
        // Copies never see later changes.
        for (copy, then) in &copies {
            assert_eq!(copy.sorted().copied().collect::<Vec<_>>(), *then);
        }
        // Kept in order, with a copy taken before still whole.
        let before = run.clone();
        run.retain(|v| v % 3 != 0);
        run.check_invariants().unwrap();
        model.retain(|v| v % 3 != 0);
        assert_eq!(run.sorted().copied().collect::<Vec<_>>(), model);
        assert!(before.sorted().copied().filter(|v| v % 3 != 0).eq(model.iter().copied()));
        assert!(before.sorted().any(|v| v % 3 == 0), "the copy keeps what the run dropped");
        // Keys may change (the run sorts again), each to a distinct one.
        run.retain_mut(|v| {
            *v = 5_000 - *v;
            *v % 2 == 0
        });
        run.check_invariants().unwrap();
        let mut want: Vec<u32> = model.iter().map(|v| 5_000 - v).filter(|v| v % 2 == 0).collect();
        want.sort_unstable();
        assert_eq!(run.take_sorted(), want);
        assert!(run.is_empty());
    }

    #[test]
    fn a_base_no_copy_holds_any_more_is_written_again_and_one_held_never_is() {
        let mut run = SortedRun::<u32>::default();
        let mut next = 0u32;
        let mut fill_tail = |run: &mut SortedRun<u32>| {
            for _ in 0..TAIL {
                assert!(run.insert(next));
                next += 1;
            }
        };
        fill_tail(&mut run);
        // A version holds the base: the next merge writes a new one.
        let held = run.clone();
        let first = Arc::as_ptr(&run.base);
        fill_tail(&mut run);
        assert_ne!(Arc::as_ptr(&run.base), first);
        // Still held: a further base is new memory, and the copy is whole.
        let second = Arc::as_ptr(&run.base);
        let held_too = run.clone();
        fill_tail(&mut run);
        assert!(![first, second].contains(&Arc::as_ptr(&run.base)));
        assert!(held.sorted().copied().eq(0..TAIL as u32));
        // Once the versions are gone, the next new base reuses one of them.
        drop((held, held_too));
        let _copy = run.clone();
        let spares: Vec<*const Vec<u32>> = run.spares.iter().map(Arc::as_ptr).collect();
        assert!(spares.contains(&first) && spares.contains(&second));
        fill_tail(&mut run);
        assert!([first, second].contains(&Arc::as_ptr(&run.base)));
        assert!(run.sorted().copied().eq(0..4 * TAIL as u32));
        run.check_invariants().unwrap();
    }
}
