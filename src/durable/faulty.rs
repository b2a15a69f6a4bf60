//! A storage for tests: an in-memory file system that fails the calls it is
//! told to fail and forgets, at a simulated power cut, what was never
//! synced.
//!
//! Each file keeps how much of it is durable (its length at its last sync),
//! and each directory which names are durable (its entries at its last
//! directory sync). A power cut ([`FaultyStorage::power_cut`]) keeps the
//! durable names and, of each file, its durable bytes plus, as chosen, none
//! of the rest, a random prefix of it, or all but a torn tail of the last
//! write: what a disk may hold after the machine loses power.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::storage::{Storage, StorageFile};

/// A storage call [`FaultyStorage`] can fail.
///
/// # Example
///
/// ```
/// use mwindex::{FaultyStorage, Op, Storage};
///
/// let disk = FaultyStorage::new();
/// disk.fail(Op::Sync, 1, false);
/// let mut file = disk.create("/d/f".as_ref())?;
/// file.append(b"abc")?;
/// assert!(file.sync().is_err());
/// assert!(file.sync().is_ok(), "failed once only");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Op {
    /// [`StorageFile::append`]; a failed one writes the first half of its bytes.
    Write,
    /// [`StorageFile::sync`].
    Sync,
    /// [`Storage::rename`].
    Rename,
    /// [`Storage::sync_dir`].
    SyncDir,
    /// [`Storage::create`] and [`Storage::open_append`].
    Create,
    /// [`Storage::remove`].
    Remove,
    /// [`Storage::truncate`].
    Truncate,
    /// [`Storage::read`].
    Read,
}

const OPS: usize = 8;

impl Op {
    fn index(self) -> usize {
        self as usize
    }
}

/// What a simulated power cut keeps of the bytes written since each file's
/// last sync.
///
/// # Example
///
/// ```
/// use mwindex::{FaultyStorage, PowerCut, Storage};
///
/// let disk = FaultyStorage::new();
/// let mut file = disk.create("/d/f".as_ref())?;
/// file.append(b"synced")?;
/// file.sync()?;
/// disk.sync_dir("/d".as_ref())?;
/// file.append(b" and not")?;
/// let after = disk.power_cut(PowerCut::DropUnsynced);
/// assert_eq!(after.read("/d/f".as_ref())?, b"synced");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PowerCut {
    /// Nothing unsynced survives.
    DropUnsynced,
    /// A random prefix of each file's unsynced bytes survives (the seed
    /// picks it).
    KeepRandomPrefix(u64),
    /// Every unsynced write but the last survives, and a random prefix of
    /// the last (a torn write).
    TearLastWrite(u64),
}

#[derive(Clone, Debug, Default)]
struct Inode {
    data: Vec<u8>,
    /// Bytes durable: the length at the last sync (appends only grow a
    /// file, and truncation syncs, so the durable bytes are a prefix).
    synced: usize,
    /// Where the last append began.
    last_write: usize,
}

#[derive(Debug, Default)]
struct Disk {
    inodes: Vec<Inode>,
    names: BTreeMap<PathBuf, usize>,
    durable_names: BTreeMap<PathBuf, usize>,
    calls: [u64; OPS],
    /// Calls of every kind.
    total: u64,
    faults: Vec<(Op, u64, bool)>,
    /// Every call from this one on (counting all kinds) fails.
    fail_from: Option<u64>,
    fired: u64,
    locks: BTreeSet<PathBuf>,
}

/// An in-memory [`Storage`] that fails chosen calls and simulates power
/// loss, for tests of crash consistency.
///
/// Clones share one disk. Calls are counted per [`Op`];
/// [`FaultyStorage::fail`] makes the `n`-th call of a kind (counted from
/// the storage's creation) fail with an I/O error, once or from then on.
/// [`FaultyStorage::power_cut`] returns the disk as it would be found after
/// a power loss at this moment, as a new storage (the old one, and whatever
/// still holds it, go on writing to the old disk).
///
/// # Example
///
/// ```
/// use mwindex::{FaultyStorage, Op, PowerCut, Storage};
///
/// let disk = FaultyStorage::new();
/// let mut file = disk.create("/d/log".as_ref())?;
/// file.append(b"one")?;
/// file.sync()?;
/// // The directory entry was never synced: after a power cut, no file.
/// let after = disk.power_cut(PowerCut::DropUnsynced);
/// assert!(after.read("/d/log".as_ref()).is_err());
/// assert_eq!(disk.calls(Op::Write), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct FaultyStorage {
    disk: Arc<Mutex<Disk>>,
}

impl fmt::Debug for FaultyStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let disk = self.disk.lock();
        f.debug_struct("FaultyStorage").field("files", &disk.names.len()).field("calls", &disk.calls).finish()
    }
}

impl FaultyStorage {
    /// An empty disk with no faults planned.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{FaultyStorage, Storage};
    /// assert!(FaultyStorage::new().list("/".as_ref())?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the `n`-th call of kind `op` (counted from the disk's creation,
    /// the first being 1) fail, and with `persist` every later one too.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{FaultyStorage, Op, Storage};
    /// let disk = FaultyStorage::new();
    /// disk.fail(Op::Rename, 1, true);
    /// disk.create("/a".as_ref())?;
    /// assert!(disk.rename("/a".as_ref(), "/b".as_ref()).is_err());
    /// assert!(disk.rename("/a".as_ref(), "/b".as_ref()).is_err());
    /// assert_eq!(disk.fired(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fail(&self, op: Op, n: u64, persist: bool) {
        self.disk.lock().faults.push((op, n, persist));
    }

    /// Makes the `n`-th call of any kind (counting every kind together,
    /// see [`FaultyStorage::total_calls`]) and every call after it fail:
    /// the process as good as died there, and a
    /// [`FaultyStorage::power_cut`] then shows what the disk kept.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{FaultyStorage, Op, Storage};
    /// let disk = FaultyStorage::new();
    /// disk.fail_from(disk.total_calls() + 2);
    /// assert!(disk.create("/a".as_ref()).is_ok());
    /// assert!(disk.create("/b".as_ref()).is_err());
    /// assert!(disk.sync_dir("/".as_ref()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fail_from(&self, n: u64) {
        self.disk.lock().fail_from = Some(n);
    }

    /// How many calls of every kind were made.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{FaultyStorage, Storage};
    /// let disk = FaultyStorage::new();
    /// disk.create("/a".as_ref())?.append(b"x")?;
    /// assert_eq!(disk.total_calls(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn total_calls(&self) -> u64 {
        self.disk.lock().total
    }

    /// Forgets every planned fault.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{FaultyStorage, Op, Storage};
    /// let disk = FaultyStorage::new();
    /// disk.fail(Op::Create, 1, true);
    /// disk.heal();
    /// assert!(disk.create("/a".as_ref()).is_ok());
    /// ```
    pub fn heal(&self) {
        let mut disk = self.disk.lock();
        disk.faults.clear();
        disk.fail_from = None;
    }

    /// How many calls of kind `op` were made.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{FaultyStorage, Op, Storage};
    /// let disk = FaultyStorage::new();
    /// disk.sync_dir("/".as_ref())?;
    /// assert_eq!(disk.calls(Op::SyncDir), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn calls(&self, op: Op) -> u64 {
        self.disk.lock().calls[op.index()]
    }

    /// How many calls failed on purpose.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::FaultyStorage;
    /// assert_eq!(FaultyStorage::new().fired(), 0);
    /// ```
    pub fn fired(&self) -> u64 {
        self.disk.lock().fired
    }

    /// The disk as a power loss now would leave it: the durable names, and
    /// of each file its synced bytes plus what `cut` keeps of the rest. A
    /// new storage, with no faults planned, no calls counted and no locks.
    ///
    /// # Example
    ///
    /// ```
    /// # use mwindex::{FaultyStorage, PowerCut, Storage};
    /// let disk = FaultyStorage::new();
    /// disk.create("/d/f".as_ref())?.append(b"abc")?;
    /// disk.sync_dir("/d".as_ref())?;
    /// let after = disk.power_cut(PowerCut::KeepRandomPrefix(7));
    /// assert!(after.read("/d/f".as_ref())?.len() <= 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn power_cut(&self, cut: PowerCut) -> FaultyStorage {
        let disk = self.disk.lock();
        let mut rng = match cut {
            PowerCut::DropUnsynced => 1,
            PowerCut::KeepRandomPrefix(seed) | PowerCut::TearLastWrite(seed) => seed | 1,
        };
        let mut after = Disk::default();
        for (name, &ino) in &disk.durable_names {
            let inode = &disk.inodes[ino];
            let unsynced = inode.data.len() - inode.synced;
            let keep = match cut {
                PowerCut::DropUnsynced => 0,
                PowerCut::KeepRandomPrefix(_) => below(&mut rng, unsynced + 1),
                PowerCut::TearLastWrite(_) => {
                    if inode.last_write < inode.synced || unsynced == 0 {
                        0
                    } else {
                        let last = inode.data.len() - inode.last_write;
                        (inode.last_write - inode.synced) + below(&mut rng, last)
                    }
                }
            };
            let data = inode.data[..inode.synced + keep].to_vec();
            let synced = data.len();
            after.inodes.push(Inode { data, synced, last_write: synced });
            after.names.insert(name.clone(), after.inodes.len() - 1);
        }
        after.durable_names = after.names.clone();
        FaultyStorage { disk: Arc::new(Mutex::new(after)) }
    }

    /// Counts a call of kind `op` and fails it if planned.
    fn call(&self, disk: &mut Disk, op: Op) -> io::Result<()> {
        disk.calls[op.index()] += 1;
        disk.total += 1;
        let n = disk.calls[op.index()];
        let planned = disk.faults.iter().any(|&(o, at, persist)| o == op && (n == at || (persist && n > at)))
            || disk.fail_from.is_some_and(|from| disk.total >= from);
        if planned {
            disk.fired += 1;
            return Err(io::Error::other(format!("injected failure of {op:?} call {n}")));
        }
        Ok(())
    }

    fn inode(disk: &Disk, path: &Path) -> io::Result<usize> {
        disk.names.get(path).copied().ok_or_else(|| not_found(path))
    }
}

/// A number in `0..n` from a xorshift state (`n > 0`).
fn below(state: &mut u64, n: usize) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state % n as u64) as usize
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} does not exist", path.display()))
}

/// The directory a path's name belongs to.
fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new(""))
}

#[derive(Debug)]
struct FaultyFile {
    storage: FaultyStorage,
    inode: usize,
}

impl StorageFile for FaultyFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut disk = self.storage.disk.lock();
        let failed = self.storage.call(&mut disk, Op::Write);
        let written = if failed.is_ok() { bytes } else { &bytes[..bytes.len() / 2] };
        let inode = &mut disk.inodes[self.inode];
        inode.last_write = inode.data.len();
        inode.data.extend_from_slice(written);
        failed
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut disk = self.storage.disk.lock();
        self.storage.call(&mut disk, Op::Sync)?;
        let inode = &mut disk.inodes[self.inode];
        inode.synced = inode.data.len();
        Ok(())
    }
}

#[derive(Debug)]
struct FaultyLock {
    storage: FaultyStorage,
    path: PathBuf,
}

impl Drop for FaultyLock {
    fn drop(&mut self) {
        self.storage.disk.lock().locks.remove(&self.path);
    }
}

impl Storage for FaultyStorage {
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let disk = self.disk.lock();
        Ok(disk
            .names
            .keys()
            .filter(|p| parent(p) == dir)
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut disk = self.disk.lock();
        self.call(&mut disk, Op::Read)?;
        let ino = Self::inode(&disk, path)?;
        Ok(disk.inodes[ino].data.clone())
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let mut disk = self.disk.lock();
        self.call(&mut disk, Op::Create)?;
        disk.inodes.push(Inode::default());
        let inode = disk.inodes.len() - 1;
        disk.names.insert(path.to_path_buf(), inode);
        Ok(Box::new(FaultyFile { storage: self.clone(), inode }))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn StorageFile>> {
        let mut disk = self.disk.lock();
        self.call(&mut disk, Op::Create)?;
        let inode = Self::inode(&disk, path)?;
        Ok(Box::new(FaultyFile { storage: self.clone(), inode }))
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let mut disk = self.disk.lock();
        self.call(&mut disk, Op::Truncate)?;
        let ino = Self::inode(&disk, path)?;
        let inode = &mut disk.inodes[ino];
        inode.data.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        inode.synced = inode.data.len();
        inode.last_write = inode.data.len();
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut disk = self.disk.lock();
        self.call(&mut disk, Op::Rename)?;
        let ino = disk.names.remove(from).ok_or_else(|| not_found(from))?;
        disk.names.insert(to.to_path_buf(), ino);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut disk = self.disk.lock();
        self.call(&mut disk, Op::Remove)?;
        disk.names.remove(path).map(|_| ()).ok_or_else(|| not_found(path))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut disk = self.disk.lock();
        self.call(&mut disk, Op::SyncDir)?;
        disk.durable_names.retain(|p, _| parent(p) != dir);
        let entries: Vec<_> =
            disk.names.iter().filter(|(p, _)| parent(p) == dir).map(|(p, &i)| (p.clone(), i)).collect();
        disk.durable_names.extend(entries);
        Ok(())
    }

    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn fmt::Debug + Send + Sync>>> {
        let mut disk = self.disk.lock();
        if !disk.locks.insert(path.to_path_buf()) {
            return Ok(None);
        }
        Ok(Some(Box::new(FaultyLock { storage: self.clone(), path: path.to_path_buf() })))
    }
}
