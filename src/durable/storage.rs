//! The file operations a durable index makes, behind a small trait: the
//! real file system ([`FileSystem`]) in production, and a test backend
//! ([`FaultyStorage`](super::FaultyStorage)) that fails chosen calls and
//! simulates power loss.
//!
//! The trait is the whole of the durable index's I/O: create, append,
//! sync, read, rename, remove, list, truncate and lock. Every call that
//! makes data durable is explicit (`File::sync`, `Storage::sync_dir`), so a
//! backend that keeps unsynced bytes apart can drop them.

use std::fmt;
use std::io;
use std::path::Path;

use crate::Error;

/// A file opened for appending by a [`Storage`].
///
/// # Example
///
/// ```
/// use mwindex::{FileSystem, Storage};
///
/// let dir = std::env::temp_dir().join(format!("mwindex-doc-file-{}", std::process::id()));
/// let fs = FileSystem;
/// fs.create_dir_all(&dir)?;
/// let mut file = fs.create(&dir.join("notes"))?;
/// file.append(b"hello")?;
/// file.sync()?;
/// assert_eq!(fs.read(&dir.join("notes"))?, b"hello");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait StorageFile: Send + Sync + fmt::Debug {
    /// Appends all of `bytes` at the end of the file. On an error some
    /// prefix of them may have been written.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (`fsync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Starts writing what was appended to the device without waiting
    /// for it, and waits for what the call before this one started: a
    /// hint, made every few megabytes while a large file is written, that
    /// keeps its unwritten bytes few and the device busy while the writer
    /// goes on. It makes nothing durable (only [`StorageFile::sync`] does)
    /// and by default does nothing.
    fn write_behind(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Bytes a large file being written (a snapshot, an unsynced log) takes
/// between its [`StorageFile::write_behind`] hints. Written back as it
/// goes, a file keeps its dirty pages few: left to pile up, they make the
/// kernel throttle every writer of the machine, the log's appends among
/// them (a write waited 1.2 s behind a 787 MB snapshot written in one go),
/// and a later sync has them all to write.
pub(crate) const WRITE_BEHIND_EVERY: usize = 16 << 20;

/// Where a durable index keeps its files: every byte it reads or writes
/// goes through these calls.
///
/// Paths are those the index builds from the directory it was opened in.
/// Implementations must be usable from several threads (the writer, a
/// checkpoint thread).
///
/// # Example
///
/// ```
/// use mwindex::{FileSystem, Storage};
///
/// let dir = std::env::temp_dir().join(format!("mwindex-doc-storage-{}", std::process::id()));
/// let fs = FileSystem;
/// fs.create_dir_all(&dir)?;
/// fs.create(&dir.join("a.tmp"))?.append(b"x")?;
/// fs.rename(&dir.join("a.tmp"), &dir.join("a"))?;
/// fs.sync_dir(&dir)?;
/// assert_eq!(fs.list(&dir)?, vec!["a".to_string()]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Storage: Send + Sync + fmt::Debug + 'static {
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the files in `dir` (not their paths), in any order.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The whole content of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// The whole content of a large file, to read once: memory-mapped
    /// where the backend can (no copy, no fresh memory), by default
    /// [`Storage::read`].
    fn map(&self, path: &Path) -> io::Result<Mapped> {
        self.read(path).map(Mapped::from)
    }
    /// Creates an empty file (replacing any file of that name) for appending.
    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>>;
    /// Shortens a file to `len` bytes and syncs it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Renames a file, replacing any file at `to` (atomic on POSIX file systems).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes the directory's entries (created, renamed, removed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on `path` (created if missing), held until
    /// the returned guard is dropped; `Ok(None)` if someone else holds it.
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn fmt::Debug + Send + Sync>>>;
    /// A hint that the bytes of `path` will not be read again soon: the
    /// backend may drop them from its caches. Nothing on disk changes. A
    /// checkpoint gives it the snapshots the new one replaces before
    /// writing it. By default nothing.
    fn evict(&self, path: &Path) -> io::Result<()> {
        let _ = path;
        Ok(())
    }
}

/// The bytes of a file from [`Storage::map`]: mapped into memory, or read.
///
/// # Example
///
/// ```
/// use mwindex::Mapped;
///
/// let bytes = Mapped::from(b"abc".to_vec());
/// assert_eq!(&bytes[..], b"abc");
/// ```
pub struct Mapped(Bytes);

enum Bytes {
    Read(Vec<u8>),
    Map(memmap2::Mmap),
}

impl From<Vec<u8>> for Mapped {
    fn from(bytes: Vec<u8>) -> Self {
        Mapped(Bytes::Read(bytes))
    }
}

impl std::ops::Deref for Mapped {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Bytes::Read(v) => v,
            Bytes::Map(m) => m,
        }
    }
}

/// A file's bytes never move or change while held: a map is read-only and
/// private, a vector read is never written again.
impl crate::memory::Stable for Mapped {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// Maps `map`'s pages now (an open reads every one of them), asking for
/// huge pages first: where the page cache holds a file in large folios,
/// its pages are then mapped 2 MB at a time, and the segments read in
/// place cost fewer TLB misses (with the advice, half of a 10M snapshot
/// was mapped so, `FilePmdMapped` in smaps; without it, a fifth).
#[cfg(target_os = "linux")]
fn populate(map: &memmap2::Mmap) {
    // Advice only: refused, the pages are mapped as they are first read.
    let _ = map.advise(memmap2::Advice::HugePage);
    let _ = map.advise(memmap2::Advice::PopulateRead);
}

#[cfg(not(target_os = "linux"))]
fn populate(_: &memmap2::Mmap) {}

impl fmt::Debug for Mapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if matches!(self.0, Bytes::Map(_)) { "mapped" } else { "read" };
        write!(f, "Mapped({} bytes, {how})", self.len())
    }
}

/// The real file system (`std::fs`), with `fsync` for syncs and an
/// advisory `flock` for the lock.
///
/// # Example
///
/// ```
/// use mwindex::{FileSystem, Storage};
///
/// let dir = std::env::temp_dir().join(format!("mwindex-doc-fs-{}", std::process::id()));
/// FileSystem.create_dir_all(&dir)?;
/// let lock = FileSystem.lock(&dir.join("LOCK"))?;
/// assert!(lock.is_some());
/// assert!(FileSystem.lock(&dir.join("LOCK"))?.is_none(), "held once at a time");
/// # drop(lock);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct FileSystem;

#[derive(Debug)]
struct FsFile {
    file: std::fs::File,
    /// Where the bytes appended through it end (from where it was opened).
    end: u64,
    /// Bytes before this offset were on the device when the last
    /// [`StorageFile::write_behind`] returned (or before it was opened).
    written: u64,
    /// Bytes before this offset were handed to the device by it.
    started: u64,
}

impl FsFile {
    fn new(file: std::fs::File) -> io::Result<Self> {
        let end = file.metadata()?.len();
        Ok(FsFile { file, end, written: end, started: end })
    }
}

impl StorageFile for FsFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        io::Write::write_all(&mut self.file, bytes)?;
        self.end += bytes.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// `sync_file_range`: starts the writeback of the bytes appended since
    /// the last call, then waits for those the last call started. An
    /// `fsync` every few megabytes instead (elsewhere than Linux) stalls
    /// the writer on the device and commits the file system's journal
    /// each time: a 900 MB file took 0.96-1.02 s that way against
    /// 0.81-0.87 s (three runs each, this project's 2-core VM).
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    fn write_behind(&mut self) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let fd = self.file.as_raw_fd();
        let range = |from: u64, to: u64| (from as libc::off64_t, (to - from) as libc::off64_t);
        let (from, len) = range(self.started, self.end);
        // SAFETY: plain system calls on a file descriptor this value owns,
        // over byte ranges of the file; no memory is passed.
        if len > 0 && unsafe { libc::sync_file_range(fd, from, len, libc::SYNC_FILE_RANGE_WRITE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let (from, len) = range(self.written, self.started);
        let wait = libc::SYNC_FILE_RANGE_WAIT_BEFORE | libc::SYNC_FILE_RANGE_WRITE | libc::SYNC_FILE_RANGE_WAIT_AFTER;
        // SAFETY: as above.
        if len > 0 && unsafe { libc::sync_file_range(fd, from, len, wait) } != 0 {
            return Err(io::Error::last_os_error());
        }
        self.written = self.started;
        self.started = self.end;
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn write_behind(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

impl Storage for FileSystem {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file()
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    #[allow(unsafe_code)]
    fn map(&self, path: &Path) -> io::Result<Mapped> {
        let file = std::fs::File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(Mapped::from(Vec::new()));
        }
        // SAFETY: the map is read-only and lives only while a snapshot is
        // loaded. Snapshots are written once to a temporary file and
        // renamed into place, never changed after, and the data directory
        // is held by this process's lock file. Another process writing to
        // the file regardless would change bytes under the reader; every
        // read of them is bounds-checked and validated, so the result is
        // an error or wrong data (the caveat every mmap reader carries).
        let map = unsafe { memmap2::MmapOptions::new().map(&file)? };
        populate(&map);
        Ok(Mapped(Bytes::Map(map)))
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
        Ok(Box::new(FsFile::new(file)?))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let file = std::fs::OpenOptions::new().append(true).open(path)?;
        Ok(Box::new(FsFile::new(file)?))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        std::fs::File::open(dir)?.sync_all()
    }

    /// `posix_fadvise(POSIX_FADV_DONTNEED)`: the kernel drops the file's
    /// clean cached pages that no one maps. The pages a snapshot about to
    /// be written then takes are those just freed rather than memory the
    /// machine has not touched lately, which on this project's virtual
    /// machine (whose host takes back the guest's free memory) made a
    /// 900 MB write 0.59-0.61 s instead of 2.61-2.94 s (three runs each).
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    fn evict(&self, path: &Path) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path)?;
        // SAFETY: a system call on a file descriptor this function owns;
        // no memory is passed.
        match unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) } {
            0 => Ok(()),
            errno => Err(io::Error::from_raw_os_error(errno)),
        }
    }

    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn fmt::Debug + Send + Sync>>> {
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(file))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// A storage error as the crate's [`Error::Io`], naming the operation and
/// the path.
pub(crate) fn io_error(operation: &'static str, path: &Path, e: &io::Error) -> Error {
    Error::Io { operation, path: path.display().to_string(), kind: e.kind(), message: e.to_string() }
}

/// `result` with its error made an [`Error::Io`].
pub(crate) fn at<T>(operation: &'static str, path: &Path, result: io::Result<T>) -> Result<T, Error> {
    result.map_err(|e| io_error(operation, path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writing_behind_keeps_every_byte_in_order() {
        let dir = std::env::temp_dir().join(format!("mwindex-write-behind-{}", std::process::id()));
        FileSystem.create_dir_all(&dir).expect("dir");
        let path = dir.join("f");
        let chunk: Vec<u8> = (0..100_000u32).map(|k| (k % 251) as u8).collect();
        let mut file = FileSystem.create(&path).expect("create");
        for round in 0..5 {
            file.append(&chunk[round * 1000..]).expect("append");
            file.write_behind().expect("write behind");
        }
        file.write_behind().expect("a hint with nothing new");
        drop(file);
        // Reopened for appending: its hints cover only what it appends.
        let mut file = FileSystem.open_append(&path).expect("reopen");
        file.append(b"tail").expect("append");
        file.write_behind().expect("write behind");
        file.append(b"!").expect("append");
        file.sync().expect("sync");
        let mut want = Vec::new();
        for round in 0..5 {
            want.extend_from_slice(&chunk[round * 1000..]);
        }
        want.extend_from_slice(b"tail!");
        assert_eq!(FileSystem.read(&path).expect("read"), want);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
