//! Values: the public types every other layer speaks in (ids, instants,
//! windows, errors). They depend on nothing else in the crate.
//!
//! `id` and `time` are plain data; `error` names them; `parse` is the one
//! place values are checked in from numbers and text; `window` builds on all
//! of them.

mod error;
mod id;
mod parse;
mod time;
mod window;

pub use error::{Corruption, CursorError, Error, Result};
pub use id::{ChargerId, OrgId, SiteId, Ulid, WindowId};
pub use time::Timestamp;
pub use window::Window;
