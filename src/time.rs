//! Instants in UTC at microsecond precision.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::Error;

/// An instant in UTC, stored as microseconds since the Unix epoch.
///
/// The supported range is years 0000 to 9999, what RFC 3339 can write, so
/// every `Timestamp` prints as RFC 3339 and parses back, and arithmetic on the
/// bounds of a query never overflows.
///
/// # Example
///
/// ```
/// use mwindex::Timestamp;
///
/// let t: Timestamp = "2024-03-01T12:00:00.250Z".parse()?;
/// assert_eq!(t.as_micros(), 1_709_294_400_250_000);
/// assert_eq!(t.to_string(), "2024-03-01T12:00:00.250Z");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest supported instant.
    pub const MIN: Timestamp = Timestamp(-62_167_219_200_000_000);
    /// The latest supported instant.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999_999);

    /// Makes a timestamp from microseconds since the Unix epoch.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTimestamp`] if `micros` is outside [`Timestamp::MIN`]..=[`Timestamp::MAX`].
    ///
    /// # Example
    ///
    /// ```
    /// let t = mwindex::Timestamp::from_micros(1_000_000)?;
    /// assert_eq!(t.to_string(), "1970-01-01T00:00:01Z");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_micros(micros: i64) -> Result<Self, Error> {
        if (Self::MIN.0..=Self::MAX.0).contains(&micros) {
            Ok(Timestamp(micros))
        } else {
            Err(Error::InvalidTimestamp(format!(
                "{micros} microseconds since the epoch is outside the supported range"
            )))
        }
    }

    /// Makes a timestamp from whole seconds since the Unix epoch.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTimestamp`] if the instant is outside the supported range.
    ///
    /// # Example
    ///
    /// ```
    /// let t = mwindex::Timestamp::from_secs(86_400)?;
    /// assert_eq!(t.to_string(), "1970-01-02T00:00:00Z");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_secs(secs: i64) -> Result<Self, Error> {
        secs.checked_mul(1_000_000)
            .ok_or_else(|| Error::InvalidTimestamp(format!("{secs} seconds is out of range")))
            .and_then(Self::from_micros)
    }

    /// For values the engine stored after checking them.
    pub(crate) const fn from_micros_unchecked(micros: i64) -> Self {
        Timestamp(micros)
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

    /// Converts from a `chrono` UTC date-time.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTimestamp`] if the date-time has sub-microsecond digits
    /// (they would be silently lost) or is outside the supported range.
    ///
    /// # Example
    ///
    /// ```
    /// let dt = chrono::DateTime::from_timestamp(60, 0).unwrap();
    /// let t = mwindex::Timestamp::from_datetime(dt)?;
    /// assert_eq!(t.as_micros(), 60_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_datetime(dt: DateTime<Utc>) -> Result<Self, Error> {
        if !dt.timestamp_subsec_nanos().is_multiple_of(1_000) {
            return Err(Error::InvalidTimestamp(format!(
                "{dt} has sub-microsecond precision; mwindex stores microseconds"
            )));
        }
        Self::from_micros(dt.timestamp_micros())
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

    /// Parses an RFC 3339 timestamp (the ISO 8601 profile used by both APIs),
    /// with any UTC offset; the result is in UTC.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTimestamp`] if the text is not RFC 3339, has more than
    /// microsecond precision, or is out of range.
    ///
    /// # Example
    ///
    /// ```
    /// let t = mwindex::Timestamp::parse("2024-01-01T01:00:00+01:00")?;
    /// assert_eq!(t.to_string(), "2024-01-01T00:00:00Z");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, Error> {
        let dt = DateTime::parse_from_rfc3339(text)
            .map_err(|e| Error::InvalidTimestamp(format!("{text:?} is not RFC 3339: {e}")))?;
        Self::from_datetime(dt.with_timezone(&Utc))
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

impl FromStr for Timestamp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Timestamp {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.to_string()
    }
}

impl TryFrom<DateTime<Utc>> for Timestamp {
    type Error = Error;
    fn try_from(dt: DateTime<Utc>) -> Result<Self, Error> {
        Self::from_datetime(dt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_formattable_and_checked() {
        assert!(Timestamp::from_micros(Timestamp::MIN.0).is_ok());
        assert!(Timestamp::from_micros(Timestamp::MAX.0).is_ok());
        assert!(Timestamp::from_micros(Timestamp::MIN.0 - 1).is_err());
        assert!(Timestamp::from_micros(Timestamp::MAX.0 + 1).is_err());
        assert!(Timestamp::from_micros(i64::MAX).is_err());
        assert!(Timestamp::from_secs(i64::MAX).is_err());
        let min = Timestamp::MIN.to_string();
        let max = Timestamp::MAX.to_string();
        assert_eq!(min, "0000-01-01T00:00:00Z");
        assert_eq!(max, "9999-12-31T23:59:59.999999Z");
        assert_eq!(Timestamp::parse(&min).unwrap(), Timestamp::MIN, "{min}");
        assert_eq!(Timestamp::parse(&max).unwrap(), Timestamp::MAX, "{max}");
    }

    #[test]
    fn rejects_garbage_and_nanoseconds() {
        for bad in ["", "yesterday", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00.0000001Z"] {
            assert!(matches!(Timestamp::parse(bad), Err(Error::InvalidTimestamp(_))), "{bad}");
        }
    }

    #[test]
    fn round_trips_micros() {
        let t = Timestamp::parse("2021-08-17T13:28:57.801578Z").unwrap();
        assert_eq!(t.to_string(), "2021-08-17T13:28:57.801578Z");
    }
}
