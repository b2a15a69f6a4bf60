//! Placements: the distinct (charger, site, organization) combinations the
//! windows apply to, numbered densely.
//!
//! A row holds one placement number instead of three entity numbers, which
//! makes it 32 bytes: aligned to 32, a row never straddles two cache lines,
//! so a page of scattered rows costs one line per row instead of 1.6 on
//! average. There are about as many placements as chargers (windows of one
//! charger share its site and organization), so the table is small and its
//! lookups hit the cache. It only grows, like the entity dictionaries.

use std::sync::{Arc, OnceLock};

use rustc_hash::FxHashMap;

use super::dense::dense_number;
use crate::memory::Prefetch;
use crate::{ChargerId, OrgId, SiteId};

/// Placements per chunk: the unit a new placement's slot is taken from,
/// and a chunk list copy is made per this many placements.
const CHUNK_BITS: u32 = 8;
const CHUNK: usize = 1 << CHUNK_BITS;

/// What a window applies to: the dense numbers of its charger and site
/// ([`NONE`](super::dense::NONE) when absent) and of its organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Place {
    pub(crate) charger: u32,
    pub(crate) site: u32,
    pub(crate) org: u32,
}

/// The public ids of a placement. A written window finds its placement by
/// them in one hash lookup (instead of one per entity); a page's row finds
/// them by number in one cache line (instead of a lookup per entity chained
/// behind the placement's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PublicIds {
    charger: u64,
    site: u64,
    org: OrgId,
    /// Bit 0: a charger; bit 1: a site.
    present: u8,
}

impl PublicIds {
    fn new(charger: Option<ChargerId>, site: Option<SiteId>, org: OrgId) -> Self {
        PublicIds {
            charger: charger.map_or(0, |c| c.0),
            site: site.map_or(0, |s| s.0),
            org,
            present: u8::from(charger.is_some()) | (u8::from(site.is_some()) << 1),
        }
    }
}

/// [`PublicIds`] as readers hold them: seven 4-byte words (charger, site
/// and organization in two words each, then the presence bits), so that
/// with its once-flag a slot takes 32 bytes and a cache line holds two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Packed([u32; 7]);

impl Packed {
    fn of(p: PublicIds) -> Self {
        let split = |v: u64| [(v >> 32) as u32, v as u32];
        let ([c0, c1], [s0, s1], [o0, o1]) = (split(p.charger), split(p.site), split(p.org.0));
        Packed([c0, c1, s0, s1, o0, o1, u32::from(p.present)])
    }

    fn ids(&self) -> PublicIds {
        let w = |i: usize| (u64::from(self.0[i]) << 32) | u64::from(self.0[i + 1]);
        PublicIds { charger: w(0), site: w(2), org: OrgId(w(4)), present: self.0[6] as u8 }
    }
}

/// A chunk of slots, each written once: an array (its length is known, so a
/// slot is reached without a bounds check) on whole cache lines (a slot of
/// 16 or 32 bytes never straddles two).
#[repr(C, align(64))]
struct Slots<T>([OnceLock<T>; CHUNK]);

type Chunk<T> = Arc<Slots<T>>;

impl<T> std::fmt::Debug for Slots<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slots").finish_non_exhaustive()
    }
}

fn chunk<T>() -> Chunk<T> {
    Arc::new(Slots(std::array::from_fn(|_| OnceLock::new())))
}

/// A copy of a chunk's slots, with slots of its own.
fn copy<T: Copy>(c: &Chunk<T>) -> Chunk<T> {
    Arc::new(Slots(std::array::from_fn(|i| c.0[i].get().copied().map_or_else(OnceLock::new, OnceLock::from))))
}

/// How many slots of `chunks` are set.
fn set<T>(chunks: &[Chunk<T>]) -> usize {
    chunks.iter().flat_map(|c| c.0.iter()).filter(|s| s.get().is_some()).count()
}

/// Every placement seen, as the writer keeps them: it finds a placement's
/// number by its public ids, and hands out [`PlacesView`]s, which read
/// placements by number on any thread. Entities are never removed, so a
/// placement, once known, stays valid.
#[derive(Debug, Default)]
pub(crate) struct Places {
    numbers: FxHashMap<PublicIds, u32>,
    view: PlacesView,
}

impl Clone for Places {
    /// A clone writes to slots of its own: the last chunk, whose free slots
    /// both would fill, is copied; full chunks never change and are shared.
    fn clone(&self) -> Self {
        let mut view = self.view.clone();
        let len = self.numbers.len();
        if !len.is_multiple_of(CHUNK) {
            let last = len / CHUNK;
            let mut dense = view.dense.to_vec();
            let mut public = view.public.to_vec();
            dense[last] = copy(&dense[last]);
            public[last] = copy(&public[last]);
            view = PlacesView { dense: dense.into(), public: public.into() };
        }
        Places { numbers: self.numbers.clone(), view }
    }
}

impl Places {
    /// The number of the placement with these public ids, if known.
    #[inline]
    pub(crate) fn find(&self, charger: Option<ChargerId>, site: Option<SiteId>, org: OrgId) -> Option<u32> {
        self.numbers.get(&PublicIds::new(charger, site, org)).copied()
    }

    /// Numbers a new placement: `place` holds the dense numbers of the
    /// public ids `charger`, `site` and `org`, which [`Places::find`] does
    /// not know yet. Returns the number and whether the view was replaced
    /// (a new chunk); `None` once `u32::MAX - 1` placements exist.
    pub(crate) fn add(
        &mut self,
        place: Place,
        charger: Option<ChargerId>,
        site: Option<SiteId>,
        org: OrgId,
    ) -> Option<(u32, bool)> {
        let public = PublicIds::new(charger, site, org);
        debug_assert!(!self.numbers.contains_key(&public), "placement added twice");
        let n = dense_number(self.numbers.len())?;
        let (c, i) = (n as usize >> CHUNK_BITS, n as usize & (CHUNK - 1));
        let grew = c == self.view.dense.len();
        if grew {
            let mut dense = self.view.dense.to_vec();
            let mut public = self.view.public.to_vec();
            dense.push(chunk());
            public.push(chunk());
            self.view = PlacesView { dense: dense.into(), public: public.into() };
        }
        // Only the writer sets slots, each once, in order.
        let _ = self.view.dense[c].0[i].set(place);
        let _ = self.view.public[c].0[i].set(Packed::of(public));
        self.numbers.insert(public, n);
        Some((n, grew))
    }

    /// How many placements there are.
    pub(crate) fn len(&self) -> usize {
        self.numbers.len()
    }

    /// What readers hold.
    pub(crate) fn view(&self) -> &PlacesView {
        &self.view
    }

    /// Checks that the hash map and the chunks describe the same
    /// placements, each numbered once, with no slot set past the last.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let n = self.numbers.len();
        for (public, &k) in &self.numbers {
            if self.view.public(k).as_ref() != Some(public) || self.view.get(k).is_none() {
                return Err(format!("placement {k} is not found under its own public ids"));
            }
        }
        if self.view.dense.len() != n.div_ceil(CHUNK)
            || self.view.public.len() != self.view.dense.len()
            || set(&self.view.dense) != n
            || set(&self.view.public) != n
        {
            return Err(format!("placement chunks do not hold exactly the {n} placements"));
        }
        Ok(())
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.numbers.capacity() * (size_of::<(PublicIds, u32)>() + 1)
            + self.view.dense.len() * CHUNK * (size_of::<OnceLock<Place>>() + size_of::<OnceLock<Packed>>())
    }
}

/// The placements as readers see them, on any thread: those numbered when
/// it was taken, and possibly later ones (which no row it can meet uses).
/// Cheap to clone: two shared lists of shared chunks.
#[derive(Clone, Debug)]
pub(crate) struct PlacesView {
    dense: Arc<[Chunk<Place>]>,
    public: Arc<[Chunk<Packed>]>,
}

impl Default for PlacesView {
    fn default() -> Self {
        PlacesView { dense: Arc::new([]), public: Arc::new([]) }
    }
}

impl PlacesView {
    /// Placement `n`, if numbered.
    #[inline]
    pub(crate) fn get(&self, n: u32) -> Option<Place> {
        self.dense.get((n >> CHUNK_BITS) as usize)?.0[n as usize & (CHUNK - 1)].get().copied()
    }

    /// Placement `n`, which a stored row holds, so it is numbered: a
    /// missing one is a bug (caught in debug builds; it matches nothing).
    #[inline]
    pub(crate) fn at(&self, n: u32) -> Place {
        let place = self.get(n);
        debug_assert!(place.is_some(), "placement {n} was never numbered");
        place.unwrap_or(Place { charger: super::NONE, site: super::NONE, org: super::NONE })
    }

    #[inline]
    fn public(&self, n: u32) -> Option<PublicIds> {
        self.public.get((n >> CHUNK_BITS) as usize)?.0[n as usize & (CHUNK - 1)].get().map(Packed::ids)
    }

    /// Starts loading placement `n`'s dense numbers (what filters test).
    #[inline]
    pub(crate) fn prefetch_dense(&self, n: u32) {
        if let Some(c) = self.dense.get((n >> CHUNK_BITS) as usize) {
            Prefetch::of(&c.0[..]).slot(n & (CHUNK as u32 - 1));
        }
    }

    /// Starts loading the public ids of placement `n`.
    #[inline]
    pub(crate) fn prefetch(&self, n: u32) {
        if let Some(c) = self.public.get((n >> CHUNK_BITS) as usize) {
            Prefetch::of(&c.0[..]).slot(n & (CHUNK as u32 - 1));
        }
    }

    /// The public ids of placement `n` (`None` for a number never given).
    #[inline]
    pub(crate) fn public_ids(&self, n: u32) -> Option<(Option<ChargerId>, Option<SiteId>, OrgId)> {
        let p = self.public(n)?;
        let charger = (p.present & 1 != 0).then_some(ChargerId(p.charger));
        let site = (p.present & 2 != 0).then_some(SiteId(p.site));
        Some((charger, site, p.org))
    }

    /// A view of `places`, numbered in order, with no public ids (tests).
    #[cfg(test)]
    pub(crate) fn of(places: &[Place]) -> Self {
        let dense: Vec<Chunk<Place>> = places
            .chunks(CHUNK)
            .map(|c| {
                Arc::new(Slots(std::array::from_fn(|i| c.get(i).copied().map_or_else(OnceLock::new, OnceLock::from))))
            })
            .collect();
        let public: Vec<Chunk<Packed>> = dense.iter().map(|_| chunk()).collect();
        PlacesView { dense: dense.into(), public: public.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_whole_cache_line_halves_and_packing_round_trips() {
        assert_eq!(size_of::<OnceLock<Packed>>(), 32);
        assert_eq!(size_of::<OnceLock<Place>>(), 16);
        assert_eq!(align_of::<Slots<Packed>>(), 64);
        let p = PublicIds { charger: u64::MAX - 1, site: 1 << 40, org: OrgId(7), present: 3 };
        assert_eq!(Packed::of(p).ids(), p);
    }

    #[test]
    fn views_keep_what_they_saw_while_appends_go_on() {
        let mut places = Places::default();
        let p = |i: u32| Place { charger: i, site: i / 10, org: i / 100 };
        let ids = |i: u32| {
            let i = u64::from(i);
            ((i % 3 != 0).then_some(ChargerId(i + 1)), (i % 2 != 0).then_some(SiteId(i + 2)), OrgId(i + 3))
        };
        let add = |places: &mut Places, i: u32| {
            let (c, s, o) = ids(i);
            assert_eq!(places.find(c, s, o), None);
            assert_eq!(places.add(p(i), c, s, o).map(|(n, _)| n), Some(i));
        };
        for i in 0..(CHUNK as u32 + 5) {
            add(&mut places, i);
        }
        let view = places.view().clone();
        for i in (CHUNK as u32 + 5)..(2 * CHUNK as u32 + 3) {
            add(&mut places, i);
        }
        // A known placement is found by its public ids; an absent id is
        // not confused with id 0.
        let (c, s, o) = ids(7);
        assert_eq!(places.find(c, s, o), Some(7));
        // Placement 0 has neither charger nor site; placement 1 has both.
        assert_eq!(places.find(None, None, OrgId(3)), Some(0));
        assert_eq!(places.find(Some(ChargerId(0)), None, OrgId(3)), None);
        assert_eq!(places.find(None, Some(SiteId(0)), OrgId(3)), None);
        assert_eq!(places.find(Some(ChargerId(2)), Some(SiteId(3)), OrgId(4)), Some(1));
        assert_eq!(places.find(None, Some(SiteId(3)), OrgId(4)), None);
        assert_eq!(places.view().public_ids(2 * CHUNK as u32 + 3), None);
        assert_eq!(places.len(), 2 * CHUNK + 3);
        places.check_invariants().unwrap();
        for i in 0..(CHUNK as u32 + 5) {
            assert_eq!(view.get(i), Some(p(i)));
        }
        assert_eq!(view.get(CHUNK as u32 * 2), None, "an old view has no chunk added after it");
        let now = places.view();
        for i in 0..places.len() as u32 {
            assert_eq!(now.get(i), Some(p(i)));
            assert_eq!(now.public_ids(i), Some(ids(i)));
        }
        let copy = places.clone();
        copy.check_invariants().unwrap();
        assert_eq!(copy.view().public_ids(5), Some(ids(5)));
    }
}
