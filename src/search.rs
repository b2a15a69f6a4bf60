//! Binary search through a sparse fence index: one sampled value per
//! [`FENCE`] positions, small enough to stay in cache, narrows a search over a
//! large sorted column to one short run of the column itself.

/// Positions between two fence samples.
pub(crate) const FENCE: usize = 64;

/// Every [`FENCE`]-th value of `values`, starting at position 0.
pub(crate) fn fences<T: Copy>(values: &[T]) -> Vec<T> {
    values.iter().step_by(FENCE).copied().collect()
}

/// The bracket `from..to` of `lo..hi` that holds the partition point of
/// `pred`, found from the fences alone: at most [`FENCE`] positions wide
/// unless it is the whole range, and never touching `values`.
#[inline]
pub(crate) fn bracket<K: Copy>(fences: &[K], lo: usize, hi: usize, pred: impl Fn(K) -> bool) -> (usize, usize) {
    let first = lo / FENCE + 1;
    let last = hi.div_ceil(FENCE);
    if first >= last || last > fences.len() + 1 {
        return (lo, hi);
    }
    let inner = &fences[first..last.min(fences.len())];
    let j = inner.partition_point(|&v| pred(v));
    // Fence `first + j - 1` satisfies `pred`, fence `first + j` does not.
    let from = if j == 0 { lo } else { (first + j - 1) * FENCE };
    (from, ((first + j) * FENCE).min(hi))
}

/// Like [`partition_point`], reading position `i` through `key(i)`.
#[inline]
pub(crate) fn partition_point_by<K: Copy>(
    fences: &[K],
    lo: usize,
    hi: usize,
    key: impl Fn(usize) -> K,
    pred: impl Fn(K) -> bool,
) -> usize {
    let (mut from, mut to) = bracket(fences, lo, hi, &pred);
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

/// The first position in `lo..hi` where `pred` turns false, like
/// `lo + values[lo..hi].partition_point(pred)`; `values[lo..hi]` must be
/// partitioned by `pred` and `fences` must be `fences(values)`.
#[inline]
pub(crate) fn partition_point<T: Copy>(
    values: &[T],
    fences: &[T],
    lo: usize,
    hi: usize,
    pred: impl Fn(T) -> bool,
) -> usize {
    debug_assert!(lo <= hi && hi <= values.len(), "search range {lo}..{hi} out of bounds");
    partition_point_by(fences, lo, hi, |i| values[i], pred)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_plain_partition_point(
            mut values in prop::collection::vec(0i64..500, 0..700),
            a in 0usize..700, b in 0usize..700, x in -1i64..501,
        ) {
            values.sort_unstable();
            let f = fences(&values);
            let (lo, hi) = (a.min(b).min(values.len()), a.max(b).min(values.len()));
            let want = lo + values[lo..hi].partition_point(|&v| v < x);
            prop_assert_eq!(partition_point(&values, &f, lo, hi, |v| v < x), want);
            let want = lo + values[lo..hi].partition_point(|&v| v <= x);
            prop_assert_eq!(partition_point(&values, &f, lo, hi, |v| v <= x), want);
            prop_assert_eq!(partition_point_by(&f, lo, hi, |i| values[i], |v| v <= x), want);
            let (from, to) = bracket(&f, lo, hi, |v| v <= x);
            prop_assert!(lo <= from && from <= want && want <= to && to <= hi);
        }
    }
}
