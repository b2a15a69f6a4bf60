//! Dense numbers: the `u32`s everything in the catalog is numbered with,
//! their one sentinel, and the checked conversion of a count into one.

/// The one sentinel of dense numbers: "no charger", "no site", "no parent",
/// and the first number never handed out.
pub(crate) const NONE: u32 = u32::MAX;

/// How many of anything numbered densely (windows, payload slots, chargers,
/// sites, organizations, placements) an index holds at most.
pub(crate) const CAPACITY: u64 = NONE as u64 - 1;

/// The dense number of the `len`-th item (numbers `0..len` being taken), or
/// `None` past [`CAPACITY`]: the one checked conversion of a count into a
/// `u32` number.
#[inline]
pub(crate) fn dense_number(len: usize) -> Option<u32> {
    u32::try_from(len).ok().filter(|&n| n != NONE)
}
