//! Resolution: a [`Query`] checked and translated into the store's terms
//! (dense numbers, a time box, an organization set, a position).

use std::sync::Arc;

use super::cursor::{self, Position};
use super::request::{MAX_PAGE_SIZE, Order, Query};
use super::time_box::TimeBox;
use super::view::View;
use crate::catalog::{NONE, OrgSet, PlacesView};
use crate::segment::Family;
use crate::{Error, WindowId};

/// What a query is resolved for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A page: the page size and the position (cursor or after-id) apply.
    Page,
    /// A count: the page size and the position are ignored, though a cursor
    /// must still be one of this query's.
    Count,
}

/// A query resolved against a view: dense ids, time bounds, position,
/// and the placements to test rows' filters against.
#[derive(Clone, Debug)]
pub(crate) struct Resolved<'a, I> {
    pub(crate) tb: TimeBox,
    pub(crate) chargers: Option<Vec<u32>>,
    pub(crate) sites: Option<Vec<u32>>,
    pub(crate) orgs: Option<Arc<OrgSet>>,
    pub(crate) order: Order,
    pub(crate) limit: usize,
    pub(crate) after_key: Option<(i64, I)>,
    pub(crate) after_id: Option<I>,
    pub(crate) places: &'a PlacesView,
}

impl<I: WindowId> Resolved<'_, I> {
    pub(crate) fn matches_nothing(&self) -> bool {
        self.tb.is_empty()
            || self.chargers.as_ref().is_some_and(Vec::is_empty)
            || self.sites.as_ref().is_some_and(Vec::is_empty)
            || self.orgs.as_ref().is_some_and(|o| o.list.is_empty())
    }

    pub(crate) fn has_filters(&self) -> bool {
        self.chargers.is_some() || self.sites.is_some() || self.orgs.is_some()
    }

    /// Whether a row at placement `place` passes the filters.
    #[inline]
    pub(crate) fn place_ok(&self, place: u32) -> bool {
        self.places.get(place).is_some_and(|p| self.filters_ok(p.charger, p.site, p.org))
    }

    #[inline]
    pub(crate) fn filters_ok(&self, charger: u32, site: u32, org: u32) -> bool {
        #[inline]
        fn any_of(set: &Option<Vec<u32>>, key: u32) -> bool {
            match set {
                None => true,
                Some(_) if key == NONE => false,
                Some(v) if v.len() <= 8 => v.contains(&key),
                Some(v) => v.binary_search(&key).is_ok(),
            }
        }
        any_of(&self.chargers, charger)
            && any_of(&self.sites, site)
            && self.orgs.as_ref().is_none_or(|o| o.contains(org))
    }

    /// The one family the query filters on, when it filters on exactly one.
    pub(crate) fn only_family(&self) -> Option<Family> {
        match (self.chargers.is_some(), self.sites.is_some(), self.orgs.is_some()) {
            (true, false, false) => Some(Family::Charger),
            (false, true, false) => Some(Family::Site),
            (false, false, true) => Some(Family::Org),
            _ => None,
        }
    }

    /// The keys of one posting family the query filters on, if it does.
    pub(crate) fn keys(&self, family: Family) -> Option<&[u32]> {
        match family {
            Family::Charger => self.chargers.as_deref(),
            Family::Site => self.sites.as_deref(),
            Family::Org => self.orgs.as_ref().map(|o| o.list.as_slice()),
        }
    }
}

/// Checks `query` and resolves it against `view`; `fingerprint` gives the
/// query's (see [`cursor::fingerprint`]), which a cursor must carry, and is
/// asked only when the query has a cursor.
#[inline]
pub(crate) fn resolve<'a, I: WindowId>(
    view: &View<'a, I>,
    query: &Query<I>,
    purpose: Purpose,
    fingerprint: impl FnOnce() -> u64,
) -> Result<Resolved<'a, I>, Error> {
    if purpose == Purpose::Page && !(1..=MAX_PAGE_SIZE).contains(&query.page_size) {
        return Err(Error::InvalidPageSize { got: query.page_size, max: MAX_PAGE_SIZE });
    }
    if let (Some(after), Some(before)) = (query.after, query.before)
        && after >= before
    {
        return Err(Error::InvalidRange { after, before });
    }
    if query.after_id.is_some() && query.order != Order::Id {
        return Err(Error::InvalidQuery("`after_id` needs id order; use the cursor in (start, id) order"));
    }
    if query.after_id.is_some() && query.cursor.is_some() {
        return Err(Error::InvalidQuery("give either a cursor or an after-id, not both"));
    }
    let orgs_tree = &view.catalog.orgs;
    let scope = query.scope.map(|org| orgs_tree.require(org)).transpose()?;
    let orgs = match (&query.orgs, scope) {
        (None, None) => None,
        (None, Some(root)) => orgs_tree.scope(root),
        (Some(requested), scope) => {
            let list = requested
                .iter()
                .filter_map(|&o| orgs_tree.dense(o))
                .filter(|&d| scope.is_none_or(|root| orgs_tree.is_within(d, root)))
                .collect();
            Some(Arc::new(OrgSet::from_list(list, orgs_tree.len())))
        }
    };
    // Dense numbers of the requested keys, ascending, unknown keys
    // dropped (they match nothing).
    #[inline]
    fn dense<K: Copy>(keys: Option<&Vec<K>>, lookup: impl Fn(K) -> Option<u32>) -> Option<Vec<u32>> {
        keys.map(|keys| {
            let mut v = Vec::with_capacity(keys.len());
            v.extend(keys.iter().filter_map(|&k| lookup(k)));
            v.sort_unstable();
            v.dedup();
            v
        })
    }
    let mut q = Resolved {
        tb: TimeBox::new(query.after, query.before, query.status),
        chargers: dense(query.chargers.as_ref(), |c| view.catalog.charger(c)),
        sites: dense(query.sites.as_ref(), |s| view.catalog.site(s)),
        orgs,
        order: query.order,
        limit: query.page_size,
        after_key: None,
        after_id: None,
        places: &view.catalog.places,
    };
    if let Some(text) = &query.cursor {
        // Checked for counts too: a count takes the same query as its pages,
        // and a cursor that is not one of them is an error either way.
        let pos: Position<I> = cursor::decode(view.key, text, cursor::order_byte(q.order), fingerprint())?;
        if purpose == Purpose::Page {
            match q.order {
                Order::StartThenId => q.after_key = Some((pos.start, pos.id)),
                Order::Id => q.after_id = Some(pos.id),
            }
        }
    }
    if purpose == Purpose::Page && query.after_id.is_some() {
        q.after_id = query.after_id;
    }
    Ok(q)
}
