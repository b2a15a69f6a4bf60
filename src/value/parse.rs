//! Values from outside the crate: numbers and text checked into
//! [`Timestamp`]s and [`Ulid`]s. Every way a caller, a file or a request can
//! make one of them passes through here, and every failure is an [`Error`]
//! naming what was wrong.

use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::error::Error;
use super::id::{CROCKFORD, Ulid};
use super::time::Timestamp;

impl Timestamp {
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
        if Self::in_range(micros) {
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

    /// Parses an RFC 3339 timestamp (the ISO 8601 profile used by both APIs),
    /// with any UTC offset; the result is in UTC. Fractional seconds may have
    /// any number of digits, as long as those past the sixth are zeros.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidTimestamp`] if the text is not RFC 3339, has more than
    /// microsecond precision (a non-zero digit past the sixth of the
    /// fraction), or is out of range.
    ///
    /// # Example
    ///
    /// ```
    /// use mwindex::{Error, Timestamp};
    ///
    /// let t = Timestamp::parse("2024-01-01T01:00:00+01:00")?;
    /// assert_eq!(t.to_string(), "2024-01-01T00:00:00Z");
    /// assert_eq!(Timestamp::parse("2024-01-01T00:00:00.123456000Z")?.as_micros() % 1_000_000, 123_456);
    /// assert!(matches!(Timestamp::parse("2024-01-01T00:00:00.1234567Z"), Err(Error::InvalidTimestamp(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, Error> {
        let dt = DateTime::parse_from_rfc3339(text)
            .map_err(|e| Error::InvalidTimestamp(format!("{text:?} is not RFC 3339: {e}")))?;
        // The parser keeps nine digits of a fraction and drops the rest
        // unread, so precision past the ninth digit is checked on the text.
        if finer_than_micros(text) {
            return Err(Error::InvalidTimestamp(format!(
                "{text:?} has sub-microsecond precision; mwindex stores microseconds"
            )));
        }
        Self::from_datetime(dt.with_timezone(&Utc))
    }
}

/// Whether the fraction of seconds in an RFC 3339 text has a non-zero digit
/// past the sixth. The fraction is the run of digits after the first `.`
/// (RFC 3339 allows a dot nowhere else).
fn finer_than_micros(text: &str) -> bool {
    let Some(dot) = text.find('.') else { return false };
    text[dot + 1..].bytes().take_while(u8::is_ascii_digit).skip(6).any(|d| d != b'0')
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

impl TryFrom<DateTime<Utc>> for Timestamp {
    type Error = Error;
    fn try_from(dt: DateTime<Utc>) -> Result<Self, Error> {
        Self::from_datetime(dt)
    }
}

impl Ulid {
    /// Parses the 26-character Crockford base32 form (case-insensitive;
    /// `I`/`L` read as 1 and `O` as 0, as Crockford specifies).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidId`] if the text is not 26 base32 characters or overflows 128 bits.
    ///
    /// # Example
    ///
    /// ```
    /// let id = mwindex::Ulid::parse("01fcndv6p870ea6s7tk1dsydg0")?;
    /// assert_eq!(id.to_string(), "01FCNDV6P870EA6S7TK1DSYDG0");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidId(format!("{text:?} is not a ULID (26 Crockford base32 characters)"));
        if text.len() != 26 {
            return Err(bad());
        }
        let mut value: u128 = 0;
        for (i, c) in text.bytes().enumerate() {
            let digit = match c.to_ascii_uppercase() {
                c @ b'0'..=b'9' => c - b'0',
                b'O' => 0,
                b'I' | b'L' => 1,
                c => CROCKFORD.iter().position(|&d| d == c).ok_or_else(bad)? as u8,
            };
            // The first character carries only 3 bits (26 * 5 = 130 > 128).
            if i == 0 && digit > 7 {
                return Err(bad());
            }
            value = (value << 5) | u128::from(digit);
        }
        Ok(Ulid(value))
    }
}

impl FromStr for Ulid {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Ulid {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_checked_and_parse_back() {
        assert!(Timestamp::from_micros(Timestamp::MIN.0).is_ok());
        assert!(Timestamp::from_micros(Timestamp::MAX.0).is_ok());
        assert!(Timestamp::from_micros(Timestamp::MIN.0 - 1).is_err());
        assert!(Timestamp::from_micros(Timestamp::MAX.0 + 1).is_err());
        assert!(Timestamp::from_micros(i64::MAX).is_err());
        assert!(Timestamp::from_secs(i64::MAX).is_err());
        for t in [Timestamp::MIN, Timestamp::MAX] {
            assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t, "{t}");
        }
    }

    #[test]
    fn rejects_garbage_and_nanoseconds() {
        for bad in ["", "yesterday", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00.0000001Z"] {
            assert!(matches!(Timestamp::parse(bad), Err(Error::InvalidTimestamp(_))), "{bad}");
        }
    }

    /// Regression (found by an independent probe): the RFC 3339 parser keeps
    /// nine fractional digits and drops the rest unread, so a non-zero digit
    /// past the ninth slipped through as whole microseconds.
    #[test]
    fn digits_past_the_ninth_are_checked() {
        for bad in [
            "2024-01-01T00:00:00.1234560001Z",
            "2024-01-01T00:00:00.0000000001Z",
            "2024-01-01T00:00:00.000000000000000000001+02:00",
        ] {
            assert!(matches!(Timestamp::parse(bad), Err(Error::InvalidTimestamp(_))), "{bad} accepted");
        }
        // Zeros past the sixth digit add no precision.
        for (good, micros) in [
            ("2024-01-01T00:00:00.1234560000000Z", 123_456),
            ("2024-01-01T00:00:00.5Z", 500_000),
            ("2024-01-01T00:00:00Z", 0),
        ] {
            let t = Timestamp::parse(good).unwrap();
            assert_eq!(t.as_micros().rem_euclid(1_000_000), micros, "{good}");
        }
    }

    #[test]
    fn round_trips_micros() {
        let t = Timestamp::parse("2021-08-17T13:28:57.801578Z").unwrap();
        assert_eq!(t.to_string(), "2021-08-17T13:28:57.801578Z");
    }

    #[test]
    fn ulid_round_trip_and_order() {
        for v in [0u128, 1, u128::MAX, 0x0123_4567_89ab_cdef_0123_4567_89ab_cdef] {
            let s = Ulid(v).to_string();
            assert_eq!(Ulid::parse(&s).unwrap(), Ulid(v));
        }
        assert_eq!(Ulid(u128::MAX).to_string(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        let a = Ulid(5).to_string();
        let b = Ulid(600).to_string();
        assert!(a < b);
    }

    #[test]
    fn ulid_rejects_garbage() {
        for bad in [
            "",
            "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "01FCNDV6P870EA6S7TK1DSYDGU",
            "01FCNDV6P870EA6S7TK1DSYDG",
            "é1FCNDV6P870EA6S7TK1DSYDG",
        ] {
            assert!(Ulid::parse(bad).is_err(), "{bad}");
        }
    }
}
