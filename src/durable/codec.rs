//! Bytes of the values a durable index writes: the caller's payloads (the
//! [`Persist`] trait), windows and [`Mutation`]s (a log record's body).
//!
//! Little-endian fixed-width numbers, lengths as `u32`, ids through
//! [`WindowId::to_bytes`]. Decoding checks every length against the bytes
//! left before it allocates, so a damaged record is an error, never a
//! panic or a huge allocation.

use std::sync::Arc;

use crate::{ChargerId, Mutation, OrgId, SiteId, Timestamp, Window, WindowId};

/// A payload a durable index can write to its log and snapshots, and read
/// back: bytes out, and the same value back from them.
///
/// Implemented for strings, byte vectors, integers, `()`, and `Option`,
/// `Arc` and `Box` of a `Persist` type. For a record of your own, write the
/// two functions (a few lines with a serde format such as JSON or bincode,
/// or by hand as below); `restore(persist(x))` must give `x` back.
///
/// # Example
///
/// ```
/// use mwindex::Persist;
///
/// #[derive(Clone, Debug, PartialEq)]
/// struct Note {
///     comment: String,
///     priority: u8,
/// }
///
/// impl Persist for Note {
///     fn persist(&self, out: &mut Vec<u8>) {
///         out.push(self.priority);
///         out.extend_from_slice(self.comment.as_bytes());
///     }
///     fn restore(bytes: &[u8]) -> Result<Self, String> {
///         let (&priority, rest) = bytes.split_first().ok_or("empty note")?;
///         let comment = String::from_utf8(rest.to_vec()).map_err(|e| e.to_string())?;
///         Ok(Note { comment, priority })
///     }
/// }
///
/// let note = Note { comment: "swap cable".into(), priority: 2 };
/// let mut bytes = Vec::new();
/// note.persist(&mut bytes);
/// assert_eq!(Note::restore(&bytes)?, note);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Persist: Sized {
    /// Appends the bytes of `self` to `out`.
    fn persist(&self, out: &mut Vec<u8>);

    /// The value `persist` wrote as `bytes` (all of them), or why they are
    /// not one.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with the bytes.
    fn restore(bytes: &[u8]) -> Result<Self, String>;
}

impl Persist for Vec<u8> {
    fn persist(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn restore(bytes: &[u8]) -> Result<Self, String> {
        Ok(bytes.to_vec())
    }
}

impl Persist for String {
    fn persist(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn restore(bytes: &[u8]) -> Result<Self, String> {
        String::from_utf8(bytes.to_vec()).map_err(|e| format!("payload is not UTF-8: {e}"))
    }
}

impl Persist for Box<str> {
    fn persist(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn restore(bytes: &[u8]) -> Result<Self, String> {
        String::restore(bytes).map(String::into_boxed_str)
    }
}

impl Persist for Arc<str> {
    fn persist(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn restore(bytes: &[u8]) -> Result<Self, String> {
        String::restore(bytes).map(Arc::from)
    }
}

impl Persist for () {
    fn persist(&self, _out: &mut Vec<u8>) {}
    fn restore(bytes: &[u8]) -> Result<Self, String> {
        if bytes.is_empty() { Ok(()) } else { Err(format!("{} bytes where none belong", bytes.len())) }
    }
}

macro_rules! persist_int {
    ($($t:ty),*) => {$(
        impl Persist for $t {
            fn persist(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn restore(bytes: &[u8]) -> Result<Self, String> {
                bytes.try_into().map(<$t>::from_le_bytes).map_err(|_| {
                    format!("{} bytes where a {} takes {}", bytes.len(), stringify!($t), size_of::<$t>())
                })
            }
        }
    )*};
}
persist_int!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

impl<P: Persist> Persist for Option<P> {
    fn persist(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(p) => {
                out.push(1);
                p.persist(out);
            }
        }
    }
    fn restore(bytes: &[u8]) -> Result<Self, String> {
        match bytes.split_first() {
            Some((0, [])) => Ok(None),
            Some((1, rest)) => P::restore(rest).map(Some),
            _ => Err("not an optional payload".into()),
        }
    }
}

impl<P: Persist> Persist for Arc<P> {
    fn persist(&self, out: &mut Vec<u8>) {
        (**self).persist(out);
    }
    fn restore(bytes: &[u8]) -> Result<Self, String> {
        P::restore(bytes).map(Arc::new)
    }
}

impl<P: Persist> Persist for Box<P> {
    fn persist(&self, out: &mut Vec<u8>) {
        (**self).persist(out);
    }
    fn restore(bytes: &[u8]) -> Result<Self, String> {
        P::restore(bytes).map(Box::new)
    }
}

/// A reader over bytes that fails, rather than panics, past their end.
pub(crate) struct Bytes<'a> {
    rest: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Bytes { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.rest.len() {
            return Err(format!("{n} bytes needed, {} left", self.rest.len()));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, String> {
        self.array().map(u64::from_le_bytes)
    }

    pub(crate) fn i64(&mut self) -> Result<i64, String> {
        self.array().map(i64::from_le_bytes)
    }

    /// A `u32` count of items each at least `min_bytes` long: never more
    /// than the bytes left can hold.
    pub(crate) fn count(&mut self, min_bytes: usize) -> Result<usize, String> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_bytes.max(1)) > self.rest.len() {
            return Err(format!("a count of {n} items does not fit in the {} bytes left", self.rest.len()));
        }
        Ok(n)
    }

    /// Bytes preceded by their `u32` length.
    pub(crate) fn sized(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    pub(crate) fn id<I: WindowId>(&mut self) -> Result<I, String> {
        I::from_bytes(self.take(I::WIDTH)?).ok_or_else(|| "an invalid window id".to_string())
    }

    pub(crate) fn timestamp(&mut self) -> Result<Timestamp, String> {
        let micros = self.i64()?;
        Timestamp::from_micros(micros).map_err(|e| e.to_string())
    }

    pub(crate) fn end(self) -> Result<(), String> {
        if self.rest.is_empty() { Ok(()) } else { Err(format!("{} bytes left over", self.rest.len())) }
    }
}

/// The little-endian `u32` at `at` (the caller checked the bounds).
pub(crate) fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut x = [0; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

/// The little-endian `u64` at `at` (the caller checked the bounds).
pub(crate) fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A length as the `u32` the formats store; lengths past it are refused
/// before anything is written (records and snapshot parts are bounded).
pub(crate) fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Appends `bytes` preceded by their length.
pub(crate) fn put_sized(out: &mut Vec<u8>, bytes: impl FnOnce(&mut Vec<u8>)) {
    let at = out.len();
    put_u32(out, 0);
    bytes(out);
    let n = len32(out.len() - at - 4);
    out[at..at + 4].copy_from_slice(&n.to_le_bytes());
}

const HAS_CHARGER: u8 = 1;
const HAS_SITE: u8 = 2;

/// Bytes of a window: id, start, end, organization, then charger and site
/// when present (flagged).
pub(crate) fn put_window<I: WindowId>(out: &mut Vec<u8>, w: &Window<I>) {
    w.id().to_bytes(out);
    out.extend_from_slice(&w.start().as_micros().to_le_bytes());
    out.extend_from_slice(&w.end().as_micros().to_le_bytes());
    put_u64(out, w.org().0);
    let flags = if w.charger().is_some() { HAS_CHARGER } else { 0 } | if w.site().is_some() { HAS_SITE } else { 0 };
    out.push(flags);
    if let Some(c) = w.charger() {
        put_u64(out, c.0);
    }
    if let Some(s) = w.site() {
        put_u64(out, s.0);
    }
}

/// The fewest bytes a window takes (no charger, no site).
fn window_min_bytes<I: WindowId>() -> usize {
    I::WIDTH + 8 + 8 + 8 + 1
}

pub(crate) fn window<I: WindowId>(b: &mut Bytes<'_>) -> Result<Window<I>, String> {
    let id = b.id()?;
    let start = b.timestamp()?;
    let end = b.timestamp()?;
    let org = OrgId(b.u64()?);
    let flags = b.u8()?;
    if flags & !(HAS_CHARGER | HAS_SITE) != 0 {
        return Err(format!("unknown window flags {flags:#x}"));
    }
    let mut w = Window::new(id, start, end, org).map_err(|e| e.to_string())?;
    if flags & HAS_CHARGER != 0 {
        w = w.with_charger(ChargerId(b.u64()?));
    }
    if flags & HAS_SITE != 0 {
        w = w.with_site(SiteId(b.u64()?));
    }
    Ok(w)
}

fn put_payload<P: Persist>(out: &mut Vec<u8>, p: &P) {
    put_sized(out, |out| p.persist(out));
}

fn payload<P: Persist>(b: &mut Bytes<'_>) -> Result<P, String> {
    P::restore(b.sized()?).map_err(|e| format!("a payload: {e}"))
}

fn put_windows<I: WindowId, P: Persist>(out: &mut Vec<u8>, windows: &[(Window<I>, P)]) {
    put_u32(out, len32(windows.len()));
    for (w, p) in windows {
        put_window(out, w);
        put_payload(out, p);
    }
}

fn windows<I: WindowId, P: Persist>(b: &mut Bytes<'_>) -> Result<Vec<(Window<I>, P)>, String> {
    let n = b.count(window_min_bytes::<I>() + 4)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let w = window(b)?;
        out.push((w, payload(b)?));
    }
    Ok(out)
}

fn put_parent(out: &mut Vec<u8>, parent: Option<OrgId>) {
    match parent {
        None => out.push(0),
        Some(p) => {
            out.push(1);
            put_u64(out, p.0);
        }
    }
}

fn parent(b: &mut Bytes<'_>) -> Result<Option<OrgId>, String> {
    match b.u8()? {
        0 => Ok(None),
        1 => Ok(Some(OrgId(b.u64()?))),
        t => Err(format!("unknown parent tag {t}")),
    }
}

// Tags of the mutation kinds; written to disk, so never renumbered.
const INSERT: u8 = 1;
const UPSERT: u8 = 2;
const UPSERT_ALL: u8 = 3;
const DELETE: u8 = 4;
const BULK: u8 = 5;
const ADD_ORGANIZATION: u8 = 6;
const MOVE_ORGANIZATION: u8 = 7;

/// Appends the bytes of a mutation: a tag, then its fields.
pub(crate) fn put_mutation<I: WindowId, P: Persist>(out: &mut Vec<u8>, m: &Mutation<I, P>) {
    match m {
        Mutation::Insert { window, payload } | Mutation::Upsert { window, payload } => {
            out.push(if matches!(m, Mutation::Insert { .. }) { INSERT } else { UPSERT });
            put_window(out, window);
            put_payload(out, payload);
        }
        Mutation::UpsertAll(windows) => {
            out.push(UPSERT_ALL);
            put_windows(out, windows);
        }
        Mutation::Delete(id) => {
            out.push(DELETE);
            id.to_bytes(out);
        }
        Mutation::Bulk(windows) => {
            out.push(BULK);
            put_windows(out, windows);
        }
        Mutation::AddOrganization { id, parent } | Mutation::MoveOrganization { id, parent } => {
            out.push(if matches!(m, Mutation::AddOrganization { .. }) { ADD_ORGANIZATION } else { MOVE_ORGANIZATION });
            put_u64(out, id.0);
            put_parent(out, *parent);
        }
    }
}

/// The mutation `put_mutation` wrote as `bytes` (all of them).
pub(crate) fn mutation<I: WindowId, P: Persist>(bytes: &[u8]) -> Result<Mutation<I, P>, String> {
    let mut b = Bytes::new(bytes);
    let m = match b.u8()? {
        tag @ (INSERT | UPSERT) => {
            let window = window(&mut b)?;
            let payload = payload(&mut b)?;
            if tag == INSERT { Mutation::Insert { window, payload } } else { Mutation::Upsert { window, payload } }
        }
        UPSERT_ALL => Mutation::UpsertAll(windows(&mut b)?),
        DELETE => Mutation::Delete(b.id()?),
        BULK => Mutation::Bulk(windows(&mut b)?),
        tag @ (ADD_ORGANIZATION | MOVE_ORGANIZATION) => {
            let id = OrgId(b.u64()?);
            let parent = parent(&mut b)?;
            if tag == ADD_ORGANIZATION {
                Mutation::AddOrganization { id, parent }
            } else {
                Mutation::MoveOrganization { id, parent }
            }
        }
        tag => return Err(format!("unknown mutation tag {tag}")),
    };
    b.end()?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_window() -> impl Strategy<Value = Window<u64>> {
        (any::<u64>(), -1_000_000i64..1_000_000, 1i64..1_000_000, 0u64..5, any::<Option<u64>>(), any::<Option<u64>>())
            .prop_map(|(id, s, len, org, c, site)| {
                let t = |m| Timestamp::from_micros(m).expect("in range");
                let mut w = Window::new(id, t(s), t(s + len), OrgId(org)).expect("len > 0");
                if let Some(c) = c {
                    w = w.with_charger(ChargerId(c));
                }
                if let Some(site) = site {
                    w = w.with_site(SiteId(site));
                }
                w
            })
    }

    fn arb_mutation() -> impl Strategy<Value = Mutation<u64, String>> {
        prop_oneof![
            (arb_window(), ".{0,20}").prop_map(|(window, payload)| Mutation::Insert { window, payload }),
            (arb_window(), ".{0,20}").prop_map(|(window, payload)| Mutation::Upsert { window, payload }),
            proptest::collection::vec((arb_window(), ".{0,5}"), 0..5).prop_map(Mutation::UpsertAll),
            proptest::collection::vec((arb_window(), ".{0,5}"), 0..5).prop_map(Mutation::Bulk),
            any::<u64>().prop_map(Mutation::Delete),
            (any::<u64>(), any::<Option<u64>>())
                .prop_map(|(id, p)| Mutation::AddOrganization { id: OrgId(id), parent: p.map(OrgId) }),
            (any::<u64>(), any::<Option<u64>>())
                .prop_map(|(id, p)| Mutation::MoveOrganization { id: OrgId(id), parent: p.map(OrgId) }),
        ]
    }

    proptest! {
        #[test]
        fn mutations_round_trip(m in arb_mutation()) {
            let mut bytes = Vec::new();
            put_mutation(&mut bytes, &m);
            prop_assert_eq!(mutation::<u64, String>(&bytes), Ok(m));
        }

        #[test]
        fn damaged_mutations_are_errors_not_panics(m in arb_mutation(), cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
            let mut bytes = Vec::new();
            put_mutation(&mut bytes, &m);
            let n = cut.index(bytes.len());
            prop_assert!(mutation::<u64, String>(&bytes[..n]).is_err(), "a strict prefix is never a mutation");
            let at = flip.0.index(bytes.len());
            bytes[at] ^= flip.1;
            let _ = mutation::<u64, String>(&bytes);
        }

        #[test]
        fn garbage_is_an_error_or_a_mutation(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = mutation::<u64, Vec<u8>>(&bytes);
        }
    }

    #[test]
    fn a_huge_count_allocates_nothing() {
        let mut bytes = vec![BULK];
        put_u32(&mut bytes, u32::MAX);
        assert!(mutation::<u64, String>(&bytes).unwrap_err().contains("does not fit"));
    }

    #[test]
    fn payloads_round_trip() {
        fn check<P: Persist + PartialEq + std::fmt::Debug>(p: P) {
            let mut out = Vec::new();
            p.persist(&mut out);
            assert_eq!(P::restore(&out), Ok(p));
        }
        check(String::from("swap cable ✓"));
        check(vec![0u8, 255]);
        check(());
        check(-5i64);
        check(u128::MAX);
        check(Some(Arc::new(7u32)));
        check(None::<String>);
        check(Box::new(Arc::<str>::from("x")));
        assert!(u64::restore(&[1, 2]).is_err());
        assert!(String::restore(&[0xff]).is_err());
    }
}
