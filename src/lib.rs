//! # mwindex
//!
//! An embedded, in-memory interval index for maintenance windows. It answers
//! "which windows overlap this time range, for these chargers, sites or
//! organizations, and which are active, upcoming or past right now" in
//! microseconds, page by page, with cursors that stay correct while the data
//! changes.
//!
//! ```
//! use mwindex::{ChargerId, Index, OrgId, Query, SiteId, Status, Timestamp, Window};
//!
//! // Organization 1 is a parent of 2 and 3.
//! let mut index: Index<u64, &str> = Index::builder()
//!     .organization(OrgId(1), None)
//!     .organization(OrgId(2), Some(OrgId(1)))
//!     .organization(OrgId(3), Some(OrgId(1)))
//!     .build()?;
//!
//! let t = |s: &str| s.parse::<Timestamp>();
//! let w = Window::new(1, t("2024-05-01T22:00:00Z")?, t("2024-05-02T02:00:00Z")?, OrgId(2))?
//!     .with_charger(ChargerId(100))
//!     .with_site(SiteId(10));
//! index.insert(w, "firmware 2.1 rollout")?;
//!
//! // GET /api/maintenance-windows?afterTimestamp=..&beforeTimestamp=..&siteIds=10
//! // with the parent organization's API key:
//! let q = Query::new()
//!     .overlapping(t("2024-05-02T00:00:00Z")?, t("2024-05-03T00:00:00Z")?)
//!     .sites([SiteId(10)])
//!     .scope(OrgId(1));
//! let page = index.query(&q)?;
//! assert_eq!(page.items()[0].payload, &"firmware 2.1 rollout");
//! assert!(!page.has_next());
//!
//! // GET /v1/maintenance_windows?status=active
//! let active = Query::new().status(Status::Active, t("2024-05-02T01:00:00Z")?).scope(OrgId(2));
//! assert_eq!(index.count(&active)?, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Overview
//!
//! - [`Window`]: an id, `[start, end)` at microsecond precision ([`Timestamp`]),
//!   an optional [`ChargerId`] and [`SiteId`], and an owning [`OrgId`]. The
//!   caller's record is a payload stored beside it.
//! - [`Index`]: insert, upsert, delete, get, bulk build, batched upserts
//!   ([`Index::upsert_all`]); the organization tree. Every write is a
//!   [`Mutation`] applied by [`Index::apply`] (the others are shorthands),
//!   answered with an [`Applied`]: the one seam a write-ahead log records.
//!   Segment merges larger than [`IndexBuilder::inline_merge_rows`] run on a
//!   background thread; [`Index::compact`] waits for them.
//! - [`SharedIndex`]: the same engine for many threads. Every write publishes
//!   an immutable version; reads run on the latest one without a lock and
//!   return owned pages ([`OwnedPage`]); [`SharedIndex::view`] pins a
//!   version ([`PinnedView`]); [`Query::consistent`] pins one for a whole
//!   page sequence, for a bounded time ([`PinPolicy`], [`Consistency`]).
//!   Payloads are any [`Payload`] (`Clone + Send + Sync + 'static`).
//! - [`Durable`]: a [`SharedIndex`] kept in a directory. Every write is
//!   logged (a checksummed record in a write-ahead log, synced per the
//!   [`SyncPolicy`]) before it is applied and acknowledged; checkpoints
//!   write rkyv snapshots that open without sorting or building anything;
//!   [`Durable::open`] recovers the newest snapshot and the log after it.
//!   Payloads are written through the [`Persist`] trait; all I/O goes
//!   through a [`Storage`] ([`FileSystem`], or [`FaultyStorage`] in tests).
//! - [`Query`]: overlap bounds, [`Status`] at an instant, charger / site /
//!   organization filters, an access scope, an [`Order`], a page size and a
//!   cursor. [`Index::query`] returns a [`Page`], [`Index::count`] a number,
//!   [`Index::explain`] the [`Driver`] the planner chose.
//! - Cursors are opaque strings authenticated by the index's [`CursorKey`].
//! - Every failure is an [`Error`]; no public function panics on any input.
//!
//! The design (segments, tiers, postings, the planner, the cursor format, the
//! version model, and the snapshot and log formats with their versioning
//! rule) is described below.
//!
//! ## Crate features
//!
//! - `serde`: `Serialize`/`Deserialize` for the public value types.
//!
#![doc = include_str!("../docs/design.md")]
#![deny(missing_docs)]

// Layers (a folder each), lowest first: value (ids, instants, windows,
// errors: the public vocabulary); memory (huge pages and prefetches);
// catalog (chargers, sites, organizations and placements, numbered
// densely); segment (rows at rest: immutable segments, tombstones, kills,
// the write buffer); query (a query resolved, planned and run over a view
// of one state); engine (the store, the one write seam, versions, the
// builder, Index and SharedIndex); durable (storage, the write-ahead log,
// snapshots, recovery: Durable). Each imports only from those before it.
mod catalog;
mod durable;
mod engine;
mod memory;
mod query;
mod segment;
mod value;

pub use durable::{
    Checkpoint, DEFAULT_CHECKPOINT_BYTES, DEFAULT_SEGMENT_BYTES, Durable, DurableOptions, FaultyStorage, FileSystem,
    LOCK_FILE, LogStats, MAX_RECORD, Mapped, Op, Persist, PowerCut, Recovery, Storage, StorageFile, SyncPolicy,
};
pub use engine::{
    Applied, DEFAULT_BACKGROUND_MAX_SEGMENTS, DEFAULT_BACKGROUND_WRITE_BUFFER, DEFAULT_MAX_SEGMENTS,
    DEFAULT_WRITE_BUFFER, Index, IndexBuilder, Mutation, Payload, PinPolicy, PinnedView, SharedIndex,
};
pub use query::{
    Consistency, CursorKey, DEFAULT_PAGE_SIZE, Driver, Entry, Explain, MAX_PAGE_SIZE, Order, OwnedEntry, OwnedPage,
    Page, Query, Status,
};
pub use value::{ChargerId, Corruption, CursorError, Error, OrgId, Result, SiteId, Timestamp, Ulid, Window, WindowId};

/// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The public handle types can be shared across threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Index<u64, String>>();
    assert_send_sync::<Index<Ulid, Vec<u8>>>();
    assert_send_sync::<Query<u64>>();
    assert_send_sync::<Mutation<u64, String>>();
    assert_send_sync::<Error>();
    assert_send_sync::<Durable<u64, String>>();
    assert_send_sync::<FaultyStorage>();
};
