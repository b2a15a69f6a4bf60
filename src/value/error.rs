//! The one error type of the crate.

use super::id::OrgId;
use super::time::Timestamp;

/// Every way an operation of mwindex can fail.
///
/// Messages are written for the person reading a log or an API response;
/// match on the variant, not on the text.
///
/// # Example
///
/// ```
/// use mwindex::{Error, Timestamp, Window};
///
/// let t = Timestamp::from_secs(1_700_000_000)?;
/// let err = Window::new(1u64, t, t, mwindex::OrgId(1)).unwrap_err();
/// assert!(matches!(err, Error::EmptyInterval { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A window's end is not after its start; windows are half-open `[start, end)`.
    #[error("a window must end after it starts: start {start}, end {end}")]
    EmptyInterval {
        /// The window's start.
        start: Timestamp,
        /// The window's end, which is at or before `start`.
        end: Timestamp,
    },
    /// A timestamp is outside the supported range or not valid ISO 8601 / RFC 3339.
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    /// An identifier could not be parsed (for example a malformed ULID).
    #[error("invalid identifier: {0}")]
    InvalidId(String),
    /// `insert` was given an id that the index already holds; use `upsert` to replace.
    #[error("a window with id {0} already exists")]
    DuplicateId(String),
    /// A window or query names an organization that was never added to the index.
    #[error("unknown organization {0}")]
    UnknownOrganization(OrgId),
    /// `add_organization` was given an organization that already exists.
    #[error("organization {0} already exists")]
    DuplicateOrganization(OrgId),
    /// Making `parent` the parent of `org` would create a cycle in the organization tree.
    #[error("organization {parent} cannot become the parent of {org}: it is {org} itself or one of its descendants")]
    OrganizationCycle {
        /// The organization being moved.
        org: OrgId,
        /// The requested parent.
        parent: OrgId,
    },
    /// A page size outside `1..=50`.
    #[error("page size must be between 1 and {max}, got {got}")]
    InvalidPageSize {
        /// The requested page size.
        got: usize,
        /// The largest page size allowed.
        max: usize,
    },
    /// An overlap query whose `after` is not strictly before its `before`.
    #[error("`after` ({after}) must be before `before` ({before})")]
    InvalidRange {
        /// The lower bound given.
        after: Timestamp,
        /// The upper bound given.
        before: Timestamp,
    },
    /// The query combines options that cannot be used together.
    #[error("invalid query: {0}")]
    InvalidQuery(&'static str),
    /// The page cursor could not be accepted; see [`CursorError`].
    #[error("invalid cursor: {0}")]
    Cursor(#[from] CursorError),
    /// The index cannot number one more window, payload, charger, site,
    /// organization or placement (distinct charger, site and organization
    /// combination): each is counted in 32 bits, so at most `u32::MAX - 1`
    /// of each are supported.
    #[error(
        "the index is full: at most {0} windows, payloads, chargers, sites, organizations or placements are supported"
    )]
    CapacityExceeded(u64),
    /// A file operation of a durable index failed (the storage's own error,
    /// kept as its kind and message).
    #[error("{operation} {path}: {message}")]
    Io {
        /// What was being done: `"write"`, `"fsync"`, `"rename"`, ...
        operation: &'static str,
        /// The file or directory.
        path: String,
        /// The storage error's kind.
        kind: std::io::ErrorKind,
        /// The storage error's message.
        message: String,
    },
    /// A snapshot or log file is damaged, or is not a file of this index.
    #[error("{path} at byte {offset}: {problem}")]
    Corrupt {
        /// The file.
        path: String,
        /// Where in the file the problem was found.
        offset: u64,
        /// What is wrong there.
        problem: Corruption,
    },
    /// Another process (or another handle in this one) holds the data
    /// directory's lock file.
    #[error("{0} is in use: another process holds its lock file")]
    Locked(String),
    /// A durable index stopped accepting writes after a storage failure,
    /// which left it unsure what reached the disk; reopening it recovers.
    #[error("the durable index accepts no more writes after a storage failure ({0}); reopen it to recover")]
    Halted(String),
    /// A mutation encodes to more bytes than one log record may hold.
    #[error("a mutation of {bytes} bytes is larger than a log record may be ({max} bytes); split it")]
    RecordTooLarge {
        /// Its encoded size.
        bytes: usize,
        /// The largest record the log accepts.
        max: usize,
    },
}

/// What is wrong with a damaged snapshot or log file (see [`Error::Corrupt`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// The file ends before its header or its body does.
    #[error("the file ends early: {needed} bytes expected, {found} present")]
    Truncated {
        /// Bytes the header says the file holds (or a header's size).
        needed: u64,
        /// Bytes the file holds.
        found: u64,
    },
    /// The file does not start with the magic number of its kind: it is
    /// not an mwindex snapshot or log.
    #[error("not an mwindex {expected} file (wrong magic number)")]
    BadMagic {
        /// The kind of file expected: `"snapshot"` or `"log"`.
        expected: &'static str,
    },
    /// The file was written by a newer (or unknown) version of the format.
    #[error("format version {found} is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The file holds windows whose ids are another type than the index's.
    #[error("the file holds {found}-byte window ids, the index {expected}-byte ones")]
    WrongIdType {
        /// Id width in the file.
        found: u32,
        /// Id width of the index.
        expected: u32,
    },
    /// A checksum does not match the bytes it covers.
    #[error("checksum mismatch")]
    Checksum,
    /// A length field claims more bytes than a record may hold.
    #[error("a length of {claimed} bytes is over the bound of {max}")]
    TooLong {
        /// The length claimed.
        claimed: u64,
        /// The bound.
        max: u64,
    },
    /// A record's sequence number is not the one that must come next.
    #[error("record {found} where record {expected} must come")]
    Sequence {
        /// The sequence number expected.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// The bytes pass their checksum but do not describe a valid index
    /// (or a valid mutation).
    #[error("invalid contents: {0}")]
    Invalid(String),
}

/// Why a page cursor was rejected.
///
/// A cursor is an opaque string minted by [`Index::query`](crate::Index::query);
/// any other string is rejected with one of these, never with a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CursorError {
    /// Not URL-safe base64, or not the length a cursor of this index has.
    #[error("the cursor is malformed (not a cursor issued by this index)")]
    Malformed,
    /// The cursor was minted by a different, incompatible version of the format.
    #[error("the cursor format version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The authentication tag does not match: the cursor was altered or minted with another key.
    #[error("the cursor failed authentication (altered, or issued under another key)")]
    Forged,
    /// The cursor is genuine but was issued for a query with other filters, scope or order.
    #[error("the cursor belongs to a different query; repeat the original filters, scope and order")]
    WrongQuery,
}

/// The crate's `Result` alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
