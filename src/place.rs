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

use crate::dict::Dict;
use crate::{ChargerId, OrgId, SiteId};

/// Placements per chunk shared with background builds.
const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// What a window applies to: the dense numbers of its charger and site
/// ([`NONE`](crate::segment::NONE) when absent) and of its organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Place {
    pub(crate) charger: u32,
    pub(crate) site: u32,
    pub(crate) org: u32,
}

/// The public ids of a placement, for the windows of a page: one lookup (one
/// cache line) per row, where looking up each dense number in its own
/// dictionary would chain a second lookup behind the first.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(32))]
struct PublicIds {
    charger: u64,
    site: u64,
    org: OrgId,
    /// Bit 0: a charger; bit 1: a site.
    present: u8,
}

/// Every placement seen. The writer finds a placement's number by value;
/// queries read placements by number from a flat array; background builds
/// read them from [`PlacesView`], a snapshot that appends never disturb.
#[derive(Clone, Debug, Default)]
pub(crate) struct Places {
    dict: Dict<Place>,
    public: Vec<PublicIds>,
    /// The same placements in chunks of [`CHUNK`]: a view clones the chunk
    /// handles, and an append copies at most the last chunk, and only when a
    /// view still holds it.
    chunks: Vec<Arc<Vec<Place>>>,
}

impl Places {
    /// The number of `place`, whose public ids are `ids`, assigning the next
    /// one if it is new. `None` once `u32::MAX - 1` placements exist.
    pub(crate) fn intern(&mut self, place: Place, ids: (Option<ChargerId>, Option<SiteId>, OrgId)) -> Option<u32> {
        let before = self.dict.len();
        let n = self.dict.intern(place)?;
        if self.dict.len() > before {
            let (charger, site, org) = ids;
            self.public.push(PublicIds {
                charger: charger.map_or(0, |c| c.0),
                site: site.map_or(0, |s| s.0),
                org,
                present: u8::from(charger.is_some()) | (u8::from(site.is_some()) << 1),
            });
            if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
                self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
            }
            if let Some(last) = self.chunks.last_mut() {
                Arc::make_mut(last).push(place);
            }
        }
        Some(n)
    }

    /// Every placement, indexed by number.
    #[inline]
    pub(crate) fn all(&self) -> &[Place] {
        self.dict.keys()
    }

    /// A snapshot for a build on another thread.
    pub(crate) fn view(&self) -> PlacesView {
        PlacesView(self.chunks.clone())
    }

    /// The public ids of placement `n` (`None` for a number never given).
    #[inline]
    pub(crate) fn public_ids(&self, n: u32) -> Option<(Option<ChargerId>, Option<SiteId>, OrgId)> {
        let p = self.public.get(n as usize)?;
        let charger = (p.present & 1 != 0).then_some(ChargerId(p.charger));
        let site = (p.present & 2 != 0).then_some(SiteId(p.site));
        Some((charger, site, p.org))
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.dict.heap_bytes()
            + self.public.capacity() * size_of::<PublicIds>()
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
        for i in 0..(CHUNK as u32 + 5) {
            assert_eq!(places.intern(p(i), ids(i)), Some(i));
        }
        let view = places.view();
        for i in (CHUNK as u32 + 5)..(2 * CHUNK as u32 + 3) {
            assert_eq!(places.intern(p(i), ids(i)), Some(i));
        }
        // Interning again finds the number given before.
        assert_eq!(places.intern(p(7), ids(7)), Some(7));
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
