//! Identifier newtypes: window ids (generic), ULIDs, and charger, site and organization ids.

use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

use crate::Error;

/// The id of a window: what the index keys, deduplicates and (for id-ordered
/// pages) sorts by.
///
/// Implemented for `u32`, `u64` (the EV-charging API's numeric ids), `u128`
/// and [`Ulid`] (the incident.io API's ids). The order of the type is the
/// order of pages sorted by id, so it must be the natural order of the ids.
/// `to_bytes`/`from_bytes` must be inverse and use exactly `WIDTH` bytes:
/// they are how a position is written into a cursor.
///
/// # Example
///
/// ```
/// use mwindex::WindowId;
///
/// let mut buf = Vec::new();
/// 42u64.to_bytes(&mut buf);
/// assert_eq!(buf.len(), <u64 as WindowId>::WIDTH);
/// assert_eq!(u64::from_bytes(&buf), Some(42));
/// ```
pub trait WindowId: Copy + Ord + Hash + fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// Bytes of the encoding written by [`WindowId::to_bytes`].
    const WIDTH: usize;
    /// Appends exactly [`WindowId::WIDTH`] bytes that encode `self`.
    fn to_bytes(&self, out: &mut Vec<u8>);
    /// Decodes what `to_bytes` wrote; `None` if `bytes` is not a valid encoding.
    fn from_bytes(bytes: &[u8]) -> Option<Self>;

    /// An order-preserving 64-bit summary of the id (`a < b` implies
    /// `a.prefix() <= b.prefix()`), which lets the index find an id through a
    /// radix directory, interpolating instead of binary searching. The
    /// default, `0` for every id, is correct and merely slower; the provided
    /// id types return their leading 64 bits.
    fn prefix(&self) -> u64 {
        0
    }

    /// Whether [`WindowId::prefix`] is the whole id: distinct ids have
    /// distinct prefixes. The index then keeps a segment's ids as 4-byte
    /// offsets from its first when their span allows. The default, `false`,
    /// is always correct.
    const EXACT_PREFIX: bool = false;
}

macro_rules! int_window_id {
    ($($t:ty),*) => {$(
        impl WindowId for $t {
            const WIDTH: usize = std::mem::size_of::<$t>();
            const EXACT_PREFIX: bool = <$t>::BITS <= 64;
            fn to_bytes(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn from_bytes(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_be_bytes(bytes.try_into().ok()?))
            }
            fn prefix(&self) -> u64 {
                // The leading 64 bits: the whole value for u32 and u64.
                let bits = <$t>::BITS;
                (u128::from(*self) >> bits.saturating_sub(64)) as u64
            }
        }
    )*};
}
int_window_id!(u32, u64, u128);

/// A ULID: 128 bits, written as 26 Crockford base32 characters, ordered by
/// creation time. The incident.io API identifies windows this way.
///
/// # Example
///
/// ```
/// use mwindex::Ulid;
///
/// let id: Ulid = "01FCNDV6P870EA6S7TK1DSYDG0".parse()?;
/// assert_eq!(id.to_string(), "01FCNDV6P870EA6S7TK1DSYDG0");
/// assert!(id < "01FCQSP07Z74QMMYPDDGQB9FTG".parse::<Ulid>()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct Ulid(pub u128);

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

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

impl fmt::Display for Ulid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 26];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (25 - i);
            *slot = CROCKFORD[((self.0 >> shift) & 31) as usize];
        }
        // CROCKFORD is ASCII, so this never fails.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Ulid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ulid({self})")
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

impl From<Ulid> for String {
    fn from(id: Ulid) -> String {
        id.to_string()
    }
}

impl WindowId for Ulid {
    const WIDTH: usize = 16;
    fn to_bytes(&self, out: &mut Vec<u8>) {
        self.0.to_bytes(out);
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        u128::from_bytes(bytes).map(Ulid)
    }
    fn prefix(&self) -> u64 {
        self.0.prefix()
    }
}

macro_rules! entity_id {
    ($(#[$doc:meta] $name:ident, $example:literal;)*) => {$(
        #[$doc]
        ///
        /// A newtype so that one kind of id cannot be passed where another belongs.
        ///
        /// # Example
        ///
        /// ```
        #[doc = $example]
        /// ```
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl From<u64> for $name {
            fn from(v: u64) -> Self {
                $name(v)
            }
        }
    )*};
}

entity_id! {
    /// The id of a charger.
    ChargerId, "assert_eq!(mwindex::ChargerId(7).to_string(), \"7\");";
    /// The id of a site (a place with chargers).
    SiteId, "assert_eq!(mwindex::SiteId::from(3), mwindex::SiteId(3));";
    /// The id of an organization; organizations form a tree.
    OrgId, "assert!(mwindex::OrgId(1) < mwindex::OrgId(2));";
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn window_id_bytes_reject_wrong_width() {
        assert_eq!(u64::from_bytes(&[1, 2, 3]), None);
        assert_eq!(Ulid::from_bytes(&[0; 15]), None);
    }
}
