//! The engine: the [`Store`](store::Store) that owns segments, the write
//! buffer, payloads, the catalog and the compactor; the one write seam
//! ([`Mutation`] applied by [`Index::apply`]); the builder; and [`Index`],
//! the thin public face over all of it.

mod builder;
mod compaction;
mod image;
mod index;
mod log;
mod mutation;
mod parts;
mod payload;
mod pins;
mod recent;
mod sealed;
mod shared;
mod signal;
mod state;
mod store;
mod task_queue;
mod version;

pub use builder::IndexBuilder;
pub use compaction::{DEFAULT_BACKGROUND_MAX_SEGMENTS, DEFAULT_MAX_SEGMENTS};
pub(crate) use image::{Image, SegmentParts};
pub use index::Index;
pub use mutation::{Applied, Mutation};
pub use payload::Payload;
pub use pins::PinPolicy;
pub(crate) use shared::{Journal, Outcome, WeakShared};
pub use shared::{PinnedView, SharedIndex};
pub use store::{DEFAULT_BACKGROUND_WRITE_BUFFER, DEFAULT_WRITE_BUFFER};
pub(crate) use version::Version;
