//! A segment's ids in ascending order, the column its id searches run on.
//!
//! Ids whose 64-bit prefix is the whole id ([`WindowId::EXACT_PREFIX`]: the
//! integer ids) and whose span in the segment fits 32 bits (ids handed out in
//! sequence, or a bulk load of them) are kept as 4-byte offsets from the
//! segment's first id: half the bytes of `u64` ids, twice as many per cache
//! line for a search. Integer ids that are every integer from the first to
//! the last (a bulk load of ids handed out in sequence) are kept as nothing
//! but the first and the count: an id's position is its offset. Other
//! segments keep the ids whole.

use crate::WindowId;
use crate::memory::Column;

/// Ids ascending: a dense run, offsets, or whole.
#[derive(Clone, Debug)]
pub(crate) enum SortedIds<I> {
    /// The ids `base`, `base + 1`, ..., `base + len - 1` (integer ids).
    Dense {
        base: u64,
        len: usize,
    },
    /// `prefix = base + offset` for every id.
    Offsets {
        base: u64,
        offsets: Column<u32>,
    },
    Whole(Column<I>),
}

impl<I> Default for SortedIds<I> {
    fn default() -> Self {
        SortedIds::Whole(Column::default())
    }
}

impl<I: WindowId> SortedIds<I> {
    /// The column of the `n` ids `id(0), id(1), ...` (ascending; repeats
    /// allowed, so a bulk load can find them), in its narrowest form.
    pub(crate) fn new(n: usize, id: impl Fn(usize) -> I) -> Self {
        if I::EXACT_PREFIX && n > 0 {
            let base = id(0).prefix();
            if id(n - 1).prefix() - base == n as u64 - 1 && (1..n).all(|k| id(k).prefix() == id(k - 1).prefix() + 1) {
                return SortedIds::Dense { base, len: n };
            }
            if id(n - 1).prefix() - base <= u64::from(u32::MAX) {
                let offsets = crate::memory::huge_pages::collect((0..n).map(|k| (id(k).prefix() - base) as u32));
                return SortedIds::Offsets { base, offsets: offsets.into() };
            }
        }
        SortedIds::Whole(crate::memory::huge_pages::collect((0..n).map(id)).into())
    }

    /// The column of ids `base + offsets[k]` (ascending from 0; repeats
    /// allowed), for integer ids: a dense run when they are every integer
    /// from the first to the last, else the offsets, as
    /// [`SortedIds::new`] makes of those ids.
    pub(crate) fn of_offsets(base: u64, offsets: Vec<u32>) -> Self {
        debug_assert!(I::EXACT_PREFIX && offsets.first().is_none_or(|&o| o == 0) && offsets.is_sorted());
        let n = offsets.len();
        if n > 0 && offsets[n - 1] as usize == n - 1 && offsets.windows(2).all(|p| p[1] == p[0] + 1) {
            return SortedIds::Dense { base, len: n };
        }
        SortedIds::Offsets { base, offsets: offsets.into() }
    }

    /// The column in memory of its own (see [`Column::owned`]).
    pub(crate) fn owned(&self) -> Self {
        match self {
            SortedIds::Dense { base, len } => SortedIds::Dense { base: *base, len: *len },
            SortedIds::Offsets { base, offsets } => SortedIds::Offsets { base: *base, offsets: offsets.owned() },
            SortedIds::Whole(ids) => SortedIds::Whole(ids.owned()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            SortedIds::Dense { len, .. } => *len,
            SortedIds::Offsets { offsets, .. } => offsets.len(),
            SortedIds::Whole(ids) => ids.len(),
        }
    }

    /// Whether the id at position `k` is below `id`.
    #[inline]
    pub(crate) fn below(&self, k: usize, id: I) -> bool {
        match self {
            SortedIds::Dense { base, .. } => base + (k as u64) < id.prefix(),
            SortedIds::Offsets { base, offsets } => base + u64::from(offsets[k]) < id.prefix(),
            SortedIds::Whole(ids) => ids[k] < id,
        }
    }

    /// Whether the id at position `k` is at most `id`.
    #[inline]
    pub(crate) fn at_most(&self, k: usize, id: I) -> bool {
        match self {
            SortedIds::Dense { base, .. } => base + k as u64 <= id.prefix(),
            SortedIds::Offsets { base, offsets } => base + u64::from(offsets[k]) <= id.prefix(),
            SortedIds::Whole(ids) => ids[k] <= id,
        }
    }

    /// Whether position `k` exists and holds `id`.
    #[inline]
    pub(crate) fn holds(&self, k: usize, id: I) -> bool {
        match self {
            SortedIds::Dense { base, len } => k < *len && base + k as u64 == id.prefix(),
            SortedIds::Offsets { base, offsets } => offsets.get(k).is_some_and(|&o| base + u64::from(o) == id.prefix()),
            SortedIds::Whole(ids) => ids.get(k) == Some(&id),
        }
    }

    /// How many ids are at most `id` (`inclusive`) or below it, without a
    /// search, when the ids are a dense run; `None` otherwise.
    #[inline]
    pub(crate) fn dense_rank(&self, id: I, inclusive: bool) -> Option<usize> {
        let SortedIds::Dense { base, len } = *self else { return None };
        let below = i128::from(id.prefix()) - i128::from(base) + i128::from(inclusive);
        Some(below.clamp(0, len as i128) as usize)
    }

    /// Whether the ids are a dense run (no column, no directory needed).
    #[inline]
    pub(crate) fn is_dense(&self) -> bool {
        matches!(self, SortedIds::Dense { .. })
    }

    /// The id at position `k`'s prefix (see [`WindowId::prefix`]).
    #[inline]
    pub(crate) fn prefix(&self, k: usize) -> u64 {
        match self {
            SortedIds::Dense { base, .. } => base + k as u64,
            SortedIds::Offsets { base, offsets } => base + u64::from(offsets[k]),
            SortedIds::Whole(ids) => ids[k].prefix(),
        }
    }

    /// The id at position `k`, when the column holds ids whole.
    #[inline]
    pub(crate) fn whole(&self, k: usize) -> Option<I> {
        match self {
            SortedIds::Dense { .. } | SortedIds::Offsets { .. } => None,
            SortedIds::Whole(ids) => ids.get(k).copied(),
        }
    }

    /// The first position whose id equals the next one's, if any.
    pub(crate) fn first_repeat(&self) -> Option<usize> {
        match self {
            SortedIds::Dense { .. } => None,
            SortedIds::Offsets { offsets, .. } => offsets.windows(2).position(|p| p[0] == p[1]),
            SortedIds::Whole(ids) => ids.windows(2).position(|p| p[0] == p[1]),
        }
    }

    /// Whether the ids strictly ascend.
    pub(crate) fn strictly_ascending(&self) -> bool {
        match self {
            SortedIds::Dense { .. } => true,
            SortedIds::Offsets { offsets, .. } => offsets.windows(2).all(|p| p[0] < p[1]),
            SortedIds::Whole(ids) => ids.windows(2).all(|p| p[0] < p[1]),
        }
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            SortedIds::Dense { .. } => 0,
            SortedIds::Offsets { offsets, .. } => offsets.bytes(),
            SortedIds::Whole(ids) => ids.bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn searches_agree_with_whole_ids(
            ids in prop::collection::vec(prop_oneof![0u64..1_000, any::<u64>(), (u64::MAX - 1_000)..=u64::MAX], 0..200),
            probes in prop::collection::vec(prop_oneof![0u64..1_000, any::<u64>(), (u64::MAX - 1_000)..=u64::MAX], 1..20),
            narrow in any::<bool>(),
        ) {
            let mut ids = ids;
            if narrow {
                // Spans within 32 bits take the offsets form.
                ids.iter_mut().for_each(|id| *id %= 1 << 33);
            }
            ids.sort_unstable();
            let column = SortedIds::new(ids.len(), |k| ids[k]);
            let span_fits = ids.last().zip(ids.first()).is_none_or(|(l, f)| l - f <= u64::from(u32::MAX));
            prop_assert_eq!(matches!(column, SortedIds::Offsets { .. } | SortedIds::Dense { .. }), !ids.is_empty() && span_fits);
            prop_assert_eq!(column.len(), ids.len());
            prop_assert_eq!(column.first_repeat(), ids.windows(2).position(|p| p[0] == p[1]));
            prop_assert_eq!(column.strictly_ascending(), ids.windows(2).all(|p| p[0] < p[1]));
            for &p in probes.iter().chain(&ids) {
                for (k, &id) in ids.iter().enumerate() {
                    prop_assert_eq!(column.below(k, p), id < p);
                    prop_assert_eq!(column.at_most(k, p), id <= p);
                    prop_assert_eq!(column.holds(k, p), id == p);
                    prop_assert_eq!(column.prefix(k), id);
                }
                prop_assert!(!column.holds(ids.len(), p));
            }
        }
    }

    proptest! {
        /// Dense ids are ranked by arithmetic; anything else by search.
        #[test]
        fn dense_ranks_agree_with_counting(
            base in prop_oneof![0u64..10, (u64::MAX - 300)..=(u64::MAX - 200), any::<u64>()],
            len in 1usize..200,
            gap in prop::option::of(0usize..200),
            probes in prop::collection::vec(any::<u64>(), 0..20),
        ) {
            let base = base.min(u64::MAX - len as u64);
            let mut ids: Vec<u64> = (0..len as u64).map(|k| base + k).collect();
            // A gap anywhere makes the ids sparse.
            if let Some(g) = gap.filter(|&g| g < len) {
                ids.iter_mut().skip(g).for_each(|id| *id = id.saturating_add(1));
                ids.dedup();
            }
            let column = SortedIds::new(ids.len(), |k| ids[k]);
            let dense = ids.windows(2).all(|p| p[1] == p[0] + 1);
            // A dense run keeps no column.
            prop_assert_eq!(column.is_dense(), dense);
            prop_assert_eq!(column.heap_bytes() == 0, dense);
            let edges = [base.saturating_sub(1), base, base + len as u64 / 2, ids[ids.len() - 1], ids[ids.len() - 1].saturating_add(1), u64::MAX];
            for &p in probes.iter().chain(&edges) {
                let want = (ids.iter().filter(|&&id| id < p).count(), ids.iter().filter(|&&id| id <= p).count());
                match (column.dense_rank(p, false), column.dense_rank(p, true)) {
                    (Some(below), Some(at_most)) => {
                        prop_assert!(dense);
                        prop_assert_eq!((below, at_most), want);
                    }
                    (None, None) => prop_assert!(!dense),
                    other => prop_assert!(false, "ranks disagree on being dense: {:?}", other),
                }
            }
        }
    }

    #[test]
    fn an_equal_id_is_neither_below_nor_above() {
        // Found while checking that the model test catches an inclusive
        // `below`: a search for an id present must stop on it.
        for column in [SortedIds::new(1, |_| 0u64), SortedIds::new(2, |k| [7u64, 1 << 40][k])] {
            let id = column.prefix(0);
            assert!(!column.below(0, id));
            assert!(column.at_most(0, id));
            assert!(column.holds(0, id));
        }
    }

    #[test]
    fn wide_ids_stay_whole() {
        let ids = [1u128 << 70, (1u128 << 70) + 1];
        assert!(matches!(SortedIds::new(ids.len(), |k| ids[k]), SortedIds::Whole(_)));
    }
}
