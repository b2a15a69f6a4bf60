//! The catalog: what windows apply to, numbered densely. Chargers and sites
//! get `u32` numbers ([`dict`]), organizations theirs in a tree ([`org`]),
//! and each distinct (charger, site, organization) combination a placement
//! number ([`place`]), which is all a stored row keeps. Numbers are handed
//! out in order and never taken back.

mod dense;
mod dict;
mod org;
mod place;

pub(crate) use org::{OrgSet, OrgTree};

pub(crate) use place::{Place, Places, PlacesView};

pub(crate) use dense::{CAPACITY, NONE};

use std::sync::Arc;

use dict::{Dict, DictTable};

use crate::{ChargerId, Error, OrgId, SiteId, Timestamp, Window, WindowId};

/// The numbering of everything windows apply to, as the writer keeps it.
/// Readers hold a [`CatalogView`]: shared tables the writer adds to in
/// place (each slot written once) and replaces only when one grows or the
/// organization tree changes, so taking a view costs a pointer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Catalog {
    orgs: Arc<OrgTree>,
    chargers: Dict<ChargerId>,
    sites: Dict<SiteId>,
    places: Places,
    view: Arc<CatalogView>,
}

/// What queries read of the catalog, on any thread.
#[derive(Debug, Default)]
pub(crate) struct CatalogView {
    pub(crate) orgs: Arc<OrgTree>,
    chargers: Arc<DictTable<ChargerId>>,
    sites: Arc<DictTable<SiteId>>,
    pub(crate) places: PlacesView,
}

/// The catalog as a snapshot stores it: every number handed out, in order.
#[derive(rkyv::Archive, rkyv::Serialize)]
pub(crate) struct CatalogWire {
    /// Organization ids by dense number, and each one's parent's number
    /// ([`NONE`] for a root).
    orgs: Vec<(u64, u32)>,
    chargers: Vec<u64>,
    sites: Vec<u64>,
    /// Placements by number: charger, site (0 when absent), organization,
    /// and presence bits (1: a charger, 2: a site).
    places: Vec<(u64, u64, u64, u8)>,
}

impl CatalogWire {
    /// What `view` numbers: its organization tree, and the placements of
    /// organizations in it, which (numbered in order) are every placement
    /// the view's rows use, and their chargers and sites.
    pub(crate) fn of(view: &CatalogView) -> Self {
        let orgs: Vec<(u64, u32)> = view.orgs.export().map(|(id, p)| (id.0, p)).collect();
        // Placements first: a charger or site is numbered before a
        // placement holding it, so the dictionaries read after have them.
        let mut places = Vec::new();
        while let Some((c, s, o)) = u32::try_from(places.len()).ok().and_then(|n| view.places.public_ids(n)) {
            if view.orgs.dense(o).is_none() {
                break;
            }
            let present = u8::from(c.is_some()) | (u8::from(s.is_some()) << 1);
            places.push((c.map_or(0, |c| c.0), s.map_or(0, |s| s.0), o.0, present));
        }
        CatalogWire {
            orgs,
            chargers: view.chargers.keys_in_order().into_iter().map(|c| c.0).collect(),
            sites: view.sites.keys_in_order().into_iter().map(|s| s.0).collect(),
            places,
        }
    }
}

impl Catalog {
    /// The catalog an archived [`CatalogWire`] describes, every number as
    /// it was.
    ///
    /// # Errors
    ///
    /// A message if the tree is not one, or an id or placement repeats.
    pub(crate) fn from_archived(a: &ArchivedCatalogWire) -> Result<Self, String> {
        let orgs = OrgTree::import(a.orgs.iter().map(|t| (OrgId(t.0.to_native()), t.1.to_native())))?;
        let mut catalog = Catalog::new(orgs);
        for (k, c) in a.chargers.iter().enumerate() {
            if catalog.chargers.intern(ChargerId(c.to_native())).map(|(n, _)| n as usize) != Some(k) {
                return Err(format!("charger {c} repeats"));
            }
        }
        for (k, s) in a.sites.iter().enumerate() {
            if catalog.sites.intern(SiteId(s.to_native())).map(|(n, _)| n as usize) != Some(k) {
                return Err(format!("site {s} repeats"));
            }
        }
        for (k, p) in a.places.iter().enumerate() {
            let present = p.3;
            let charger = (present & 1 != 0).then_some(ChargerId(p.0.to_native()));
            let site = (present & 2 != 0).then_some(SiteId(p.1.to_native()));
            let n = catalog.place(charger, site, OrgId(p.2.to_native())).map_err(|e| e.to_string())?;
            if n as usize != k || present > 3 {
                return Err(format!("placement {k} repeats or is malformed"));
            }
        }
        catalog.refresh();
        Ok(catalog)
    }

    /// How many placements are numbered.
    pub(crate) fn places_len(&self) -> usize {
        self.places.len()
    }
    /// A catalog over an organization tree, with no placement yet.
    pub(crate) fn new(orgs: OrgTree) -> Self {
        let mut catalog = Catalog { orgs: Arc::new(orgs), ..Catalog::default() };
        catalog.refresh();
        catalog
    }

    /// Points the view at the current tables.
    fn refresh(&mut self) {
        self.view = Arc::new(CatalogView {
            orgs: Arc::clone(&self.orgs),
            chargers: Arc::clone(self.chargers.table()),
            sites: Arc::clone(self.sites.table()),
            places: self.places.view().clone(),
        });
    }

    /// What readers hold: every number given so far.
    #[inline]
    pub(crate) fn view(&self) -> &Arc<CatalogView> {
        &self.view
    }

    /// The organization tree.
    #[inline]
    pub(crate) fn orgs(&self) -> &OrgTree {
        &self.orgs
    }

    /// Changes the organization tree through `change`: a changed copy
    /// replaces it (views taken before keep the old tree); on an error the
    /// tree is unchanged.
    pub(crate) fn change_orgs<R>(&mut self, change: impl FnOnce(&mut OrgTree) -> Result<R, Error>) -> Result<R, Error> {
        let mut tree = OrgTree::clone(&self.orgs);
        let out = change(&mut tree)?;
        self.orgs = Arc::new(tree);
        self.refresh();
        Ok(out)
    }

    /// The placement of a window of `charger`, `site` and `org`, numbering
    /// it (and its charger and site) if it is new.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownOrganization`] if `org` was never added,
    /// [`Error::CapacityExceeded`] if a new number is needed past [`CAPACITY`].
    /// A charger or site numbered before a capacity error keeps its number,
    /// which no query can observe.
    pub(crate) fn place(&mut self, charger: Option<ChargerId>, site: Option<SiteId>, org: OrgId) -> Result<u32, Error> {
        if let Some(place) = self.places.find(charger, site, org) {
            return Ok(place);
        }
        let full = || Error::CapacityExceeded(CAPACITY);
        let org_number = self.orgs.require(org)?;
        let mut grew = false;
        let charger_number = match charger {
            Some(c) => {
                let (n, g) = self.chargers.intern(c).ok_or_else(full)?;
                grew |= g;
                n
            }
            None => NONE,
        };
        let site_number = match site {
            Some(s) => {
                let (n, g) = self.sites.intern(s).ok_or_else(full)?;
                grew |= g;
                n
            }
            None => NONE,
        };
        let place = Place { charger: charger_number, site: site_number, org: org_number };
        let added = self.places.add(place, charger, site, org);
        if grew || added.is_some_and(|(_, g)| g) {
            self.refresh();
        }
        added.map(|(n, _)| n).ok_or_else(full)
    }

    /// The placement of a window, if it is already numbered.
    #[inline]
    pub(crate) fn find_place<I: WindowId>(&self, w: &Window<I>) -> Option<u32> {
        self.places.find(w.charger(), w.site(), w.org())
    }

    /// Whether `more` new chargers, sites and placements could still be
    /// numbered.
    pub(crate) fn has_room_for(&self, more: usize) -> bool {
        [self.places.len(), self.chargers.len(), self.sites.len()]
            .iter()
            .all(|&used| (used as u64 + more as u64) < CAPACITY)
    }

    /// Bytes held by the dictionaries and placements (the organization tree
    /// is small and not counted).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.chargers.heap_bytes() + self.sites.heap_bytes() + self.places.heap_bytes()
    }

    /// Checks the tree, the dictionaries, the view, and that every placement
    /// holds numbers they gave.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.orgs.check_invariants()?;
        self.chargers.check_invariants("charger")?;
        self.sites.check_invariants("site")?;
        self.places.check_invariants()?;
        let v = &self.view;
        if !Arc::ptr_eq(&v.orgs, &self.orgs)
            || !Arc::ptr_eq(&v.chargers, self.chargers.table())
            || !Arc::ptr_eq(&v.sites, self.sites.table())
            || v.places.get(self.places.len().saturating_sub(1) as u32).is_none() && self.places.len() > 0
        {
            return Err("the catalog's view is not of its current tables".into());
        }
        for n in 0..self.places.len() as u32 {
            let p = v.places.get(n).ok_or_else(|| format!("placement {n} is missing"))?;
            if p.org as usize >= self.orgs.len()
                || (p.charger != NONE && p.charger as usize >= self.chargers.len())
                || (p.site != NONE && p.site as usize >= self.sites.len())
            {
                return Err(format!("placement {n} refers to an unknown dense entity"));
            }
        }
        Ok(())
    }
}

impl CatalogView {
    /// The dense number of a charger, if it was ever numbered.
    #[inline]
    pub(crate) fn charger(&self, id: ChargerId) -> Option<u32> {
        self.chargers.get(id)
    }

    /// The dense number of a site, if it was ever numbered.
    #[inline]
    pub(crate) fn site(&self, id: SiteId) -> Option<u32> {
        self.sites.get(id)
    }

    /// The public window of a stored row: its id and times, and what its
    /// placement `place` applies to.
    #[inline]
    pub(crate) fn window<I: WindowId>(&self, id: I, start: i64, end: i64, place: u32) -> Window<I> {
        let ids = self.places.public_ids(place);
        debug_assert!(ids.is_some(), "row of id {id} has no placement");
        let (charger, site, org) = ids.unwrap_or((None, None, OrgId(0)));
        Window::from_parts(
            id,
            Timestamp::from_micros_unchecked(start),
            Timestamp::from_micros_unchecked(end),
            charger,
            site,
            org,
        )
    }
}
