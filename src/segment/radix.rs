//! A least-significant-digit radix sort for the large sorts of a segment
//! build (ids with their rows, ends): a merge's rebuild sorted both with a
//! comparison sort, two of the largest costs of background merges.

/// Bits of a digit (a pass sorts by one digit, into 256 buckets: 2,048
/// made the passes scatter into more places than the caches follow).
const DIGIT_BITS: u32 = 8;
const BUCKETS: usize = 1 << DIGIT_BITS;
/// Digits in a 64-bit key.
const DIGITS: usize = 64usize.div_ceil(DIGIT_BITS as usize);

/// Below this many items a comparison sort, in cache, is as fast.
pub(crate) const RADIX_MIN: usize = 1 << 12;
/// From this many items on, a comparison sort in place: the radix sort's
/// scratch copy (up to 64 MB of `(id, row)` pairs here) would raise the
/// peak memory of bulk loads and `compact()`.
pub(crate) const RADIX_MAX: usize = 1 << 22;

/// Whether `n` items are sorted faster by the radix sort: from
/// [`RADIX_MIN`] and below [`RADIX_MAX`].
#[inline]
pub(crate) fn suits(n: usize) -> bool {
    (RADIX_MIN..RADIX_MAX).contains(&n)
}

/// Sorts `v` by `key`: by [`radix_sort_by_key`] if it [`suits`] the
/// length, else by a comparison sort in place. Items with equal keys may
/// change order: the callers' keys are unique, or equal keys equal items.
pub(crate) fn sort_by_key<T: Copy>(v: &mut [T], key: impl Fn(&T) -> u64) {
    if suits(v.len()) {
        radix_sort_by_key(v, key);
    } else {
        v.sort_unstable_by_key(|x| key(x));
    }
}

/// Sorts `v` by `key`, stably: one pass finds the digits in which keys
/// differ, one counts those digits of every key, then one pass a digit
/// moves the items into a scratch copy and back. A digit that every key
/// shares takes no pass, so keys spanning a narrow range (ends within a few
/// years, ids handed out close together) take few.
pub(crate) fn radix_sort_by_key<T: Copy>(v: &mut [T], key: impl Fn(&T) -> u64) {
    let Some(first) = v.first().map(&key) else { return };
    // The bits in which some key differs from the first: only the digits
    // holding any are counted and sorted by (keys of a few bits, such as
    // dense organization, site or charger numbers, counted every digit of
    // 64 bits before, the counting pass then twice the cost of the sort).
    let differ = v.iter().fold(0u64, |acc, x| acc | (key(x) ^ first));
    let passes: Vec<usize> = (0..DIGITS).filter(|&d| digit(differ, d) != 0).collect();
    if passes.is_empty() {
        return;
    }
    let mut counts = vec![[0u32; BUCKETS]; DIGITS];
    for x in v.iter() {
        let k = key(x);
        for &d in &passes {
            counts[d][digit(k, d)] += 1;
        }
    }
    let mut scratch = v.to_vec();
    // Items are in `v` before an even pass and in `scratch` before an odd one.
    for (i, &d) in passes.iter().enumerate() {
        let (from, to): (&[T], &mut [T]) = if i % 2 == 0 { (v, &mut scratch) } else { (&scratch, v) };
        let mut at = [0u32; BUCKETS];
        let mut sum = 0u32;
        for (b, &c) in counts[d].iter().enumerate() {
            at[b] = sum;
            sum += c;
        }
        for x in from {
            let b = digit(key(x), d);
            to[at[b] as usize] = *x;
            at[b] += 1;
        }
    }
    if passes.len() % 2 == 1 {
        v.copy_from_slice(&scratch);
    }
}

#[inline(always)]
fn digit(k: u64, d: usize) -> usize {
    ((k >> (d as u32 * DIGIT_BITS)) as usize) & (BUCKETS - 1)
}

/// The order-preserving `u64` of an `i64` (its sign bit flipped).
#[inline(always)]
pub(crate) fn signed_key(x: i64) -> u64 {
    (x as u64) ^ (1 << 63)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_a_comparison_sort() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for (n, mask) in [(10usize, u64::MAX), (5_000, u64::MAX), (70_000, 0xFFFF_FFFF), (20_000, 0xF0F0), (9_000, 0)] {
            let mut v: Vec<(u64, u32)> = (0..n as u32).map(|i| (next() & mask, i)).collect();
            let mut want = v.clone();
            want.sort_by_key(|p| p.0);
            sort_by_key(&mut v, |p| p.0);
            assert!(v.windows(2).all(|w| w[0].0 <= w[1].0), "{n} keys under {mask:#x} out of order");
            let mut got = v.clone();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "{n} keys under {mask:#x}: not a permutation");
            if n >= RADIX_MIN {
                // The radix passes keep equal keys in order.
                assert!(v.windows(2).all(|w| w[0].0 < w[1].0 || w[0].1 < w[1].1));
            }
        }
        // The radix sort itself is stable at any length.
        let mut few: Vec<(u64, u32)> = (0..300u32).map(|i| (next() & 0xF, i)).collect();
        radix_sort_by_key(&mut few, |p| p.0);
        assert!(few.windows(2).all(|w| w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1)));
        let mut ends: Vec<i64> = (0..50_000).map(|_| next() as i64 >> 3).collect();
        let mut want = ends.clone();
        want.sort_unstable();
        sort_by_key(&mut ends, |&e| signed_key(e));
        assert_eq!(ends, want);
    }
}
