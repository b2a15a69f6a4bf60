//! Identifier newtypes: window ids (generic), ULIDs, and charger, site and organization ids.

use std::fmt;
use std::hash::Hash;

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

/// The Crockford base32 alphabet ULIDs are written in.
pub(super) const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

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
    fn window_id_bytes_reject_wrong_width() {
        assert_eq!(u64::from_bytes(&[1, 2, 3]), None);
        assert_eq!(Ulid::from_bytes(&[0; 15]), None);
    }

    #[test]
    fn ulid_display_is_ordered_base32() {
        assert_eq!(Ulid(u128::MAX).to_string(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        assert_eq!(Ulid(0).to_string(), "00000000000000000000000000");
        assert!(Ulid(5).to_string() < Ulid(600).to_string());
    }
}
