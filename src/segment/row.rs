//! A stored row and the units rows are grouped in: length tiers, and blocks
//! of [`BLOCK`] rows for the end augmentation.

use crate::WindowId;

/// Rows per block of the max-end / min-end augmentation.
pub(crate) const BLOCK: usize = 64;
// A block's tombstones are one word of `dead_bits`.
const _: () = assert!(BLOCK == u64::BITS as usize);

/// Upper bounds (inclusive, microseconds) of the length tiers; the last is unbounded.
pub(crate) const TIER_MAX_LEN: [i64; TIERS] = [8 * 3_600_000_000, 7 * 86_400_000_000, i64::MAX];

/// Number of length tiers.
pub(crate) const TIERS: usize = 3;

// `Row::tier` counts the bounds below a length: they must ascend, and the
// last take every length.
const _: () = assert!(TIER_MAX_LEN[0] < TIER_MAX_LEN[1] && TIER_MAX_LEN[TIERS - 1] == i64::MAX);

/// One window as the engine stores it: times in microseconds, where it
/// applies as a [placement](crate::catalog) number, the payload as a slot in
/// the index's payload slab.
///
/// 32 bytes with `u64` ids, aligned to 32: a row never straddles two cache
/// lines, so reading a scattered row costs one line (wider ids make it 64
/// bytes, still one line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(32))]
pub(crate) struct Row<I> {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) id: I,
    pub(crate) place: u32,
    pub(crate) slot: u32,
}

impl<I: WindowId> Row<I> {
    /// Reads the row, and so the one cache line it lies in. A scan that
    /// touches the rows it will test before testing any gets all their
    /// misses in one wave instead of one after another.
    #[inline]
    pub(crate) fn touch(&self) -> i64 {
        self.start
    }

    /// The length tier: the first whose longest length this row's is at
    /// most. Counted without a branch (the tiers' bounds ascend, the last
    /// is `i64::MAX`): sorts and the write buffer's searches compute it at
    /// every comparison, where the branches of a search mispredicted.
    #[inline]
    pub(crate) fn tier(&self) -> usize {
        let len = self.end - self.start;
        TIER_MAX_LEN[..TIERS - 1].iter().map(|&m| usize::from(len > m)).sum()
    }
}

/// The rows of one tier: `lo..hi`, and the actual extremes of their lengths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize)]
pub(crate) struct Tier {
    pub(crate) lo: u32,
    pub(crate) hi: u32,
    pub(crate) min_len: i64,
    pub(crate) max_len: i64,
}

impl Tier {
    pub(crate) fn from_archived(a: &ArchivedTier) -> Self {
        Tier {
            lo: a.lo.to_native(),
            hi: a.hi.to_native(),
            min_len: a.min_len.to_native(),
            max_len: a.max_len.to_native(),
        }
    }
}

/// What a scan of one tier walks: the rows `lo..hi`, of which it keeps those
/// with `from <= start < to` and `(start, id) > after`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TierScan<I> {
    pub(crate) lo: u32,
    pub(crate) hi: u32,
    pub(crate) from: i64,
    pub(crate) to: i64,
    pub(crate) after: Option<(i64, I)>,
}

impl<I: WindowId> TierScan<I> {
    pub(crate) fn is_empty(&self) -> bool {
        self.lo == self.hi
    }

    pub(crate) fn rows(&self) -> u32 {
        self.hi - self.lo
    }

    /// Whether a row with this start and id is inside the range; branch-free,
    /// for block-at-a-time tests.
    #[inline]
    pub(crate) fn inside(&self, start: i64, id: I) -> bool {
        let after = match self.after {
            Some((s, a)) => (start > s) | ((start == s) & (id > a)),
            None => true,
        };
        (start >= self.from) & (start < self.to) & after
    }
}

/// A row number (or any position in a segment's columns) as the `u32`
/// the columns store. Segments hold fewer than `u32::MAX` rows (checked when
/// one is built), so this never truncates.
#[inline]
pub(crate) fn row32(n: usize) -> u32 {
    debug_assert!(u32::try_from(n).is_ok(), "row number {n} past u32");
    n as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_in_the_first_tier_its_length_fits() {
        for len in [
            0,
            1,
            3_600_000_000,
            TIER_MAX_LEN[0],
            TIER_MAX_LEN[0] + 1,
            TIER_MAX_LEN[1],
            TIER_MAX_LEN[1] + 1,
            i64::MAX / 2,
        ] {
            let row = Row { start: 0, end: len, id: 1u64, place: 0, slot: 0 };
            let want = TIER_MAX_LEN.iter().position(|&m| len <= m).unwrap_or(TIERS - 1);
            assert_eq!(row.tier(), want, "length {len}");
        }
    }
}
