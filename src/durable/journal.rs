//! The journal of a durable index: writers hand it their mutations, it
//! logs them and then applies them, and it writes checkpoints.
//!
//! **Group commit.** Writers queue their encoded mutations; one of them,
//! the leader, takes the whole queue, appends it to the log in one write,
//! syncs once (per the [`SyncPolicy`]), applies the mutations in log order
//! under one turn of the index's writer, and hands each writer its result.
//! Writers that arrive meanwhile queue for the next round. A write is thus
//! visible to readers only once it is durable, and acknowledged only then.
//! Under [`SyncPolicy::EveryWrite`] a round holds one mutation.
//!
//! **Failure.** If an append or a sync fails, the log may hold part of a
//! round, so the journal stops: that round's writers get the error, every
//! later write [`Error::Halted`]; reads go on. Reopening recovers what the
//! disk holds (the failed round whole or not at all).
//!
//! **Checkpoints.** A checkpoint takes the leader's turn for a moment
//! (nothing is then logged but not applied), starts a new log segment and
//! pins the latest version; then, while writes go on, it writes that
//! version as a snapshot and removes the log segments and snapshots it
//! replaces.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rustc_hash::FxHashMap;

use super::codec::{Persist, put_mutation};
use super::options::SyncPolicy;
use super::snapshot;
use super::storage::{Storage, at};
use super::wal::{self, MAX_RECORD, SEGMENT_HEADER};
use crate::engine::{Journal, Outcome, WeakShared};
use crate::{Error, Mutation, Payload, SharedIndex, WindowId};

struct Waiting<I, P> {
    ticket: u64,
    mutation: Mutation<I, P>,
    body: Vec<u8>,
}

/// The queue of writers and whose turn it is.
struct Turn<I, P> {
    queue: VecDeque<Waiting<I, P>>,
    done: FxHashMap<u64, Outcome<I, P>>,
    next_ticket: u64,
    /// A leader (or a checkpoint) has the turn.
    busy: bool,
}

/// The log files, touched only by whoever has the turn.
#[derive(Debug)]
pub(crate) struct Files {
    /// The segment appended to; `None` once the journal failed.
    pub(crate) segment: Option<wal::Segment>,
    /// The first record of every segment file, ascending.
    pub(crate) segments: Vec<u64>,
    /// The sequence number of the next record.
    pub(crate) next_seq: u64,
    /// Records in the current segment.
    pub(crate) in_segment: u64,
    /// Bytes logged since the last checkpoint began.
    pub(crate) since_checkpoint: u64,
    pub(crate) failed: Option<String>,
}

impl Files {
    /// The last record logged, and the first of the segment holding it
    /// (every segment before holds only records up to it): where a
    /// snapshot of the version now published covers the log through, and
    /// what it lets go. Starts the count of bytes towards the next
    /// checkpoint.
    fn mark(&mut self) -> Result<(u64, u64), Error> {
        if let Some(reason) = &self.failed {
            return Err(Error::Halted(reason.clone()));
        }
        self.since_checkpoint = 0;
        Ok((self.next_seq - 1, self.current_first()))
    }

    /// The first record of the segment appended to.
    fn current_first(&self) -> u64 {
        self.segments.last().copied().unwrap_or(self.next_seq)
    }
}

/// Figures of a journal, for metrics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) records: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) checkpoints: AtomicU64,
    pub(crate) snapshot_bytes: AtomicU64,
}

/// What a checkpoint wrote.
///
/// # Example
///
/// ```
/// # use mwindex::{Durable, DurableOptions, FaultyStorage, OrgId};
/// # use std::sync::Arc;
/// let durable: Durable<u64, String> =
///     Durable::open("/data", DurableOptions::new().storage(Arc::new(FaultyStorage::new())))?;
/// durable.add_organization(OrgId(1), None)?;
/// let checkpoint = durable.checkpoint()?;
/// assert_eq!(checkpoint.through, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checkpoint {
    /// The snapshot file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The last log record it holds.
    pub through: u64,
    /// How long writes waited for it (while it noted the last record
    /// logged and pinned the latest version).
    pub paused: Duration,
    /// How long it took in all.
    pub took: Duration,
}

pub(crate) struct Log<I, P> {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    sync: SyncPolicy,
    segment_bytes: u64,
    checkpoint_bytes: Option<u64>,
    /// Snapshots in the format before the current one.
    previous_format: bool,
    turn: Mutex<Turn<I, P>>,
    turned: Condvar,
    pub(crate) files: Mutex<Files>,
    /// One checkpoint at a time.
    checkpointing: Mutex<()>,
    checkpoint_started: AtomicBool,
    background: Mutex<Option<std::thread::JoinHandle<()>>>,
    pub(crate) counters: Counters,
    /// The directory's lock, held as long as the journal lives.
    _lock: Box<dyn std::fmt::Debug + Send + Sync>,
}

impl<I, P> std::fmt::Debug for Log<I, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("dir", &self.dir).field("sync", &self.sync).finish_non_exhaustive()
    }
}

/// The journal as the index holds it.
pub(crate) struct Hook<I, P>(pub(crate) Arc<Log<I, P>>);

impl<I: WindowId, P: Payload + Persist> Journal<I, P> for Hook<I, P> {
    fn commit(&self, index: &SharedIndex<I, P>, mutation: Mutation<I, P>) -> Outcome<I, P> {
        let out = self.0.commit(index, mutation);
        self.0.maybe_checkpoint(index);
        out
    }
}

impl<I, P> Drop for Log<I, P> {
    /// Syncs what an unsynced policy left in the operating system's hands.
    fn drop(&mut self) {
        let files = self.files.get_mut();
        if let Some(segment) = &mut files.segment {
            let _ = segment.sync(&*self.storage);
        }
    }
}

impl<I: WindowId, P: Payload + Persist> Log<I, P> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        dir: PathBuf,
        sync: SyncPolicy,
        segment_bytes: u64,
        checkpoint_bytes: Option<u64>,
        previous_format: bool,
        files: Files,
        lock: Box<dyn std::fmt::Debug + Send + Sync>,
    ) -> Self {
        Log {
            storage,
            dir,
            sync,
            segment_bytes,
            checkpoint_bytes,
            previous_format,
            turn: Mutex::new(Turn { queue: VecDeque::new(), done: FxHashMap::default(), next_ticket: 0, busy: false }),
            turned: Condvar::new(),
            files: Mutex::new(files),
            checkpointing: Mutex::new(()),
            checkpoint_started: AtomicBool::new(false),
            background: Mutex::new(None),
            counters: Counters::default(),
            _lock: lock,
        }
    }

    /// The format snapshots are written in.
    fn format(&self) -> u32 {
        if self.previous_format { snapshot::SNAPSHOT_VERSION - 1 } else { snapshot::SNAPSHOT_VERSION }
    }

    fn commit(&self, index: &SharedIndex<I, P>, mutation: Mutation<I, P>) -> Outcome<I, P> {
        let mut body = Vec::new();
        put_mutation(&mut body, &mutation);
        if body.len() > MAX_RECORD {
            return match mutation {
                Mutation::Bulk(_) | Mutation::UpsertAll(_) => self.commit_by_checkpoint(index, mutation),
                _ => Err(Error::RecordTooLarge { bytes: body.len(), max: MAX_RECORD }),
            };
        }
        let mut turn = self.turn.lock();
        let ticket = turn.next_ticket;
        turn.next_ticket += 1;
        turn.queue.push_back(Waiting { ticket, mutation, body });
        loop {
            if let Some(out) = turn.done.remove(&ticket) {
                return out;
            }
            if turn.busy {
                self.turned.wait(&mut turn);
                continue;
            }
            turn.busy = true;
            let round: Vec<Waiting<I, P>> = match self.sync {
                SyncPolicy::EveryWrite => turn.queue.pop_front().into_iter().collect(),
                _ => turn.queue.drain(..).collect(),
            };
            drop(turn);
            let results = self.lead(index, round);
            turn = self.turn.lock();
            turn.busy = false;
            turn.done.extend(results);
            self.turned.notify_all();
        }
    }

    /// One round: log, sync, apply.
    fn lead(&self, index: &SharedIndex<I, P>, round: Vec<Waiting<I, P>>) -> Vec<(u64, Outcome<I, P>)> {
        let mut files = self.files.lock();
        let fail_all =
            |round: Vec<Waiting<I, P>>, e: Error| round.into_iter().map(|w| (w.ticket, Err(e.clone()))).collect();
        if let Some(reason) = &files.failed {
            return fail_all(round, Error::Halted(reason.clone()));
        }
        let first = files.next_seq;
        let mut framed = Vec::with_capacity(round.iter().map(|w| w.body.len() + wal::RECORD_HEADER).sum());
        for (k, w) in round.iter().enumerate() {
            wal::frame(&mut framed, first + k as u64, &w.body);
        }
        if let Err(e) = self.append(&mut files, &framed, round.len() as u64) {
            files.failed = Some(e.to_string());
            files.segment = None;
            return fail_all(round, e);
        }
        drop(files);
        let tickets: Vec<u64> = round.iter().map(|w| w.ticket).collect();
        let results = index.apply_logged(round.into_iter().map(|w| w.mutation));
        tickets.into_iter().zip(results).collect()
    }

    /// Appends `framed` (`records` records) to the log, starting a new
    /// segment first if the current one is full, and syncs per the policy.
    fn append(&self, files: &mut Files, framed: &[u8], records: u64) -> Result<(), Error> {
        let full = files.segment.as_ref().is_some_and(|s| s.bytes + framed.len() as u64 > self.segment_bytes);
        if full && files.in_segment > 0 {
            self.rotate(files)?;
        }
        // The last sequence number is never handed out (readers refuse it).
        if files.next_seq.checked_add(records).is_none_or(|n| n == u64::MAX) {
            return Err(Error::Halted("the log's sequence numbers are used up".into()));
        }
        let segment = files.segment.as_mut().ok_or_else(|| Error::Halted("the log has no segment".into()))?;
        segment.append(framed)?;
        if self.sync == SyncPolicy::None {
            segment.write_behind()?;
        } else {
            segment.sync(&*self.storage)?;
            self.counters.syncs.fetch_add(1, Ordering::Relaxed);
        }
        files.next_seq += records;
        files.in_segment += records;
        files.since_checkpoint += framed.len() as u64;
        self.counters.records.fetch_add(records, Ordering::Relaxed);
        self.counters.bytes.fetch_add(framed.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Starts the next segment at the next record. Under the syncing
    /// policies every record of the current one is synced already; under
    /// [`SyncPolicy::None`] it is synced now, so that a power cut cannot
    /// leave a segment cut short before a later one.
    fn rotate(&self, files: &mut Files) -> Result<(), Error> {
        if let Some(segment) = &mut files.segment
            && self.sync == SyncPolicy::None
        {
            segment.sync(&*self.storage)?;
        }
        let next = wal::Segment::create(&*self.storage, &self.dir, width::<I>(), files.next_seq)?;
        files.segment = Some(next);
        files.segments.push(files.next_seq);
        files.in_segment = 0;
        Ok(())
    }

    /// Syncs the log (what [`SyncPolicy::None`] leaves unsynced).
    pub(crate) fn sync(&self) -> Result<(), Error> {
        let mut files = self.files.lock();
        if let Some(reason) = &files.failed {
            return Err(Error::Halted(reason.clone()));
        }
        match &mut files.segment {
            Some(segment) => segment.sync(&*self.storage),
            None => Ok(()),
        }
    }

    /// Starts a checkpoint on a background thread if enough was logged.
    fn maybe_checkpoint(self: &Arc<Self>, index: &SharedIndex<I, P>) {
        let Some(limit) = self.checkpoint_bytes else { return };
        if self.files.lock().since_checkpoint < limit || self.checkpoint_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let log = Arc::clone(self);
        let weak: WeakShared<I, P> = index.downgrade();
        let spawned = std::thread::Builder::new().name("mwindex-checkpoint".into()).spawn(move || {
            if let Some(index) = weak.upgrade() {
                // A failure leaves the log and the last snapshot as they
                // were; the next checkpoint tries again.
                let _ = log.checkpoint(&index);
            }
            log.checkpoint_started.store(false, Ordering::Release);
        });
        match spawned {
            Ok(handle) => {
                if let Some(previous) = self.background.lock().replace(handle) {
                    let _ = previous.join();
                }
            }
            Err(_) => self.checkpoint_started.store(false, Ordering::Release),
        }
    }

    /// Waits for a background checkpoint to end.
    pub(crate) fn wait_background(&self) {
        let handle = self.background.lock().take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }

    /// Runs `f` with the leader's turn: no round is between its log write
    /// and its apply meanwhile.
    fn with_turn<T>(&self, f: impl FnOnce() -> T) -> T {
        let mut turn = self.turn.lock();
        while turn.busy {
            self.turned.wait(&mut turn);
        }
        turn.busy = true;
        drop(turn);
        let out = f();
        let mut turn = self.turn.lock();
        turn.busy = false;
        self.turned.notify_all();
        out
    }

    /// Starts a new log segment (if the current one has records) so that
    /// the segments before it hold only records up to the last one logged;
    /// returns that record's number and the new segment's first.
    fn cut_log(&self) -> Result<(u64, u64), Error> {
        let mut files = self.files.lock();
        if files.failed.is_none() && files.in_segment > 0 {
            self.rotate(&mut files)?;
        }
        files.mark()
    }

    /// After a snapshot through record `through`: if nothing was logged
    /// since, starts a new segment, so the current one (all of it in the
    /// snapshot) goes with the ones before; returns the first segment to
    /// keep. With writes since, the segment stays (its records up to
    /// `through` are skipped by a replay) until a later checkpoint: cutting
    /// it while writers wait held them for its sync and a file's creation
    /// (0.6-13 ms at 10M windows under a full-speed writer).
    fn cut_if_idle(&self, through: u64, cut: u64) -> Result<u64, Error> {
        let mut files = self.files.lock();
        if files.next_seq - 1 == through && files.in_segment > 0 && files.segments.last() == Some(&cut) {
            self.rotate(&mut files)?;
            return Ok(files.current_first());
        }
        Ok(cut)
    }

    /// Writes the latest version as a snapshot and retires the log
    /// segments and snapshots it replaces.
    pub(crate) fn checkpoint(&self, index: &SharedIndex<I, P>) -> Result<Checkpoint, Error> {
        let _one = self.checkpointing.lock();
        let began = Instant::now();
        let (version, through, cut, paused) = self.with_turn(|| {
            let held = Instant::now();
            // No file is touched, so writers held meanwhile wait
            // microseconds; the segment is cut, if ever, after the
            // snapshot (`Log::cut_if_idle`).
            let (through, cut) = self.files.lock().mark()?;
            Ok::<_, Error>((index.latest(), through, cut, held.elapsed()))
        })?;
        let written = snapshot::write(&*self.storage, &self.dir, &version, through, self.format())?;
        drop(version);
        let cut = self.cut_if_idle(through, cut)?;
        let mut done = self.retire(written, through, cut)?;
        done.paused = paused;
        done.took = began.elapsed();
        Ok(done)
    }

    /// A mutation too large for a log record, made durable by a snapshot
    /// instead: applied, then the whole index written, while every other
    /// write waits (a bulk load of millions of windows). If the snapshot
    /// cannot be written, the index holds a change the disk does not, so
    /// the journal stops.
    fn commit_by_checkpoint(&self, index: &SharedIndex<I, P>, mutation: Mutation<I, P>) -> Outcome<I, P> {
        let _one = self.checkpointing.lock();
        self.with_turn(|| {
            let (through, cut) = self.cut_log()?;
            let out = index
                .apply_logged(std::iter::once(mutation))
                .pop()
                .unwrap_or(Err(Error::Halted("a mutation made no result".into())))?;
            let version = index.latest();
            match snapshot::write(&*self.storage, &self.dir, &version, through, self.format()) {
                Ok(written) => {
                    drop(version);
                    self.retire(written, through, cut)?;
                    Ok(out)
                }
                Err(e) => {
                    let mut files = self.files.lock();
                    files.failed = Some(format!("a bulk write could not be checkpointed: {e}"));
                    files.segment = None;
                    Err(e)
                }
            }
        })
    }

    /// Removes what the durable snapshot `written` (through record
    /// `through`) replaces: log segments before `cut`, older snapshots.
    fn retire(&self, written: snapshot::Written, through: u64, cut: u64) -> Result<Checkpoint, Error> {
        self.counters.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.counters.snapshot_bytes.store(written.bytes, Ordering::Relaxed);
        let old: Vec<u64> = {
            let mut files = self.files.lock();
            let old = files.segments.iter().copied().filter(|&s| s < cut).collect();
            files.segments.retain(|&s| s >= cut);
            old
        };
        for first in old {
            let path = self.dir.join(wal::segment_name(first));
            at("remove", &path, self.storage.remove(&path))?;
        }
        let names = at("list", &self.dir, self.storage.list(&self.dir))?;
        for name in names {
            if snapshot::parse_snapshot_name(&name).is_some_and(|seq| seq < through) {
                let path = self.dir.join(&name);
                at("remove", &path, self.storage.remove(&path))?;
            }
        }
        at("fsync", &self.dir, self.storage.sync_dir(&self.dir))?;
        Ok(Checkpoint {
            path: written.path,
            bytes: written.bytes,
            through,
            paused: Duration::ZERO,
            took: Duration::ZERO,
        })
    }
}

/// The id width the files record.
pub(crate) fn width<I: WindowId>() -> u32 {
    super::codec::len32(I::WIDTH)
}

/// Bytes of a segment file holding only its header.
pub(crate) const EMPTY_SEGMENT: u64 = SEGMENT_HEADER as u64;
