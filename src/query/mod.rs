//! The query side: what a caller asks ([`Query`]), how it is resolved and
//! planned into one [`Plan`], how the plan runs over a [`View`] of the store,
//! and what comes back ([`Page`], cursors, counts, [`Explain`]).
//!
//! The path of a page: `request` → `resolve` (dense numbers, time box,
//! scope, cursor position) → `plan` (access path by cost, row ranges) →
//! `exec` → `scan` (streams over segments, then the write buffer) → `sink`
//! (the first `n + 1` hits) → the engine attaches payloads.

mod count;
mod cursor;
mod exec;
mod page;
mod plan;
mod request;
mod resolve;
mod scan;
mod sink;
mod time_box;
mod view;

pub use cursor::CursorKey;
pub use page::{Consistency, Entry, OwnedEntry, OwnedPage, Page};
pub use plan::{Driver, Explain};
pub use request::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Order, Query, Status};

pub(crate) use cursor::pin_of as cursor_pin;
pub(crate) use exec::{count, page};
pub(crate) use plan::Plan;
pub(crate) use sink::{BUFFER, Hits, MAX_SEALED, Warm, sealed_of, sealed_src};
pub(crate) use view::View;
