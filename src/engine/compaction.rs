//! Compaction: merging segments so a query meets few of them, without
//! pausing the writer.
//!
//! Segments are kept geometric (each at least [`FACTOR`] times the live rows
//! of all newer ones it could absorb), so there are `O(log n)` of them and a
//! row is rewritten `O(log n)` times. A merge of at most the configured inline
//! budget of rows runs on the writer's thread (a few hundred microseconds at
//! most); a larger one runs on a background thread over the inputs' shared,
//! immutable data, while the writer goes on. Deletes that land on an input
//! meanwhile are only tombstones on the writer's side; when the merge is
//! installed (at the writer's next call), the rows that died since it began
//! are found by id in the output and killed there too. Until then queries
//! read the inputs, which stay correct: a merge changes where rows are, never
//! what the index holds.

use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};

use parking_lot::Mutex;

use super::parts::{self, Part, Parts};
use super::signal::{SetOnDrop, Signal};
use super::task_queue::{Refused, TaskQueue};
use crate::WindowId;
use crate::catalog::PlacesView;
use crate::memory::huge_pages;
use crate::segment::{ChunkedBits, PendingKills, Row, Segment, SegmentData, row32};

/// Each segment holds at least this many times the rows of the newer
/// segments a merge would fold into it.
pub(crate) const FACTOR: usize = 4;

/// Merges of at most this many rows run on the writer's thread by default.
pub(crate) const INLINE_ROWS: usize = 2_048;

/// Background merges running at once: at most one of more than
/// [`SMALL_JOB_ROWS`], and beside it one smaller, so a long merge of large
/// segments does not leave the newest ones piling up.
const MAX_JOBS: usize = 2;

/// The build thread's nice level: low enough that its wake-up after a seal
/// does not preempt the writer on the writer's core (at the writer's own
/// priority it did, for the whole build: 100-500 µs), high enough that
/// readers keeping every core busy do not starve it (the writer waits for
/// builds that fall behind).
const BUILD_NICE: i32 = 10;

/// Merges of at most this many rows run on the build thread when every
/// merge runs in the background (a millisecond or two of work).
const BUILD_THREAD_MERGE_ROWS: usize = 4_096;

/// Rows of the newest segments the writer merges itself, past the limit
/// of segments, rather than wait for a background merge (a millisecond or
/// so of work). Merges run at the lowest priority: with a writer, a reader
/// and a checkpoint keeping both cores busy, the writer waited for one
/// 160-480 ms (10M windows).
const WRITER_MERGE_ROWS: usize = 8_192;

/// Rows a merge may hold to run beside a larger one.
const SMALL_JOB_ROWS: usize = 1 << 18;

/// Segments beyond this make the writer wait for a background merge: under
/// a sustained write rate above what merging keeps up with, the writer slows
/// down instead of queries (the default of
/// [`IndexBuilder::max_segments`](crate::IndexBuilder::max_segments)).
pub const DEFAULT_MAX_SEGMENTS: usize = 96;

/// [`DEFAULT_MAX_SEGMENTS`] where every build and merge runs in the
/// background (a [`SharedIndex`](crate::SharedIndex)'s default): there the
/// writer goes on while segments pile up, and each costs every read (with
/// 96, a reader beside a writer at full speed spent 19 µs a read). With a
/// writer on this thread building its own segments, 32 slowed inserts 16%.
pub const DEFAULT_BACKGROUND_MAX_SEGMENTS: usize = 32;

/// The fewest segments [`IndexBuilder::max_segments`](crate::IndexBuilder::max_segments)
/// allows: below the count a geometric policy holds at rest (a few per
/// size class), the writer would wait at every write.
const MIN_MAX_SEGMENTS: usize = 16;

/// A merge's output and the deletes its thread has not read, once built.
type Handover<I, P> = Arc<Mutex<Option<(Part<I, P>, Receiver<I>)>>>;

/// A merge running in the background.
struct Job<I, P> {
    /// The inputs' data, oldest first.
    inputs: Vec<Arc<SegmentData<I>>>,
    rows: usize,
    /// Ids deleted from the inputs since the merge began, sent without
    /// waiting: the merge thread kills them in its output once built, and the
    /// install kills the few that arrive after that.
    deletes: Sender<I>,
    /// Where the merge thread hands over its output and the deletes it has
    /// not read. The writer takes them from here rather than joining the
    /// thread, whose exit it need not wait for.
    output: Handover<I, P>,
    /// Set once the output is sent (or the thread ended without one).
    done: Arc<Signal>,
}

/// Work for a background thread.
pub(crate) type Task = Box<dyn FnOnce() + Send>;

/// Long-lived background threads: [`MAX_JOBS`] that merge and one that frees
/// replaced segments. Starting a thread per merge or free made the writer
/// map the new thread's stack, and a memory-map call waits for every other
/// thread's mapping, unmapping and huge-page work in the process: measured
/// with strace at 1M windows, the writer's `clone3` calls took up to 3 ms
/// while a merge or a free ran. The threads end when the index drops.
struct Pool {
    merges: Arc<TaskQueue<Task>>,
    frees: Arc<TaskQueue<Task>>,
    /// Builds of sealed write buffers (`true`) and the smallest merges
    /// (`false`), on a thread of their own that runs the builds first:
    /// behind merges they would leave sealed buffers piling up.
    builds: Arc<TaskQueue<(bool, Task)>>,
}

impl Pool {
    /// Starts the threads; `None` if any cannot start (the ones that did
    /// then end, their queue closed).
    fn start() -> Option<Pool> {
        let pool = Pool { merges: TaskQueue::new(), frees: TaskQueue::new(), builds: TaskQueue::new() };
        for _ in 0..MAX_JOBS {
            worker("mwindex-merge", Arc::clone(&pool.merges))?;
        }
        worker("mwindex-free", Arc::clone(&pool.frees))?;
        build_worker(Arc::clone(&pool.builds))?;
        Some(pool)
    }
}

impl Pool {
    /// Queues `task` on `queue` without the writer waking a thread where it
    /// can: if a worker of `queue` sleeps, the build thread, awake while
    /// writes come, wakes it instead. A wake is a system call, and on this
    /// virtual machine an interrupt to the other core: pushing a merge to
    /// a sleeping merge thread took the writer 11-15 µs on average, under
    /// moves at 10M windows (Instant around the push, not kept), a third
    /// of the writes over 15 µs among those that started a merge. Gives
    /// the task back if `queue` is closed.
    fn send(&self, queue: &Arc<TaskQueue<Task>>, task: Task) -> Result<(), Task> {
        let task = match queue.push_awake(task) {
            Ok(()) => return Ok(()),
            Err(Refused::Closed(task)) => return Err(task),
            Err(Refused::Asleep(task)) => task,
        };
        let target = Arc::clone(queue);
        let forward: Task = Box::new(move || {
            // Closed meanwhile: the index is gone, so the task is moot.
            let _ = target.push(task);
        });
        match self.builds.push_awake((true, forward)) {
            Ok(()) => Ok(()),
            // The build thread sleeps too: wake the worker from here.
            Err(Refused::Asleep((_, forward)) | Refused::Closed((_, forward))) => {
                forward();
                Ok(())
            }
        }
    }
}

impl Drop for Pool {
    /// The threads end once they have run the tasks queued.
    fn drop(&mut self) {
        self.merges.close();
        self.frees.close();
        self.builds.close();
    }
}

/// The build thread: runs the tasks of `queue`, builds (`true`) before
/// merges, until the queue closes.
fn build_worker(queue: Arc<TaskQueue<(bool, Task)>>) -> Option<()> {
    let started = std::thread::Builder::new().name("mwindex-build".into()).spawn(move || {
        set_nice(BUILD_NICE);
        let (mut builds, mut merges) = (std::collections::VecDeque::new(), std::collections::VecDeque::new());
        loop {
            if builds.is_empty() && merges.is_empty() {
                let Some((build, task)) = queue.pop() else { return };
                if build { builds.push_back(task) } else { merges.push_back(task) }
            }
            while let Some((build, task)) = queue.try_pop() {
                if build { builds.push_back(task) } else { merges.push_back(task) }
            }
            if let Some(task) = builds.pop_front().or_else(|| merges.pop_front()) {
                // As in `worker`: a panic is a bug, and must not end the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
            }
        }
    });
    started.ok().map(drop)
}

/// A thread running tasks from `queue`, at the lowest priority, until the
/// queue closes.
fn worker(name: &str, queue: Arc<TaskQueue<Task>>) -> Option<()> {
    let started = std::thread::Builder::new().name(name.into()).spawn(move || {
        yield_to_foreground();
        while let Some(task) = queue.pop() {
            // A panic is a bug; it must not take the thread down with it.
            // A merge's job is then marked done with no output, and its
            // inputs stay in place (see `install`).
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
        }
    });
    started.ok().map(drop)
}

/// The merges in flight and the policy that starts them.
pub(crate) struct Compactor<I, P> {
    jobs: Vec<Job<I, P>>,
    /// Merges of at most this many rows run on the writer's thread.
    inline_rows: usize,
    /// The budget set at construction, which `all_in_background` restores.
    configured_inline_rows: usize,
    /// Started with the first background merge.
    pool: Option<Pool>,
    /// Whether the policy found nothing to merge when it last ran and no
    /// delete has changed a segment since: the segments are then geometric.
    settled: bool,
    /// Segments beyond this make the writer wait for a merge.
    max_segments: usize,
}

impl<I, P> Compactor<I, P> {
    pub(crate) fn new(inline_rows: usize) -> Self {
        Compactor {
            jobs: Vec::new(),
            inline_rows,
            configured_inline_rows: inline_rows,
            pool: None,
            settled: false,
            max_segments: DEFAULT_MAX_SEGMENTS,
        }
    }

    /// Sets how many segments make the writer wait for a merge.
    pub(crate) fn limit_segments(&mut self, max: usize) {
        self.max_segments = max.max(MIN_MAX_SEGMENTS);
    }

    /// The background threads, started on first use; `None` if they cannot
    /// start.
    fn pool(&mut self) -> Option<&Pool> {
        if self.pool.is_none() {
            self.pool = Pool::start();
        }
        self.pool.as_ref()
    }

    /// Runs every merge on a background thread (none on the writer's), or,
    /// with `false`, those above the configured budget.
    pub(crate) fn all_in_background(&mut self, on: bool) {
        self.inline_rows = if on { 0 } else { self.configured_inline_rows };
    }

    /// Runs `task` on the build thread; gives it back if the thread cannot
    /// run it.
    pub(crate) fn spawn_build(&mut self, task: Task) -> Result<(), Task> {
        match self.pool() {
            Some(pool) => pool.builds.push((true, task)).map_err(|(_, task)| task),
            None => Err(task),
        }
    }

    /// Merges in flight.
    pub(crate) fn running(&self) -> usize {
        self.jobs.len()
    }

    /// Identities of the merges that finished but are not installed yet.
    #[cfg(test)]
    pub(crate) fn finished(&self) -> Vec<usize> {
        self.jobs.iter().filter(|j| j.done.is_set()).map(|j| Arc::as_ptr(&j.done) as usize).collect()
    }
}

impl<I, P> Clone for Compactor<I, P> {
    /// A clone starts with no merge in flight: the clone of the index still
    /// holds the inputs, so it is complete without them.
    fn clone(&self) -> Self {
        Compactor {
            inline_rows: self.inline_rows,
            max_segments: self.max_segments,
            ..Compactor::new(self.configured_inline_rows)
        }
    }
}

impl<I, P> std::fmt::Debug for Compactor<I, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compactor").field("running", &self.jobs.len()).field("inline_rows", &self.inline_rows).finish()
    }
}

impl<I: WindowId, P: Clone + Send + Sync + 'static> Compactor<I, P> {
    /// Whether `seg` is the input of a merge in flight (it must then stay
    /// where it is, neither dropped nor rebuilt, until the merge installs).
    pub(crate) fn is_busy(&self, seg: &Segment<I>) -> bool {
        self.job_of(seg).is_some()
    }

    fn job_of(&self, seg: &Segment<I>) -> Option<&Job<I, P>> {
        self.jobs.iter().find(|j| j.inputs.iter().any(|d| Arc::ptr_eq(d, seg.data())))
    }

    /// Records that `id` was deleted from `seg`: if a merge is reading `seg`,
    /// its output must lose the row too.
    #[inline]
    pub(crate) fn note_delete(&mut self, seg: &Segment<I>, id: I) {
        self.settled = false;
        if let Some(job) = self.job_of(seg) {
            // The merge thread holds the receiver until the install takes it.
            let _ = job.deletes.send(id);
        }
    }

    /// Records that live sizes changed (kills moved into tombstones): the
    /// policy must look again before its segments count as settled.
    pub(crate) fn unsettle(&mut self) {
        self.settled = false;
    }

    /// Installs every finished merge, starts the merges the policy calls for,
    /// and drops segments with no live row. Called by the writer after every
    /// change to the segment list and whenever it writes.
    pub(crate) fn maintain(&mut self, segments: &mut Parts<I, P>, places: &PlacesView, kills: &PendingKills<'_>) {
        self.install_finished(segments, false);
        self.settled = false;
        loop {
            let jobs = &self.jobs;
            let emptied = segments.remove_where(|s| s.live() == 0 && !busy_in(jobs, s));
            self.free_elsewhere(emptied);
            let sizes: Vec<usize> = segments.segments.iter().map(Segment::live).collect();
            let busy: Vec<bool> = segments.segments.iter().map(|s| self.is_busy(s)).collect();
            let Some(run) = plan(&sizes, &busy) else {
                // Nothing more to start: the merges running cover what the
                // policy wants. Past the limit, fold the newest here, or
                // wait for one of them.
                if segments.len() > self.max_segments && !self.jobs.is_empty() {
                    match small_run(&sizes, &busy, WRITER_MERGE_ROWS) {
                        Some(run) => self.merge_here(segments, run, places, kills),
                        None => self.install_finished(segments, true),
                    }
                    continue;
                }
                self.settled = true;
                break;
            };
            let rows: usize = sizes[run.clone()].iter().sum();
            if rows <= self.inline_rows {
                self.merge_here(segments, run, places, kills);
                continue;
            }
            if self.can_start(rows) {
                self.spawn(segments, run, rows, places, kills, false);
                continue;
            }
            // No room for the merge the policy wants: fold the newest segments
            // as far as a free slot allows, so they do not pile up meanwhile.
            if let Some(run) = small_run(&sizes, &busy, SMALL_JOB_ROWS) {
                let rows: usize = sizes[run.clone()].iter().sum();
                if rows > self.inline_rows && self.can_start(rows) {
                    self.spawn(segments, run, rows, places, kills, false);
                    continue;
                }
            }
            let over = segments.len() > self.max_segments;
            match small_run(
                &sizes,
                &busy,
                if over { self.inline_rows.max(WRITER_MERGE_ROWS) } else { self.inline_rows },
            ) {
                Some(run) => self.merge_here(segments, run, places, kills),
                None if over => self.install_finished(segments, true),
                None => break,
            }
        }
    }

    /// Whether a merge finished and waits to be installed; cheap enough
    /// for every write.
    #[inline]
    pub(crate) fn has_finished(&self) -> bool {
        self.jobs.iter().any(|j| j.done.is_set())
    }

    /// Waits for every merge in flight, installs it, and merges until the
    /// policy is satisfied.
    pub(crate) fn finish(&mut self, segments: &mut Parts<I, P>, places: &PlacesView, kills: &PendingKills<'_>) {
        loop {
            self.install_finished(segments, true);
            self.maintain(segments, places, kills);
            if self.jobs.is_empty() {
                return;
            }
        }
    }

    /// Waits for the merges in flight, then merges every segment into one
    /// on this thread (on two for a large one), dropping every dead row:
    /// the end of [`Index::compact`](crate::Index::compact).
    pub(crate) fn merge_all(&mut self, segments: &mut Parts<I, P>, places: &PlacesView, kills: &PendingKills<'_>) {
        self.finish(segments, places, kills);
        if can_shrink(segments, kills) {
            self.merge_here(segments, 0..segments.len(), places, kills);
        }
    }

    /// Waits for the merges in flight, then starts merging every segment
    /// into one in the background (a large one on two threads). Returns the
    /// flag its end sets; `None` if there is nothing to merge, or it ran on
    /// this thread (no background thread could start). Installed like any
    /// merge, by the writer's next call after it ends.
    pub(crate) fn start_merge_all(
        &mut self,
        segments: &mut Parts<I, P>,
        places: &PlacesView,
        kills: &PendingKills<'_>,
    ) -> Option<Arc<Signal>> {
        self.finish(segments, places, kills);
        if !can_shrink(segments, kills) {
            return None;
        }
        let rows = segments.segments.iter().map(Segment::live).sum();
        let running = self.jobs.len();
        self.spawn(segments, 0..segments.len(), rows, places, kills, true);
        // A job pushed by `spawn` is the merge; none if it ran here.
        self.jobs.get(running).map(|j| Arc::clone(&j.done))
    }

    /// Replaces segment `s`, mostly dead, by a copy of its live rows: on this
    /// thread if small, else in the background once a merge slot is free. A
    /// segment in a merge is left alone (the merge drops its dead rows).
    pub(crate) fn rebuild(
        &mut self,
        segments: &mut Parts<I, P>,
        s: usize,
        places: &PlacesView,
        kills: &PendingKills<'_>,
    ) {
        if self.is_busy(&segments.segments[s]) {
            return;
        }
        let rows = segments.segments[s].live();
        if rows <= self.inline_rows {
            self.merge_here(segments, s..s + 1, places, kills);
        } else if self.can_start(rows) {
            self.spawn(segments, s..s + 1, rows, places, kills, false);
        }
        // Otherwise later: the next delete that finds it mostly dead asks again.
    }

    /// Whether a merge of `rows` may start now.
    fn can_start(&self, rows: usize) -> bool {
        self.jobs.len() < MAX_JOBS && (rows <= SMALL_JOB_ROWS || self.jobs.iter().all(|j| j.rows <= SMALL_JOB_ROWS))
    }

    /// Starts a background merge of `segments[run]` (`rows` live rows),
    /// its output built on two threads if `waited_for` (someone waits for
    /// it), else on one; merges inline if the thread cannot be started.
    fn spawn(
        &mut self,
        segments: &mut Parts<I, P>,
        run: Range<usize>,
        rows: usize,
        places: &PlacesView,
        kills: &PendingKills<'_>,
        waited_for: bool,
    ) {
        let inputs: Vec<Arc<SegmentData<I>>> =
            segments.segments[run.clone()].iter().map(|s| Arc::clone(s.data())).collect();
        let work: Vec<Input<I, P>> = run.clone().map(|s| input(segments, s, kills)).collect();
        let (deletes, deleted) = std::sync::mpsc::channel();
        let output = Arc::new(Mutex::new(None));
        let handover = Arc::clone(&output);
        let done = Signal::new();
        let finished = Arc::clone(&done);
        let view = places.clone();
        let task: Task = Box::new(move || {
            // Marks the job done however the task ends (a panic included).
            let _done = SetOnDrop(finished);
            // Not on huge pages, unless someone waits for the merge:
            // faulting them in on this low-priority thread was measured to
            // stall the writer for tens of milliseconds.
            let (rows, payloads) = live_rows(&work, waited_for);
            drop(work);
            // One thread, unless someone waits for it: the writer keeps the
            // other core.
            let mut out = parts::build(rows, payloads, &view, waited_for);
            out.0.kill_ids(deleted.try_iter());
            *handover.lock() = Some((out, deleted));
        });
        // With every merge in the background, the smallest share the build
        // thread, at the writer's priority: the writer waits for them when
        // segments pile up, so readers keeping every core busy must not
        // starve them, while a larger one there would hold up the builds
        // the writer also waits for. The rest run at the lowest priority.
        let small = self.inline_rows == 0 && rows <= BUILD_THREAD_MERGE_ROWS;
        let sent = self.pool().is_some_and(|pool| {
            if small { pool.builds.push((false, task)).is_ok() } else { pool.send(&pool.merges, task).is_ok() }
        });
        if sent {
            self.jobs.push(Job { inputs, rows, deletes, output, done });
        } else {
            self.merge_here(segments, run, places, kills);
        }
    }

    /// Installs finished merges; with `wait`, first waits for the smallest
    /// one running (the one that frees a slot soonest).
    fn install_finished(&mut self, segments: &mut Parts<I, P>, wait: bool) {
        if wait && let Some(i) = (0..self.jobs.len()).min_by_key(|&i| self.jobs[i].rows) {
            let job = self.jobs.remove(i);
            self.install(segments, job);
        }
        let mut i = 0;
        while i < self.jobs.len() {
            if self.jobs[i].done.is_set() {
                let job = self.jobs.remove(i);
                self.install(segments, job);
            } else {
                i += 1;
            }
        }
    }

    /// Puts a finished merge's output in place of its inputs, which must be
    /// where they were, and kills there the rows deleted since it began.
    fn install(&mut self, segments: &mut Parts<I, P>, job: Job<I, P>) {
        job.done.wait();
        let Some((mut out, deleted)) = job.output.lock().take() else {
            // The merge panicked (a bug): the inputs are still in place and
            // complete, so nothing is lost; a later merge retries.
            return;
        };
        let Some(at) = segments.segments.iter().position(|s| Arc::ptr_eq(s.data(), &job.inputs[0])) else {
            debug_assert!(false, "a merge's inputs left the index while it ran");
            return;
        };
        let run = at..at + job.inputs.len();
        let in_place = segments
            .segments
            .get(run.clone())
            .is_some_and(|inputs| inputs.iter().zip(&job.inputs).all(|(s, d)| Arc::ptr_eq(s.data(), d)));
        if !in_place {
            debug_assert!(false, "a merge's inputs moved while it ran");
            return;
        }
        out.0.kill_ids(deleted.try_iter());
        let replaced = if out.0.live() == 0 { segments.splice(run, None) } else { segments.splice(run, Some(out)) };
        drop(job.inputs);
        self.free_elsewhere(replaced);
    }

    /// Merges `segments[run]` on this thread; the inputs are freed elsewhere.
    fn merge_here(
        &mut self,
        segments: &mut Parts<I, P>,
        run: Range<usize>,
        places: &PlacesView,
        kills: &PendingKills<'_>,
    ) {
        let replaced = merge_inline(segments, run, places, kills);
        self.free_elsewhere(replaced);
    }

    /// Drops `value`, which holds about `rows` rows, where
    /// [`Compactor::free_elsewhere`] drops segments.
    pub(crate) fn drop_elsewhere<T: Send + 'static>(&mut self, value: T, rows: usize) {
        let pool = match self.pool {
            Some(ref pool) => Some(pool),
            None if rows > FREE_ELSEWHERE_ROWS => self.pool(),
            None => None,
        };
        if let Some(pool) = pool {
            // If the thread is gone, the task (and the value) drop here.
            let _ = pool.send(&pool.frees, Box::new(move || drop(value)));
        }
    }

    /// Drops segments on the freeing thread once it runs, or when they hold
    /// enough rows to start it. Freeing returns memory to the allocator and
    /// the kernel, whose cost the writer cannot bound: measured at 10M
    /// windows while a background merge ran, dropping the inputs of a merge
    /// of 3,000 rows on the writer took it 0.4 to 2 ms. Small indexes that
    /// never merge in the background free on the writer, cheaply.
    fn free_elsewhere(&mut self, segments: Vec<Part<I, P>>) {
        if !segments.is_empty() {
            let rows = segments.iter().map(|(s, _)| s.len()).sum();
            self.drop_elsewhere(segments, rows);
        }
    }
}

impl<I: WindowId, P> Compactor<I, P> {
    /// Checks what merges rely on: every segment holds rows, each merge's
    /// inputs are still in place, in order, and once the policy has settled
    /// the segments outside merges are geometric (nothing left to merge).
    pub(crate) fn check_invariants(&self, segments: &[Segment<I>]) -> Result<(), String> {
        if let Some(s) = segments.iter().position(|s| s.is_empty()) {
            return Err(format!("segment {s} holds no row"));
        }
        for job in &self.jobs {
            let at = segments.iter().position(|s| Arc::ptr_eq(s.data(), &job.inputs[0]));
            let in_place = at.is_some_and(|at| {
                segments
                    .get(at..at + job.inputs.len())
                    .is_some_and(|run| run.iter().zip(&job.inputs).all(|(s, d)| Arc::ptr_eq(s.data(), d)))
            });
            if !in_place {
                return Err("a merge's inputs are not in place, in order".into());
            }
        }
        if self.settled {
            let sizes: Vec<usize> = segments.iter().map(Segment::live).collect();
            let busy: Vec<bool> = segments.iter().map(|s| busy_in(&self.jobs, s)).collect();
            if let Some(run) = plan(&sizes, &busy) {
                return Err(format!("segments {run:?} of live sizes {sizes:?} are not geometric"));
            }
        }
        Ok(())
    }
}

/// The newest run of segments the policy merges next, among those after the
/// newest busy one: starting from the newest, older segments join while the
/// run's rows times [`FACTOR`] reach the next older segment's.
pub(crate) fn plan(sizes: &[usize], busy: &[bool]) -> Option<Range<usize>> {
    let n = sizes.len();
    let first_free = busy.iter().rposition(|&b| b).map_or(0, |i| i + 1);
    if n < first_free + 2 {
        return None;
    }
    let mut lo = n - 1;
    let mut rows = sizes[lo];
    while lo > first_free && rows.saturating_mul(FACTOR) >= sizes[lo - 1] {
        lo -= 1;
        rows += sizes[lo];
    }
    (lo < n - 1).then_some(lo..n)
}

/// The longest run of at least two newest free segments holding at most
/// `budget` rows together.
fn small_run(sizes: &[usize], busy: &[bool], budget: usize) -> Option<Range<usize>> {
    let n = sizes.len();
    let first_free = busy.iter().rposition(|&b| b).map_or(0, |i| i + 1);
    let mut lo = n;
    let mut rows = 0usize;
    while lo > first_free && rows + sizes[lo - 1] <= budget {
        lo -= 1;
        rows += sizes[lo];
    }
    (n >= 2 && lo + 2 <= n).then_some(lo..n)
}

/// Whether merging every segment into one would change the segments: there
/// are several, or one holds dead rows.
fn can_shrink<I: WindowId, P>(segments: &Parts<I, P>, kills: &PendingKills<'_>) -> bool {
    match segments.segments.as_slice() {
        [] => false,
        [only] => only.dead_len() > 0 || !kills.of(only).is_empty(),
        _ => true,
    }
}

/// Lowers the calling thread's scheduling priority (nice 19; on Linux it is
/// per thread), so a merge sharing a core with the writer or a query yields
/// it to them: merges are throughput work, writes and queries latency work.
pub(crate) fn yield_to_foreground() {
    set_nice(19);
}

/// Sets the calling thread's nice level (on Linux it is per thread).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_nice(level: i32) {
    // SAFETY: setpriority takes plain integers and touches no memory of this
    // process; with PRIO_PROCESS and who = 0 Linux applies it to the calling
    // thread only. A failure leaves the priority as it was, which is harmless.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, level) };
}

#[cfg(not(target_os = "linux"))]
fn set_nice(_level: i32) {}

/// What a merge reads of one input: its data, its dead rows when the merge
/// began, and its payloads.
type Input<I, P> = (Arc<SegmentData<I>>, ChunkedBits, Arc<Vec<P>>);

/// The input of segment `s`, its dead rows those of its tombstones and of
/// `kills` (not yet moved into them).
fn input<I: WindowId, P>(parts: &Parts<I, P>, s: usize, kills: &PendingKills<'_>) -> Input<I, P> {
    let seg = &parts.segments[s];
    let mut dead = seg.dead_rows().clone();
    for k in kills.of(seg).iter() {
        dead.insert(k.row);
    }
    (Arc::clone(seg.data()), dead, Arc::clone(parts.payloads_of(s)))
}

/// The live rows of `inputs` with copies of their payloads, each row's slot
/// numbering its payload. The rows become the output segment's: on huge
/// pages if `huge` (see [`huge_pages`]).
fn live_rows<I: WindowId, P: Clone>(inputs: &[Input<I, P>], huge: bool) -> (Vec<Row<I>>, Vec<Option<P>>) {
    // Sized exactly only for huge pages, which must be advised before they
    // are written: background merges grew their vectors as they went, and
    // sizing them measured no faster (moves at 10M, 5 runs of each).
    let (mut rows, mut payloads) = if huge {
        let live: usize = inputs.iter().map(|(data, dead, _)| data.rows.len().saturating_sub(dead.len())).sum();
        (huge_pages::with_capacity(live), Vec::with_capacity(live))
    } else {
        (Vec::new(), Vec::new())
    };
    for (data, dead, pays) in inputs {
        for (r, row) in data.rows.iter().enumerate() {
            if !dead.contains(row32(r)) {
                rows.push(Row { slot: row32(payloads.len()), ..*row });
                payloads.push(pays.get(r).cloned());
            }
        }
    }
    (rows, payloads)
}

/// Whether `seg` is the input of one of `jobs`.
fn busy_in<I: WindowId, P>(jobs: &[Job<I, P>], seg: &Segment<I>) -> bool {
    jobs.iter().any(|j| j.inputs.iter().any(|d| Arc::ptr_eq(d, seg.data())))
}

/// Rows from which dropping segments is left to another thread.
const FREE_ELSEWHERE_ROWS: usize = 1 << 15;

/// Merges `segments[run]` on this thread and returns the segments it replaced.
fn merge_inline<I: WindowId, P: Clone>(
    segments: &mut Parts<I, P>,
    run: Range<usize>,
    places: &PlacesView,
    kills: &PendingKills<'_>,
) -> Vec<Part<I, P>> {
    let inputs: Vec<Input<I, P>> = run.clone().map(|s| input(segments, s, kills)).collect();
    // Merges on this thread are small (below the huge-page threshold) or
    // the one of `merge_all`, which is waited for.
    let (rows, payloads) = live_rows(&inputs, true);
    drop(inputs);
    let out = (!rows.is_empty()).then(|| parts::build(rows, payloads, places, true));
    segments.splice(run, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_folds_the_newest_segments_geometrically() {
        let free = |n| vec![false; n];
        assert_eq!(plan(&[10_000, 256], &free(2)), None);
        // 256 * 4 >= 256, then 512 * 4 >= 1000, then 1512 * 4 < 10,000.
        assert_eq!(plan(&[10_000, 1_000, 256, 256], &free(4)), Some(1..4));
        assert_eq!(plan(&[1_000, 256], &free(2)), Some(0..2));
        assert_eq!(plan(&[10_000_000, 300], &free(2)), None);
        // Busy segments and everything older stay out.
        assert_eq!(plan(&[100, 100, 100], &[false, true, false]), None);
        assert_eq!(plan(&[100, 100, 100, 100], &[true, false, false, false]), Some(1..4));
    }

    #[test]
    fn small_runs_stay_within_budget() {
        let free = vec![false; 5];
        assert_eq!(small_run(&[50_000, 1_000, 1_000, 256, 256], &free, 4_096), Some(1..5));
        assert_eq!(small_run(&[50_000, 4_000, 256], &free, 4_096), None);
        assert_eq!(small_run(&[50_000, 256, 256], &[false, true, false], 4_096), None);
    }
}
