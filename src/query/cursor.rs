//! Page cursors: opaque, versioned, URL-safe, authenticated positions.
//!
//! Layout before base64 (URL-safe alphabet, no padding):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version (`3`: pinned; `2`: not pinned) |
//! | 1 | order (`0` = start then id, `1` = id) |
//! | 8 | fingerprint of the query's filters, scope and order |
//! | 8 | format `3` only: the pinned version plus one (see [`SharedIndex`](crate::SharedIndex)), big-endian, masked |
//! | 8 | start of the last window returned, microseconds, big-endian (0 in id order) |
//! | `I::WIDTH` | id of the last window returned |
//! | 16 | SipHash-2-4-128 tag over everything before it |
//!
//! A cursor that pins no version is written in format `2`, which has no
//! version field (the format before pinned versions, so their cursors
//! still read): it saves the mask's hash on every page of every query not
//! asking for consistency. The pinned version is masked with a keyed hash
//! of the cursor's position (so the field looks random): a version number
//! counts the writes of every tenant, which a cursor must not tell its
//! holder. A format `3` cursor whose field holds no pin (as every cursor
//! was written before) reads as unpinned.
//!
//! The tag is a keyed PRF over 42 to 50 bytes: SipHash-2-4 with a 128-bit key
//! and output does that in a couple of hundred instructions, a fifth of a
//! BLAKE3 block, and every page pays for one.

use std::hash::Hasher as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use siphasher::sip128::{Hasher128 as _, SipHasher24};

use super::request::Query;
use super::request::{Order, Status};
use crate::{CursorError, WindowId};

const VERSION: u8 = 3;
/// The format before pinned versions, still read.
const VERSION_UNPINNED: u8 = 2;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 1 + 8 + 8 + 8;

/// The secret key that authenticates cursors, owned by whoever runs the index.
///
/// Cursors minted under one key are rejected under another, so a server that
/// restarts (or runs several replicas) must use the same key everywhere.
/// [`CursorKey::random`] is the default of [`IndexBuilder`](crate::IndexBuilder).
///
/// # Example
///
/// ```
/// use mwindex::{CursorKey, Index};
///
/// let key = CursorKey::from_bytes([7; 32]);
/// let index: Index<u64, ()> = Index::builder().cursor_key(key).build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CursorKey {
    secret: [u8; 32],
    /// The tag's key, derived from the secret.
    tag_key: [u8; 16],
}

impl CursorKey {
    /// The 32 secret bytes (for a snapshot, so cursors stay valid after a
    /// restart).
    pub(crate) fn secret(&self) -> [u8; 32] {
        self.secret
    }

    /// A key from 32 secret bytes.
    ///
    /// # Example
    ///
    /// ```
    /// let key = mwindex::CursorKey::from_bytes([7; 32]);
    /// assert!(key == mwindex::CursorKey::from_bytes([7; 32]));
    /// ```
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let derived = blake3::derive_key("mwindex cursor tag key v2", &bytes);
        let mut tag_key = [0u8; 16];
        tag_key.copy_from_slice(&derived[..16]);
        CursorKey { secret: bytes, tag_key }
    }

    /// A fresh key from the operating system's random source. Falls back to a
    /// key derived from the clock and the process's hasher seed if the OS source
    /// fails (it never does on supported platforms).
    ///
    /// # Example
    ///
    /// ```
    /// let a = mwindex::CursorKey::random();
    /// let b = mwindex::CursorKey::random();
    /// assert!(a != b);
    /// ```
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        if getrandom::fill(&mut bytes).is_err() {
            use std::hash::{BuildHasher, RandomState};
            let seed = RandomState::new().hash_one(std::time::SystemTime::now());
            bytes = *blake3::hash(&seed.to_le_bytes()).as_bytes();
        }
        CursorKey::from_bytes(bytes)
    }
}

impl PartialEq for CursorKey {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.secret, &other.secret)
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(<secret>)")
    }
}

/// The position a cursor carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Position<I> {
    pub(crate) order: u8,
    pub(crate) fingerprint: u64,
    /// The version the page sequence reads, if it pinned one.
    pub(crate) pin: Option<u64>,
    pub(crate) start: i64,
    pub(crate) id: I,
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn tag(key: &CursorKey, body: &[u8]) -> [u8; TAG_LEN] {
    let mut h = SipHasher24::new_with_key(&key.tag_key);
    h.write(body);
    h.finish128().as_bytes()
}

/// The mask of the pinned-version field of a cursor at `fingerprint`,
/// `start` and the id whose bytes are `id`: a keyed hash, apart from the tag.
fn pin_mask(key: &CursorKey, fingerprint: u64, start: i64, id: &[u8]) -> u64 {
    let mut h = SipHasher24::new_with_key(&key.tag_key);
    h.write(b"mwindex pin mask");
    h.write(&fingerprint.to_be_bytes());
    h.write(&start.to_be_bytes());
    h.write(id);
    h.finish128().h1
}

pub(crate) fn encode<I: WindowId>(key: &CursorKey, pos: &Position<I>) -> String {
    // One buffer: the header (a pin's field left for last), the id, then
    // the tag; the pin's mask reads the id where it lies.
    let mut body = Vec::with_capacity(HEADER_LEN + I::WIDTH + TAG_LEN);
    body.push(if pos.pin.is_some() { VERSION } else { VERSION_UNPINNED });
    body.push(pos.order);
    body.extend_from_slice(&pos.fingerprint.to_be_bytes());
    if pos.pin.is_some() {
        body.extend_from_slice(&[0; 8]);
    }
    body.extend_from_slice(&pos.start.to_be_bytes());
    pos.id.to_bytes(&mut body);
    if let Some(pin) = pos.pin {
        let masked = pin.saturating_add(1) ^ pin_mask(key, pos.fingerprint, pos.start, &body[HEADER_LEN..]);
        body[10..18].copy_from_slice(&masked.to_be_bytes());
    }
    let t = tag(key, &body);
    body.extend_from_slice(&t);
    URL_SAFE_NO_PAD.encode(body)
}

/// Decodes and authenticates a cursor, then checks it belongs to the query
/// with `fingerprint` and `order`.
pub(crate) fn decode<I: WindowId>(
    key: &CursorKey,
    text: &str,
    order: u8,
    fingerprint: u64,
) -> Result<Position<I>, CursorError> {
    let pos = read::<I>(key, text)?;
    if pos.order != order || pos.fingerprint != fingerprint {
        return Err(CursorError::WrongQuery);
    }
    Ok(pos)
}

/// The version a cursor pins, if it is authentic and pins one (whichever
/// query it belongs to: [`decode`] checks that).
pub(crate) fn pin_of<I: WindowId>(key: &CursorKey, text: &str) -> Option<u64> {
    read::<I>(key, text).ok()?.pin
}

/// Decodes and authenticates a cursor.
fn read<I: WindowId>(key: &CursorKey, text: &str) -> Result<Position<I>, CursorError> {
    let expected_len = HEADER_LEN + I::WIDTH + TAG_LEN;
    // Refuse oversized input before allocating for it.
    if text.len() > expected_len.div_ceil(3) * 4 {
        return Err(CursorError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError::Malformed)?;
    let pinned = match bytes.first() {
        Some(&VERSION) => true,
        Some(&VERSION_UNPINNED) => false,
        Some(&v) => return Err(CursorError::UnsupportedVersion(v)),
        None => return Err(CursorError::Malformed),
    };
    let header = if pinned { HEADER_LEN } else { HEADER_LEN - 8 };
    if bytes.len() != header + I::WIDTH + TAG_LEN {
        return Err(CursorError::Malformed);
    }
    let (body, got_tag) = bytes.split_at(header + I::WIDTH);
    if !ct_eq(&tag(key, body), got_tag) {
        return Err(CursorError::Forged);
    }
    let word = |at: usize| -> [u8; 8] {
        let mut w = [0u8; 8];
        w.copy_from_slice(&body[at..at + 8]);
        w
    };
    let fingerprint = u64::from_be_bytes(word(2));
    let start_at = if pinned { 18 } else { 10 };
    let start = i64::from_be_bytes(word(start_at));
    let pin = if pinned {
        (u64::from_be_bytes(word(10)) ^ pin_mask(key, fingerprint, start, &body[header..])).checked_sub(1)
    } else {
        None
    };
    Ok(Position {
        order: body[1],
        fingerprint,
        pin,
        start,
        id: I::from_bytes(&body[header..]).ok_or(CursorError::Malformed)?,
    })
}

/// The byte a cursor holds for an order.
pub(crate) fn order_byte(order: Order) -> u8 {
    match order {
        Order::StartThenId => 0,
        Order::Id => 1,
    }
}

/// A 64-bit digest of what a cursor is bound to: order, time bounds, status
/// kind, filters and scope (the query builder keeps id lists sorted and
/// deduplicated, so equal sets digest equally). It needs no secrecy or
/// collision resistance against an adversary: the cursor's MAC covers it, and
/// a cursor replayed on a colliding query yields only a position its holder
/// has already seen. A splitmix64 chain is enough, and costs a few cycles.
pub(crate) fn fingerprint<I: WindowId>(q: &Query<I>) -> u64 {
    fn mix(h: u64, word: u64) -> u64 {
        let mut z = (h ^ word).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn set(h: u64, ids: Option<impl ExactSizeIterator<Item = u64>>) -> u64 {
        match ids {
            Some(ids) => {
                let len = ids.len() as u64;
                ids.fold(mix(mix(h, 1), len), mix)
            }
            None => mix(h, 0),
        }
    }
    // "mwindex" and the digest's version.
    let mut h = mix(0x6d77_696e_6465_7802, u64::from(order_byte(q.order)));
    for t in [q.after, q.before] {
        h = match t {
            Some(t) => mix(mix(h, 1), t.as_micros() as u64),
            None => mix(h, 0),
        };
    }
    h = mix(
        h,
        match q.status.map(|(s, _)| s) {
            None => 0,
            Some(Status::Active) => 1,
            Some(Status::Upcoming) => 2,
            Some(Status::Past) => 3,
        },
    );
    h = set(h, q.chargers.as_ref().map(|v| v.iter().map(|c| c.0)));
    h = set(h, q.sites.as_ref().map(|v| v.iter().map(|s| s.0)));
    h = set(h, q.orgs.as_ref().map(|v| v.iter().map(|o| o.0)));
    set(h, q.scope.map(|o| std::iter::once(o.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ulid;

    fn key() -> CursorKey {
        CursorKey::from_bytes([42; 32])
    }

    fn pos() -> Position<u64> {
        Position { order: 0, fingerprint: 0xdead_beef, pin: None, start: -5, id: 77 }
    }

    /// The cursor as the format's table describes it, field by field (the
    /// encoder writes it in one buffer): the two agree.
    #[test]
    fn cursors_are_laid_out_as_documented() {
        fn by_the_table<I: WindowId>(key: &CursorKey, pos: &Position<I>) -> String {
            let mut id = Vec::new();
            pos.id.to_bytes(&mut id);
            let mut body = vec![if pos.pin.is_some() { VERSION } else { VERSION_UNPINNED }, pos.order];
            body.extend(pos.fingerprint.to_be_bytes());
            if let Some(pin) = pos.pin {
                body.extend(((pin + 1) ^ pin_mask(key, pos.fingerprint, pos.start, &id)).to_be_bytes());
            }
            body.extend(pos.start.to_be_bytes());
            body.extend(&id);
            let t = tag(key, &body);
            body.extend(t);
            URL_SAFE_NO_PAD.encode(body)
        }
        for pin in [None, Some(0), Some(12_345)] {
            let p = Position { pin, ..pos() };
            assert_eq!(encode(&key(), &p), by_the_table(&key(), &p));
            let u = Position { order: 1, fingerprint: 9, pin, start: 0, id: Ulid(u128::MAX - 3) };
            assert_eq!(encode(&key(), &u), by_the_table(&key(), &u));
        }
    }

    #[test]
    fn round_trip() {
        let text = encode(&key(), &pos());
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(decode::<u64>(&key(), &text, 0, 0xdead_beef), Ok(pos()));
        let u = Position { order: 1, fingerprint: 1, pin: Some(0), start: 0, id: Ulid(u128::MAX - 3) };
        assert_eq!(decode::<Ulid>(&key(), &encode(&key(), &u), 1, 1), Ok(u));
        let pinned = Position { pin: Some(u64::MAX - 1), ..pos() };
        let text = encode(&key(), &pinned);
        assert_eq!(decode::<u64>(&key(), &text, 0, 0xdead_beef), Ok(pinned));
        assert_eq!(pin_of::<u64>(&key(), &text), Some(u64::MAX - 1));
        assert_eq!(pin_of::<u64>(&key(), &encode(&key(), &pos())), None);
        assert_eq!(pin_of::<u64>(&CursorKey::from_bytes([1; 32]), &text), None, "a forged pin is no pin");
    }

    /// A cursor does not show the version it pins: the field is masked, and
    /// two cursors of one walk (one version) carry different bytes there.
    #[test]
    fn the_pinned_version_is_masked() {
        let raw = |p: &Position<u64>| URL_SAFE_NO_PAD.decode(encode(&key(), p)).unwrap()[10..18].to_vec();
        let a = Position { pin: Some(41), ..pos() };
        let b = Position { pin: Some(41), id: 78, ..pos() };
        assert_ne!(raw(&a), 42u64.to_be_bytes().to_vec());
        assert_ne!(raw(&a), raw(&b));
        assert_eq!(decode::<u64>(&key(), &encode(&key(), &b), 0, 0xdead_beef), Ok(b));
        // A cursor pinning nothing has no version field at all.
        let unpinned = URL_SAFE_NO_PAD.decode(encode(&key(), &pos())).unwrap();
        assert_eq!((unpinned[0], unpinned.len()), (VERSION_UNPINNED, HEADER_LEN - 8 + 8 + TAG_LEN));
    }

    /// A format 3 cursor whose version field holds no pin (as every
    /// unpinned cursor was written before) still reads as unpinned.
    #[test]
    fn a_pinned_format_cursor_without_a_pin_is_read() {
        let mut id = Vec::new();
        77u64.to_bytes(&mut id);
        let mut body = vec![VERSION, 0];
        body.extend_from_slice(&0xdead_beef_u64.to_be_bytes());
        body.extend_from_slice(&pin_mask(&key(), 0xdead_beef, -5, &id).to_be_bytes());
        body.extend_from_slice(&(-5i64).to_be_bytes());
        body.extend_from_slice(&id);
        let t = tag(&key(), &body);
        body.extend_from_slice(&t);
        let text = URL_SAFE_NO_PAD.encode(body);
        assert_eq!(decode::<u64>(&key(), &text, 0, 0xdead_beef), Ok(pos()));
        assert_eq!(pin_of::<u64>(&key(), &text), None);
    }

    /// Cursors of the format before pinned versions still continue a walk.
    #[test]
    fn unpinned_format_is_read() {
        let mut body = vec![VERSION_UNPINNED, 0];
        body.extend_from_slice(&0xdead_beef_u64.to_be_bytes());
        body.extend_from_slice(&(-5i64).to_be_bytes());
        77u64.to_bytes(&mut body);
        let t = tag(&key(), &body);
        body.extend_from_slice(&t);
        let text = URL_SAFE_NO_PAD.encode(body);
        assert_eq!(decode::<u64>(&key(), &text, 0, 0xdead_beef), Ok(pos()));
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let raw = URL_SAFE_NO_PAD.decode(encode(&key(), &pos())).unwrap();
        for i in 0..raw.len() * 8 {
            let mut b = raw.clone();
            b[i / 8] ^= 1 << (i % 8);
            let text = URL_SAFE_NO_PAD.encode(&b);
            let err = decode::<u64>(&key(), &text, 0, 0xdead_beef).unwrap_err();
            assert!(
                matches!(err, CursorError::Forged | CursorError::Malformed | CursorError::UnsupportedVersion(_)),
                "bit {i}: {err:?}"
            );
        }
    }

    #[test]
    fn truncation_and_garbage_are_malformed() {
        let text = encode(&key(), &pos());
        for cut in 0..text.len() {
            let r = decode::<u64>(&key(), &text[..cut], 0, 0xdead_beef);
            assert!(r.is_err(), "prefix of length {cut} accepted");
        }
        for bad in ["", "!!!", "not a cursor", "AAAA", &"A".repeat(10_000), "é"] {
            assert!(decode::<u64>(&key(), bad, 0, 0xdead_beef).is_err(), "{bad}");
        }
        // A u64 cursor is not a ULID cursor.
        assert_eq!(decode::<Ulid>(&key(), &text, 0, 0xdead_beef), Err(CursorError::Malformed));
    }

    #[test]
    fn other_key_or_query_is_rejected() {
        let text = encode(&key(), &pos());
        let other = CursorKey::from_bytes([1; 32]);
        assert_eq!(decode::<u64>(&other, &text, 0, 0xdead_beef), Err(CursorError::Forged));
        assert_eq!(decode::<u64>(&key(), &text, 0, 1), Err(CursorError::WrongQuery));
        assert_eq!(decode::<u64>(&key(), &text, 1, 0xdead_beef), Err(CursorError::WrongQuery));
    }

    #[test]
    fn other_version_is_named() {
        let mut raw = URL_SAFE_NO_PAD.decode(encode(&key(), &pos())).unwrap();
        raw[0] = 9;
        let text = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(decode::<u64>(&key(), &text, 0, 0xdead_beef), Err(CursorError::UnsupportedVersion(9)));
    }
}
