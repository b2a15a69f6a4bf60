//! Placements: the distinct (charger, site, organization) combinations the
//! windows apply to, numbered densely.
//!
//! A row holds one placement number instead of three entity numbers, which
//! makes it 32 bytes: aligned to 32, a row never straddles two cache lines,
//! so a page of scattered rows costs one line per row instead of 1.6 on
//! average. There are about as many placements as chargers (windows of one
//! charger share its site and organization), so the table is small and its
//! lookups hit the cache. It only grows, like the entity dictionaries.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::dense::dense_number;
use crate::memory::Prefetch;
use crate::{ChargerId, OrgId, SiteId};

/// Placements per chunk shared with background builds.
const CHUNK_BITS: u32 = 12;
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

/// [`PublicIds`] on a cache line of their own: the hash map keeps them
/// unaligned (40-byte slots instead of 64, a smaller table to miss in).
#[derive(Clone, Copy, Debug)]
#[repr(align(32))]
struct Aligned(PublicIds);

/// Every placement seen. The writer finds a placement's number by its
/// public ids; queries read placements by number from flat arrays;
/// background builds read them from [`PlacesView`], a snapshot that appends
/// never disturb. Entities are never removed, so a placement, once known,
/// stays valid.
#[derive(Clone, Debug, Default)]
pub(crate) struct Places {
    numbers: FxHashMap<PublicIds, u32>,
    dense: Vec<Place>,
    public: Vec<Aligned>,
    /// The same placements in chunks of [`CHUNK`]: a view clones the chunk
    /// handles, and an append copies at most the last chunk, and only when a
    /// view still holds it.
    chunks: Vec<Arc<Vec<Place>>>,
}

impl Places {
    /// The number of the placement with these public ids, if known.
    #[inline]
    pub(crate) fn find(&self, charger: Option<ChargerId>, site: Option<SiteId>, org: OrgId) -> Option<u32> {
        self.numbers.get(&PublicIds::new(charger, site, org)).copied()
    }

    /// Numbers a new placement: `place` holds the dense numbers of the
    /// public ids `charger`, `site` and `org`, which [`Places::find`] does
    /// not know yet. `None` once `u32::MAX - 1` placements exist.
    pub(crate) fn add(
        &mut self,
        place: Place,
        charger: Option<ChargerId>,
        site: Option<SiteId>,
        org: OrgId,
    ) -> Option<u32> {
        let public = PublicIds::new(charger, site, org);
        debug_assert!(!self.numbers.contains_key(&public), "placement added twice");
        let n = dense_number(self.dense.len())?;
        self.numbers.insert(public, n);
        self.dense.push(place);
        self.public.push(Aligned(public));
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last).push(place);
        }
        Some(n)
    }

    /// Every placement, indexed by number.
    #[inline]
    pub(crate) fn all(&self) -> &[Place] {
        &self.dense
    }

    /// A prefetcher of the public ids by placement number.
    pub(crate) fn prefetch(&self) -> Prefetch {
        Prefetch::of(&self.public)
    }

    /// A snapshot for a build on another thread.
    pub(crate) fn view(&self) -> PlacesView {
        PlacesView(self.chunks.clone())
    }

    /// The public ids of placement `n` (`None` for a number never given).
    #[inline]
    pub(crate) fn public_ids(&self, n: u32) -> Option<(Option<ChargerId>, Option<SiteId>, OrgId)> {
        let Aligned(p) = self.public.get(n as usize)?;
        let charger = (p.present & 1 != 0).then_some(ChargerId(p.charger));
        let site = (p.present & 2 != 0).then_some(SiteId(p.site));
        Some((charger, site, p.org))
    }

    /// Checks that the hash map, the dense and public arrays and the chunks
    /// describe the same placements, each numbered once.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let n = self.dense.len();
        if self.numbers.len() != n || self.public.len() != n {
            return Err(format!(
                "{} placements by public ids, {n} dense, {} public",
                self.numbers.len(),
                self.public.len()
            ));
        }
        for (public, &k) in &self.numbers {
            if self.public.get(k as usize).map(|a| &a.0) != Some(public) {
                return Err(format!("placement {k} is not found under its own public ids"));
            }
        }
        if !self.chunks.iter().flat_map(|c| c.iter()).eq(self.dense.iter())
            || self.chunks.iter().rev().skip(1).any(|c| c.len() != CHUNK)
        {
            return Err("placement chunks disagree with the dense placements".into());
        }
        Ok(())
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.numbers.capacity() * (size_of::<(PublicIds, u32)>() + 1)
            + self.dense.capacity() * size_of::<Place>()
            + self.public.capacity() * size_of::<Aligned>()
            + self.chunks.iter().map(|c| c.capacity() * size_of::<Place>()).sum::<usize>()
    }
}

/// The placements that existed when it was taken, readable on any thread.
#[derive(Clone, Debug, Default)]
pub(crate) struct PlacesView(Vec<Arc<Vec<Place>>>);

impl PlacesView {
    /// Placement `n`. Rows only hold numbers interned before the view was
    /// taken, so a number outside it is a bug.
    #[inline]
    pub(crate) fn get(&self, n: u32) -> Place {
        self.0[(n >> CHUNK_BITS) as usize][n as usize & (CHUNK - 1)]
    }

    /// A view of `places`, numbered in order (for tests and tools).
    #[cfg(test)]
    pub(crate) fn of(places: &[Place]) -> Self {
        PlacesView(places.chunks(CHUNK).map(|c| Arc::new(c.to_vec())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(places.add(p(i), c, s, o), Some(i));
        };
        for i in 0..(CHUNK as u32 + 5) {
            add(&mut places, i);
        }
        let view = places.view();
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
        assert_eq!(places.public_ids(2 * CHUNK as u32 + 3), None);
        assert_eq!(places.all().len(), 2 * CHUNK + 3);
        for i in 0..(CHUNK as u32 + 5) {
            assert_eq!(view.get(i), p(i));
        }
        let now = places.view();
        for (i, place) in places.all().iter().enumerate() {
            assert_eq!(*place, p(i as u32));
            assert_eq!(now.get(i as u32), p(i as u32));
            assert_eq!(places.public_ids(i as u32), Some(ids(i as u32)));
        }
    }
}
