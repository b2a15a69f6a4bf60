//! The front door: [`Durable::open`] recovers a directory (or starts one)
//! and returns the shared index with its journal attached.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::codec::{self, Persist};
use super::journal::{Checkpoint, EMPTY_SEGMENT, Files, Hook, Log, width};
use super::options::DurableOptions;
use super::replay::Replay;
use super::snapshot;
use super::storage::at;
use super::wal;
use crate::{Corruption, Error, Index, Payload, SharedIndex, WindowId};

/// The name of a data directory's lock file.
pub const LOCK_FILE: &str = "LOCK";

/// What [`Durable::open`] found and did.
///
/// # Example
///
/// ```
/// # use mwindex::{Durable, DurableOptions, FaultyStorage};
/// # use std::sync::Arc;
/// let durable: Durable<u64, ()> =
///     Durable::open("/data", DurableOptions::new().storage(Arc::new(FaultyStorage::new())))?;
/// assert_eq!(durable.recovery().snapshot, None, "a new directory");
/// assert_eq!(durable.recovery().replayed, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// The log record the snapshot loaded holds through (`None`: no
    /// snapshot, the index started empty).
    pub snapshot: Option<u64>,
    /// Log records replayed after the snapshot.
    pub replayed: u64,
    /// Bytes of a torn last record (written, never synced) cut off the log.
    pub torn_bytes: u64,
    /// With [`DurableOptions::salvage`]: the damage recovery stopped at;
    /// the log was cut there.
    pub salvaged: Option<Error>,
    /// How long opening took.
    pub took: Duration,
}

/// Figures of a durable index's log and checkpoints.
///
/// # Example
///
/// ```
/// # use mwindex::{Durable, DurableOptions, FaultyStorage, OrgId};
/// # use std::sync::Arc;
/// let durable: Durable<u64, ()> =
///     Durable::open("/data", DurableOptions::new().storage(Arc::new(FaultyStorage::new())))?;
/// durable.add_organization(OrgId(1), None)?;
/// assert_eq!(durable.stats().records, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogStats {
    /// Records appended since the index was opened.
    pub records: u64,
    /// Bytes appended since the index was opened.
    pub bytes: u64,
    /// Syncs of the log since it was opened (fewer than records when
    /// writers share them).
    pub syncs: u64,
    /// Checkpoints written since it was opened.
    pub checkpoints: u64,
    /// Size of the last snapshot written.
    pub snapshot_bytes: u64,
    /// The sequence number the next record gets.
    pub next_seq: u64,
}

/// A [`SharedIndex`] kept on disk: every write is logged before it is
/// applied and acknowledged, and checkpoints write snapshots from which the
/// index reopens in moments.
///
/// `Durable::open(dir, options)` recovers the directory (the newest
/// snapshot, then the log after it) or starts an empty index there, and
/// holds its lock file until the index is dropped. The handle dereferences
/// to the [`SharedIndex`]: query it and write to it as to any shared index
/// (clone it for other threads), and every write goes through the log
/// first. A write returns once its record is durable under the chosen
/// [`SyncPolicy`](crate::SyncPolicy) and its version is published.
///
/// Files in the directory: `wal-<first record>.log` (log segments),
/// `snapshot-<last record>.rkyv` (the latest snapshot), `LOCK`. Their
/// formats are in the crate's design notes.
///
/// # Example
///
/// ```
/// use mwindex::{Durable, DurableOptions, OrgId, Query, Timestamp, Window};
///
/// let dir = std::env::temp_dir().join(format!("mwindex-doc-durable-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// {
///     let durable: Durable<u64, String> = Durable::open(&dir, DurableOptions::new())?;
///     durable.add_organization(OrgId(1), None)?;
///     let w = Window::new(7, Timestamp::from_secs(0)?, Timestamp::from_secs(60)?, OrgId(1))?;
///     durable.insert(w, "swap cable".to_string())?; // logged and synced before it returns
/// }
/// let reopened: Durable<u64, String> = Durable::open(&dir, DurableOptions::new())?;
/// assert_eq!(reopened.get(7).map(|e| e.payload), Some("swap cable".to_string()));
/// assert_eq!(reopened.recovery().replayed, 2);
/// # drop(reopened);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Durable<I, P> {
    index: SharedIndex<I, P>,
    log: Arc<Log<I, P>>,
    recovery: Recovery,
    dir: PathBuf,
}

impl<I, P> std::ops::Deref for Durable<I, P> {
    type Target = SharedIndex<I, P>;

    fn deref(&self) -> &SharedIndex<I, P> {
        &self.index
    }
}

impl<I: WindowId, P: Payload + Persist> Durable<I, P> {
    /// Opens the durable index in `dir`: creates the directory if missing,
    /// takes its lock file, loads the newest snapshot, replays the log
    /// after it (cutting a torn last record), and starts a new log segment.
    ///
    /// # Errors
    ///
    /// - [`Error::Locked`] if another process (or handle) has the directory open;
    /// - [`Error::Corrupt`] naming the file, offset and problem if a
    ///   snapshot or log record is damaged, foreign, of a newer format or
    ///   of another id type (a damaged log record before the log's end is
    ///   salvaged instead with [`DurableOptions::salvage`]);
    /// - [`Error::Io`] if the storage fails;
    /// - those of [`IndexBuilder::build`](crate::IndexBuilder::build) for a new directory.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Durable, DurableOptions, Error, FaultyStorage};
    /// # use std::sync::Arc;
    /// let disk = Arc::new(FaultyStorage::new());
    /// let first: Durable<u64, ()> = Durable::open("/d", DurableOptions::new().storage(disk.clone()))?;
    /// let second = Durable::<u64, ()>::open("/d", DurableOptions::new().storage(disk));
    /// assert!(matches!(second, Err(Error::Locked(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>, options: DurableOptions<I, P>) -> Result<Self, Error> {
        let began = Instant::now();
        let dir = dir.as_ref().to_path_buf();
        let storage = Arc::clone(&options.storage);
        at("create", &dir, storage.create_dir_all(&dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = at("lock", &lock_path, storage.lock(&lock_path))?
            .ok_or_else(|| Error::Locked(dir.display().to_string()))?;

        let mut snapshots = Vec::new();
        let mut segments = Vec::new();
        for name in at("list", &dir, storage.list(&dir))? {
            if name.ends_with(".tmp") {
                // A snapshot whose write never finished.
                let path = dir.join(&name);
                at("remove", &path, storage.remove(&path))?;
            } else if let Some(seq) = snapshot::parse_snapshot_name(&name) {
                snapshots.push(seq);
            } else if let Some(first) = wal::parse_segment_name(&name) {
                segments.push(first);
            }
        }
        snapshots.sort_unstable();
        segments.sort_unstable();

        let mut recovery = Recovery::default();
        let pins = options.index.pin_policy();
        let mut index: Index<I, P> = match snapshots.last() {
            Some(&seq) => {
                let path = dir.join(snapshot::snapshot_name(seq));
                let loaded = snapshot::read::<I, P>(&*storage, &path)?;
                if loaded.seq != seq {
                    return Err(Error::Corrupt {
                        path: path.display().to_string(),
                        offset: 16,
                        problem: Corruption::Sequence { expected: seq, found: loaded.seq },
                    });
                }
                recovery.snapshot = Some(seq);
                // The file passed its checksums: whatever it holds that
                // the index cannot be, it is an invalid snapshot.
                let invalid = |problem: String| Error::Corrupt {
                    path: path.display().to_string(),
                    offset: 0,
                    problem: Corruption::Invalid(problem),
                };
                let index = options.index.clone().build_restored(loaded.image).map_err(|e| invalid(e.to_string()))?;
                if options.verify {
                    index.check_invariants().map_err(invalid)?;
                }
                index
            }
            None => options.index.clone().build()?,
        };
        // Replay builds segments on the build thread, as the shared index
        // it becomes will.
        index.build_in_background();
        let after = recovery.snapshot.unwrap_or(0);
        let mut replay = Replay::new(index);
        // A snapshot claiming the last sequence number leaves none to come.
        let mut expected = after.checked_add(1).ok_or_else(|| Error::Corrupt {
            path: dir.join(snapshot::snapshot_name(after)).display().to_string(),
            offset: 16,
            problem: Corruption::Sequence { expected: after, found: after },
        })?;
        let mut kept = Vec::new();
        for (k, &first) in segments.iter().enumerate() {
            let path = dir.join(wal::segment_name(first));
            if recovery.salvaged.is_some() {
                // Past salvaged damage: nothing after it can be trusted.
                at("remove", &path, storage.remove(&path))?;
                continue;
            }
            let last = k + 1 == segments.len();
            let bytes = at("read", &path, storage.read(&path))?;
            let scanned = wal::scan(&path, &bytes, width::<I>(), first, last, options.salvage)?;
            if first > expected && scanned.records.iter().any(|&(seq, _)| seq > after) {
                return Err(Error::Corrupt {
                    path: path.display().to_string(),
                    offset: 0,
                    problem: Corruption::Sequence { expected, found: first },
                });
            }
            for (seq, range) in &scanned.records {
                if *seq <= after {
                    continue;
                }
                if *seq != expected {
                    return Err(Error::Corrupt {
                        path: path.display().to_string(),
                        offset: range.start as u64,
                        problem: Corruption::Sequence { expected, found: *seq },
                    });
                }
                let mutation = codec::mutation::<I, P>(&bytes[range.clone()]).map_err(|e| Error::Corrupt {
                    path: path.display().to_string(),
                    offset: (range.start - wal::RECORD_HEADER) as u64,
                    problem: Corruption::Invalid(e),
                })?;
                // A mutation that failed when it was logged fails the same
                // way now, and changes nothing either time.
                replay.apply(mutation);
                // The log never records `u64::MAX` (scan refuses it).
                expected = expected.saturating_add(1);
                recovery.replayed += 1;
            }
            if scanned.torn || scanned.damage.is_some() {
                recovery.torn_bytes += (bytes.len() - scanned.end) as u64;
                if (scanned.end as u64) < EMPTY_SEGMENT {
                    at("remove", &path, storage.remove(&path))?;
                } else {
                    at("truncate", &path, storage.truncate(&path, scanned.end as u64))?;
                    kept.push(first);
                }
                if let Some(damage) = scanned.damage {
                    recovery.torn_bytes -= (bytes.len() - scanned.end) as u64;
                    recovery.salvaged = Some(damage);
                }
            } else {
                kept.push(first);
            }
        }
        let index = replay.finish();
        // Segments the snapshot covers whole stay until the next
        // checkpoint removes them; new records go to a new segment.
        let next_seq = expected;
        kept.retain(|&first| first != next_seq);
        let mut segment = wal::Segment::create(&*storage, &dir, width::<I>(), next_seq)?;
        segment.sync(&*storage)?;
        kept.push(next_seq);
        let files = Files {
            segment: Some(segment),
            segments: kept,
            next_seq,
            in_segment: 0,
            since_checkpoint: 0,
            failed: None,
        };
        let log = Arc::new(Log::new(
            storage,
            dir.clone(),
            options.sync,
            options.segment_bytes,
            options.checkpoint_bytes,
            options.previous_format,
            files,
            lock,
        ));
        let shared = SharedIndex::from_index(index, pins);
        let attached = shared.set_journal(Box::new(Hook(Arc::clone(&log))));
        debug_assert!(attached, "a new index has no journal");
        recovery.took = began.elapsed();
        Ok(Durable { index: shared, log, recovery, dir })
    }

    /// The shared index (also reached by dereferencing the handle): clone
    /// it to write and read from other threads; its writes are logged.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Durable, DurableOptions, FaultyStorage, OrgId};
    /// # use std::sync::Arc;
    /// let durable: Durable<u64, ()> =
    ///     Durable::open("/data", DurableOptions::new().storage(Arc::new(FaultyStorage::new())))?;
    /// let index = durable.index().clone();
    /// std::thread::spawn(move || index.add_organization(OrgId(1), None)).join().unwrap()?;
    /// assert_eq!(durable.stats().records, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self) -> &SharedIndex<I, P> {
        &self.index
    }

    /// What opening found and did.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Durable, DurableOptions, FaultyStorage};
    /// # use std::sync::Arc;
    /// let durable: Durable<u64, ()> =
    ///     Durable::open("/data", DurableOptions::new().storage(Arc::new(FaultyStorage::new())))?;
    /// assert!(durable.recovery().salvaged.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The data directory.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Durable, DurableOptions, FaultyStorage};
    /// # use std::sync::Arc;
    /// let durable: Durable<u64, ()> =
    ///     Durable::open("/data", DurableOptions::new().storage(Arc::new(FaultyStorage::new())))?;
    /// assert_eq!(durable.dir(), std::path::Path::new("/data"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a snapshot of the latest version and removes the log
    /// segments and older snapshots it replaces. Writes go on meanwhile
    /// (they wait only while the checkpoint notes the last record logged
    /// and pins the latest version: microseconds). Checkpoints
    /// also start on their own, on a background thread, after
    /// [`DurableOptions::checkpoint_after_bytes`] of log.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the storage fails (the previous snapshot and the
    /// log are then untouched, and nothing is lost); [`Error::Halted`] if
    /// the log failed before.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Durable, DurableOptions, FaultyStorage, OrgId};
    /// # use std::sync::Arc;
    /// let durable: Durable<u64, ()> =
    ///     Durable::open("/data", DurableOptions::new().storage(Arc::new(FaultyStorage::new())))?;
    /// durable.add_organization(OrgId(1), None)?;
    /// assert!(durable.checkpoint()?.path.ends_with("snapshot-00000000000000000001.rkyv"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self) -> Result<Checkpoint, Error> {
        self.log.checkpoint(&self.index)
    }

    /// Syncs the log: what [`SyncPolicy::None`](crate::SyncPolicy::None)
    /// writes leave unsynced becomes durable.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the sync fails, [`Error::Halted`] if the log failed before.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Durable, DurableOptions, FaultyStorage, SyncPolicy};
    /// # use std::sync::Arc;
    /// let durable: Durable<u64, ()> = Durable::open(
    ///     "/data",
    ///     DurableOptions::new().sync(SyncPolicy::None).storage(Arc::new(FaultyStorage::new())),
    /// )?;
    /// durable.sync()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sync(&self) -> Result<(), Error> {
        self.log.sync()
    }

    /// Figures of the log and checkpoints.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Durable, DurableOptions, FaultyStorage};
    /// # use std::sync::Arc;
    /// let durable: Durable<u64, ()> =
    ///     Durable::open("/data", DurableOptions::new().storage(Arc::new(FaultyStorage::new())))?;
    /// assert_eq!(durable.stats().next_seq, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> LogStats {
        let c = &self.log.counters;
        LogStats {
            records: c.records.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            checkpoints: c.checkpoints.load(Ordering::Relaxed),
            snapshot_bytes: c.snapshot_bytes.load(Ordering::Relaxed),
            next_seq: self.log.files.lock().next_seq,
        }
    }

    /// Waits for a background checkpoint, syncs the log, and lets go of
    /// this handle. The directory's lock is released once every clone of
    /// the index is dropped too.
    ///
    /// # Errors
    ///
    /// Those of [`Durable::sync`].
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{Durable, DurableOptions, FaultyStorage};
    /// # use std::sync::Arc;
    /// let disk = Arc::new(FaultyStorage::new());
    /// let durable: Durable<u64, ()> = Durable::open("/d", DurableOptions::new().storage(disk.clone()))?;
    /// durable.close()?;
    /// let again: Durable<u64, ()> = Durable::open("/d", DurableOptions::new().storage(disk))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(self) -> Result<(), Error> {
        self.log.wait_background();
        self.log.sync()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::{Index, OrgId, Query, Timestamp, Window};

    fn window(id: u64, shift: i64) -> Window<u64> {
        let t = |s: i64| Timestamp::from_secs(s).expect("in range");
        let start = (id * 7_919 % 3_000_000) as i64 + shift;
        Window::new(id, t(start), t(start + 3_600 * (1 + id as i64 % 5)), OrgId(1 + id % 2)).expect("valid")
    }

    /// Every window of `index` with its payload, page by page.
    fn contents(index: &SharedIndex<u64, u64>) -> BTreeMap<u64, (Window<u64>, u64)> {
        let mut q = Query::new().page_size(50);
        let mut all = BTreeMap::new();
        loop {
            let page = index.query(&q).expect("page");
            all.extend(page.items().iter().map(|e| (e.window.id(), (e.window, e.payload))));
            match page.next_cursor() {
                Some(c) => q = q.cursor(c),
                None => return all,
            }
        }
    }

    /// A snapshot opened in place moves onto memory of its own in the
    /// background while writes go on, and nothing a reader sees changes:
    /// the windows are those the writes leave, every structure checks.
    #[test]
    fn segments_opened_in_place_move_to_memory_of_their_own_while_writes_go_on() {
        let dir = std::env::temp_dir().join(format!("mwindex-rehome-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let options = || {
            DurableOptions::<u64, u64>::new()
                .index(Index::builder().organization(OrgId(1), None).organization(OrgId(2), None))
                .checkpoint_after_bytes(None)
        };
        let n = 70_000u64;
        let d = Durable::open(&dir, options()).expect("open");
        d.bulk_insert((0..n).map(|id| (window(id, 0), id))).expect("bulk");
        d.checkpoint().expect("checkpoint");
        let mut model = contents(d.index());
        d.close().expect("close");

        let d: Durable<u64, u64> = Durable::open(&dir, options()).expect("reopen");
        for id in (0..n).step_by(7) {
            if id % 2 == 0 {
                assert!(d.delete(id).is_some());
                model.remove(&id);
            } else {
                d.upsert(window(id, 60), id + 1).expect("move");
                model.insert(id, (window(id, 60), id + 1));
            }
        }
        let began = Instant::now();
        while d.index().latest().shared_segment().is_some() {
            assert!(began.elapsed() < Duration::from_secs(20), "segments still read in place");
            std::thread::sleep(Duration::from_millis(10));
        }
        d.check_invariants().expect("invariants");
        assert_eq!(contents(d.index()), model);
        d.close().expect("close");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
