//! Durability: the index on disk, as snapshots and a write-ahead log.
//!
//! `storage` is the only way to the disk (a trait; the real file system and
//! `faulty`, a test backend that fails calls on purpose and simulates power
//! loss); `codec` the bytes of payloads and mutations; `wal` the log's
//! records and segment files; `snapshot` the snapshot file; `journal` the
//! group commit and checkpoints; `handle` the front door, [`Durable::open`],
//! which recovers a directory; `options` its settings.

mod codec;
mod faulty;
mod handle;
mod journal;
mod options;
mod replay;
mod snapshot;
mod storage;
mod wal;

pub use codec::Persist;
pub use faulty::{FaultyStorage, Op, PowerCut};
pub use handle::{Durable, LOCK_FILE, LogStats, Recovery};
pub use journal::Checkpoint;
pub use options::{DEFAULT_CHECKPOINT_BYTES, DEFAULT_SEGMENT_BYTES, DurableOptions, SyncPolicy};
pub use storage::{FileSystem, Mapped, Storage, StorageFile};
pub use wal::MAX_RECORD;
