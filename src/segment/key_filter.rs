//! A Bloom filter of the chargers and sites of a write buffer's rows, so a
//! filtered query skips a buffer that cannot hold its chargers or sites.
//!
//! A buffered row's filters are tested through its placement, and the
//! placements of a buffer's rows are scattered over a table of every
//! placement: a query for one site's upcoming windows spent 1.7 µs of its
//! 5.3 (10M windows, beside a writer of 10,000 moves a second) testing
//! those of the buffered rows, almost none of which were that site's.
//!
//! One filter serves a buffer from its first row until it is emptied, and
//! every version holding the buffer shares it: the writer sets bits with
//! atomic operations and never clears one, so a version meets at least the bits
//! of its own rows (set before the version was published) and perhaps some
//! of later ones, which only make a skip rarer. Rows removed from the
//! buffer leave their bits, for the same reason.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::catalog::{NONE, Place};

/// Words of the filter (2 KB): a full buffer of 1,024 rows, each with a
/// charger and a site, sets at most 4,096 of its 16,384 bits, and a key it
/// does not hold then passes about one time in 40 (the test below).
const WORDS: usize = 256;

/// Which entity family a key is of, mixed into its hash.
const CHARGER: u64 = 0x9E37_79B9_7F4A_7C15;
const SITE: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct KeyFilter {
    words: Box<[AtomicU64; WORDS]>,
}

impl Default for KeyFilter {
    fn default() -> Self {
        KeyFilter { words: Box::new(std::array::from_fn(|_| AtomicU64::new(0))) }
    }
}

impl KeyFilter {
    /// The word of `key` in `family` and its two bits there (a blocked
    /// Bloom filter: a key costs one word to note or to test).
    #[inline]
    fn slot(family: u64, key: u32) -> (usize, u64) {
        let h = (u64::from(key) ^ family).wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let word = (h >> 56) as usize % WORDS;
        (word, (1 << ((h >> 20) & 63)) | (1 << ((h >> 26) & 63)))
    }

    #[inline]
    fn set(&self, family: u64, key: u32) {
        let (w, bits) = Self::slot(family, key);
        let word = &self.words[w];
        // The locked read-modify-write only for bits not set yet; atomic
        // whoever writes (a buffer's copies share the filter, and a copy a
        // writer inserted into would set bits too: none may be lost).
        if word.load(Ordering::Relaxed) & bits != bits {
            word.fetch_or(bits, Ordering::Relaxed);
        }
    }

    #[inline]
    fn may_hold(&self, family: u64, key: u32) -> bool {
        let (w, bits) = Self::slot(family, key);
        self.words[w].load(Ordering::Relaxed) & bits == bits
    }

    /// Notes a row at `place`. Called by the buffer's one writer, before the
    /// version holding the row is published (whose release makes the bits
    /// visible to every reader of it).
    #[inline]
    pub(crate) fn add(&self, place: Place) {
        if place.charger != NONE {
            self.set(CHARGER, place.charger);
        }
        if place.site != NONE {
            self.set(SITE, place.site);
        }
    }

    /// Whether no row noted can match filters on these chargers and sites
    /// (each `None` for no filter on that family): a row matches only if
    /// its charger is one of `chargers` and its site one of `sites`.
    #[inline]
    pub(crate) fn excludes(&self, chargers: Option<&[u32]>, sites: Option<&[u32]>) -> bool {
        let none_of = |family: u64, keys: Option<&[u32]>| {
            keys.is_some_and(|keys| !keys.iter().any(|&k| k != NONE && self.may_hold(family, k)))
        };
        none_of(CHARGER, chargers) || none_of(SITE, sites)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(charger: u32, site: u32) -> Place {
        Place { charger, site, org: 0 }
    }

    #[test]
    fn never_excludes_a_key_it_holds() {
        let f = KeyFilter::default();
        for i in 0..1_024u32 {
            f.add(place(i * 7, if i % 3 == 0 { NONE } else { i * 13 }));
        }
        for i in 0..1_024u32 {
            assert!(!f.excludes(Some(&[i * 7]), None), "charger {} excluded", i * 7);
            if i % 3 != 0 {
                assert!(!f.excludes(None, Some(&[i * 13])), "site {} excluded", i * 13);
                assert!(!f.excludes(Some(&[5, i * 7]), Some(&[i * 13, 1])));
            }
        }
        // No filter on a family never excludes; an empty key list always does.
        assert!(!f.excludes(None, None));
        assert!(f.excludes(Some(&[]), None));
    }

    #[test]
    fn excludes_most_keys_it_never_saw() {
        let f = KeyFilter::default();
        for i in 0..1_024u32 {
            f.add(place(i, 1_000_000 + i));
        }
        let passed = (2_000_000..2_010_000u32).filter(|&k| !f.excludes(Some(&[k]), None)).count();
        // 2.7% at this fill (a full buffer with a charger and a site a row).
        assert!(passed < 800, "{passed} of 10,000 unseen chargers passed");
        // A charger key is not a site key.
        let sites = (0..1_024u32).filter(|&k| !f.excludes(None, Some(&[k]))).count();
        assert!(sites < 200, "{sites} of 1,024 charger numbers passed as sites");
        assert!(f.excludes(Some(&[NONE]), None), "no row has the missing charger");
    }
}
