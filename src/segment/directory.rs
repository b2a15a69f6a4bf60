//! A radix directory over a sorted column of timestamps: the column's value
//! range cut into equal power-of-two buckets, each remembering where its
//! values begin. A search reads one directory entry pair and then a bucket
//! of a few values, instead of walking a binary search down a large column
//! (whose lower levels are cache misses on every cold query).
//!
//! Buckets are sized for [`PER_BUCKET`] values on average; skewed columns
//! get a few large buckets, which a search still narrows by binary search,
//! so the worst case stays logarithmic.

use super::row::row32;
use crate::memory::{Column, SharedBytes};

/// Values per bucket the directory aims for on average.
pub(crate) const PER_BUCKET: usize = 8;

/// Where the values of a sorted column `lo..hi` fall, bucket by bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize)]
pub(crate) struct Directory {
    lo: u32,
    hi: u32,
    /// The smallest value; bucket `k` holds values in
    /// `base + (k << shift) .. base + ((k + 1) << shift)`.
    base: i64,
    shift: u32,
    /// `first[k]`: the first position whose value is at least bucket `k`'s
    /// lower bound; one entry more than there are buckets, the last `hi`.
    first: Column<u32>,
}

impl Directory {
    /// Indexes positions `lo..hi` of a column sorted ascending, read through
    /// `key`.
    pub(crate) fn build(lo: usize, hi: usize, key: impl Fn(usize) -> i64) -> Self {
        let (lo32, hi32) = (row32(lo), row32(hi));
        if lo >= hi {
            return Directory { lo: lo32, hi: lo32, ..Directory::default() };
        }
        let mut first = Vec::new();
        let (base, shift) = build_into(lo, hi, PER_BUCKET, key, &mut first);
        Directory { lo: lo32, hi: hi32, base, shift, first: first.into() }
    }

    /// Positions `from..to` holding the partition point of both `v < t` and
    /// `v <= t`: every value before `from` is below `t`'s bucket, every value
    /// from `to` on is above it. Reads no value of the column.
    #[inline]
    pub(crate) fn bracket(&self, t: i64) -> (usize, usize) {
        if self.lo == self.hi {
            return (self.lo as usize, self.lo as usize);
        }
        bracket_in(&self.first, self.lo as usize, self.hi as usize, self.base, self.shift, t)
    }

    /// The first position where `pred` turns false, reading the column
    /// through `key`: `pred` must hold for every value whose directory key is
    /// below `t` and fail for every one whose key is above it (`v < t` or
    /// `v <= t` on the keys themselves, or the same on values that keys
    /// summarize in order).
    #[inline]
    pub(crate) fn partition_point<K>(&self, t: i64, key: impl Fn(usize) -> K, pred: impl Fn(K) -> bool) -> usize {
        let (mut from, mut to) = self.bracket(t);
        while from < to {
            let mid = from + (to - from) / 2;
            if pred(key(mid)) {
                from = mid + 1;
            } else {
                to = mid;
            }
        }
        from
    }

    /// Many searches of the column at once: for each of `keys`, in order,
    /// the first position where `below(key, position)` turns false, the
    /// directory bracketing each search at `dir_key(key)` first (as in
    /// [`Directory::partition_point`]) and the searches inside the brackets
    /// then advancing in lockstep ([`partition_points`]).
    pub(crate) fn partition_points_of<K: Copy>(
        &self,
        keys: impl IntoIterator<Item = K>,
        dir_key: impl Fn(K) -> i64,
        below: impl Fn(K, usize) -> bool,
    ) -> Vec<(usize, usize, K)> {
        let mut searches: Vec<(usize, usize, K)> = keys
            .into_iter()
            .map(|k| {
                let (lo, hi) = self.bracket(dir_key(k));
                (lo, hi, k)
            })
            .collect();
        partition_points(&mut searches, below);
        searches
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.first.bytes()
    }

    /// The directory in memory of its own (see [`Column::owned`]).
    pub(crate) fn owned(&self) -> Self {
        Directory { first: self.first.owned(), ..*self }
    }

    /// A directory read back from a snapshot, checked to be one over
    /// `lo..hi` (`expect`): its bucket starts ascend inside `lo..=hi` and
    /// end at `hi`, so a search never leaves the range.
    /// Its bucket starts are read in place if they lie in `owner`'s bytes.
    pub(crate) fn from_archived(
        a: &ArchivedDirectory,
        expect: (usize, usize),
        owner: Option<&SharedBytes>,
    ) -> Result<Self, String> {
        let dir = Directory {
            lo: a.lo.to_native(),
            hi: a.hi.to_native(),
            base: a.base.to_native(),
            shift: a.shift.to_native(),
            first: Column::of_archived(&a.first, owner),
        };
        if (dir.lo as usize, dir.hi as usize) != expect {
            return Err(format!(
                "a directory over {}..{} where {}..{} was expected",
                dir.lo, dir.hi, expect.0, expect.1
            ));
        }
        if dir.lo < dir.hi {
            check_bucket_starts(&dir.first, dir.lo, dir.hi, dir.shift)?;
        }
        Ok(dir)
    }
}

/// Checks bucket starts as [`build_into`] makes them for positions
/// `lo..hi`: at least one bucket, ascending inside `lo..=hi`, the last `hi`.
pub(crate) fn check_bucket_starts(first: &[u32], lo: u32, hi: u32, shift: u32) -> Result<(), String> {
    if shift >= 64 || first.len() < 2 || first.last() != Some(&hi) {
        return Err(format!("a directory of {} buckets, shift {shift}, over {lo}..{hi}", first.len()));
    }
    if !first.is_sorted() || first[0] < lo {
        return Err("a directory whose bucket starts do not ascend inside its range".into());
    }
    Ok(())
}

/// Appends to `out` the bucket starts of a directory over positions
/// `lo..hi` (not empty) of a column sorted ascending, read through `key`,
/// with about `per_bucket` values per bucket; returns its base and shift.
/// `out` gets one entry per bucket and one more (`hi`).
pub(crate) fn build_into(
    lo: usize,
    hi: usize,
    per_bucket: usize,
    key: impl Fn(usize) -> i64,
    out: &mut Vec<u32>,
) -> (i64, u32) {
    debug_assert!(lo < hi, "a directory over no values");
    let base = key(lo);
    // Sorted, so the last value is the largest and the span fits in u64.
    let span = (key(hi - 1) as u64).wrapping_sub(base as u64);
    let target = ((hi - lo) / per_bucket).max(1) as u64;
    let shift = (0..64).find(|&s| (span >> s) < target).unwrap_or(63);
    let buckets = (span >> shift) as usize + 1;
    out.reserve(buckets + 1);
    let mut p = lo;
    for k in 0..=buckets {
        let bound = i128::from(base) + ((k as i128) << shift);
        while p < hi && i128::from(key(p)) < bound {
            p += 1;
        }
        out.push(row32(p));
    }
    (base, shift)
}

/// [`Directory::bracket`] over bucket starts `first` (as [`build_into`]
/// made them) of the values at `lo..hi`.
#[inline]
pub(crate) fn bracket_in(first: &[u32], lo: usize, hi: usize, base: i64, shift: u32, t: i64) -> (usize, usize) {
    if t < base {
        return (lo, lo);
    }
    let k = (t as u64).wrapping_sub(base as u64) >> shift;
    let buckets = first.len() as u64 - 1;
    if k >= buckets {
        return (hi, hi);
    }
    let k = k as usize;
    (first[k] as usize, first[k + 1] as usize)
}

/// Finishes many binary searches at once. Each `(lo, hi, key)` of
/// `searches` holds in `lo..hi` the partition point of the search `key`
/// describes, and `below(key, mid)` tells whether position `mid` lies before
/// it. Every round takes one probe of each unfinished search, so the cache
/// misses of different searches overlap instead of queueing one behind
/// another. On return every `lo` is its search's partition point.
pub(crate) fn partition_points<K: Copy>(searches: &mut [(usize, usize, K)], below: impl Fn(K, usize) -> bool) {
    loop {
        let mut active = false;
        for (lo, hi, key) in searches.iter_mut().filter(|(lo, hi, _)| lo < hi) {
            let mid = *lo + (*hi - *lo) / 2;
            if below(*key, mid) {
                *lo = mid + 1;
            } else {
                *hi = mid;
            }
            active = true;
        }
        if !active {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn column() -> impl Strategy<Value = Vec<i64>> {
        prop_oneof![
            prop::collection::vec(-1_000i64..1_000, 0..300),
            prop::collection::vec(any::<i64>(), 0..100),
            prop::collection::vec(prop_oneof![Just(i64::MIN), Just(0i64), Just(i64::MAX)], 0..40),
        ]
        .prop_map(|mut v| {
            v.sort_unstable();
            v
        })
    }

    proptest! {
        #[test]
        fn agrees_with_partition_point(values in column(), a in 0usize..300, b in 0usize..300, x in any::<i64>(), near in -1_001i64..1_001) {
            let (lo, hi) = (a.min(b).min(values.len()), a.max(b).min(values.len()));
            let dir = Directory::build(lo, hi, |i| values[i]);
            for t in [x, near, i64::MIN, i64::MAX] {
                let below = lo + values[lo..hi].partition_point(|&v| v < t);
                let at_most = lo + values[lo..hi].partition_point(|&v| v <= t);
                prop_assert_eq!(dir.partition_point(t, |i| values[i], |v| v < t), below);
                prop_assert_eq!(dir.partition_point(t, |i| values[i], |v| v <= t), at_most);
                let (from, to) = dir.bracket(t);
                prop_assert!(lo <= from && from <= below && at_most <= to && to <= hi);
            }
        }
    }

    #[test]
    fn uniform_buckets_stay_small() {
        let values: Vec<i64> = (0..10_000).map(|i| i * 37).collect();
        let dir = Directory::build(0, values.len(), |i| values[i]);
        let widest = dir.first.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        assert!(widest as usize <= 2 * PER_BUCKET, "widest bucket holds {widest} values");
    }
}
