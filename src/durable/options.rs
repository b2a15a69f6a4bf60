//! How a durable index is opened: its storage, sync policy, checkpoints,
//! and the settings of the index itself.

use std::sync::Arc;

use super::storage::{FileSystem, Storage};
use crate::IndexBuilder;

/// When a write's log record is synced (`fsync`) relative to its call
/// returning.
///
/// # Example
///
/// ```
/// use mwindex::{DurableOptions, SyncPolicy};
///
/// let options: DurableOptions<u64, String> = DurableOptions::new().sync(SyncPolicy::EveryWrite);
/// assert_eq!(options.sync_policy(), SyncPolicy::EveryWrite);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// Each write syncs its own record before it returns: one sync per
    /// write, writers one after another.
    EveryWrite,
    /// Writers that arrive while a sync is under way share the next one;
    /// each returns once its own record is synced. As safe as
    /// [`SyncPolicy::EveryWrite`], and much faster with concurrent writers.
    #[default]
    Group,
    /// Records are handed to the operating system but never synced: a
    /// process crash loses nothing, a power loss or kernel crash may lose
    /// the latest writes (for caches rebuilt from elsewhere). The log is
    /// written back every 16 MB (not synced), and synced when a segment
    /// fills, so a sync never has a whole segment to write.
    None,
}

/// Settings of [`Durable::open`](crate::Durable::open).
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use mwindex::{DurableOptions, FaultyStorage, Index, OrgId, SyncPolicy};
///
/// let options: DurableOptions<u64, String> = DurableOptions::new()
///     .index(Index::builder().organization(OrgId(1), None))
///     .sync(SyncPolicy::Group)
///     .checkpoint_after_bytes(Some(64 << 20))
///     .storage(Arc::new(FaultyStorage::new()));
/// assert_eq!(options.sync_policy(), SyncPolicy::Group);
/// ```
#[derive(Clone, Debug)]
pub struct DurableOptions<I, P> {
    pub(crate) index: IndexBuilder<I, P>,
    pub(crate) sync: SyncPolicy,
    pub(crate) checkpoint_bytes: Option<u64>,
    pub(crate) segment_bytes: u64,
    pub(crate) salvage: bool,
    pub(crate) verify: bool,
    pub(crate) previous_format: bool,
    pub(crate) storage: Arc<dyn Storage>,
}

/// Log bytes after which a checkpoint starts on its own, by default.
pub const DEFAULT_CHECKPOINT_BYTES: u64 = 256 << 20;

/// Bytes of a log segment file before the next one starts, by default.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

impl<I, P> Default for DurableOptions<I, P> {
    fn default() -> Self {
        DurableOptions {
            index: IndexBuilder::default(),
            sync: SyncPolicy::default(),
            checkpoint_bytes: Some(DEFAULT_CHECKPOINT_BYTES),
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            salvage: false,
            verify: false,
            previous_format: false,
            storage: Arc::new(FileSystem),
        }
    }
}

impl<I, P> DurableOptions<I, P> {
    /// The defaults: the real file system, [`SyncPolicy::Group`], a
    /// checkpoint every [`DEFAULT_CHECKPOINT_BYTES`] of log, no salvage.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{DurableOptions, SyncPolicy};
    /// let options: DurableOptions<u64, ()> = DurableOptions::new();
    /// assert_eq!(options.sync_policy(), SyncPolicy::Group);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The settings of the index (write buffer, merges, pins, cursor key
    /// and organizations). The cursor key and organizations are used only
    /// when the directory is new: a recovered index keeps its own.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{DurableOptions, Index, OrgId};
    /// let options: DurableOptions<u64, ()> =
    ///     DurableOptions::new().index(Index::builder().organization(OrgId(1), None));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn index(mut self, builder: IndexBuilder<I, P>) -> Self {
        self.index = builder;
        self
    }

    /// When log records are synced (default [`SyncPolicy::Group`]).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{DurableOptions, SyncPolicy};
    /// let options: DurableOptions<u64, ()> = DurableOptions::new().sync(SyncPolicy::None);
    /// assert_eq!(options.sync_policy(), SyncPolicy::None);
    /// ```
    #[must_use]
    pub fn sync(mut self, policy: SyncPolicy) -> Self {
        self.sync = policy;
        self
    }

    /// The sync policy chosen.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{DurableOptions, SyncPolicy};
    /// assert_eq!(DurableOptions::<u64, ()>::new().sync_policy(), SyncPolicy::Group);
    /// ```
    pub fn sync_policy(&self) -> SyncPolicy {
        self.sync
    }

    /// Starts a checkpoint on a background thread once this many bytes
    /// were logged since the last one; `None` for checkpoints on demand
    /// only ([`Durable::checkpoint`](crate::Durable::checkpoint)).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::DurableOptions;
    /// let options: DurableOptions<u64, ()> = DurableOptions::new().checkpoint_after_bytes(None);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn checkpoint_after_bytes(mut self, bytes: Option<u64>) -> Self {
        self.checkpoint_bytes = bytes;
        self
    }

    /// Bytes of a log segment file before the next one begins (default
    /// [`DEFAULT_SEGMENT_BYTES`]; at least 4 KiB).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::DurableOptions;
    /// let options: DurableOptions<u64, ()> = DurableOptions::new().segment_bytes(1 << 20);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes.max(4096);
        self
    }

    /// On a damaged log record (a checksum that fails before the log's
    /// end), recover the records before it, cut the log there and report
    /// the damage in [`Recovery::salvaged`](crate::Recovery), instead of
    /// failing to open. Off by default: damage is then an error.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::DurableOptions;
    /// let options: DurableOptions<u64, ()> = DurableOptions::new().salvage(true);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn salvage(mut self, on: bool) -> Self {
        self.salvage = on;
        self
    }

    /// Check every structure of a loaded snapshot against its rows before
    /// the index serves: search directories rebuilt and compared, posting
    /// lists, end counts, block bounds, tombstones, the catalog (what
    /// `check_invariants` checks). A snapshot that fails is
    /// [`Error::Corrupt`](crate::Error) with [`Corruption::Invalid`](crate::Corruption)
    /// naming the structure.
    ///
    /// Off by default, and what is checked without it: the checksums of
    /// every block (so damage on disk is found either way), rkyv's checked
    /// access, every bound, order and count a query relies on, and the id
    /// index against the rows; a file that passes those but was written by
    /// someone other than mwindex with invented derived structures loads,
    /// and queries on it answer without a panic but may answer wrongly.
    /// Turn this on where snapshots come from hands you do not trust. It
    /// costs about half of building the index from its windows (0.31 s
    /// against a 0.05 s open at 1M windows; 5.6 s at 10M).
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::DurableOptions;
    /// let options: DurableOptions<u64, ()> = DurableOptions::new().verify(true);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn verify(mut self, on: bool) -> Self {
        self.verify = on;
        self
    }

    /// Whether checkpoints write snapshots in the format before the current
    /// one (format 4, without rows blocks), which builds of mwindex from
    /// before format 5 open: a way back to an older build. Off by default.
    /// Every format from 1 on is read either way. Such a snapshot opens
    /// with its rows copied out of their columns (about 0.4 s more at 10M
    /// windows) instead of read where they lie.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::DurableOptions;
    /// let options: DurableOptions<u64, ()> = DurableOptions::new().previous_snapshot_format(true);
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn previous_snapshot_format(mut self, on: bool) -> Self {
        self.previous_format = on;
        self
    }

    /// Where the files go (default [`FileSystem`]); tests pass a
    /// [`FaultyStorage`](crate::FaultyStorage).
    ///
    /// # Example
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use mwindex::{DurableOptions, FaultyStorage};
    /// let options: DurableOptions<u64, ()> = DurableOptions::new().storage(Arc::new(FaultyStorage::new()));
    /// # let _ = options;
    /// ```
    #[must_use]
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        self.storage = storage;
        self
    }
}
