//! Durability: snapshots, the write-ahead log, recovery, faults, crashes.
//!
//! Every recovered index is compared with a model (a map of windows by id
//! replayed from the same operations) and checked with `check_invariants`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mwindex::{
    ChargerId, Corruption, Durable, DurableOptions, Error, FaultyStorage, FileSystem, Index, OrgId, PowerCut, Query,
    SharedIndex, SiteId, Storage, SyncPolicy, Timestamp, Window,
};
use proptest::prelude::*;

const DIR: &str = "/data";

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_700_000_000 + secs).expect("in range")
}

fn options(disk: &FaultyStorage, sync: SyncPolicy) -> DurableOptions<u64, String> {
    DurableOptions::new()
        .index(Index::builder().write_buffer(8).organization(OrgId(1), None).organization(OrgId(2), Some(OrgId(1))))
        .storage(Arc::new(disk.clone()))
        .sync(sync)
        .segment_bytes(4096)
        .checkpoint_after_bytes(None)
}

fn open(disk: &FaultyStorage) -> Result<Durable<u64, String>, Error> {
    Durable::open(DIR, options(disk, SyncPolicy::EveryWrite))
}

/// [`open`], its checkpoints writing the format before the current one
/// (format 4: rows in the segment's columns, no rows blocks), the base the
/// tests of older formats take blocks out of.
fn open_previous(disk: &FaultyStorage) -> Result<Durable<u64, String>, Error> {
    Durable::open(DIR, options(disk, SyncPolicy::EveryWrite).previous_snapshot_format(true))
}

fn window(id: u64, start: i64, len: i64) -> Window<u64> {
    let w = Window::new(id, ts(start), ts(start + len), OrgId(1 + id % 2)).expect("valid");
    let w = if id.is_multiple_of(3) { w.with_charger(ChargerId(id % 7)) } else { w };
    if id.is_multiple_of(5) { w.with_site(SiteId(id % 4)) } else { w }
}

type Contents = BTreeMap<u64, (Window<u64>, String)>;

/// The windows of an index, by id, walking every page.
fn contents(index: &SharedIndex<u64, String>) -> Contents {
    let mut out = BTreeMap::new();
    let mut q = Query::new().page_size(7);
    loop {
        let page = index.query(&q).expect("query");
        for e in page.items() {
            assert!(out.insert(e.window.id(), (e.window, e.payload.clone())).is_none(), "a window twice");
        }
        match page.next_cursor() {
            Some(c) => q = q.cursor(c),
            None => break,
        }
    }
    assert_eq!(out.len(), index.len());
    out
}

/// One operation of a test sequence.
#[derive(Clone, Debug)]
enum Op {
    Insert(u64, i64, i64),
    Upsert(u64, i64, i64),
    Delete(u64),
    Checkpoint,
}

impl Op {
    fn payload(&self) -> String {
        match self {
            Op::Insert(id, s, _) | Op::Upsert(id, s, _) => format!("window {id} at {s}"),
            _ => String::new(),
        }
    }

    /// Applies the operation to the index; whether it logged a record.
    fn apply(&self, d: &Durable<u64, String>) -> Result<bool, Error> {
        match *self {
            Op::Insert(id, s, len) => match d.insert(window(id, s, len), self.payload()) {
                Err(Error::DuplicateId(_)) | Ok(()) => Ok(true),
                Err(e) => Err(e),
            },
            Op::Upsert(id, s, len) => d.upsert(window(id, s, len), self.payload()).map(|_| true),
            Op::Delete(id) => d.apply(mwindex::Mutation::Delete(id)).map(|_| true),
            Op::Checkpoint => d.checkpoint().map(|_| false),
        }
    }

    fn model(&self, m: &mut Contents) {
        match *self {
            Op::Insert(id, s, len) => {
                m.entry(id).or_insert((window(id, s, len), self.payload()));
            }
            Op::Upsert(id, s, len) => {
                m.insert(id, (window(id, s, len), self.payload()));
            }
            Op::Delete(id) => {
                m.remove(&id);
            }
            Op::Checkpoint => {}
        }
    }
}

fn op(ids: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..ids, 0i64..5_000, 1i64..4_000).prop_map(|(id, s, l)| Op::Insert(id, s, l)),
        3 => (0..ids, 0i64..5_000, 1i64..4_000).prop_map(|(id, s, l)| Op::Upsert(id, s, l)),
        2 => (0..ids).prop_map(Op::Delete),
        1 => Just(Op::Checkpoint),
    ]
}

/// A deterministic sequence of `n` operations over ids `0..ids`.
fn seeded_ops(n: usize, ids: u64, seed: u64) -> Vec<Op> {
    let mut x = seed | 1;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    (0..n)
        .map(|_| {
            let (id, s, l) = (next(ids), next(5_000) as i64, 1 + next(4_000) as i64);
            match next(10) {
                0..=3 => Op::Insert(id, s, l),
                4..=6 => Op::Upsert(id, s, l),
                _ => Op::Delete(id),
            }
        })
        .collect()
}

/// The model after each prefix of the logged operations (index `k`: after
/// the first `k` records).
fn model_states(ops: &[Op]) -> Vec<Contents> {
    let mut states = vec![Contents::new()];
    let mut m = Contents::new();
    for op in ops.iter().filter(|o| !matches!(o, Op::Checkpoint)) {
        op.model(&mut m);
        states.push(m.clone());
    }
    states
}

/// A disk holding `ops` applied through a durable index, closed cleanly.
fn disk_with(ops: &[Op]) -> FaultyStorage {
    let disk = FaultyStorage::new();
    let d = open(&disk).expect("open");
    for op in ops {
        op.apply(&d).expect("apply");
    }
    d.close().expect("close");
    disk
}

/// A copy of a disk's durable state (what a restart would find).
fn copy(disk: &FaultyStorage) -> FaultyStorage {
    disk.power_cut(PowerCut::DropUnsynced)
}

fn file(disk: &FaultyStorage, prefix: &str) -> PathBuf {
    let mut names: Vec<String> =
        disk.list(Path::new(DIR)).expect("list").into_iter().filter(|n| n.starts_with(prefix)).collect();
    names.sort();
    Path::new(DIR).join(names.last().expect("a file of that kind"))
}

/// A disk holding exactly `files`.
fn disk_of(files: &[(PathBuf, Vec<u8>)]) -> FaultyStorage {
    let disk = FaultyStorage::new();
    for (path, bytes) in files {
        let mut f = disk.create(path).expect("create");
        f.append(bytes).expect("append");
        f.sync().expect("sync");
    }
    disk.sync_dir(Path::new(DIR)).expect("sync dir");
    disk
}

fn files_of(disk: &FaultyStorage) -> Vec<(PathBuf, Vec<u8>)> {
    let mut names = disk.list(Path::new(DIR)).expect("list");
    names.sort();
    names
        .into_iter()
        .filter(|n| n != "LOCK")
        .map(|n| {
            let p = Path::new(DIR).join(n);
            let bytes = disk.read(&p).expect("read");
            (p, bytes)
        })
        .collect()
}

fn assert_recovers(disk: &FaultyStorage, want: &Contents) {
    let d = open(disk).expect("reopen");
    assert_eq!(&contents(&d), want);
    d.check_invariants().expect("invariants after recovery");
}

#[test]
fn a_reopened_index_has_every_write() {
    let ops: Vec<Op> = (0..100)
        .map(|id| Op::Insert(id, id as i64 * 60, 600))
        .chain((0..100).step_by(3).map(Op::Delete))
        .chain([Op::Upsert(1, 5, 50)])
        .collect();
    let disk = disk_with(&ops);
    let d = open(&disk).expect("reopen");
    assert_eq!(d.recovery().replayed, 135);
    assert_eq!(&contents(&d), model_states(&ops).last().expect("states"));
    d.check_invariants().expect("invariants");
}

#[test]
fn a_checkpoint_is_loaded_and_the_log_after_it_replayed() {
    let mut ops: Vec<Op> = (0..300).map(|id| Op::Insert(id, id as i64 * 60, 600)).collect();
    ops.extend((0..300).step_by(7).map(Op::Delete));
    ops.push(Op::Checkpoint);
    ops.extend((300..320).map(|id| Op::Insert(id, id as i64 * 60, 600)));
    let disk = disk_with(&ops);
    let d = open(&disk).expect("reopen");
    assert_eq!(d.recovery().snapshot, Some(343));
    assert_eq!(d.recovery().replayed, 20);
    assert_eq!(&contents(&d), model_states(&ops).last().expect("states"));
    d.check_invariants().expect("invariants");
    // The checkpoint removed the log segments it covers.
    let logs = disk.list(Path::new(DIR)).expect("list").into_iter().filter(|n| n.starts_with("wal-")).count();
    assert!(logs <= 2, "{logs} log segments left");
}

/// A storage that records the files it was asked to evict from its
/// caches and otherwise is the fault-injecting one.
#[derive(Debug)]
struct Evictions {
    disk: FaultyStorage,
    evicted: parking_lot::Mutex<Vec<String>>,
}

impl Storage for Evictions {
    fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
        self.disk.create_dir_all(dir)
    }
    fn list(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        self.disk.list(dir)
    }
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.disk.read(path)
    }
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn mwindex::StorageFile>> {
        self.disk.create(path)
    }
    fn open_append(&self, path: &Path) -> std::io::Result<Box<dyn mwindex::StorageFile>> {
        self.disk.open_append(path)
    }
    fn truncate(&self, path: &Path, len: u64) -> std::io::Result<()> {
        self.disk.truncate(path, len)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.disk.rename(from, to)
    }
    fn remove(&self, path: &Path) -> std::io::Result<()> {
        self.disk.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.disk.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> std::io::Result<Option<Box<dyn std::fmt::Debug + Send + Sync>>> {
        self.disk.lock(path)
    }
    fn evict(&self, path: &Path) -> std::io::Result<()> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        self.evicted.lock().push(name);
        Ok(())
    }
}

/// A checkpoint asks the storage to drop the cached pages of the
/// snapshots it replaces (their memory then holds the new one's) and never
/// those of its own; the old snapshot is still whole until the new one is
/// in place.
#[test]
fn a_checkpoint_evicts_the_snapshots_it_replaces() {
    let disk = FaultyStorage::new();
    let storage = Arc::new(Evictions { disk: disk.clone(), evicted: parking_lot::Mutex::new(Vec::new()) });
    let d = Durable::open(DIR, options(&disk, SyncPolicy::EveryWrite).storage(storage.clone())).expect("open");
    d.insert(window(1, 0, 60), "a".into()).expect("insert");
    let first = d.checkpoint().expect("checkpoint");
    assert!(storage.evicted.lock().is_empty(), "nothing to replace: {:?}", storage.evicted.lock());
    d.insert(window(2, 0, 60), "b".into()).expect("insert");
    let second = d.checkpoint().expect("checkpoint");
    let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(str::to_string).expect("a name");
    assert_eq!(*storage.evicted.lock(), vec![name(&first.path)]);
    assert!(!disk.list(Path::new(DIR)).expect("list").contains(&name(&first.path)), "replaced, then removed");
    drop(d);
    let reopened = open(&disk).expect("reopen");
    assert_eq!(reopened.recovery().snapshot, Some(second.through));
    assert_eq!(contents(&reopened).len(), 2);
}

/// Under `SyncPolicy::None` an idle checkpoint syncs its snapshot, then
/// the log's segment it cuts: a failure of either sync is the
/// checkpoint's error, and the index, its log and a later checkpoint go on.
#[test]
fn an_unsynced_logs_checkpoint_survives_a_failing_sync() {
    let disk = FaultyStorage::new();
    let d = Durable::open(DIR, options(&disk, SyncPolicy::None)).expect("open");
    for id in 0..20 {
        d.insert(window(id, id as i64 * 60, 600), "w".into()).expect("insert");
    }
    let syncs = disk.calls(mwindex::Op::Sync);
    for n in 1..=2 {
        disk.fail(mwindex::Op::Sync, disk.calls(mwindex::Op::Sync) + n, false);
        assert!(matches!(d.checkpoint(), Err(Error::Io { operation: "fsync", .. })), "sync {n}");
        disk.heal();
        d.insert(window(100 + n, 0, 60), "after".into()).expect("the log goes on");
    }
    assert!(disk.calls(mwindex::Op::Sync) > syncs, "the checkpoints synced the log");
    d.checkpoint().expect("a later checkpoint");
    drop(d);
    let reopened = open(&disk).expect("reopen");
    assert_eq!(contents(&reopened).len(), 22);
    reopened.check_invariants().expect("invariants");
}

/// Checkpoints taken while a writer goes on leave the log's current
/// segment in place (cutting it would hold the writer for its sync) and
/// retire it at a later checkpoint; a reopen, with or without losing what
/// was never synced, replays exactly the records after the newest
/// snapshot and finds every acknowledged write.
#[test]
fn checkpoints_under_writes_keep_the_segment_they_cannot_cut() {
    for sync in [SyncPolicy::EveryWrite, SyncPolicy::None] {
        let disk = FaultyStorage::new();
        let d = Durable::open(DIR, options(&disk, sync).segment_bytes(1 << 20)).expect("open");
        let stop = std::sync::atomic::AtomicBool::new(false);
        let checkpoints = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                for id in 0..3_000u64 {
                    d.upsert(window(id % 700, (id % 50) as i64 * 60, 600), format!("v{id}")).expect("upsert");
                }
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            });
            let mut taken = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                taken.push(d.checkpoint().expect("checkpoint"));
            }
            writer.join().expect("writer");
            taken
        });
        let newest = checkpoints.last().expect("a checkpoint").through;
        let want = contents(&d);
        d.sync().expect("sync");
        // As the writes left it: the newest snapshot and the log after it.
        for crashed in [copy(&disk), disk.power_cut(PowerCut::DropUnsynced)] {
            let reopened = Durable::open(DIR, options(&crashed, sync)).expect("reopen");
            assert_eq!(reopened.recovery().snapshot, Some(newest), "{sync:?}");
            assert_eq!(reopened.recovery().replayed, 3_000 - newest, "{sync:?}");
            assert_eq!(contents(&reopened), want, "{sync:?}");
        }
        let last = d.checkpoint().expect("a last checkpoint").through;
        d.upsert(window(5, 0, 60), "after".into()).expect("upsert");
        d.sync().expect("sync");
        let mut want_after = want.clone();
        want_after.insert(5, (window(5, 0, 60), "after".into()));
        drop(d);
        for crashed in [copy(&disk), disk.power_cut(PowerCut::DropUnsynced)] {
            let reopened = Durable::open(DIR, options(&crashed, sync)).expect("reopen");
            assert_eq!(reopened.recovery().snapshot, Some(last), "{sync:?}");
            assert_eq!(reopened.recovery().replayed, 1, "{sync:?}");
            assert_eq!(contents(&reopened), want_after, "{sync:?}");
            reopened.check_invariants().expect("invariants");
        }
        let logs = disk.list(Path::new(DIR)).expect("list").into_iter().filter(|n| n.starts_with("wal-")).count();
        assert!(logs <= 3, "{sync:?}: {logs} log segments left");
    }
}

#[test]
fn organizations_and_cursors_survive_a_restart() {
    let disk = FaultyStorage::new();
    let d = open(&disk).expect("open");
    d.add_organization(OrgId(3), Some(OrgId(2))).expect("add");
    d.add_organization(OrgId(4), None).expect("add");
    d.move_organization(OrgId(2), Some(OrgId(4))).expect("move");
    for id in 0..40 {
        d.insert(window(id, id as i64 * 10, 100), format!("{id}")).expect("insert");
    }
    d.checkpoint().expect("checkpoint");
    let scope = Query::new().scope(OrgId(4)).page_size(5);
    let first = d.query(&scope).expect("page");
    let cursor = first.next_cursor().expect("more").to_string();
    let rest_before: Vec<u64> = walk(&d, scope.clone().cursor(cursor.clone()));
    d.close().expect("close");

    let d = open(&disk).expect("reopen");
    assert_eq!(d.organization_parent(OrgId(2)), Ok(Some(OrgId(4))));
    assert_eq!(d.organization_parent(OrgId(3)), Ok(Some(OrgId(2))));
    assert_eq!(walk(&d, scope.cursor(cursor)), rest_before, "a cursor from before the restart pages on");
}

fn walk(index: &SharedIndex<u64, String>, mut q: Query<u64>) -> Vec<u64> {
    let mut ids = Vec::new();
    loop {
        let page = index.query(&q).expect("page");
        ids.extend(page.items().iter().map(|e| e.window.id()));
        match page.next_cursor() {
            Some(c) => q = q.cursor(c),
            None => return ids,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Save then load is the identity: after any operations and checkpoints,
    /// a reopened index holds exactly the model's windows, and its queries
    /// and counts answer as the original's did.
    #[test]
    fn reopening_is_the_identity(ops in prop::collection::vec(op(40), 1..120)) {
        let disk = FaultyStorage::new();
        let d = open(&disk).expect("open");
        let mut model = Contents::new();
        for op in &ops {
            op.apply(&d).expect("apply");
            op.model(&mut model);
        }
        let queries = [
            Query::new().overlapping(ts(1_000), ts(2_000)).page_size(50),
            Query::new().chargers([ChargerId(3)]).page_size(50),
            Query::new().scope(OrgId(2)).sites([SiteId(0), SiteId(2)]).page_size(50),
        ];
        let answers: Vec<(Vec<u64>, u64)> = queries
            .iter()
            .map(|q| (walk(&d, q.clone()), d.count(q).expect("count")))
            .collect();
        d.close().expect("close");
        let again = open(&disk).expect("reopen");
        prop_assert_eq!(&contents(&again), &model);
        again.check_invariants().expect("invariants");
        for (q, (ids, count)) in queries.iter().zip(&answers) {
            prop_assert_eq!(&walk(&again, q.clone()), ids);
            prop_assert_eq!(again.count(q).expect("count"), *count);
        }
    }
}

/// Cutting the log at any byte (what a power cut may leave of unsynced
/// bytes) recovers the state after a prefix of the operations: exactly the
/// records that are whole before the cut.
#[test]
fn every_cut_of_the_log_recovers_a_prefix() {
    let ops = seeded_ops(60, 20, 7);
    let disk = disk_with(&ops);
    let states = model_states(&ops);
    let log = file(&disk, "wal-");
    let bytes = disk.read(&log).expect("read");
    let mut last = 0;
    for cut in 0..=bytes.len() {
        let cut_disk = disk_of(&[(log.clone(), bytes[..cut].to_vec())]);
        let d = open(&cut_disk).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let k = d.recovery().replayed as usize;
        assert!(k >= last, "cut at {cut} recovered fewer records than a shorter cut");
        last = k;
        assert_eq!(contents(&d), states[k], "cut at {cut}");
        if cut % 97 == 0 {
            d.check_invariants().expect("invariants");
        }
    }
    assert_eq!(last, ops.len(), "the whole log recovers every operation");
}

/// A flipped bit anywhere in a log or snapshot is an error naming the
/// file, never other data replayed.
#[test]
fn flipped_bytes_are_detected() {
    let mut ops = seeded_ops(30, 15, 3);
    ops.push(Op::Checkpoint);
    ops.extend(seeded_ops(20, 15, 4));
    let disk = disk_with(&ops);
    let files = files_of(&disk);
    for (k, (path, bytes)) in files.iter().enumerate() {
        for at in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut changed = files.clone();
                changed[k].1[at] ^= bit;
                match open(&disk_of(&changed)) {
                    Err(Error::Corrupt { path: p, .. }) => assert_eq!(Path::new(&p), path.as_path()),
                    Err(e) => panic!("flip at {at} of {}: {e}", path.display()),
                    Ok(d) => panic!("flip at {at} of {} opened, {} windows", path.display(), d.len()),
                }
            }
        }
    }
}

/// What can be said of a state after a failed or interrupted operation.
fn before_or_after(got: &Contents, before: &Contents, after: &Contents, acknowledged: bool) {
    if acknowledged {
        assert_eq!(got, after, "an acknowledged write was lost");
    } else {
        assert!(got == before || got == after, "a state between before and after");
    }
}

/// For each kind of storage call, the n-th call of a single write, a
/// checkpoint, or a reopen fails (n = 1, 2, ... until the operation no
/// longer reaches it); the index then reopens (with and without a power
/// cut) in the state before or after, and nothing acknowledged is lost.
#[test]
fn fault_sweep_every_failing_call() {
    let history = {
        let mut ops = seeded_ops(40, 16, 11);
        ops.push(Op::Checkpoint);
        ops.extend(seeded_ops(15, 16, 12));
        ops
    };
    let base = disk_with(&history);
    let before = model_states(&history).pop().expect("states");
    let operations = [Op::Insert(100, 50, 50), Op::Upsert(3, 70, 5), Op::Delete(5), Op::Checkpoint];
    let kinds = [
        mwindex::Op::Write,
        mwindex::Op::Sync,
        mwindex::Op::Rename,
        mwindex::Op::SyncDir,
        mwindex::Op::Create,
        mwindex::Op::Remove,
        mwindex::Op::Truncate,
    ];
    for operation in &operations {
        let mut after = before.clone();
        operation.model(&mut after);
        for kind in kinds {
            for n in 1.. {
                let disk = copy(&base);
                let d = open(&disk).expect("open");
                disk.fail(kind, disk.calls(kind) + n, false);
                let result = operation.apply(&d);
                let fired = disk.fired() > 0;
                if fired {
                    // After a failure the index refuses writes until reopened.
                    if matches!(operation, Op::Checkpoint) {
                        assert!(result.is_err());
                    } else {
                        assert!(result.is_err(), "{operation:?}, {kind:?} call {n} failed but the write succeeded");
                        assert!(matches!(d.insert(window(200, 0, 10), "x".into()), Err(Error::Halted(_))));
                    }
                }
                drop(d);
                disk.heal();
                for crashed in [copy(&disk), disk.power_cut(PowerCut::TearLastWrite(n)), disk.clone()] {
                    let reopened = open(&crashed).unwrap_or_else(|e| panic!("{operation:?}, {kind:?} {n}: {e}"));
                    let got = contents(&reopened);
                    before_or_after(&got, &before, &after, result.is_ok());
                    reopened.check_invariants().expect("invariants");
                }
                if !fired {
                    break;
                }
            }
        }
    }
    // Opening itself (removing a temporary file, cutting a torn tail,
    // starting a segment) under failures: an error, never a wrong state.
    for kind in kinds {
        for n in 1..4 {
            let disk = copy(&base);
            disk.fail(kind, disk.calls(kind) + n, false);
            if let Ok(d) = open(&disk) {
                assert_eq!(contents(&d), before);
            }
            disk.heal();
            assert_recovers(&copy(&disk), &before);
        }
    }
}

/// The process dies at every storage call of an operation (every later
/// call fails) and the power goes: whatever the disk kept of unsynced
/// bytes, the index reopens before or after the operation, and after it if
/// the operation was acknowledged.
#[test]
fn power_cut_at_every_step() {
    let history = {
        let mut ops = seeded_ops(30, 12, 21);
        ops.push(Op::Checkpoint);
        ops.extend(seeded_ops(10, 12, 22));
        ops
    };
    let base = disk_with(&history);
    let before = model_states(&history).pop().expect("states");
    for operation in [Op::Insert(100, 50, 50), Op::Upsert(3, 70, 5), Op::Delete(4), Op::Checkpoint] {
        let mut after = before.clone();
        operation.model(&mut after);
        for n in 1.. {
            let disk = copy(&base);
            let d = open(&disk).expect("open");
            disk.fail_from(disk.total_calls() + n);
            let result = operation.apply(&d);
            let died = disk.fired() > 0;
            for cut in [PowerCut::DropUnsynced, PowerCut::KeepRandomPrefix(n), PowerCut::TearLastWrite(n + 1)] {
                let crashed = disk.power_cut(cut);
                let reopened = open(&crashed).unwrap_or_else(|e| panic!("{operation:?} died at call {n}: {e}"));
                before_or_after(&contents(&reopened), &before, &after, result.is_ok());
                reopened.check_invariants().expect("invariants");
            }
            drop(d);
            if !died {
                break;
            }
        }
    }
}

/// Writers sharing group commits: when the disk dies under them, every
/// write acknowledged is recovered, and nothing that was not attempted.
#[test]
fn group_commit_loses_nothing_acknowledged() {
    for die_at in [3u64, 7, 15, 40, 1_000] {
        let disk = FaultyStorage::new();
        let d = Durable::open(DIR, options(&disk, SyncPolicy::Group)).expect("open");
        disk.fail_from(disk.total_calls() + die_at);
        let acked: Vec<Vec<u64>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4u64)
                .map(|t| {
                    let index = d.index().clone();
                    s.spawn(move || {
                        let mut acked = Vec::new();
                        for k in 0..25 {
                            let id = t * 100 + k;
                            if index.insert(window(id, k as i64, 10), format!("{id}")).is_ok() {
                                acked.push(id);
                            }
                        }
                        acked
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("writer")).collect()
        });
        let stats = d.stats();
        if die_at == 1_000 {
            assert_eq!(stats.records, 100);
        }
        drop(d);
        for cut in [PowerCut::DropUnsynced, PowerCut::TearLastWrite(die_at)] {
            let reopened = open(&disk.power_cut(cut)).expect("reopen");
            let got = contents(&reopened);
            for id in acked.iter().flatten() {
                assert!(got.contains_key(id), "acknowledged window {id} lost (disk died at call {die_at})");
            }
            assert!(got.keys().all(|id| id % 100 < 25 && id / 100 < 4));
            reopened.check_invariants().expect("invariants");
        }
    }
}

#[test]
fn a_second_open_of_a_directory_is_refused() {
    let disk = FaultyStorage::new();
    let d = open(&disk).expect("open");
    assert!(matches!(open(&disk), Err(Error::Locked(_))));
    d.close().expect("close");
    open(&disk).expect("open after close");

    let dir = temp_dir("locked");
    let first: Durable<u64, String> = Durable::open(&dir, DurableOptions::new()).expect("open");
    let second = Durable::<u64, String>::open(&dir, DurableOptions::new());
    assert!(matches!(second, Err(Error::Locked(_))), "{second:?}");
    drop(first);
    let _ = std::fs::remove_dir_all(&dir);
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mwindex-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Empty, random, cut, foreign, newer and overlong snapshot and log
/// files: each a typed error.
#[test]
fn bad_files_are_typed_errors() {
    let mut ops = seeded_ops(50, 20, 5);
    ops.push(Op::Checkpoint);
    ops.extend(seeded_ops(5, 20, 6));
    let disk = disk_with(&ops);
    let files = files_of(&disk);
    let snapshot = files.iter().position(|(p, _)| p.to_string_lossy().contains("snapshot-")).expect("a snapshot");
    let with = |k: usize, bytes: Vec<u8>| {
        let mut changed = files.clone();
        changed[k].1 = bytes;
        open(&disk_of(&changed))
    };
    let problem = |r: Result<Durable<u64, String>, Error>| match r {
        Err(Error::Corrupt { problem, .. }) => problem,
        Err(e) => panic!("not a corruption error: {e}"),
        Ok(_) => panic!("a bad file opened"),
    };
    let good = files[snapshot].1.clone();
    assert_eq!(problem(with(snapshot, Vec::new())), Corruption::Empty);
    assert!(matches!(
        problem(with(snapshot, b"PK\x03\x04 not a snapshot at all, a zip".to_vec())),
        Corruption::BadMagic { .. }
    ));
    let mut x = 9u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert!(matches!(problem(with(snapshot, random)), Corruption::BadMagic { .. }));
    for cut in (1..good.len()).step_by(37).chain([good.len() - 1, 64, 65, 80]) {
        match problem(with(snapshot, good[..cut].to_vec())) {
            Corruption::Truncated { .. } | Corruption::Invalid(_) => {}
            other => panic!("cut at {cut}: {other}"),
        }
    }
    let mut newer = good.clone();
    newer[8] = 9;
    let crc = crc32c(&newer[..60]);
    newer[60..64].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(problem(with(snapshot, newer)), Corruption::UnsupportedVersion { found: 9, supported: 5 });
    // A block claiming more bytes than the file holds.
    let mut huge = good.clone();
    huge[64 + 8..64 + 16].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(matches!(problem(with(snapshot, huge)), Corruption::Truncated { .. }));
    // A log of another id type.
    let wide: Result<Durable<u128, String>, Error> =
        Durable::open(DIR, DurableOptions::new().storage(Arc::new(disk_of(&files))).checkpoint_after_bytes(None));
    assert!(matches!(wide, Err(Error::Corrupt { problem: Corruption::WrongIdType { found: 8, expected: 16 }, .. })));
}

/// CRC-32C, bitwise (the test's own, to forge a header).
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

/// A damaged record before the log's end is an error naming its offset,
/// or, when asked, the prefix before it is salvaged.
#[test]
fn damage_before_the_tail_is_an_error_or_salvaged() {
    let ops = seeded_ops(40, 20, 9);
    let disk = disk_with(&ops);
    let log = file(&disk, "wal-");
    let mut bytes = disk.read(&log).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    let damaged = disk_of(&[(log.clone(), bytes)]);
    match open(&damaged) {
        Err(Error::Corrupt { offset, problem: Corruption::Checksum, .. }) => assert!(offset <= at as u64),
        other => panic!("{other:?}"),
    }
    let salvaged = Durable::open(DIR, options(&damaged, SyncPolicy::EveryWrite).salvage(true)).expect("salvage");
    let k = salvaged.recovery().replayed as usize;
    assert!(salvaged.recovery().salvaged.is_some() && k < ops.len());
    assert_eq!(contents(&salvaged), model_states(&ops)[k]);
    salvaged.insert(window(500, 0, 10), "after".into()).expect("writes go on");
    salvaged.close().expect("close");
    let again = open(&damaged).expect("the cut log opens");
    assert_eq!(again.len(), model_states(&ops)[k].len() + 1);
}

/// A window too large for one record is refused before anything is
/// logged; a bulk write too large for one is made durable by a snapshot.
#[test]
fn writes_over_the_record_bound() {
    let disk = FaultyStorage::new();
    let d = open(&disk).expect("open");
    let big = "x".repeat(mwindex::MAX_RECORD + 1);
    assert!(matches!(d.insert(window(1, 0, 10), big), Err(Error::RecordTooLarge { .. })));
    assert_eq!(d.stats().records, 0);
    d.insert(window(1, 0, 10), "small".into()).expect("a normal write still works");
    let bulk: Vec<_> = (10..20).map(|id| (window(id, id as i64, 10), "y".repeat(mwindex::MAX_RECORD / 8))).collect();
    d.bulk_insert(bulk).expect("bulk by checkpoint");
    assert_eq!(d.stats().checkpoints, 1);
    d.insert(window(2, 0, 10), "after".into()).expect("insert");
    let want = contents(&d);
    drop(d);
    let again = open(&copy(&disk)).expect("reopen after a power cut");
    assert_eq!(again.recovery().snapshot, Some(1));
    assert_eq!(contents(&again), want);
}

/// Writes under every sync policy and from several threads survive a
/// restart on the real file system, and automatic checkpoints keep the
/// log short.
#[test]
fn real_files_with_every_policy_and_automatic_checkpoints() {
    for policy in [SyncPolicy::EveryWrite, SyncPolicy::Group, SyncPolicy::None] {
        let dir = temp_dir(&format!("policy-{policy:?}"));
        let opts = || {
            DurableOptions::<u64, String>::new()
                .index(Index::builder().organization(OrgId(1), None).organization(OrgId(2), None))
                .sync(policy)
                .checkpoint_after_bytes(Some(16 << 10))
                .segment_bytes(8 << 10)
        };
        let d = Durable::open(&dir, opts()).expect("open");
        std::thread::scope(|s| {
            for t in 0..3u64 {
                let index = d.index().clone();
                s.spawn(move || {
                    for k in 0..150 {
                        let id = t * 1_000 + k;
                        index.upsert(window(id, k as i64, 30), format!("{id}")).expect("write");
                    }
                });
            }
        });
        let before = contents(&d);
        d.close().expect("close");
        let again = Durable::open(&dir, opts()).expect("reopen");
        assert!(again.recovery().snapshot.is_some(), "{policy:?}: no automatic checkpoint");
        assert_eq!(contents(&again), before);
        again.check_invariants().expect("invariants");
        drop(again);
        let logs = FileSystem.list(&dir).expect("list").into_iter().filter(|n| n.starts_with("wal-")).count();
        assert!(logs < 20, "{policy:?}: {logs} log segments");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// kill -9: a child process writes with a sync per write and prints each
/// acknowledged id; killed at random moments, several times over, it never
/// loses one.
#[test]
fn kill_nine_loses_nothing_acknowledged() {
    if let Ok(dir) = std::env::var("MWINDEX_KILL_CHILD") {
        return child_writer(Path::new(&dir));
    }
    let dir = temp_dir("kill-nine");
    let exe = std::env::current_exe().expect("test binary");
    let mut acked = Vec::new();
    for round in 0..4u64 {
        let mut child = std::process::Command::new(&exe)
            .args(["--exact", "kill_nine_loses_nothing_acknowledged", "--nocapture", "--test-threads=1"])
            .env("MWINDEX_KILL_CHILD", &dir)
            .env("MWINDEX_KILL_START", (round * 1_000_000).to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut ids = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("ack ").and_then(|s| s.parse::<u64>().ok()) {
                    ids.push(id);
                }
            }
            ids
        });
        std::thread::sleep(std::time::Duration::from_millis(150 + 97 * round));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let ids = reader.join().expect("reader");
        assert!(!ids.is_empty() || round > 0, "the child acknowledged nothing in round {round}");
        acked.extend(ids);
        let d: Durable<u64, String> = Durable::open(&dir, DurableOptions::new()).expect("recover");
        for &id in &acked {
            assert!(d.get(id).is_some(), "acknowledged window {id} lost after kill -9 in round {round}");
        }
        d.check_invariants().expect("invariants");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn child_writer(dir: &Path) {
    let start: u64 = std::env::var("MWINDEX_KILL_START").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let d: Durable<u64, String> = Durable::open(
        dir,
        DurableOptions::new()
            .index(Index::builder().organization(OrgId(1), None).organization(OrgId(2), None))
            .sync(SyncPolicy::EveryWrite)
            .checkpoint_after_bytes(Some(32 << 10)),
    )
    .expect("child open");
    if d.is_empty() && start > 0 {
        panic!("the child found an empty directory after round one");
    }
    let _ = d.add_organization(OrgId(1), None);
    let _ = d.add_organization(OrgId(2), None);
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for id in start.. {
        d.insert(window(id, (id % 10_000) as i64, 60), format!("kill {id}")).expect("child write");
        writeln!(out, "ack {id}").expect("stdout");
        out.flush().expect("flush");
    }
}

/// Found by the snapshot fuzz target: a snapshot with valid checksums whose
/// segment's id index did not match its rows' ids loaded (only the bounds
/// of the index were checked), and the first merge rebuilt the ids from the
/// rows and held one id twice. Loading now follows every id to its row.
#[test]
fn regression_a_snapshot_whose_id_index_disagrees_with_its_rows_is_corrupt() {
    let bytes = include_bytes!("regressions/snapshot-id-index-disagrees.bin");
    let seq = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    let disk = disk_of(&[(Path::new(DIR).join(format!("snapshot-{seq:020}.rkyv")), bytes.to_vec())]);
    match open(&disk) {
        Err(Error::Corrupt { problem: Corruption::Invalid(why), .. }) => assert!(why.contains("id index"), "{why}"),
        Ok(d) => panic!("opened: {:?}", d.check_invariants()),
        other => panic!("{other:?}"),
    }
}

/// Found by the snapshot fuzz target: a row whose start and end lay
/// outside the timestamps' range (end still after start) loaded, and its
/// length overflowed when a query placed it in a tier: a panic. Rows are
/// now checked to hold valid timestamps.
#[test]
fn regression_a_snapshot_row_with_times_out_of_range_is_corrupt() {
    let bytes = include_bytes!("regressions/snapshot-row-times-out-of-range.bin");
    let seq = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    let disk = disk_of(&[(Path::new(DIR).join(format!("snapshot-{seq:020}.rkyv")), bytes.to_vec())]);
    match open(&disk) {
        Err(Error::Corrupt { .. }) => {}
        Ok(d) => {
            // Whatever loads must answer without a panic.
            let _ = d.count(&Query::new());
        }
        Err(e) => panic!("{e}"),
    }
}

/// Found by the log fuzz target: a segment whose header claims the last
/// sequence number, with a record, made the reader count past `u64::MAX`
/// (a panic with overflow checks). That number is now refused.
#[test]
fn regression_a_log_at_the_last_sequence_number_is_corrupt() {
    let mut header = Vec::new();
    header.extend_from_slice(b"MWINDEXL");
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&8u32.to_le_bytes());
    header.extend_from_slice(&u64::MAX.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    let crc = crc32c(&header);
    header.extend_from_slice(&crc.to_le_bytes());
    let body = [4u8, 1, 0, 0, 0, 0, 0, 0, 0];
    let mut record = Vec::new();
    record.extend_from_slice(&(body.len() as u32).to_le_bytes());
    record.extend_from_slice(&u64::MAX.to_le_bytes());
    record.extend_from_slice(&crc32c(&body).to_le_bytes());
    let head = crc32c(&record);
    record.extend_from_slice(&head.to_le_bytes());
    record.extend_from_slice(&body);
    header.extend_from_slice(&record);
    let disk = disk_of(&[(Path::new(DIR).join(format!("wal-{:020}.log", u64::MAX)), header)]);
    match open(&disk) {
        Err(Error::Corrupt { problem: Corruption::Sequence { .. }, .. }) => {}
        other => panic!("{other:?}"),
    }
}

/// Recomputes a snapshot's header and block checksums (header: 64 bytes,
/// CRC over the first 60; blocks: tag, CRC, length, body, padded to 16).
fn fix_snapshot_checksums(b: &mut [u8]) {
    let crc = crc32c(&b[..60]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
    let mut at = 64;
    while at + 16 <= b.len() {
        let len = u64::from_le_bytes(b[at + 8..at + 16].try_into().expect("8 bytes"));
        let Some(end) = usize::try_from(len).ok().and_then(|l| (at + 16).checked_add(l)).filter(|&e| e <= b.len())
        else {
            return;
        };
        let crc = crc32c(&b[at + 16..end]);
        b[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        at = end.next_multiple_of(16);
    }
}

/// A snapshot changed behind its checksums (as only a hand other than
/// mwindex's can): with `verify`, whatever opens passes every invariant
/// and holds what the unverified open holds; and verification catches
/// changes the load's own checks let through.
#[test]
fn verify_checks_every_structure_of_a_snapshot() {
    let disk = disk_with(&seeded_ops(600, 400, 11));
    // Builds finished and merged first, so the snapshot holds segments
    // (with their directories and posting lists), the same every run.
    let d = open(&disk).expect("open");
    d.compact();
    d.checkpoint().expect("checkpoint");
    d.close().expect("close");
    let path = file(&disk, "snapshot-");
    let bytes = disk.read(&path).expect("read");
    let (mut caught, mut opened) = (0, 0);
    // Every seventeenth byte, low and high bits.
    for (at, bit) in (64..bytes.len()).step_by(17).flat_map(|at| [(at, 0x01u8), (at, 0x10)]) {
        let mut changed = bytes.clone();
        changed[at] ^= bit;
        fix_snapshot_checksums(&mut changed);
        let files = [(path.clone(), changed)];
        let plain = open(&disk_of(&files));
        let verified = Durable::open(DIR, options(&disk_of(&files), SyncPolicy::EveryWrite).verify(true));
        match (plain, verified) {
            (Ok(p), Ok(v)) => {
                opened += 1;
                assert_eq!(v.check_invariants(), Ok(()), "flip at {at}");
                assert_eq!(contents(&p), contents(&v), "flip at {at}");
            }
            (Ok(p), Err(Error::Corrupt { problem: Corruption::Invalid(_), path: named, .. })) => {
                assert_eq!(Path::new(&named), path.as_path());
                caught += 1;
                // Unverified, it still answers without a panic.
                let _ = p.count(&Query::new());
            }
            (Err(Error::Corrupt { .. }), Err(Error::Corrupt { .. })) => {}
            (p, v) => panic!("flip at {at}: {:?} / {:?}", p.err(), v.err()),
        }
    }
    eprintln!("{} bytes: {caught} caught by verification alone, {opened} opened alike", bytes.len());
    assert!(caught > 0, "no change caught by verification alone ({opened} opened alike)");
}

/// A bulk load of sequential ids is a dense run (no id column, no id
/// directory); it goes through a snapshot and back as one, and a window
/// moved out of it afterwards is found there.
#[test]
fn a_dense_run_of_ids_survives_a_snapshot() {
    let disk = FaultyStorage::new();
    let d = open(&disk).expect("open");
    d.bulk_insert((100..1_100u64).map(|id| (window(id, id as i64 * 7, 60), format!("w{id}")))).expect("bulk");
    d.checkpoint().expect("checkpoint");
    let want = contents(&d);
    d.close().expect("close");
    let d = open(&disk).expect("reopen");
    assert_eq!(contents(&d), want);
    d.check_invariants().expect("invariants after the load");
    for id in [99u64, 100, 577, 1_099, 1_100] {
        assert_eq!(d.get(id).map(|e| e.window), want.get(&id).map(|w| w.0), "id {id}");
    }
    assert_eq!(d.upsert(window(577, 5, 60), "moved".into()).expect("move"), Some("w577".into()));
    assert_eq!(d.delete(1_099).map(|(_, p)| p), Some("w1099".into()));
    d.check_invariants().expect("invariants after writes");
    assert_eq!(d.len(), 999);
}

/// A snapshot of format 1 (the layout of format 2 without dense runs of
/// ids, and of formats 3 and 4 without id blocks and organization ranks)
/// still opens.
#[test]
fn a_format_1_snapshot_still_opens() {
    let mut ops = seeded_ops(60, 30, 11);
    ops.push(Op::Checkpoint);
    let disk = FaultyStorage::new();
    let d = open_previous(&disk).expect("open");
    for op in &ops {
        op.apply(&d).expect("apply");
    }
    d.close().expect("close");
    let files = files_of(&disk);
    let k = files.iter().position(|(p, _)| p.to_string_lossy().contains("snapshot-")).expect("a snapshot");
    let want = contents(&open(&disk).expect("open"));
    let mut old = files[k].1.clone();
    assert_eq!(old[8], 4, "snapshots are written in format 4");
    old[8] = 1;
    let crc = crc32c(&old[..60]);
    old[60..64].copy_from_slice(&crc.to_le_bytes());
    let mut changed = files.clone();
    changed[k].1 = old;
    let d = open(&disk_of(&changed)).expect("a format 1 snapshot opens");
    assert_eq!(contents(&d), want);
    d.check_invariants().expect("invariants");
}

/// The blocks of a snapshot (after its 64-byte header): kind and body.
fn snapshot_blocks(b: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut at = 64;
    while at + 16 <= b.len() {
        let kind = u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
        let len = u64::from_le_bytes(b[at + 8..at + 16].try_into().expect("8 bytes")) as usize;
        out.push((kind, b[at + 16..at + 16 + len].to_vec()));
        at = (at + 16 + len).next_multiple_of(16);
    }
    out
}

/// A snapshot of format `version` holding `blocks` after `header`, the
/// end block's count of blocks made right, every checksum recomputed.
fn snapshot_of(header: &[u8], version: u8, blocks: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut b = header[..64].to_vec();
    b[8] = version;
    for (i, (kind, body)) in blocks.iter().enumerate() {
        let mut body = body.clone();
        if *kind == 0xE0F {
            body[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        }
        b.extend_from_slice(&kind.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&(body.len() as u64).to_le_bytes());
        b.extend_from_slice(&body);
        b.resize(b.len().next_multiple_of(16), 0);
    }
    fix_snapshot_checksums(&mut b);
    b
}

/// The ids of every page of active windows at `at` in id order.
fn active_by_id(index: &SharedIndex<u64, String>, at: i64) -> (Vec<u64>, mwindex::Driver) {
    let q = Query::new().status(mwindex::Status::Active, ts(at)).order(mwindex::Order::Id).page_size(25);
    let driver = index.explain(&q).expect("explain").driver;
    (walk(index, q), driver)
}

/// A segment large enough for id blocks writes them in a block of their
/// own; they are read back (checked), not built again, and pages in id
/// order walk them as before. A file of format 2 (no such blocks) still
/// opens, its large segment given its id blocks; one of format 2 holding
/// them is corrupt.
#[test]
fn id_blocks_survive_a_snapshot_and_older_files_build_them() {
    let disk = FaultyStorage::new();
    let d = open_previous(&disk).expect("open");
    let day = 86_400;
    let windows = (0..70_000u64).map(|id| {
        let start = (id * 7_919 % 31_536_000) as i64;
        let len = match id % 100 {
            0 => 40 * day,
            x if x % 10 == 0 => 5 * day,
            x => 3_600 * (1 + x as i64 % 8),
        };
        (window(id, start, len), format!("w{id}"))
    });
    d.bulk_insert(windows).expect("bulk");
    d.checkpoint().expect("checkpoint");
    let want = contents(&d);
    let instants = [200 * day + 17, 300 * day];
    let pages: Vec<(Vec<u64>, mwindex::Driver)> = instants.iter().map(|&at| active_by_id(&d, at)).collect();
    assert!(pages.iter().all(|(ids, driver)| ids.len() > 100 && *driver == mwindex::Driver::IdBlocks), "{pages:?}");
    d.close().expect("close");

    let reopened = |disk: &FaultyStorage| {
        let d = open(disk).expect("reopen");
        assert_eq!(contents(&d), want);
        d.check_invariants().expect("invariants after the load");
        let again: Vec<_> = instants.iter().map(|&at| active_by_id(&d, at)).collect();
        assert_eq!(again, pages);
    };
    reopened(&disk);
    let path = file(&disk, "snapshot-");
    let bytes = disk.read(&path).expect("read");
    let blocks = snapshot_blocks(&bytes);
    assert_eq!(blocks.iter().filter(|(kind, _)| *kind == 5).count(), 1, "one segment with id blocks");
    // Format 2 had neither id blocks (5) nor organization ranks (6).
    let without: Vec<_> = blocks.iter().filter(|(kind, _)| *kind != 5 && *kind != 6).cloned().collect();
    reopened(&disk_of(&[(path.clone(), snapshot_of(&bytes, 2, &without))]));
    match open(&disk_of(&[(path.clone(), snapshot_of(&bytes, 2, &blocks))])) {
        Err(Error::Corrupt { problem: Corruption::Invalid(what), .. }) => assert!(what.contains("id blocks"), "{what}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// A segment large enough for organization ranks writes them in a block of
/// their own, read back (checked) and counting as before. A file of
/// format 3 (no such blocks) opens and counts the same without them; one of
/// format 3 holding them, or holding damaged ones, is corrupt.
#[test]
fn org_ranks_survive_a_snapshot_and_older_files_count_without_them() {
    let day = 86_400;
    // 70,000 windows bulk-loaded and checkpointed.
    let loaded = || {
        let disk = FaultyStorage::new();
        let d = open_previous(&disk).expect("open");
        let windows = (0..70_000u64).map(|id| {
            let start = (id * 7_919 % 31_536_000) as i64;
            let len = if id % 10 == 0 { 5 * day } else { 3_600 * (1 + id as i64 % 8) };
            (window(id, start, len), format!("w{id}"))
        });
        d.bulk_insert(windows).expect("bulk");
        d.checkpoint().expect("checkpoint");
        (disk, d)
    };
    let (disk, d) = loaded();
    let queries: Vec<Query<u64>> = [100 * day + 17, 200 * day, 300 * day + 3_600]
        .iter()
        .flat_map(|&at| {
            let active = Query::new().status(mwindex::Status::Active, ts(at));
            [active.clone().organizations([OrgId(1), OrgId(2)]), active.organizations([OrgId(2)])]
        })
        .collect();
    let counts = |d: &SharedIndex<u64, String>| -> Vec<(u64, mwindex::Driver)> {
        queries.iter().map(|q| (d.count(q).expect("count"), d.explain_count(q).expect("explain").driver)).collect()
    };
    let want = counts(&d);
    let ranked = want.iter().filter(|(_, driver)| *driver == mwindex::Driver::OrganizationRanks).count();
    assert!(ranked >= 3 && want.iter().all(|(n, _)| *n > 10), "{want:?}");
    d.close().expect("close");

    let d = open(&disk).expect("reopen");
    assert_eq!(counts(&d), want);
    d.check_invariants().expect("invariants after the load");
    // Moves and deletes through the shared index leave kills and
    // tombstones among the candidates: each count still equals its pages.
    for id in (0..70_000u64).step_by(97) {
        if id % 2 == 0 {
            d.delete(id).expect("delete");
        } else {
            let start = (id * 7_919 % 31_536_000) as i64 + 3 * 3_600;
            d.upsert(window(id, start, 3_600 * 5), format!("m{id}")).expect("move");
        }
    }
    let moved = counts(&d);
    assert!(moved.iter().filter(|(_, driver)| *driver == mwindex::Driver::OrganizationRanks).count() >= 3);
    for (q, (n, _)) in queries.iter().zip(&moved) {
        assert_eq!(*n, walk(&d, q.clone().page_size(50)).len() as u64, "{q:?}");
    }
    d.close().expect("close");
    // The checks below read the snapshot as the bulk load left it.
    let (disk, d) = loaded();
    d.close().expect("close");
    let path = file(&disk, "snapshot-");
    let bytes = disk.read(&path).expect("read");
    let blocks = snapshot_blocks(&bytes);
    assert_eq!(blocks.iter().filter(|(kind, _)| *kind == 6).count(), 1, "one segment with organization ranks");
    let without: Vec<_> = blocks.iter().filter(|(kind, _)| *kind != 6).cloned().collect();
    let d = open(&disk_of(&[(path.clone(), snapshot_of(&bytes, 3, &without))])).expect("a format 3 file opens");
    let plain = counts(&d);
    assert!(plain.iter().all(|(_, driver)| *driver != mwindex::Driver::OrganizationRanks), "{plain:?}");
    assert_eq!(plain.iter().map(|c| c.0).collect::<Vec<_>>(), want.iter().map(|c| c.0).collect::<Vec<_>>());
    d.close().expect("close");
    match open(&disk_of(&[(path.clone(), snapshot_of(&bytes, 3, &blocks))])) {
        Err(Error::Corrupt { problem: Corruption::Invalid(what), .. }) => {
            assert!(what.contains("organization ranks"), "{what}")
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
    // A flipped bit in the ranks' bits, checksums made right: refused.
    let mut damaged = blocks.clone();
    let k = damaged.iter().position(|(kind, _)| *kind == 6).expect("ranks");
    let body = &mut damaged[k].1;
    let at = body.len() / 2;
    body[at] ^= 0x10;
    match open(&disk_of(&[(path, snapshot_of(&bytes, 4, &damaged))])) {
        Err(Error::Corrupt { problem: Corruption::Invalid(what), .. }) => assert!(what.contains("wavelet"), "{what}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// A snapshot's blocks are encoded straight into the file, a large one in
/// many writes: a write failing anywhere inside one (here in a segment of
/// 70,000 windows, several MB) fails the checkpoint with the storage's
/// error, and the directory still opens to everything written.
#[test]
fn a_write_failing_inside_a_large_snapshot_block_fails_the_checkpoint_and_loses_nothing() {
    let disk = FaultyStorage::new();
    let d = open(&disk).expect("open");
    let windows = (0..70_000u64).map(|id| (window(id, (id * 7_919 % 31_536_000) as i64, 3_600), format!("w{id}")));
    d.bulk_insert(windows).expect("bulk");
    d.insert(window(70_000, 5, 60), "last".into()).expect("insert");
    let want = contents(&d);
    // Count the writes a whole checkpoint makes, on a copy of the disk.
    let writes = {
        let copy = disk.power_cut(PowerCut::DropUnsynced);
        let d = open(&copy).expect("open the copy");
        let before = copy.calls(mwindex::Op::Write);
        d.checkpoint().expect("checkpoint of the copy");
        copy.calls(mwindex::Op::Write) - before
    };
    assert!(writes > 8, "a large block is written in several writes, not {writes}");
    for nth in [2, writes / 2, writes - 2] {
        let disk = disk.power_cut(PowerCut::DropUnsynced);
        let d = open(&disk).expect("open");
        disk.fail(mwindex::Op::Write, disk.calls(mwindex::Op::Write) + nth, false);
        match d.checkpoint() {
            Err(Error::Io { operation: "write", .. }) => {}
            other => panic!("write {nth} of {writes} failed, and the checkpoint answered {other:?}"),
        }
        drop(d);
        let d = open(&disk).expect("reopen");
        assert_eq!(contents(&d), want, "after write {nth} of {writes} failed");
        d.check_invariants().expect("invariants");
    }
}

/// A large segment's blocks have their checksums verified while the
/// segment converts: a byte flipped in any of them (the segment, its id
/// blocks, its organization ranks, its payloads) is still a checksum
/// failure naming that block's offset, not whatever the conversion made of
/// the damaged bytes.
#[test]
fn damage_in_any_block_of_a_large_segment_is_a_checksum_failure_at_that_block() {
    let day = 86_400;
    let disk = FaultyStorage::new();
    let d = open(&disk).expect("open");
    let windows = (0..70_000u64).map(|id| {
        let len = if id % 10 == 0 { 5 * day } else { 3_600 * (1 + id as i64 % 8) };
        (window(id, (id * 7_919 % 31_536_000) as i64, len), format!("w{id}"))
    });
    d.bulk_insert(windows).expect("bulk");
    d.checkpoint().expect("checkpoint");
    d.close().expect("close");
    let path = file(&disk, "snapshot-");
    let bytes = disk.read(&path).expect("read");
    // Each block's offset, kind and length.
    let mut blocks = Vec::new();
    let mut at = 64;
    while at + 16 <= bytes.len() {
        let kind = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let len = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8 bytes")) as usize;
        blocks.push((at, kind, len));
        at = (at + 16 + len).next_multiple_of(16);
    }
    let kinds: Vec<u32> = blocks.iter().map(|b| b.1).collect();
    assert!(kinds.starts_with(&[1, 2, 7, 5, 6, 3]), "catalog, segment, rows, id blocks, ranks, payloads: {kinds:?}");
    for &(offset, kind, len) in &blocks[1..6] {
        for at in [0, len / 3, len - 1] {
            let mut damaged = bytes.clone();
            damaged[offset + 16 + at] ^= 0x10;
            match open(&disk_of(&[(path.clone(), damaged)])) {
                Err(Error::Corrupt { problem: Corruption::Checksum, offset: o, .. }) => {
                    assert_eq!(o, offset as u64, "a byte of block kind {kind} at {at}")
                }
                other => panic!("block kind {kind}, byte {at}: {:?}", other.map(|_| ())),
            }
        }
    }
}
