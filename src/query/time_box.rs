//! The time part of a query as a box on `(start, end)`.

use super::request::Status;
use crate::Timestamp;

/// The time part of a query as bounds on start and end:
/// `s_lo <= start < s_hi` and `e_lo < end <= e_hi`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimeBox {
    pub(crate) s_lo: i64,
    pub(crate) s_hi: i64,
    pub(crate) e_lo: i64,
    pub(crate) e_hi: i64,
}

impl TimeBox {
    pub(crate) const ALL: TimeBox = TimeBox { s_lo: i64::MIN, s_hi: i64::MAX, e_lo: i64::MIN, e_hi: i64::MAX };

    pub(crate) fn new(
        after: Option<Timestamp>,
        before: Option<Timestamp>,
        status: Option<(Status, Timestamp)>,
    ) -> Self {
        let mut b = TimeBox::ALL;
        if let Some(a) = after {
            b.e_lo = b.e_lo.max(a.as_micros());
        }
        if let Some(t) = before {
            b.s_hi = b.s_hi.min(t.as_micros());
        }
        // Timestamps stay far from i64::MAX, so `now + 1` cannot overflow.
        if let Some((status, now)) = status {
            let now = now.as_micros();
            match status {
                Status::Active => {
                    b.s_hi = b.s_hi.min(now + 1);
                    b.e_lo = b.e_lo.max(now);
                }
                Status::Upcoming => b.s_lo = b.s_lo.max(now + 1),
                Status::Past => b.e_hi = b.e_hi.min(now),
            }
        }
        b
    }

    #[inline]
    pub(crate) fn contains(&self, start: i64, end: i64) -> bool {
        start >= self.s_lo && start < self.s_hi && end > self.e_lo && end <= self.e_hi
    }

    #[inline]
    pub(crate) fn end_ok(&self, end: i64) -> bool {
        end > self.e_lo && end <= self.e_hi
    }

    /// Whether no window at all can match (every window has `start < end`).
    pub(crate) fn is_empty(&self) -> bool {
        self.s_lo >= self.s_hi || self.e_lo >= self.e_hi || self.s_lo >= self.e_hi
    }

    /// The start range `[from, to)` that windows with lengths in
    /// `[min_len, max_len]` must start in to match.
    pub(crate) fn start_range(&self, min_len: i64, max_len: i64) -> (i64, i64) {
        let from = self.s_lo.max(self.e_lo.saturating_sub(max_len).saturating_add(1));
        let to = self.s_hi.min(self.e_hi.saturating_sub(min_len).saturating_add(1));
        (from, to)
    }
}
