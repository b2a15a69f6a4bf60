//! The write-ahead log: every mutation, as a numbered, checksummed record,
//! appended before the write is acknowledged.
//!
//! The log is a run of segment files, `wal-<first sequence number>.log`
//! (20 digits, so names sort in log order). Each starts with a 32-byte
//! header and holds records back to back:
//!
//! ```text
//! segment header   magic "MWINDEXL" | version u32 | id width u32 | first seq u64 | 0u32 | crc u32
//! record           body length u32 | seq u64 | body crc u32 | header crc u32 | body
//! ```
//!
//! Numbers are little-endian; checksums are CRC-32C, each header's over
//! the bytes before it. A record's header checksum makes a damaged length
//! an error rather than a reason to read past the record; a length over
//! [`MAX_RECORD`] is damage, never an allocation. Only the last segment may
//! end in a torn record (bytes appended but never synced): reading stops
//! there and the tail is cut. Anything else that fails a check is an
//! [`Error::Corrupt`] naming the file and offset.

use std::path::{Path, PathBuf};

use super::codec::{le_u32, le_u64, put_u32};
use super::storage::{Storage, StorageFile, WRITE_BEHIND_EVERY, at};
use crate::{Corruption, Error};

/// The largest record body, in bytes (64 MiB).
pub const MAX_RECORD: usize = 64 << 20;

const MAGIC: &[u8; 8] = b"MWINDEXL";
/// The log format this build reads and writes.
pub(crate) const LOG_VERSION: u32 = 1;
pub(crate) const SEGMENT_HEADER: usize = 32;
pub(crate) const RECORD_HEADER: usize = 20;

/// The file name of the log segment whose first record is `seq`.
pub(crate) fn segment_name(seq: u64) -> String {
    format!("wal-{seq:020}.log")
}

/// The first sequence number of a log segment's file name.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn segment_header(id_width: u32, first_seq: u64) -> [u8; SEGMENT_HEADER] {
    let mut h = [0u8; SEGMENT_HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&LOG_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&id_width.to_le_bytes());
    h[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Appends record `seq` with `body` to `out`.
pub(crate) fn frame(out: &mut Vec<u8>, seq: u64, body: &[u8]) {
    let at = out.len();
    put_u32(out, super::codec::len32(body.len()));
    out.extend_from_slice(&seq.to_le_bytes());
    put_u32(out, crc32c::crc32c(body));
    let head = crc32c::crc32c(&out[at..at + 16]);
    put_u32(out, head);
    out.extend_from_slice(body);
}

/// One log segment as read back.
#[derive(Debug)]
pub(crate) struct Scanned {
    /// `(seq, byte range of the body)`, in order.
    pub(crate) records: Vec<(u64, std::ops::Range<usize>)>,
    /// Where the valid records end.
    pub(crate) end: usize,
    /// Whether bytes past `end` were a torn record (cut, not an error).
    pub(crate) torn: bool,
    /// A damaged record, when salvaging: the error, reading having stopped
    /// at `end` before it.
    pub(crate) damage: Option<Error>,
}

/// Reads the records of one segment file. `last`: whether it is the last
/// segment (the only one that may end in a torn record); `first`: the
/// sequence number its name promises; `salvage`: stop at damage and report
/// it instead of failing.
pub(crate) fn scan(
    path: &Path,
    bytes: &[u8],
    id_width: u32,
    first: u64,
    last: bool,
    salvage: bool,
) -> Result<Scanned, Error> {
    let corrupt =
        |offset: usize, problem| Error::Corrupt { path: path.display().to_string(), offset: offset as u64, problem };
    let mut out = Scanned { records: Vec::new(), end: 0, torn: false, damage: None };
    if bytes.len() < SEGMENT_HEADER {
        if last && (bytes.iter().all(|&b| b == 0) || MAGIC.starts_with(&bytes[..bytes.len().min(8)])) {
            // Created, its header never synced: a torn, empty segment.
            out.torn = !bytes.is_empty();
            return Ok(out);
        }
        let problem = if bytes.is_empty() {
            Corruption::Empty
        } else {
            Corruption::Truncated { needed: SEGMENT_HEADER as u64, found: bytes.len() as u64 }
        };
        return Err(corrupt(0, problem));
    }
    if &bytes[..8] != MAGIC {
        return Err(corrupt(0, Corruption::BadMagic { expected: "log" }));
    }
    if crc32c::crc32c(&bytes[..28]) != le_u32(bytes, 28) {
        return Err(corrupt(28, Corruption::Checksum));
    }
    let version = le_u32(bytes, 8);
    if version != LOG_VERSION {
        return Err(corrupt(8, Corruption::UnsupportedVersion { found: version, supported: LOG_VERSION }));
    }
    let width = le_u32(bytes, 12);
    if width != id_width {
        return Err(corrupt(12, Corruption::WrongIdType { found: width, expected: id_width }));
    }
    let named = le_u64(bytes, 16);
    if named != first {
        return Err(corrupt(16, Corruption::Sequence { expected: first, found: named }));
    }
    let mut at = SEGMENT_HEADER;
    let mut seq = first;
    out.end = at;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let damage = if rest.len() < RECORD_HEADER {
            if last {
                out.torn = true;
                break;
            }
            Some(Corruption::Truncated { needed: RECORD_HEADER as u64, found: rest.len() as u64 })
        } else if crc32c::crc32c(&rest[..16]) != le_u32(rest, 16) {
            if last && rest.iter().all(|&b| b == 0) {
                // Space the file system extended but never wrote.
                out.torn = true;
                break;
            }
            Some(Corruption::Checksum)
        } else {
            let len = le_u32(rest, 0) as usize;
            let found = le_u64(rest, 4);
            if len > MAX_RECORD {
                Some(Corruption::TooLong { claimed: len as u64, max: MAX_RECORD as u64 })
            } else if found != seq || seq == u64::MAX {
                // The last number is never handed out: no record follows it.
                Some(Corruption::Sequence { expected: seq, found })
            } else if rest.len() < RECORD_HEADER + len {
                if last {
                    out.torn = true;
                    break;
                }
                Some(Corruption::Truncated { needed: (RECORD_HEADER + len) as u64, found: rest.len() as u64 })
            } else if crc32c::crc32c(&rest[RECORD_HEADER..RECORD_HEADER + len]) != le_u32(rest, 12) {
                Some(Corruption::Checksum)
            } else {
                out.records.push((seq, at + RECORD_HEADER..at + RECORD_HEADER + len));
                seq += 1;
                at += RECORD_HEADER + len;
                out.end = at;
                None
            }
        };
        if let Some(problem) = damage {
            let e = corrupt(at, problem);
            if !salvage {
                return Err(e);
            }
            out.damage = Some(e);
            break;
        }
    }
    Ok(out)
}

/// The segment being appended to.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    dir: PathBuf,
    file: Box<dyn StorageFile>,
    /// Bytes in the file (header included).
    pub(crate) bytes: u64,
    /// Whether the directory entry is known durable.
    dir_synced: bool,
    /// Bytes appended since the last [`StorageFile::write_behind`].
    unhinted: u64,
}

impl Segment {
    /// Creates segment `first_seq` in `dir` with its header. Nothing is
    /// synced yet: the first [`Segment::sync`] makes the file and its
    /// directory entry durable, so creating one costs a writer no sync.
    pub(crate) fn create(storage: &dyn Storage, dir: &Path, id_width: u32, first_seq: u64) -> Result<Self, Error> {
        let path = dir.join(segment_name(first_seq));
        let mut file = at("create", &path, storage.create(&path))?;
        at("write", &path, file.append(&segment_header(id_width, first_seq)))?;
        Ok(Segment {
            path,
            dir: dir.to_path_buf(),
            file,
            bytes: SEGMENT_HEADER as u64,
            dir_synced: false,
            unhinted: SEGMENT_HEADER as u64,
        })
    }

    pub(crate) fn append(&mut self, framed: &[u8]) -> Result<(), Error> {
        at("write", &self.path, self.file.append(framed))?;
        self.bytes += framed.len() as u64;
        self.unhinted += framed.len() as u64;
        Ok(())
    }

    /// Starts writing back what was appended, every
    /// [`WRITE_BEHIND_EVERY`] bytes (for a log that is not synced as it
    /// goes: a sync at the segment's end then has about that much to
    /// write, not the whole segment).
    pub(crate) fn write_behind(&mut self) -> Result<(), Error> {
        if self.unhinted >= WRITE_BEHIND_EVERY as u64 {
            at("write", &self.path, self.file.write_behind())?;
            self.unhinted = 0;
        }
        Ok(())
    }

    /// Makes the segment durable: its bytes, and (the first time) its
    /// directory entry.
    pub(crate) fn sync(&mut self, storage: &dyn Storage) -> Result<(), Error> {
        at("fsync", &self.path, self.file.sync())?;
        if !self.dir_synced {
            at("fsync", &self.dir, storage.sync_dir(&self.dir))?;
            self.dir_synced = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(records: &[&[u8]]) -> Vec<u8> {
        let mut out = segment_header(8, 5).to_vec();
        for (k, r) in records.iter().enumerate() {
            frame(&mut out, 5 + k as u64, r);
        }
        out
    }

    fn bodies(bytes: &[u8], s: &Scanned) -> Vec<Vec<u8>> {
        s.records.iter().map(|(_, r)| bytes[r.clone()].to_vec()).collect()
    }

    #[test]
    fn names_sort_in_log_order() {
        assert_eq!(segment_name(42), "wal-00000000000000000042.log");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("wal-42.log"), None);
        assert!(segment_name(9) < segment_name(10));
    }

    #[test]
    fn every_cut_of_the_last_segment_reads_a_prefix() {
        let records: [&[u8]; 3] = [b"one", b"", b"three!"];
        let bytes = segment(&records);
        for cut in 0..=bytes.len() {
            let s = scan(Path::new("x"), &bytes[..cut], 8, 5, true, false).expect("a cut is torn, not corrupt");
            let got = bodies(&bytes, &s);
            assert_eq!(got, records[..got.len()].iter().map(|r| r.to_vec()).collect::<Vec<_>>());
            assert_eq!(s.torn, s.end < cut, "cut {cut}");
            if cut == bytes.len() {
                assert_eq!(got.len(), 3);
            }
        }
    }

    #[test]
    fn a_cut_before_the_last_segment_is_corruption() {
        let bytes = segment(&[b"one", b"two"]);
        let e = scan(Path::new("x"), &bytes[..bytes.len() - 1], 8, 5, false, false).unwrap_err();
        assert!(matches!(e, Error::Corrupt { problem: Corruption::Truncated { .. }, .. }), "{e}");
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let bytes = segment(&[b"one", b"two", b"three"]);
        for at in 0..bytes.len() {
            for bit in [0x01, 0x80] {
                let mut bad = bytes.clone();
                bad[at] ^= bit;
                match scan(Path::new("x"), &bad, 8, 5, true, false) {
                    Err(Error::Corrupt { .. }) => {}
                    Ok(s) => panic!("flip at {at} read as {:?} (torn {})", bodies(&bad, &s), s.torn),
                    Err(e) => panic!("{e}"),
                }
            }
        }
    }

    #[test]
    fn salvage_stops_at_damage() {
        let mut bytes = segment(&[b"one", b"two", b"three"]);
        let second = SEGMENT_HEADER + RECORD_HEADER + 3;
        bytes[second + RECORD_HEADER] ^= 1;
        let s = scan(Path::new("x"), &bytes, 8, 5, true, true).expect("salvaged");
        assert_eq!(bodies(&bytes, &s), vec![b"one".to_vec()]);
        assert_eq!(s.end, second);
        assert!(
            matches!(s.damage, Some(Error::Corrupt { offset, problem: Corruption::Checksum, .. }) if offset == second as u64)
        );
    }

    #[test]
    fn a_huge_length_is_corruption_not_an_allocation() {
        let mut bytes = segment_header(8, 1).to_vec();
        let mut rec = Vec::new();
        put_u32(&mut rec, u32::MAX);
        rec.extend_from_slice(&1u64.to_le_bytes());
        put_u32(&mut rec, 0);
        let head = crc32c::crc32c(&rec[..16]);
        put_u32(&mut rec, head);
        bytes.extend_from_slice(&rec);
        let e = scan(Path::new("x"), &bytes, 8, 1, true, false).unwrap_err();
        assert!(matches!(e, Error::Corrupt { problem: Corruption::TooLong { .. }, .. }), "{e}");
    }

    #[test]
    fn foreign_files_are_named() {
        let e = scan(Path::new("x"), b"hello, this is not a log at all!!", 8, 1, true, false).unwrap_err();
        assert!(matches!(e, Error::Corrupt { problem: Corruption::BadMagic { .. }, .. }), "{e}");
        let e = scan(Path::new("x"), &segment(&[]), 16, 5, true, false).unwrap_err();
        assert!(matches!(e, Error::Corrupt { problem: Corruption::WrongIdType { found: 8, expected: 16 }, .. }));
        let mut newer = segment_header(8, 5);
        newer[8] = 2;
        let crc = crc32c::crc32c(&newer[..28]);
        newer[28..32].copy_from_slice(&crc.to_le_bytes());
        let e = scan(Path::new("x"), &newer, 8, 5, true, false).unwrap_err();
        assert!(matches!(e, Error::Corrupt { problem: Corruption::UnsupportedVersion { found: 2, .. }, .. }));
    }
}
