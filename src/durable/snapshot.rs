//! Snapshots: one version of the index in one file, written while writes go
//! on and read back without sorting or building anything.
//!
//! ```text
//! header   magic "MWINDEXS" | version u32 | id width u32 | last log seq u64
//!          | cursor key [u8; 32] | 0u32 | crc u32            (64 bytes)
//! blocks   kind u32 | crc u32 | length u64 | bytes, zero-padded to 16
//!          CATALOG, then SEGMENT [+ ID_BLOCKS] [+ ORG_RANKS] + PAYLOADS
//!          per segment (oldest first; ID_BLOCKS and ORG_RANKS for the
//!          segments that have them),
//!          then LOOSE (windows not in a segment), then END
//! ```
//!
//! Catalog and segments are rkyv archives (validated with bytecheck on
//! read, then converted, with checks of their own, into the index's
//! structures); payloads are the caller's [`Persist`] bytes, each preceded
//! by its `u32` length; loose windows use the log's encoding. Every block
//! carries the CRC-32C of its bytes, and END the number of blocks and of
//! windows, so a file cut anywhere is an error, never a smaller index.
//! Blocks start at multiples of 16 bytes, which is the alignment rkyv's
//! archives need.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rkyv::rancor;
use rkyv::util::AlignedVec;

use super::codec::{self, Bytes, Persist, le_u32, le_u64, len32, put_sized, put_u32, put_u64};
use super::storage::{Storage, WRITE_BEHIND_EVERY, at};
use crate::catalog::{ArchivedCatalogWire, Catalog};
use crate::engine::{Image, SegmentParts, Version};
use crate::memory::SharedBytes;
use crate::query::CursorKey;
use crate::segment::{
    ArchivedOrgRanksWire, ArchivedPostings, ArchivedSegmentWire, Extras, Row, records, segment_from_archived,
};
use crate::{Corruption, Error, WindowId};

const MAGIC: &[u8; 8] = b"MWINDEXS";
/// The snapshot format this build writes. Format 2 added the dense run of
/// ids (a segment's id index archived as its first id and count); a file
/// of format 1 has the same layout without it, and is still read. Format 3
/// added a segment's id blocks, in a block of their own between the
/// segment and its payloads; a segment of an older file has them built
/// when it is read. Format 4 added a segment's organization ranks, in a
/// block after its id blocks; a segment of an older file is read without
/// them (its counts by organization read posting lists, as they did) and
/// has them once a merge or `compact()` rebuilds it. Format 5 added a
/// segment's rows block, right after the segment, for the crate's own id
/// types: the rows as records laid out as in memory, which an open reads
/// where they lie in the mapped file (the segment's row columns are then
/// empty); a segment of an older file, or with other ids, keeps its rows
/// in columns.
pub(crate) const SNAPSHOT_VERSION: u32 = 5;

/// The oldest snapshot format this build reads.
const OLDEST_SNAPSHOT_VERSION: u32 = 1;
const HEADER: usize = 64;
const BLOCK_HEADER: usize = 16;
const ALIGN: usize = 16;

const CATALOG: u32 = 1;
const SEGMENT: u32 = 2;
const PAYLOADS: u32 = 3;
const LOOSE: u32 = 4;
const ID_BLOCKS: u32 = 5;
const ORG_RANKS: u32 = 6;
const ROWS: u32 = 7;
const END: u32 = 0xE0F;

/// The file name of the snapshot covering the log through record `seq`.
pub(crate) fn snapshot_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.rkyv")
}

/// The log sequence number a snapshot's file name covers.
pub(crate) fn parse_snapshot_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".rkyv")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What writing a snapshot did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) path: PathBuf,
    pub(crate) bytes: u64,
}

struct Out<'a> {
    file: Box<dyn super::storage::StorageFile>,
    path: &'a Path,
    bytes: u64,
    blocks: u64,
    unhinted: usize,
    /// The error of a write made while rkyv was encoding (its own error
    /// type would lose it).
    failed: Option<Error>,
}

impl Out<'_> {
    fn block(&mut self, kind: u32, body: &[u8]) -> Result<(), Error> {
        self.header(kind, crc32c::crc32c(body), body.len())?;
        for chunk in body.chunks(WRITE_BEHIND_EVERY) {
            self.write(chunk)?;
        }
        self.pad(body.len())
    }

    /// A block whose body is the rkyv archive of `value`, encoded straight
    /// into the file: a first pass measures it (length and CRC-32C, for
    /// the header ahead of it), a second writes it through a small buffer.
    /// No copy of the whole archive is ever held: at 10M windows that copy
    /// was 850 MB of fresh memory and most of a snapshot's CPU time.
    fn archived<T: Encode>(&mut self, kind: u32, value: &T) -> Result<(), Error> {
        let measured = encode(value, Sink::measure())?;
        self.header(kind, measured.crc, measured.pos)?;
        let sink = Sink::stream(self, measured.pos);
        let written = encode(value, sink).map_err(|e| self.failed.take().unwrap_or(e))?;
        if (written.pos, written.crc) != (measured.pos, measured.crc) {
            // The value is an immutable version: its two encodings agree.
            // Should they not, the file must not be completed.
            return Err(Error::Halted("a snapshot block encoded differently on its second pass".into()));
        }
        self.pad(written.pos)
    }

    /// A rows block of `rows` (see `segment::records`), made twice as an
    /// archive is: a pass for its CRC-32C, then one to the file, a few
    /// thousand rows at a time.
    fn records<I: WindowId>(&mut self, rows: &[Row<I>]) -> Result<(), Error> {
        let at = self.bytes as usize + BLOCK_HEADER;
        let len = records::body_len::<I>(rows.len(), at);
        let mut crc = 0;
        records::encode::<I, Error>(rows, at, &mut |bytes| {
            crc = crc32c::crc32c_append(crc, bytes);
            Ok(())
        })?;
        self.header(ROWS, crc, len)?;
        records::encode::<I, Error>(rows, at, &mut |bytes| self.write(bytes))?;
        self.pad(len)
    }

    fn header(&mut self, kind: u32, crc: u32, len: usize) -> Result<(), Error> {
        let mut head = Vec::with_capacity(BLOCK_HEADER);
        put_u32(&mut head, kind);
        put_u32(&mut head, crc);
        put_u64(&mut head, len as u64);
        self.write(&head)
    }

    /// Zeroes after a body of `len` bytes up to the next block's alignment.
    fn pad(&mut self, len: usize) -> Result<(), Error> {
        self.write(&[0; ALIGN][..len.next_multiple_of(ALIGN) - len])?;
        self.blocks += 1;
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        at("write", self.path, self.file.append(bytes))?;
        self.bytes += bytes.len() as u64;
        self.unhinted += bytes.len();
        if self.unhinted >= WRITE_BEHIND_EVERY {
            at("write", self.path, self.file.write_behind())?;
            self.unhinted = 0;
        }
        Ok(())
    }
}

/// Bytes an archive being written gathers before they go to the file.
const STREAM_CHUNK: usize = 1 << 20;

/// Where rkyv writes an archive: its length and CRC-32C, and, when
/// streaming, the file (through a buffer of [`STREAM_CHUNK`] bytes). Its
/// position starts at 0 at a block body's first byte, which the file
/// aligns to 16 bytes: rkyv's alignment within the archive is its
/// alignment in the file.
struct Sink<'o, 'p> {
    out: Option<&'o mut Out<'p>>,
    buf: Vec<u8>,
    pos: usize,
    crc: u32,
}

impl<'o, 'p> Sink<'o, 'p> {
    fn measure() -> Self {
        Sink { out: None, buf: Vec::new(), pos: 0, crc: 0 }
    }

    /// A sink writing an archive of `len` bytes to `out`.
    fn stream(out: &'o mut Out<'p>, len: usize) -> Self {
        Sink { out: Some(out), buf: Vec::with_capacity(len.min(STREAM_CHUNK)), pos: 0, crc: 0 }
    }

    fn flush(&mut self) -> Result<(), rancor::Error> {
        let bytes = std::mem::take(&mut self.buf);
        self.send(&bytes)?;
        self.buf = bytes;
        self.buf.clear();
        Ok(())
    }

    /// Writes `bytes` to the file, if streaming; a failure is kept in the
    /// file's [`Out`].
    fn send(&mut self, bytes: &[u8]) -> Result<(), rancor::Error> {
        match self.out.as_deref_mut() {
            Some(out) if !bytes.is_empty() => out.write(bytes).map_err(|e| {
                out.failed = Some(e);
                rancor::Source::new(SinkFailed)
            }),
            _ => Ok(()),
        }
    }
}

/// The error rkyv carries out of a [`Sink`] whose file failed (the file's
/// own error is kept in its [`Out`]).
#[derive(Debug)]
struct SinkFailed;

impl std::fmt::Display for SinkFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the snapshot file could not be written")
    }
}

impl std::error::Error for SinkFailed {}

impl rkyv::ser::Positional for Sink<'_, '_> {
    fn pos(&self) -> usize {
        self.pos
    }
}

impl rkyv::ser::Writer<rancor::Error> for Sink<'_, '_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), rancor::Error> {
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        self.pos += bytes.len();
        if self.out.is_none() {
            return Ok(());
        }
        if self.buf.len() + bytes.len() > STREAM_CHUNK {
            self.flush()?;
        }
        if bytes.len() >= STREAM_CHUNK {
            // A large array goes to the file as it lies.
            self.send(bytes)?;
        } else {
            self.buf.extend_from_slice(bytes);
        }
        Ok(())
    }
}

/// A value a snapshot block holds as an rkyv archive.
trait Encode: for<'a, 'o, 'p> rkyv::Serialize<Strategy<'a, 'o, 'p>> {}

impl<T: for<'a, 'o, 'p> rkyv::Serialize<Strategy<'a, 'o, 'p>>> Encode for T {}

type Strategy<'a, 'o, 'p> =
    rkyv::api::high::HighSerializer<Sink<'o, 'p>, rkyv::ser::allocator::ArenaHandle<'a>, rancor::Error>;

/// What an encoding wrote: its length and CRC-32C.
struct Encoded {
    pos: usize,
    crc: u32,
}

/// Encodes `value` into `sink`.
fn encode<T: Encode>(value: &T, sink: Sink<'_, '_>) -> Result<Encoded, Error> {
    let halted = |e: rancor::Error| Error::Halted(format!("a snapshot could not be encoded: {e}"));
    let mut sink = rkyv::api::high::to_bytes_in::<_, rancor::Error>(value, sink).map_err(halted)?;
    sink.flush().map_err(halted)?;
    Ok(Encoded { pos: sink.pos, crc: sink.crc })
}

/// Writes `version`, which covers the log through record `seq`, as a
/// snapshot in `dir`: to a temporary file, synced, renamed into place, and
/// the directory synced. Returns where and how large. `format` is
/// [`SNAPSHOT_VERSION`] or the one before (no rows blocks).
pub(crate) fn write<I: WindowId, P: Persist + Clone>(
    storage: &dyn Storage,
    dir: &Path,
    version: &Version<I, P>,
    seq: u64,
    format: u32,
) -> Result<Written, Error> {
    debug_assert!(format == SNAPSHOT_VERSION || format + 1 == SNAPSHOT_VERSION, "format {format}");
    let records = format >= 5;
    let path = dir.join(snapshot_name(seq));
    let tmp = dir.join(format!("{}.tmp", snapshot_name(seq)));
    evict_replaced(storage, dir);
    let file = at("create", &tmp, storage.create(&tmp))?;
    let mut out = Out { file, path: &tmp, bytes: 0, blocks: 0, unhinted: 0, failed: None };
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    put_u32(&mut header, format);
    put_u32(&mut header, len32(I::WIDTH));
    put_u64(&mut header, seq);
    header.extend_from_slice(&version.key_secret());
    put_u32(&mut header, 0);
    let crc = crc32c::crc32c(&header);
    put_u32(&mut header, crc);
    out.write(&header)?;

    out.archived(CATALOG, &version.catalog_wire())?;
    let mut windows = 0u64;
    let mut bytes = Vec::new();
    for s in 0..version.segment_count() {
        let SegmentParts { wire, rows, id_blocks, org_ranks, payloads } = version.segment_wire(s, records);
        out.archived(SEGMENT, &wire)?;
        drop(wire);
        if let Some(rows) = rows {
            out.records(rows)?;
        }
        if let Some(blocks) = id_blocks {
            out.archived(ID_BLOCKS, blocks)?;
        }
        if let Some(ranks) = org_ranks {
            out.archived(ORG_RANKS, &ranks.to_wire())?;
        }
        bytes.clear();
        put_u32(&mut bytes, len32(payloads.len()));
        for p in payloads {
            put_sized(&mut bytes, |out| p.persist(out));
        }
        out.block(PAYLOADS, &bytes)?;
        windows += payloads.len() as u64;
    }
    let loose = version.loose();
    bytes.clear();
    put_u32(&mut bytes, len32(loose.len()));
    for (w, p) in &loose {
        codec::put_window(&mut bytes, w);
        put_sized(&mut bytes, |out| p.persist(out));
    }
    out.block(LOOSE, &bytes)?;
    windows += loose.len() as u64;
    bytes.clear();
    put_u64(&mut bytes, out.blocks + 1);
    put_u64(&mut bytes, windows);
    out.block(END, &bytes)?;
    at("fsync", &tmp, out.file.sync())?;
    let written = out.bytes;
    drop(out);
    at("rename", &tmp, storage.rename(&tmp, &path))?;
    at("fsync", dir, storage.sync_dir(dir))?;
    Ok(Written { path, bytes: written })
}

/// Asks the storage to drop the cached bytes of the snapshots in `dir`,
/// which the one about to be written replaces (a hint: see
/// [`Storage::evict`]; failures are ignored). The new file's pages then
/// take the memory theirs leave. Should the checkpoint fail, the old
/// snapshot stays the current one and is read from the disk by the next
/// open; pages of it that the index maps are not dropped.
fn evict_replaced(storage: &dyn Storage, dir: &Path) {
    for name in storage.list(dir).unwrap_or_default() {
        if parse_snapshot_name(&name).is_some() {
            let _ = storage.evict(&dir.join(name));
        }
    }
}

/// A snapshot read back: the log record it covers through, and the index.
#[derive(Debug)]
pub(crate) struct Loaded<I, P> {
    pub(crate) seq: u64,
    pub(crate) image: Image<I, P>,
}

/// Reads the snapshot at `path`.
///
/// # Errors
///
/// [`Error::Io`] if it cannot be read; [`Error::Corrupt`] naming the
/// offset and the problem for an empty, cut, damaged, foreign or newer
/// file, or contents that do not describe a valid index.
pub(crate) fn read<I: WindowId, P: Persist + Send>(storage: &dyn Storage, path: &Path) -> Result<Loaded<I, P>, Error> {
    let owner: SharedBytes = Arc::new(at("read", path, storage.map(path))?);
    parse(path, owner.bytes(), Some(&owner))
}

/// [`read`] of bytes already in memory: `owner`, if given, holds them (the
/// segments then use their arrays where they lie, keeping it alive).
pub(crate) fn parse<I: WindowId, P: Persist + Send>(
    path: &Path,
    bytes: &[u8],
    owner: Option<&SharedBytes>,
) -> Result<Loaded<I, P>, Error> {
    let corrupt =
        |offset: usize, problem| Error::Corrupt { path: path.display().to_string(), offset: offset as u64, problem };
    if bytes.is_empty() {
        return Err(corrupt(0, Corruption::Empty));
    }
    if bytes.len() < HEADER {
        if !MAGIC.starts_with(&bytes[..bytes.len().min(MAGIC.len())]) {
            return Err(corrupt(0, Corruption::BadMagic { expected: "snapshot" }));
        }
        return Err(corrupt(0, Corruption::Truncated { needed: HEADER as u64, found: bytes.len() as u64 }));
    }
    if &bytes[..8] != MAGIC {
        return Err(corrupt(0, Corruption::BadMagic { expected: "snapshot" }));
    }
    if crc32c::crc32c(&bytes[..HEADER - 4]) != le_u32(bytes, HEADER - 4) {
        return Err(corrupt(HEADER - 4, Corruption::Checksum));
    }
    let version = le_u32(bytes, 8);
    if !(OLDEST_SNAPSHOT_VERSION..=SNAPSHOT_VERSION).contains(&version) {
        return Err(corrupt(8, Corruption::UnsupportedVersion { found: version, supported: SNAPSHOT_VERSION }));
    }
    let width = le_u32(bytes, 12);
    if width as usize != I::WIDTH {
        return Err(corrupt(12, Corruption::WrongIdType { found: width, expected: len32(I::WIDTH) }));
    }
    let seq = le_u64(bytes, 16);
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&bytes[24..56]);

    // A checksum failure of the first of `blocks` whose bytes are damaged.
    let verified = |blocks: &[Unchecked<'_>]| match first_damaged(blocks) {
        Some(offset) => Err(corrupt(offset, Corruption::Checksum)),
        None => Ok(()),
    };
    let mut at = HEADER;
    let mut blocks = 0u64;
    // The next block, which must be of one of the kinds `wants`, its
    // checksum not yet verified (see `Unchecked`).
    let mut next = |wants: &[u32]| -> Result<Unchecked<'_>, Error> {
        let rest = &bytes[at..];
        if rest.len() < BLOCK_HEADER {
            return Err(corrupt(at, Corruption::Truncated { needed: BLOCK_HEADER as u64, found: rest.len() as u64 }));
        }
        let (kind, crc, len) = (le_u32(rest, 0), le_u32(rest, 4), le_u64(rest, 8));
        if len > (rest.len() - BLOCK_HEADER) as u64 {
            return Err(corrupt(at, Corruption::Truncated { needed: len, found: (rest.len() - BLOCK_HEADER) as u64 }));
        }
        let block = Unchecked { offset: at, kind, crc, body: &rest[BLOCK_HEADER..BLOCK_HEADER + len as usize] };
        // A block of the wrong kind, or with damaged padding, is named as
        // damaged if its bytes are.
        if !wants.contains(&kind) {
            verified(&[block])?;
            let want = wants.iter().map(u32::to_string).collect::<Vec<_>>().join(" or ");
            return Err(corrupt(at, Corruption::Invalid(format!("block of kind {kind} where kind {want} belongs"))));
        }
        let end = at + BLOCK_HEADER + len as usize;
        let padded = end.next_multiple_of(ALIGN).min(bytes.len());
        if bytes[end..padded].iter().any(|&b| b != 0) {
            verified(&[block])?;
            return Err(corrupt(end, Corruption::Invalid("padding after a block is not zero".into())));
        }
        at = padded;
        blocks += 1;
        Ok(block)
    };
    // `error`, unless one of `blocks` is damaged: damage is named before
    // anything read from it.
    let damaged = |blocks: &[Unchecked<'_>], error: Error| verified(blocks).err().unwrap_or(error);
    let invalid = |offset: usize, what: String| corrupt(offset, Corruption::Invalid(what));

    let catalog_block = next(&[CATALOG])?;
    verified(&[catalog_block])?;
    let catalog = with_archive::<ArchivedCatalogWire, _>(catalog_block.body, Catalog::from_archived)
        .map_err(|e| invalid(catalog_block.offset, format!("catalog: {e}")))?;
    let places = catalog.places_len();
    let mut segments = Vec::new();
    let mut windows = 0u64;
    let loose = loop {
        let first = next(&[SEGMENT, LOOSE])?;
        if first.kind == LOOSE {
            verified(&[first])?;
            break loose_windows::<I, P>(first.body)
                .map_err(|e| invalid(first.offset, format!("loose windows: {e}")))?;
        }
        // A segment's blocks: the segment, its id blocks and organization
        // ranks if it has them, then its payloads.
        let mut group = vec![first];
        let mut block = next(&[ROWS, ID_BLOCKS, ORG_RANKS, PAYLOADS]).map_err(|e| damaged(&group, e))?;
        let rows = if block.kind == ROWS {
            group.push(block);
            if version < 5 {
                let e = invalid(block.offset, format!("a rows block in a file of format {version}"));
                return Err(damaged(&group, e));
            }
            let rows = (block.body, block.offset + BLOCK_HEADER);
            block = next(&[ID_BLOCKS, ORG_RANKS, PAYLOADS]).map_err(|e| damaged(&group, e))?;
            Some(rows)
        } else {
            None
        };
        let id_blocks = if block.kind == ID_BLOCKS {
            group.push(block);
            if version < 3 {
                let e = invalid(block.offset, format!("id blocks in a file of format {version}"));
                return Err(damaged(&group, e));
            }
            block = next(&[ORG_RANKS, PAYLOADS]).map_err(|e| damaged(&group, e))?;
            Some(group[group.len() - 1].body)
        } else {
            None
        };
        let org_ranks = if block.kind == ORG_RANKS {
            group.push(block);
            if version < 4 {
                let e = invalid(block.offset, format!("organization ranks in a file of format {version}"));
                return Err(damaged(&group, e));
            }
            block = next(&[PAYLOADS]).map_err(|e| damaged(&group, e))?;
            Some(group[group.len() - 1].body)
        } else {
            None
        };
        let pay = block;
        group.push(pay);
        // Files before format 3 have no id blocks: large segments get them.
        let build_id_blocks = version < 3;
        let convert = || {
            with_archive::<ArchivedSegmentWire<'_>, _>(first.body, |a| {
                with_optional_archive::<ArchivedPostings, _>(id_blocks, |b| {
                    with_optional_archive::<ArchivedOrgRanksWire, _>(org_ranks, |r| {
                        let extras = Extras { id_blocks: b, org_ranks: r, build_id_blocks, owner, rows };
                        segment_from_archived::<I>(a, places, extras)
                    })
                })
            })
        };
        // A large segment's checksums are verified, and its payloads read,
        // on threads of their own while it converts (on three threads):
        // done first, one after the other, they left a core idle for a
        // fifth of a 10M open. Converting unverified bytes is safe (every
        // archive is validated, every bound checked); damage is still
        // reported as such, before whatever the conversion made of it.
        let group_bytes: usize = group.iter().map(|b| b.body.len()).sum();
        let (seg, pays) = if group_bytes >= PARALLEL_CHECK_BYTES {
            let (seg, pays, bad) = std::thread::scope(|s| {
                let bad = s.spawn(|| first_damaged(&group));
                let pays = s.spawn(|| payload_values::<P>(pay.body));
                let seg = convert();
                (seg, pays.join(), bad.join())
            });
            // A thread that panicked (a bug) verified nothing.
            if let Some(offset) = bad.unwrap_or(Some(first.offset)) {
                return Err(corrupt(offset, Corruption::Checksum));
            }
            (seg, pays.unwrap_or_else(|_| Err("a thread reading them panicked".into())))
        } else {
            verified(&group)?;
            (convert(), payload_values::<P>(pay.body))
        };
        let seg = seg.map_err(|e| invalid(first.offset, format!("segment {}: {e}", segments.len())))?;
        let payloads = pays
            .and_then(|p| match p.len() == seg.len() {
                true => Ok(p),
                false => Err(format!("{} payloads for {} rows", p.len(), seg.len())),
            })
            .map_err(|e| invalid(pay.offset, format!("payloads: {e}")))?;
        windows += payloads.len() as u64;
        segments.push((seg, payloads));
    };
    windows += loose.len() as u64;
    let all: Vec<&crate::segment::Segment<I>> = segments.iter().map(|(s, _)| s).collect();
    if let Some(id) = crate::segment::repeated_live_id(&all) {
        return Err(invalid(HEADER, format!("window {id} is live in two segments")));
    }
    let end = next(&[END])?;
    verified(&[end])?;
    let mut b = Bytes::new(end.body);
    let (count, total) = (b.u64(), b.u64());
    if count != Ok(blocks) || total != Ok(windows) || !b.is_empty() || at != bytes.len() {
        return Err(invalid(end.offset, "the end block does not match the blocks before it".into()));
    }
    Ok(Loaded { seq, image: Image { key: CursorKey::from_bytes(secret), catalog, segments, loose } })
}

/// Blocks of a segment from this many bytes on have their checksums
/// verified, and their payloads read, beside the segment's conversion.
const PARALLEL_CHECK_BYTES: usize = 4 << 20;

/// A block located in the file, its checksum not yet verified.
#[derive(Clone, Copy)]
struct Unchecked<'a> {
    offset: usize,
    kind: u32,
    crc: u32,
    body: &'a [u8],
}

/// The offset of the first of `blocks` whose body fails its checksum.
fn first_damaged(blocks: &[Unchecked<'_>]) -> Option<usize> {
    blocks.iter().find(|b| crc32c::crc32c(b.body) != b.crc).map(|b| b.offset)
}

/// Runs `f` on the validated archive in `body` (copied to aligned memory
/// first if it is not aligned as rkyv needs).
fn with_archive<A, T>(body: &[u8], f: impl FnOnce(&A) -> Result<T, String>) -> Result<T, String>
where
    A: rkyv::Portable + for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rancor::Error>>,
{
    let copy;
    let aligned = if (body.as_ptr() as usize).is_multiple_of(ALIGN) {
        body
    } else {
        let mut v = AlignedVec::<ALIGN>::with_capacity(body.len());
        v.extend_from_slice(body);
        copy = v;
        &copy[..]
    };
    let archived = rkyv::access::<A, rancor::Error>(aligned).map_err(|e| e.to_string())?;
    f(archived)
}

/// [`with_archive`] of a block the file may leave out.
fn with_optional_archive<A, T>(
    body: Option<&[u8]>,
    f: impl FnOnce(Option<&A>) -> Result<T, String>,
) -> Result<T, String>
where
    A: rkyv::Portable + for<'a> rkyv::bytecheck::CheckBytes<rkyv::api::high::HighValidator<'a, rancor::Error>>,
{
    match body {
        None => f(None),
        Some(body) => with_archive::<A, _>(body, |a| f(Some(a))),
    }
}

/// The payloads of a PAYLOADS block, however many it holds (the caller
/// checks they are one a row).
fn payload_values<P: Persist>(body: &[u8]) -> Result<Vec<P>, String> {
    let mut b = Bytes::new(body);
    let n = b.count(4)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(P::restore(b.sized()?)?);
    }
    b.end()?;
    Ok(out)
}

fn loose_windows<I: WindowId, P: Persist>(body: &[u8]) -> Result<Vec<(crate::Window<I>, P)>, String> {
    let mut b = Bytes::new(body);
    let n = b.count(I::WIDTH + 25 + 4)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let w = codec::window(&mut b)?;
        out.push((w, P::restore(b.sized()?)?));
    }
    b.end()?;
    Ok(out)
}
