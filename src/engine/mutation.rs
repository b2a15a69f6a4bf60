//! The one write seam: every change to an index is a [`Mutation`] value,
//! applied by [`Index::apply`](crate::Index::apply). The public write
//! methods build one and apply it; a write-ahead log records these values
//! and replays them through the same call.

use crate::{OrgId, Window};

/// One change to an index. [`Index::apply`](crate::Index::apply) applies it
/// and answers with the matching [`Applied`]; each variant does what the
/// write method of the same name does (and that method's docs give its
/// errors).
///
/// # Example
///
/// ```
/// use mwindex::{Applied, Index, Mutation, OrgId, Timestamp, Window};
///
/// let mut index: Index<u64, &str> = Index::new();
/// index.apply(Mutation::AddOrganization { id: OrgId(1), parent: None })?;
/// let window = Window::new(7, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
/// index.apply(Mutation::Insert { window, payload: "swap cable" })?;
/// let moved = Window::new(7, Timestamp::from_secs(30)?, Timestamp::from_secs(90)?, OrgId(1))?;
/// let applied = index.apply(Mutation::Upsert { window: moved, payload: "swap cable, later" })?;
/// assert_eq!(applied, Applied::Upserted(Some("swap cable")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mutation<I, P> {
    /// Adds a window; fails if its id is present ([`Index::insert`](crate::Index::insert)).
    Insert {
        /// The window.
        window: Window<I>,
        /// Its payload.
        payload: P,
    },
    /// Adds or replaces a window ([`Index::upsert`](crate::Index::upsert)).
    Upsert {
        /// The window.
        window: Window<I>,
        /// Its payload.
        payload: P,
    },
    /// Upserts many windows in order, their lookups made together
    /// ([`Index::upsert_all`](crate::Index::upsert_all)).
    UpsertAll(Vec<(Window<I>, P)>),
    /// Removes the window with this id, if present ([`Index::delete`](crate::Index::delete)).
    Delete(I),
    /// Adds many new windows, all or nothing, sorted and built once
    /// ([`Index::bulk_insert`](crate::Index::bulk_insert)).
    Bulk(Vec<(Window<I>, P)>),
    /// Adds an organization ([`Index::add_organization`](crate::Index::add_organization)).
    AddOrganization {
        /// The new organization.
        id: OrgId,
        /// Its parent, `None` for a root.
        parent: Option<OrgId>,
    },
    /// Gives an organization a new parent ([`Index::move_organization`](crate::Index::move_organization)).
    MoveOrganization {
        /// The organization moved.
        id: OrgId,
        /// Its new parent, `None` to make it a root.
        parent: Option<OrgId>,
    },
}

/// What applying a [`Mutation`] did, variant for variant.
///
/// # Example
///
/// ```
/// use mwindex::{Applied, Index, Mutation, OrgId, Timestamp, Window};
///
/// let mut index: Index<u64, u8> = Index::builder().organization(OrgId(1), None).build()?;
/// let window = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
/// index.insert(window, 9)?;
/// let removed = index.apply(Mutation::Delete(1))?.removed();
/// assert_eq!(removed, Some((window, 9)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied<I, P> {
    /// The window was inserted.
    Inserted,
    /// The window was upserted; the payload it replaced, if it existed.
    Upserted(Option<P>),
    /// The windows were upserted; each one's replaced payload, in order.
    UpsertedAll(Vec<Option<P>>),
    /// The window removed, with its payload (`None`: it was not present).
    Deleted(Option<(Window<I>, P)>),
    /// This many windows were inserted in bulk.
    BulkInserted(usize),
    /// The organization was added.
    OrganizationAdded,
    /// The organization was moved.
    OrganizationMoved,
}

impl<I, P> Applied<I, P> {
    /// The payload an upsert replaced (`None` for other mutations).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::Applied;
    /// assert_eq!(Applied::<u64, &str>::Upserted(Some("old")).previous(), Some("old"));
    /// assert_eq!(Applied::<u64, &str>::Inserted.previous(), None);
    /// ```
    pub fn previous(self) -> Option<P> {
        match self {
            Applied::Upserted(previous) => previous,
            _ => None,
        }
    }

    /// The payloads a batch of upserts replaced (empty for other mutations).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::Applied;
    /// assert_eq!(Applied::<u64, u8>::UpsertedAll(vec![None, Some(3)]).all_previous(), [None, Some(3)]);
    /// ```
    pub fn all_previous(self) -> Vec<Option<P>> {
        match self {
            Applied::UpsertedAll(previous) => previous,
            _ => Vec::new(),
        }
    }

    /// The window a delete removed, with its payload (`None` for other
    /// mutations).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::Applied;
    /// assert_eq!(Applied::<u64, u8>::Deleted(None).removed(), None);
    /// ```
    pub fn removed(self) -> Option<(Window<I>, P)> {
        match self {
            Applied::Deleted(removed) => removed,
            _ => None,
        }
    }
}
