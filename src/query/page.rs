//! What a query returns: a page of windows with their payloads and the cursor to the next page.

use super::plan::Driver;
use crate::Window;

/// One window of a page, with the caller's payload for it.
///
/// # Example
///
/// ```
/// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
/// let mut index: Index<u64, &str> = Index::builder().organization(OrgId(1), None).build()?;
/// let w = Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
/// index.insert(w, "replace cable")?;
/// let page = index.query(&Query::new())?;
/// let entry = &page.items()[0];
/// assert_eq!((entry.window.id(), *entry.payload), (1, "replace cable"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a, I, P> {
    /// The window: id, times, charger, site, organization.
    pub window: Window<I>,
    /// The payload stored with it.
    pub payload: &'a P,
}

/// One page of results, created by [`Index::query`](crate::Index::query).
///
/// `has_next` is exact: the engine looks one window ahead, so a page that says
/// there is more always has at least one more window behind its cursor (unless
/// that window is deleted before the next request).
///
/// # Example
///
/// ```
/// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
/// let mut index: Index<u64, ()> = Index::builder().organization(OrgId(1), None).build()?;
/// for id in 0..3 {
///     let s = Timestamp::from_secs(id as i64 * 60)?;
///     index.insert(Window::new(id, s, Timestamp::from_secs(id as i64 * 60 + 30)?, OrgId(1))?, ())?;
/// }
/// let q = Query::new().page_size(2);
/// let first = index.query(&q)?;
/// assert!(first.has_next());
/// let second = index.query(&q.clone().cursor(first.next_cursor().unwrap()))?;
/// assert_eq!(second.items().len(), 1);
/// assert!(!second.has_next());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Page<'a, I, P> {
    pub(crate) items: Vec<Entry<'a, I, P>>,
    pub(crate) next_cursor: Option<String>,
    pub(crate) driver: Driver,
}

impl<'a, I, P> Page<'a, I, P> {
    /// The windows of this page, in the query's order.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, &str> = Index::builder().organization(OrgId(1), None).build()?;
    /// for id in 0..3 {
    ///     index.insert(Window::new(id, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, "check")?;
    /// }
    /// let page = index.query(&Query::new().page_size(2))?;
    /// assert_eq!(page.items().len(), 2);
    /// assert_eq!(*page.items()[0].payload, "check");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn items(&self) -> &[Entry<'a, I, P>] {
        &self.items
    }

    /// Takes the windows out of the page.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, &str> = Index::builder().organization(OrgId(1), None).build()?;
    /// for id in 0..3 {
    ///     index.insert(Window::new(id, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, "check")?;
    /// }
    /// let page = index.query(&Query::new().page_size(2))?;
    /// let ids: Vec<u64> = page.into_items().into_iter().map(|e| e.window.id()).collect();
    /// assert_eq!(ids, [0, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_items(self) -> Vec<Entry<'a, I, P>> {
        self.items
    }

    /// The cursor for the next page, if there is one.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, &str> = Index::builder().organization(OrgId(1), None).build()?;
    /// for id in 0..3 {
    ///     index.insert(Window::new(id, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, "check")?;
    /// }
    /// let page = index.query(&Query::new().page_size(2))?;
    /// let cursor = page.next_cursor().expect("a third window follows");
    /// let next = index.query(&Query::new().page_size(2).cursor(cursor))?;
    /// assert_eq!(next.next_cursor(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }

    /// Whether at least one more window matches after this page.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, &str> = Index::builder().organization(OrgId(1), None).build()?;
    /// for id in 0..3 {
    ///     index.insert(Window::new(id, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, "check")?;
    /// }
    /// let page = index.query(&Query::new().page_size(2))?;
    /// assert!(page.has_next());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_next(&self) -> bool {
        self.next_cursor.is_some()
    }

    /// The access path that produced this page (see [`Driver`]).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Index, OrgId, Query, Timestamp, Window};
    /// let mut index: Index<u64, &str> = Index::builder().organization(OrgId(1), None).build()?;
    /// for id in 0..3 {
    ///     index.insert(Window::new(id, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, "check")?;
    /// }
    /// let page = index.query(&Query::new().page_size(2))?;
    /// assert_eq!(page.driver(), mwindex::Driver::TimeRange);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn driver(&self) -> Driver {
        self.driver
    }
}

/// How a page of a [`SharedIndex`](crate::SharedIndex) relates to the
/// versions of the index.
///
/// # Example
///
/// ```
/// # use mwindex::{Consistency, OrgId, Query, SharedIndex};
/// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
/// assert_eq!(index.query(&Query::new())?.consistency(), Consistency::Latest);
/// assert_eq!(index.query(&Query::new().consistent(true))?.consistency(), Consistency::Pinned);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Consistency {
    /// Read at the latest version; its cursor continues by key (the position
    /// after the last window returned), at whatever version the next page
    /// reads: every window that matches throughout the walk and does not
    /// move is returned exactly once, in order, while one written, moved or
    /// deleted meanwhile may be returned or not (and a moved one twice).
    Latest,
    /// Read at the version the page sequence pinned (this page's, for the
    /// first page of a consistent query): the whole walk sees that one
    /// moment, exactly as if no write had happened since.
    Pinned,
    /// The cursor named a pinned version that expired (its time to live ran
    /// out, or the cap on pins made room for newer ones), so this page was
    /// read at the latest version and continues by key, as
    /// [`Consistency::Latest`] does: never an error, never out of order. Its
    /// cursor pins the version it read, so the rest of the walk is
    /// consistent again from here.
    Expired,
}

/// One window of an [`OwnedPage`], with a clone of its payload.
///
/// # Example
///
/// ```
/// # use mwindex::{OrgId, Query, SharedIndex, Timestamp, Window};
/// let index: SharedIndex<u64, String> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
/// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, "swap".into())?;
/// let page = index.query(&Query::new())?;
/// let entry = &page.items()[0];
/// assert_eq!((entry.window.id(), entry.payload.as_str()), (1, "swap"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedEntry<I, P> {
    /// The window: id, times, charger, site, organization.
    pub window: Window<I>,
    /// The payload stored with it.
    pub payload: P,
}

/// A page that owns its windows and payloads, returned by a
/// [`SharedIndex`](crate::SharedIndex): it borrows nothing, so it can be
/// sent to another thread or held across an `.await` while writes go on.
///
/// # Example
///
/// ```
/// # use mwindex::{OrgId, Query, SharedIndex, Timestamp, Window};
/// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
/// index.insert(Window::new(1, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?, ())?;
/// let page = index.query(&Query::new())?;
/// let held = std::thread::spawn(move || page.items().len()).join().unwrap();
/// assert_eq!(held, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OwnedPage<I, P> {
    pub(crate) items: Vec<OwnedEntry<I, P>>,
    pub(crate) next_cursor: Option<String>,
    pub(crate) driver: Driver,
    pub(crate) version: u64,
    pub(crate) consistency: Consistency,
}

impl<I, P> OwnedPage<I, P> {
    /// The windows of this page, in the query's order.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// assert!(index.query(&Query::new())?.items().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn items(&self) -> &[OwnedEntry<I, P>] {
        &self.items
    }

    /// Takes the windows out of the page.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// assert!(index.query(&Query::new())?.into_items().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_items(self) -> Vec<OwnedEntry<I, P>> {
        self.items
    }

    /// The cursor for the next page, if there is one.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// assert_eq!(index.query(&Query::new())?.next_cursor(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }

    /// Whether at least one more window matches after this page (at the
    /// version this page read).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// assert!(!index.query(&Query::new())?.has_next());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_next(&self) -> bool {
        self.next_cursor.is_some()
    }

    /// The access path that produced this page (see [`Driver`]).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Driver, OrgId, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// assert_eq!(index.query(&Query::new())?.driver(), Driver::TimeRange);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn driver(&self) -> Driver {
        self.driver
    }

    /// The version of the index this page was read at: the number of writes
    /// applied before it (see [`SharedIndex::version`](crate::SharedIndex::version)).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// assert_eq!(index.query(&Query::new())?.version(), index.version());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> u64 {
        self.version
    }

    /// How this page relates to the versions of the index.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Consistency, OrgId, Query, SharedIndex};
    /// let index: SharedIndex<u64, ()> = SharedIndex::builder().organization(OrgId(1), None).build_shared()?;
    /// assert_eq!(index.query(&Query::new())?.consistency(), Consistency::Latest);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn consistency(&self) -> Consistency {
        self.consistency
    }
}
