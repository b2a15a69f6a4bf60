//! A maintenance window: an id, a half-open time interval, and what it applies to.

use super::error::Error;
use super::id::{ChargerId, OrgId, SiteId, WindowId};
use super::time::Timestamp;

/// One maintenance window: `[start, end)` in UTC, the charger and site it
/// applies to (both optional: incident.io windows belong to no charger), and
/// the organization that owns it.
///
/// The caller's own record (name, comment, user, ...) is the payload stored
/// beside it by [`Index::insert`](crate::Index::insert).
///
/// # Example
///
/// ```
/// use mwindex::{ChargerId, OrgId, SiteId, Timestamp, Window};
///
/// let w = Window::new(7u64, "2024-05-01T22:00:00Z".parse()?, "2024-05-02T02:00:00Z".parse()?, OrgId(1))?
///     .with_charger(ChargerId(100))
///     .with_site(SiteId(10));
/// assert_eq!(w.charger(), Some(ChargerId(100)));
/// assert!(w.is_active_at("2024-05-02T00:00:00Z".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Window<I> {
    id: I,
    start: Timestamp,
    end: Timestamp,
    charger: Option<ChargerId>,
    site: Option<SiteId>,
    org: OrgId,
}

impl<I: WindowId> Window<I> {
    /// Makes a window for no particular charger or site.
    ///
    /// # Errors
    ///
    /// [`Error::EmptyInterval`] unless `end > start`.
    ///
    /// # Example
    ///
    /// ```
    /// use mwindex::{OrgId, Timestamp, Window};
    /// let start = Timestamp::from_secs(0)?;
    /// let end = Timestamp::from_micros(1)?;
    /// let w = Window::new(1u64, start, end, OrgId(9))?; // one microsecond long
    /// assert_eq!(w.org(), OrgId(9));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(id: I, start: Timestamp, end: Timestamp, org: OrgId) -> Result<Self, Error> {
        if end <= start {
            return Err(Error::EmptyInterval { start, end });
        }
        Ok(Window { id, start, end, charger: None, site: None, org })
    }

    pub(crate) fn from_parts(
        id: I,
        start: Timestamp,
        end: Timestamp,
        charger: Option<ChargerId>,
        site: Option<SiteId>,
        org: OrgId,
    ) -> Self {
        debug_assert!(end > start, "stored window {id} has end <= start");
        Window { id, start, end, charger, site, org }
    }

    /// Sets the charger this window applies to.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{ChargerId, OrgId, Timestamp, Window};
    /// let w = Window::new(1u64, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?
    ///     .with_charger(ChargerId(5));
    /// assert_eq!(w.charger(), Some(ChargerId(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_charger(mut self, charger: ChargerId) -> Self {
        self.charger = Some(charger);
        self
    }

    /// Sets the site this window applies to.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, SiteId, Timestamp, Window};
    /// let w = Window::new(1u64, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?
    ///     .with_site(SiteId(2));
    /// assert_eq!(w.site(), Some(SiteId(2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_site(mut self, site: SiteId) -> Self {
        self.site = Some(site);
        self
    }

    /// The window's id.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{ChargerId, OrgId, SiteId, Timestamp, Window};
    /// let w = Window::new(7u64, Timestamp::from_secs(10)?, Timestamp::from_secs(20)?, OrgId(3))?
    ///     .with_charger(ChargerId(5))
    ///     .with_site(SiteId(2));
    /// assert_eq!(w.id(), 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn id(&self) -> I {
        self.id
    }

    /// The first instant inside the window.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{ChargerId, OrgId, SiteId, Timestamp, Window};
    /// let w = Window::new(7u64, Timestamp::from_secs(10)?, Timestamp::from_secs(20)?, OrgId(3))?
    ///     .with_charger(ChargerId(5))
    ///     .with_site(SiteId(2));
    /// assert_eq!(w.start(), Timestamp::from_secs(10)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The first instant after the window (exclusive end).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{ChargerId, OrgId, SiteId, Timestamp, Window};
    /// let w = Window::new(7u64, Timestamp::from_secs(10)?, Timestamp::from_secs(20)?, OrgId(3))?
    ///     .with_charger(ChargerId(5))
    ///     .with_site(SiteId(2));
    /// assert_eq!(w.end(), Timestamp::from_secs(20)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// The charger, if the window is tied to one.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{ChargerId, OrgId, SiteId, Timestamp, Window};
    /// let w = Window::new(7u64, Timestamp::from_secs(10)?, Timestamp::from_secs(20)?, OrgId(3))?
    ///     .with_charger(ChargerId(5))
    ///     .with_site(SiteId(2));
    /// assert_eq!(w.charger(), Some(ChargerId(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn charger(&self) -> Option<ChargerId> {
        self.charger
    }

    /// The site, if the window is tied to one.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{ChargerId, OrgId, SiteId, Timestamp, Window};
    /// let w = Window::new(7u64, Timestamp::from_secs(10)?, Timestamp::from_secs(20)?, OrgId(3))?
    ///     .with_charger(ChargerId(5))
    ///     .with_site(SiteId(2));
    /// assert_eq!(w.site(), Some(SiteId(2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn site(&self) -> Option<SiteId> {
        self.site
    }

    /// The owning organization.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{ChargerId, OrgId, SiteId, Timestamp, Window};
    /// let w = Window::new(7u64, Timestamp::from_secs(10)?, Timestamp::from_secs(20)?, OrgId(3))?
    ///     .with_charger(ChargerId(5))
    ///     .with_site(SiteId(2));
    /// assert_eq!(w.org(), OrgId(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn org(&self) -> OrgId {
        self.org
    }

    /// `start <= now < end`: the incident.io API's "active".
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Timestamp, Window};
    /// let (s, e) = (Timestamp::from_secs(10)?, Timestamp::from_secs(20)?);
    /// let w = Window::new(1u64, s, e, OrgId(1))?;
    /// assert!(w.is_active_at(s) && !w.is_active_at(e));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_active_at(&self, now: Timestamp) -> bool {
        self.start <= now && now < self.end
    }

    /// `end > after && start < before`: the window overlaps `[after, before)`.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{OrgId, Timestamp, Window};
    /// let t = |s| Timestamp::from_secs(s);
    /// let w = Window::new(1u64, t(10)?, t(20)?, OrgId(1))?;
    /// assert!(w.overlaps(t(19)?, t(30)?));
    /// assert!(!w.overlaps(t(20)?, t(30)?)); // touching is not overlapping
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn overlaps(&self, after: Timestamp, before: Timestamp) -> bool {
        self.end > after && self.start < before
    }
}
