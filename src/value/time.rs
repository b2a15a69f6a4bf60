//! Instants in UTC at microsecond precision: the type, its range, arithmetic
//! and formatting. Checked construction from numbers and text is in
//! [`parse`](super::parse).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// An instant in UTC, stored as microseconds since the Unix epoch.
///
/// The supported range is years 0000 to 9999, what RFC 3339 can write, so
/// every `Timestamp` prints as RFC 3339 and parses back, and arithmetic on the
/// bounds of a query never overflows. Arithmetic is checked: a result outside
/// the range is `None`, never a panic.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use mwindex::Timestamp;
///
/// let t: Timestamp = "2024-03-01T12:00:00.250Z".parse()?;
/// assert_eq!(t.as_micros(), 1_709_294_400_250_000);
/// assert_eq!(t.to_string(), "2024-03-01T12:00:00.250Z");
/// let later = t.checked_add(Duration::from_secs(3_600)).unwrap();
/// assert_eq!(later.to_string(), "2024-03-01T13:00:00.250Z");
/// assert_eq!(later.duration_since(t), Some(Duration::from_secs(3_600)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct Timestamp(pub(super) i64);

impl Timestamp {
    /// The earliest supported instant.
    pub const MIN: Timestamp = Timestamp(-62_167_219_200_000_000);
    /// The latest supported instant.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999_999);

    /// Whether `micros` lies in the supported range.
    pub(super) const fn in_range(micros: i64) -> bool {
        Self::MIN.0 <= micros && micros <= Self::MAX.0
    }

    /// For values the engine stored after checking them.
    pub(crate) const fn from_micros_unchecked(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// `micros` if it lies in the supported range.
    const fn checked(micros: i64) -> Option<Self> {
        if Self::in_range(micros) { Some(Timestamp(micros)) } else { None }
    }

    /// Microseconds since the Unix epoch.
    ///
    /// # Example
    ///
    /// ```
    /// let t = mwindex::Timestamp::from_secs(2)?;
    /// assert_eq!(t.as_micros(), 2_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Converts to a `chrono` UTC date-time.
    ///
    /// # Example
    ///
    /// ```
    /// let t = mwindex::Timestamp::from_secs(0)?;
    /// assert_eq!(t.to_datetime().timestamp(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_datetime(self) -> DateTime<Utc> {
        // Every value in MIN..=MAX is representable; the range is checked on construction.
        DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }

    /// The instant `duration` later, or `None` past [`Timestamp::MAX`].
    /// Sub-microsecond parts of `duration` are dropped.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use mwindex::Timestamp;
    ///
    /// let t = Timestamp::from_secs(60)?;
    /// assert_eq!(t.checked_add(Duration::from_secs(30)), Some(Timestamp::from_secs(90)?));
    /// assert_eq!(Timestamp::MAX.checked_add(Duration::from_micros(1)), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checked_add(self, duration: Duration) -> Option<Timestamp> {
        let micros = i64::try_from(duration.as_micros()).ok()?;
        Self::checked(self.0.checked_add(micros)?)
    }

    /// The instant `duration` earlier, or `None` before [`Timestamp::MIN`].
    /// Sub-microsecond parts of `duration` are dropped.
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use mwindex::Timestamp;
    ///
    /// let t = Timestamp::from_secs(60)?;
    /// assert_eq!(t.checked_sub(Duration::from_secs(60)), Some(Timestamp::from_secs(0)?));
    /// assert_eq!(Timestamp::MIN.checked_sub(Duration::from_micros(1)), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checked_sub(self, duration: Duration) -> Option<Timestamp> {
        let micros = i64::try_from(duration.as_micros()).ok()?;
        Self::checked(self.0.checked_sub(micros)?)
    }

    /// How long after `earlier` this instant is, or `None` if it is before
    /// `earlier` (see [`Timestamp::signed_duration_since`] for a signed
    /// difference).
    ///
    /// # Example
    ///
    /// ```
    /// use std::time::Duration;
    /// use mwindex::Timestamp;
    ///
    /// let (a, b) = (Timestamp::from_secs(10)?, Timestamp::from_secs(70)?);
    /// assert_eq!(b.duration_since(a), Some(Duration::from_secs(60)));
    /// assert_eq!(a.duration_since(b), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn duration_since(self, earlier: Timestamp) -> Option<Duration> {
        // Both lie in MIN..=MAX, so the difference fits an i64.
        let micros = u64::try_from(self.0 - earlier.0).ok()?;
        Some(Duration::from_micros(micros))
    }

    /// The signed difference `self - other`, exact to the microsecond. Never
    /// overflows: every difference of two timestamps fits. `a - b` is the
    /// same.
    ///
    /// # Example
    ///
    /// ```
    /// use mwindex::Timestamp;
    ///
    /// let (a, b) = (Timestamp::from_secs(10)?, Timestamp::from_secs(70)?);
    /// assert_eq!(a.signed_duration_since(b), chrono::TimeDelta::seconds(-60));
    /// assert_eq!(b - a, chrono::TimeDelta::seconds(60));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signed_duration_since(self, other: Timestamp) -> TimeDelta {
        TimeDelta::microseconds(self.0 - other.0)
    }
}

impl std::ops::Sub for Timestamp {
    type Output = TimeDelta;

    /// The signed difference (see [`Timestamp::signed_duration_since`]).
    fn sub(self, other: Timestamp) -> TimeDelta {
        self.signed_duration_since(other)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_datetime().to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_stays_in_range_and_never_panics() {
        let huge = Duration::from_secs(u64::MAX);
        for t in [Timestamp::MIN, Timestamp(0), Timestamp::MAX] {
            assert_eq!(t.checked_add(huge), None);
            assert_eq!(t.checked_sub(huge), None);
            assert_eq!(t.checked_add(Duration::ZERO), Some(t));
            assert_eq!(t.duration_since(t), Some(Duration::ZERO));
        }
        assert_eq!(Timestamp::MAX.checked_add(Duration::from_micros(1)), None);
        assert_eq!(Timestamp::MIN.checked_sub(Duration::from_micros(1)), None);
        // Sub-microsecond parts are dropped, not rounded.
        assert_eq!(Timestamp(0).checked_add(Duration::from_nanos(1_999)), Some(Timestamp(1)));
        let span = Timestamp::MAX - Timestamp::MIN;
        assert_eq!(span.num_microseconds(), Some(Timestamp::MAX.0 - Timestamp::MIN.0));
        assert_eq!((Timestamp::MIN - Timestamp::MAX), -span);
        let d = Timestamp::MAX.duration_since(Timestamp::MIN).unwrap();
        assert_eq!(Timestamp::MIN.checked_add(d), Some(Timestamp::MAX));
    }

    #[test]
    fn bounds_format_as_rfc3339() {
        assert_eq!(Timestamp::MIN.to_string(), "0000-01-01T00:00:00Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999999Z");
    }
}
