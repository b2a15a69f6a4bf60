//! The longest tier's ends as 4-byte quanta, tested 64 at a time.
//!
//! The longest tier's lengths vary most (30 to 90 days, or years), so a scan
//! there meets many rows that began early enough but ended too soon. Its ends
//! are kept in a column of their own, so those rows are ruled out without
//! reading them: each end as the number of whole quanta (`1 << shift`
//! microseconds, the finest that numbers the column's span in 32 bits:
//! 32 ms over two years) since the column's first end. A test against the
//! quanta of a query's bounds is conservative: every end inside the bounds
//! passes, and an end outside passes only when it shares a quantum with a
//! bound, so the scan checks each passing row's exact end. Four ends fit a
//! 16-byte register, so a block of 64 is tested in 32 comparisons.

use super::clock::Clock;
use crate::memory::{Column, SharedBytes};

/// A column of ends as quanta.
#[derive(Clone, Debug, Default, rkyv::Archive, rkyv::Serialize)]
pub(crate) struct EndColumn {
    clock: Clock,
    /// Each end's quantum with its top bit flipped: signed, so the baseline
    /// x86-64 comparison of 32-bit lanes (signed only) orders them.
    quanta: Column<i32>,
}

/// A query's bounds on the column: an end may lie in the bounds only if its
/// quantum lies in `lo..=hi`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EndBounds {
    lo: i32,
    hi: i32,
}

impl EndColumn {
    /// The column of `ends`, in their order.
    pub(crate) fn new(ends: impl ExactSizeIterator<Item = i64> + Clone) -> Self {
        let (min, max) = ends.clone().fold((i64::MAX, i64::MIN), |(a, b), e| (a.min(e), b.max(e)));
        if min > max {
            return EndColumn::default();
        }
        let clock = Clock::new(min, max, 32);
        EndColumn { quanta: ends.map(|e| signed(clock.quantum(e))).collect(), clock }
    }

    /// The quantum of `t` on the column's clock, as stored.
    #[inline]
    fn quantum(&self, t: i64) -> i32 {
        signed(self.clock.quantum(t))
    }

    /// The quanta an end in `(e_lo, e_hi]` may have.
    pub(crate) fn bounds(&self, e_lo: i64, e_hi: i64) -> EndBounds {
        EndBounds { lo: self.quantum(e_lo.saturating_add(1)), hi: self.quantum(e_hi) }
    }

    /// Bit `j` set for each end at position `from + j` (`from..to`, at most
    /// 64 positions) whose quantum lies in `bounds`: every end in the
    /// bounds, and the ends outside them that share a bound's quantum.
    #[inline]
    pub(crate) fn candidates(&self, from: usize, to: usize, bounds: EndBounds) -> u64 {
        let quanta = &self.quanta[from..to];
        match <&[i32; 64]>::try_from(quanta) {
            Ok(block) => block_mask(block, bounds),
            Err(_) => scalar_mask(quanta, bounds),
        }
    }

    /// Whether position `k` holds the quantum of `end` (for validation).
    pub(crate) fn holds(&self, k: usize, end: i64) -> bool {
        self.quanta.get(k) == Some(&self.quantum(end))
    }

    /// A column read back from a snapshot, checked to hold `len` ends.
    /// The quanta are read in place if they lie in `owner`'s bytes.
    pub(crate) fn from_archived(
        a: &ArchivedEndColumn,
        len: usize,
        owner: Option<&SharedBytes>,
    ) -> Result<Self, String> {
        if a.quanta.len() != len {
            return Err(format!("an end column of {} rows for a tier of {len}", a.quanta.len()));
        }
        Ok(EndColumn { clock: Clock::from_archived(&a.clock)?, quanta: Column::of_archived(&a.quanta, owner) })
    }

    /// The column in memory of its own (see [`Column::owned`]).
    pub(crate) fn owned(&self) -> Self {
        EndColumn { clock: self.clock, quanta: self.quanta.owned() }
    }

    /// Positions in the column.
    pub(crate) fn len(&self) -> usize {
        self.quanta.len()
    }

    /// Bytes the column holds on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.quanta.bytes()
    }
}

/// A quantum with its top bit flipped: `u32` order as `i32` order.
#[inline]
fn signed(q: u32) -> i32 {
    (q ^ (1 << 31)) as i32
}

fn scalar_mask(quanta: &[i32], b: EndBounds) -> u64 {
    quanta.iter().enumerate().fold(0, |mask, (j, &q)| mask | (u64::from(q >= b.lo && q <= b.hi) << j))
}

/// [`scalar_mask`] of a whole block, sixteen quanta a round: four 4-lane
/// comparisons against each bound, the outside lanes packed to bytes, and
/// one byte mask per round.
#[cfg(target_arch = "x86_64")]
#[inline]
#[allow(unsafe_code)]
fn block_mask(block: &[i32; 64], b: EndBounds) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpgt_epi32, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_packs_epi16, _mm_packs_epi32,
        _mm_set1_epi32,
    };
    let mut mask = 0u64;
    // SAFETY: the intrinsics are SSE2 instructions, which every x86-64
    // processor has (the target's baseline). Each load reads lanes
    // `4k..4k + 4` (k < 4) of `sixteen`, which holds 16, and needs no
    // alignment.
    unsafe {
        let (lo, hi) = (_mm_set1_epi32(b.lo), _mm_set1_epi32(b.hi));
        for (round, sixteen) in block.chunks_exact(16).enumerate() {
            let outside = |k: usize| {
                let q = _mm_loadu_si128(sixteen[4 * k..].as_ptr().cast::<__m128i>());
                _mm_or_si128(_mm_cmpgt_epi32(lo, q), _mm_cmpgt_epi32(q, hi))
            };
            // Lanes are 0 or -1: saturating packs keep them so, in order.
            let bytes =
                _mm_packs_epi16(_mm_packs_epi32(outside(0), outside(1)), _mm_packs_epi32(outside(2), outside(3)));
            let out = _mm_movemask_epi8(bytes) as u32 as u64;
            mask |= (!out & 0xffff) << (16 * round);
        }
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn block_mask(block: &[i32; 64], b: EndBounds) -> u64 {
    scalar_mask(block, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ends() -> impl Strategy<Value = Vec<i64>> {
        let near = -2_000i64..2_000;
        let far = prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()];
        prop::collection::vec(prop_oneof![4 => near, 1 => far], 1..200)
    }

    fn bound() -> impl Strategy<Value = i64> {
        prop_oneof![4 => -2_100i64..2_100, 1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()]]
    }

    proptest! {
        #[test]
        fn candidates_hold_every_end_in_bounds_and_only_ends_near_them(
            ends in ends(),
            e_lo in bound(),
            e_hi in bound(),
            from in 0usize..200,
        ) {
            let column = EndColumn::new(ends.iter().copied());
            let b = column.bounds(e_lo, e_hi);
            let from = from % ends.len();
            let to = (from + 64).min(ends.len());
            let mask = column.candidates(from, to, b);
            if to - from < 64 {
                prop_assert_eq!(mask >> (to - from), 0, "bits past the range");
            }
            for (j, &end) in ends[from..to].iter().enumerate() {
                let exact = end > e_lo && end <= e_hi;
                let got = mask >> j & 1 == 1;
                // No end in the bounds is ever left out ...
                prop_assert!(!exact || got, "end {end} in ({e_lo}, {e_hi}] left out");
                // ... and one outside them passes only when it shares a
                // bound's quantum.
                if got && !exact {
                    let q = column.quantum(end);
                    prop_assert!(q == b.lo || q == b.hi, "end {end} far outside ({e_lo}, {e_hi}] passed");
                }
                prop_assert!(column.holds(from + j, end));
            }
        }

        #[test]
        fn blocks_agree_with_the_scalar_test(
            quanta in prop::collection::vec(prop_oneof![-3i32..3, any::<i32>()], 64),
            lo in prop_oneof![-3i32..3, any::<i32>()],
            hi in prop_oneof![-3i32..3, any::<i32>()],
        ) {
            let block: &[i32; 64] = quanta.as_slice().try_into().unwrap();
            let b = EndBounds { lo, hi };
            prop_assert_eq!(block_mask(block, b), scalar_mask(&quanta, b));
        }
    }

    #[test]
    fn a_fine_span_keeps_exact_ends() {
        let ends = [5i64, 9, 1_000, 3];
        let column = EndColumn::new(ends.iter().copied());
        // A span under 2^32 microseconds needs no coarsening at all.
        assert_eq!(column.clock.shift(), 0);
        let b = column.bounds(4, 9);
        assert_eq!(column.candidates(0, 4, b), 0b0011);
    }
}
