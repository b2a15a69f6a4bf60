//! Damaged files never make the index allocate beyond their size: a length
//! or count field that claims more than the file holds is an error, not an
//! allocation. Checked with a counting allocator (its own test binary, so
//! no other test's allocations are counted).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mwindex::{Durable, DurableOptions, Error, FaultyStorage, Index, OrgId, Storage, Timestamp, Window};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counters only observe sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests of this binary run one at a time: each counts every
/// allocation of the process.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

const DIR: &str = "/data";

fn options(disk: &FaultyStorage) -> DurableOptions<u64, String> {
    DurableOptions::new()
        .index(Index::builder().write_buffer(8).organization(OrgId(1), None))
        .storage(Arc::new(disk.clone()))
        .checkpoint_after_bytes(None)
}

/// Opens a disk holding `files` and returns the error and the most bytes
/// live at once during the open, beyond those live before it.
fn open_counting(files: &[(String, Vec<u8>)]) -> (Error, usize) {
    let disk = FaultyStorage::new();
    for (name, bytes) in files {
        let mut f = disk.create(&Path::new(DIR).join(name)).expect("create");
        f.append(bytes).expect("append");
        f.sync().expect("sync");
    }
    disk.sync_dir(Path::new(DIR)).expect("sync dir");
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let result = Durable::open(DIR, options(&disk));
    let peak = PEAK.load(Ordering::Relaxed) - base;
    match result {
        Err(e) => (e, peak),
        Ok(_) => panic!("a damaged directory opened"),
    }
}

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

/// The files of a small index with a snapshot and a log.
fn good_files() -> Vec<(String, Vec<u8>)> {
    let disk = FaultyStorage::new();
    let d = Durable::open(DIR, options(&disk)).expect("open");
    for id in 0..50u64 {
        let s = Timestamp::from_secs(id as i64 * 60).expect("t");
        let e = Timestamp::from_secs(id as i64 * 60 + 600).expect("t");
        d.insert(Window::new(id, s, e, OrgId(1)).expect("w"), format!("payload {id}")).expect("insert");
    }
    d.compact();
    d.checkpoint().expect("checkpoint");
    d.insert(
        Window::new(99, Timestamp::from_secs(5).expect("t"), Timestamp::from_secs(9).expect("t"), OrgId(1)).expect("w"),
        "x".into(),
    )
    .expect("insert");
    d.close().expect("close");
    let mut names = disk.list(Path::new(DIR)).expect("list");
    names.sort();
    names
        .into_iter()
        .filter(|n| n != "LOCK")
        .map(|n| {
            let bytes = disk.read(&Path::new(DIR).join(&n)).expect("read");
            (n, bytes)
        })
        .collect()
}

#[test]
fn length_fields_that_claim_too_much_allocate_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let files = good_files();
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    // What an open may hold at once: each file read whole (the test
    // storage copies it) and the index it describes, a few times over.
    let bound = 4 * total + (1 << 20);
    let snapshot = files.iter().position(|(n, _)| n.starts_with("snapshot-")).expect("snapshot");
    let log = files.iter().rposition(|(n, b)| n.starts_with("wal-") && b.len() > 32).expect("a log with records");

    type Files = Vec<(String, Vec<u8>)>;
    let mut cases: Vec<(&str, Files)> = Vec::new();
    // A snapshot block claiming half of u64's range.
    let mut huge_block = files.clone();
    huge_block[snapshot].1[64 + 8..64 + 16].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    cases.push(("snapshot block length", huge_block));
    // A payload block whose count claims u32::MAX payloads, checksum fixed.
    let mut huge_count = files.clone();
    {
        let bytes = &mut huge_count[snapshot].1;
        let mut at = 64;
        let mut k = 0;
        while at + 16 <= bytes.len() {
            let kind = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"));
            let len = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().expect("8")) as usize;
            // Payloads (3) and loose windows (4) both start with a count.
            if kind == 3 || kind == 4 {
                bytes[at + 16..at + 20].copy_from_slice(&u32::MAX.to_le_bytes());
                let crc = crc32c(&bytes[at + 16..at + 16 + len]);
                bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
                k += 1;
            }
            at = (at + 16 + len).next_multiple_of(16);
        }
        assert!(k > 1, "a payload block and a loose block");
    }
    cases.push(("payload count", huge_count));
    // A log record claiming 2 GiB, its header checksum fixed.
    let mut huge_record = files.clone();
    {
        let bytes = &mut huge_record[log].1;
        let at = 32;
        bytes[at..at + 4].copy_from_slice(&(1u32 << 31).to_le_bytes());
        let crc = crc32c(&bytes[at..at + 16]);
        bytes[at + 16..at + 20].copy_from_slice(&crc.to_le_bytes());
    }
    cases.push(("log record length", huge_record));
    for (what, files) in cases {
        let (e, peak) = open_counting(&files);
        assert!(matches!(e, Error::Corrupt { .. }), "{what}: {e}");
        assert!(peak <= bound, "{what}: {peak} bytes allocated for {total} bytes of files");
    }
}

/// A snapshot on the file system opens with its segment's arrays where
/// they lie in the mapped file (format 5: rows, ids, ends, directories,
/// posting entries): the open allocates a small part of the rows' bytes.
/// The previous format, whose rows are columns, copies them.
#[test]
fn a_snapshot_opens_with_its_arrays_where_they_lie_in_the_file() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let n = 70_000u64;
    let rows_bytes = n as usize * 32;
    let root = std::env::temp_dir().join(format!("mwindex-in-place-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let options = |previous: bool| {
        DurableOptions::<u64, ()>::new()
            .index(Index::builder().organization(OrgId(1), None).organization(OrgId(2), None))
            .checkpoint_after_bytes(None)
            .previous_snapshot_format(previous)
    };
    let peak_of_open = |previous: bool| {
        let dir = root.join(if previous { "previous" } else { "current" });
        let d = Durable::open(&dir, options(previous)).expect("open");
        let windows = (0..n).map(|id| {
            let s = Timestamp::from_secs((id * 7_919 % 31_536_000) as i64).expect("t");
            let e = Timestamp::from_secs((id * 7_919 % 31_536_000) as i64 + 3_600 * (1 + id as i64 % 8)).expect("t");
            (Window::new(id, s, e, OrgId(1 + id % 2)).expect("w"), ())
        });
        d.bulk_insert(windows).expect("bulk");
        d.checkpoint().expect("checkpoint");
        d.close().expect("close");
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let d: Durable<u64, ()> = Durable::open(&dir, options(previous)).expect("reopen");
        let peak = PEAK.load(Ordering::Relaxed) - base;
        assert_eq!(d.len(), n as usize);
        // Closed at once: half a second after an open the index starts
        // moving its segments onto memory of its own, which would count
        // in the next measurement.
        drop(d);
        peak
    };
    let (current, previous) = (peak_of_open(false), peak_of_open(true));
    let _ = std::fs::remove_dir_all(&root);
    eprintln!("open allocated at most {current} bytes (previous format: {previous}); rows: {rows_bytes}");
    if cfg!(target_endian = "little") {
        assert!(current < rows_bytes / 2, "{current} bytes allocated opening {rows_bytes} bytes of rows");
    }
    assert!(previous > rows_bytes, "the previous format copies its rows: {previous}");
}
