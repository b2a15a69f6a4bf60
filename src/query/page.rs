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
