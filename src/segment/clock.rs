//! A coarse clock: times as whole quanta (`1 << shift` microseconds) since a
//! base, the finest power of two that numbers a span in a given number of
//! bits. Posting entries keep starts on one (20 bits: 67 s over two years),
//! the longest tier's end column its ends (32 bits: 32 ms).

/// Times in `[base, ...)` as quanta `0..=max_q`; times outside the clock's
/// span clamp to its first or last quantum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, rkyv::Archive, rkyv::Serialize)]
pub(crate) struct Clock {
    base: i64,
    shift: u32,
    max_q: u32,
}

impl Clock {
    /// The clock of times in `[first, last]`, numbered in `bits` bits
    /// (`1..=32`).
    pub(crate) fn new(first: i64, last: i64, bits: u32) -> Self {
        debug_assert!((1..=32).contains(&bits));
        let max_q = u32::MAX >> (32 - bits);
        let span = (last as u64).wrapping_sub(first as u64);
        let shift = (0..64).find(|&s| (span >> s) <= u64::from(max_q)).unwrap_or(63);
        Clock { base: first, shift, max_q }
    }

    /// The first time of quantum 0.
    #[inline]
    pub(crate) fn base(&self) -> i64 {
        self.base
    }

    /// The quantum of `t`, clamped to `0..=max_q`.
    #[inline]
    pub(crate) fn quantum(&self, t: i64) -> u32 {
        if t <= self.base {
            return 0;
        }
        ((t as u64).wrapping_sub(self.base as u64) >> self.shift).min(u64::from(self.max_q)) as u32
    }

    /// The times quantum `q` stands for: `[lo, hi]` (the last quantum
    /// reaches to the end of time).
    #[inline]
    pub(crate) fn times(&self, q: u32) -> (i64, i64) {
        let lo = self.base.saturating_add(((u64::from(q)) << self.shift).min(i64::MAX as u64) as i64);
        let hi = if q == self.max_q { i64::MAX } else { lo.saturating_add((1i64 << self.shift.min(62)) - 1) };
        (lo, hi)
    }

    /// A clock read back from a snapshot, checked: a shift a quantum can
    /// be shifted by.
    pub(crate) fn from_archived(a: &ArchivedClock) -> Result<Self, String> {
        let clock = Clock { base: a.base.to_native(), shift: a.shift.to_native(), max_q: a.max_q.to_native() };
        if clock.shift >= 64 {
            return Err(format!("a clock shift of {}", clock.shift));
        }
        Ok(clock)
    }

    /// The quantum's width, as a power of two of microseconds.
    #[cfg(test)]
    pub(crate) fn shift(&self) -> u32 {
        self.shift
    }
}
