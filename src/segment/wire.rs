//! A segment as a snapshot stores it: its rows as columns (ids as the
//! bytes [`WindowId::to_bytes`] writes, so the format does not depend on
//! the id type's layout), every index structure as it is (so loading sorts
//! and builds nothing), and its dead rows.
//!
//! Writing borrows the large arrays (rkyv's `Inline`); reading converts the
//! archived, already validated bytes back, checking what a query relies on
//! never to index out of bounds: a snapshot is input.

use std::sync::Arc;

use rkyv::with::Inline;

use super::directory::Directory;
use super::end_column::EndColumn;
use super::ends::SortedEnds;
use super::org_ranks::{ArchivedOrgRanksWire, OrgRanks};
use super::postings::{ArchivedPostings, Postings};
use super::sorted_ids::SortedIds;
use super::{BLOCK, ID_BLOCK, ID_BLOCK_MIN_ROWS, Row, Segment, SegmentData, TIERS, Tier, build, records, row32};
use crate::WindowId;
use crate::memory::{Column, SharedBytes, huge_pages};

/// A segment's ids, ascending: offsets (as in memory) or id bytes, or (from
/// format 2 on) a dense run of integer ids, which has no id directory.
#[derive(rkyv::Archive, rkyv::Serialize)]
pub(crate) enum IdsWire<'a> {
    Offsets {
        base: u64,
        #[rkyv(with = Inline)]
        offsets: &'a Column<u32>,
    },
    Whole(Vec<u8>),
    /// Added last, so the tags of the others (and the files of format 1)
    /// stay as they were.
    Dense {
        base: u64,
        len: u64,
    },
}

/// One segment, as written.
#[derive(rkyv::Archive, rkyv::Serialize)]
pub(crate) struct SegmentWire<'a> {
    #[rkyv(with = Starts)]
    starts: Columns<'a>,
    #[rkyv(with = Ends)]
    ends: Columns<'a>,
    #[rkyv(with = Places)]
    places: Columns<'a>,
    /// `WIDTH` bytes per row.
    #[rkyv(with = Ids)]
    ids: Columns<'a>,
    tiers: [Tier; TIERS],
    #[rkyv(with = Inline)]
    block_max_end: &'a Column<i64>,
    #[rkyv(with = Inline)]
    block_min_end: &'a Column<i64>,
    #[rkyv(with = Inline)]
    long_ends: &'a EndColumn,
    ids_sorted: IdsWire<'a>,
    #[rkyv(with = Inline)]
    id_rows: &'a Column<u32>,
    #[rkyv(with = Inline)]
    sorted_ends: &'a SortedEnds,
    #[rkyv(with = Inline)]
    start_dirs: &'a [Directory; TIERS],
    #[rkyv(with = Inline)]
    id_dir: &'a Directory,
    #[rkyv(with = Inline)]
    by_charger: &'a Postings,
    #[rkyv(with = Inline)]
    by_site: &'a Postings,
    #[rkyv(with = Inline)]
    by_org: &'a Postings,
    /// Dead rows, ascending.
    dead: Vec<u32>,
}

impl<'a> SegmentWire<'a> {
    /// The wire form of `seg`, whose dead rows are `dead` (ascending);
    /// with its rows as columns, or without them (`columns` false: a rows
    /// block holds them).
    pub(crate) fn of<I: WindowId>(seg: &'a Segment<I>, dead: Vec<u32>, columns: bool) -> Self {
        let d: &'a SegmentData<I> = &seg.data;
        let rows: Columns<'a> = if columns { &d.rows } else { &NoRows };
        let ids_sorted = match &d.ids_sorted {
            SortedIds::Dense { base, len } => IdsWire::Dense { base: *base, len: *len as u64 },
            SortedIds::Offsets { base, offsets } => IdsWire::Offsets { base: *base, offsets },
            SortedIds::Whole(whole) => {
                let mut bytes = Vec::with_capacity(whole.len() * I::WIDTH);
                whole.iter().for_each(|id| id.to_bytes(&mut bytes));
                IdsWire::Whole(bytes)
            }
        };
        SegmentWire {
            starts: rows,
            ends: rows,
            places: rows,
            ids: rows,
            tiers: d.tiers,
            block_max_end: &d.block_max_end,
            block_min_end: &d.block_min_end,
            long_ends: &d.long_ends,
            ids_sorted,
            id_rows: &d.id_rows,
            sorted_ends: &d.ends,
            start_dirs: &d.start_dirs,
            id_dir: &d.id_dir,
            by_charger: &d.by_charger,
            by_site: &d.by_site,
            by_org: &d.by_org,
            dead,
        }
    }
}

/// A segment's rows as a snapshot writes them: column by column, each
/// column's bytes made a few thousand rows at a time as they are written
/// (copying the columns out whole cost 28 bytes of fresh memory a row).
type Columns<'a> = &'a dyn RowColumns;

/// The row columns a snapshot stores.
#[derive(Clone, Copy)]
enum Field {
    Start,
    End,
    Place,
    Id,
}

/// Rows that can be written column by column.
trait RowColumns: Sync {
    fn rows(&self) -> usize;
    /// Bytes of one id.
    fn id_width(&self) -> usize;
    /// Appends the archived (little-endian) bytes of `column` for `rows`.
    fn column_bytes(&self, column: Field, rows: std::ops::Range<usize>, out: &mut Vec<u8>);
}

impl<I: WindowId> RowColumns for Column<Row<I>> {
    fn rows(&self) -> usize {
        self.len()
    }

    fn id_width(&self) -> usize {
        I::WIDTH
    }

    fn column_bytes(&self, column: Field, rows: std::ops::Range<usize>, out: &mut Vec<u8>) {
        let rows = &self[rows];
        match column {
            Field::Start => rows.iter().for_each(|r| out.extend_from_slice(&r.start.to_le_bytes())),
            Field::End => rows.iter().for_each(|r| out.extend_from_slice(&r.end.to_le_bytes())),
            Field::Place => rows.iter().for_each(|r| out.extend_from_slice(&r.place.to_le_bytes())),
            Field::Id => rows.iter().for_each(|r| r.id.to_bytes(out)),
        }
    }
}

/// No rows: the columns of a segment whose rows a rows block holds.
struct NoRows;

impl RowColumns for NoRows {
    fn rows(&self) -> usize {
        0
    }

    fn id_width(&self) -> usize {
        0
    }

    fn column_bytes(&self, _: Field, _: std::ops::Range<usize>, _: &mut Vec<u8>) {}
}

/// Rows a column is written from at a time.
const COLUMN_CHUNK: usize = 4096;

/// Archives one column of rows as the `Vec` of `T` it would be: the same
/// bytes, so files do not tell how they were written.
fn serialize_column<T, S>(rows: Columns<'_>, column: Field, s: &mut S) -> Result<rkyv::vec::VecResolver, S::Error>
where
    S: rkyv::rancor::Fallible + rkyv::ser::Writer + ?Sized,
{
    use rkyv::ser::WriterExt;
    let pos = s.align_for::<T>()?;
    let n = rows.rows();
    let mut buf = Vec::new();
    for from in (0..n).step_by(COLUMN_CHUNK) {
        buf.clear();
        rows.column_bytes(column, from..n.min(from + COLUMN_CHUNK), &mut buf);
        s.write(&buf)?;
    }
    Ok(rkyv::vec::VecResolver::from_pos(pos))
}

/// The "with" types writing each row column (see [`Columns`]): the
/// column, its archived element, and its length in elements.
macro_rules! row_column {
    ($(#[$doc:meta])* $with:ident, $column:expr, $archived:ty, $len:expr) => {
        $(#[$doc])*
        struct $with;

        impl rkyv::with::ArchiveWith<Columns<'_>> for $with {
            type Archived = rkyv::vec::ArchivedVec<$archived>;
            type Resolver = rkyv::vec::VecResolver;

            fn resolve_with(rows: &Columns<'_>, resolver: Self::Resolver, out: rkyv::Place<Self::Archived>) {
                let len: fn(Columns<'_>) -> usize = $len;
                rkyv::vec::ArchivedVec::resolve_from_len(len(*rows), resolver, out);
            }
        }

        impl<S> rkyv::with::SerializeWith<Columns<'_>, S> for $with
        where
            S: rkyv::rancor::Fallible + rkyv::ser::Writer + ?Sized,
        {
            fn serialize_with(rows: &Columns<'_>, s: &mut S) -> Result<Self::Resolver, S::Error> {
                serialize_column::<$archived, S>(*rows, $column, s)
            }
        }
    };
}

row_column!(
    /// Each row's start.
    Starts, Field::Start, rkyv::rend::i64_le, |rows| rows.rows()
);
row_column!(
    /// Each row's end.
    Ends, Field::End, rkyv::rend::i64_le, |rows| rows.rows()
);
row_column!(
    /// Each row's placement.
    Places, Field::Place, rkyv::rend::u32_le, |rows| rows.rows()
);
row_column!(
    /// Each row's id as `WindowId::to_bytes` writes it, `WIDTH` bytes.
    Ids, Field::Id, u8, |rows| rows.rows() * rows.id_width()
);

/// Ids from their bytes, `I::WIDTH` each.
fn ids_of<I: WindowId>(bytes: &[u8]) -> Result<Vec<I>, String> {
    if I::WIDTH == 0 || !bytes.len().is_multiple_of(I::WIDTH) {
        return Err(format!("{} id bytes are not a whole number of {}-byte ids", bytes.len(), I::WIDTH));
    }
    let mut out = huge_pages::with_capacity(bytes.len() / I::WIDTH);
    for chunk in bytes.chunks_exact(I::WIDTH) {
        out.push(I::from_bytes(chunk).ok_or("an invalid window id")?);
    }
    Ok(out)
}

/// Segments from this many rows on are converted on three threads.
const PARALLEL_ROWS: usize = 1 << 18;

const PANICKED: &str = "a conversion thread panicked";

/// The rows built from the archive's row columns (`None` when they came
/// from a rows block), the tiers, the block augmentation and the long
/// tier's end column.
type RowParts<I> = (Option<Vec<Row<I>>>, [Tier; TIERS], Column<i64>, Column<i64>, EndColumn);

/// The rows, from `records` (a rows block) or else the archive's row
/// columns, checked to be valid windows of known placements with payload
/// slots equal to their numbers, tiled by the tiers in `(start, id)`
/// order; the block augmentation and the long tier's end column.
fn rows_of<I: WindowId>(
    a: &ArchivedSegmentWire<'_>,
    places: usize,
    records: Option<&Column<Row<I>>>,
    owner: Option<&SharedBytes>,
) -> Result<RowParts<I>, String> {
    let valid = |k: usize, row: &Row<I>| {
        let in_range = |t: i64| crate::Timestamp::from_micros(t).is_ok();
        let (start, end, place) = (row.start, row.end, row.place);
        if end <= start || !in_range(start) || !in_range(end) || place as usize >= places || row.slot as usize != k {
            return Err(format!("row {k} is not a valid window (start {start}, end {end}, placement {place})"));
        }
        Ok(())
    };
    let built = match records {
        Some(records) => {
            if !a.starts.is_empty() || !a.ends.is_empty() || !a.places.is_empty() || !a.ids.is_empty() {
                return Err("a segment with both row columns and a rows block".into());
            }
            records.iter().enumerate().try_for_each(|(k, row)| valid(k, row))?;
            None
        }
        None => {
            let n = a.starts.len();
            let ids: Vec<I> = ids_of(&a.ids)?;
            if a.ends.len() != n || a.places.len() != n || ids.len() != n {
                return Err("a segment's row columns differ in length".into());
            }
            let mut rows = huge_pages::with_capacity(n);
            let columns = a.starts.iter().zip(a.ends.iter()).zip(a.places.iter());
            for (k, (((start, end), place), id)) in columns.zip(ids).enumerate() {
                let row = Row {
                    start: start.to_native(),
                    end: end.to_native(),
                    id,
                    place: place.to_native(),
                    slot: row32(k),
                };
                valid(k, &row)?;
                rows.push(row);
            }
            Some(rows)
        }
    };
    let rows: &[Row<I>] = built.as_deref().or(records.map(|r| &r[..])).unwrap_or_default();
    let n = rows.len();
    let tiers = [0, 1, 2].map(|t| Tier::from_archived(&a.tiers[t]));
    let mut lo = 0;
    for (t, tier) in tiers.iter().enumerate() {
        if tier.lo != lo || tier.hi < tier.lo || tier.hi as usize > n {
            return Err(format!("tier {t} does not tile the rows"));
        }
        let run = &rows[tier.lo as usize..tier.hi as usize];
        if !run.windows(2).all(|w: &[Row<I>]| (w[0].start, w[0].id) < (w[1].start, w[1].id))
            || run.iter().any(|r| r.tier() != t)
        {
            return Err(format!("tier {t} rows out of order or of another tier's length"));
        }
        lo = tier.hi;
    }
    if lo as usize != n {
        return Err("the tiers do not cover the rows".into());
    }
    let blocks = n.div_ceil(BLOCK);
    let block_max_end = Column::of_archived(&a.block_max_end, owner);
    let block_min_end = Column::of_archived(&a.block_min_end, owner);
    if block_max_end.len() != blocks || block_min_end.len() != blocks {
        return Err("a block augmentation of the wrong length".into());
    }
    let long = tiers[TIERS - 1];
    let long_ends = EndColumn::from_archived(&a.long_ends, (long.hi - long.lo) as usize, owner)?;
    Ok((built, tiers, block_max_end, block_min_end, long_ends))
}

type ColumnParts<I> = (SortedIds<I>, Column<u32>, SortedEnds, Directory, Option<Postings>);

/// The id blocks of a segment of `n` rows, checked as the other posting
/// families are: every list inside the entries, every entry a row, every
/// run in row order; and one list a block, `n` entries in all. That each
/// lists exactly its block's rows is left to `DurableOptions::verify`, as
/// the rows of the other families' lists are: sorting each block's rows to
/// compare took a third of the open at 10M windows.
fn id_blocks_of(a: &ArchivedPostings, n: usize, owner: Option<&SharedBytes>) -> Result<Postings, String> {
    if n < ID_BLOCK_MIN_ROWS {
        return Err(format!("id blocks for a segment of {n} rows"));
    }
    let blocks = Postings::from_archived(a, n, owner)?;
    let lists = blocks.lists();
    let listed: usize = lists.iter().map(|(_, list)| list.entries().len()).sum();
    let count = n.div_ceil(ID_BLOCK);
    if lists.len() != count || lists.iter().any(|&(key, _)| key as usize >= count) || listed != n {
        return Err(format!("{} id blocks listing {listed} rows, for {n} rows", lists.len()));
    }
    Ok(blocks)
}

/// The id index and the sorted ends (and the id blocks, if the file has
/// them), checked against a segment of `n` rows.
fn columns_of<I: WindowId>(
    a: &ArchivedSegmentWire<'_>,
    n: usize,
    id_blocks: Option<&ArchivedPostings>,
    records: Option<&Column<Row<I>>>,
    owner: Option<&SharedBytes>,
) -> Result<ColumnParts<I>, String> {
    let ids_sorted = match &a.ids_sorted {
        ArchivedIdsWire::Offsets { base, offsets } => {
            let base = base.to_native();
            let offsets = Column::<u32>::of_archived(offsets, owner);
            if !I::EXACT_PREFIX || offsets.last().is_some_and(|&o| base.checked_add(u64::from(o)).is_none()) {
                return Err("id offsets that do not fit the id type".into());
            }
            SortedIds::Offsets { base, offsets }
        }
        ArchivedIdsWire::Whole(bytes) => SortedIds::Whole(ids_of(bytes)?.into()),
        ArchivedIdsWire::Dense { base, len } => {
            let (base, len) = (base.to_native(), len.to_native());
            if !I::EXACT_PREFIX || len == 0 || len != n as u64 || base.checked_add(len - 1).is_none() {
                return Err(format!("a dense run of {len} ids from {base} for {n} rows"));
            }
            SortedIds::Dense { base, len: n }
        }
    };
    if ids_sorted.len() != n || !ids_sorted.strictly_ascending() {
        return Err("the sorted ids are not one per row, strictly ascending".into());
    }
    let id_rows = Column::<u32>::of_archived(&a.id_rows, owner);
    // Each id must lead to the row holding it: a wrong one would make a
    // write kill another window's row, and the index hold one id twice
    // (found by the snapshot fuzz target). The ids are read from the
    // archive, so this runs beside the rows' conversion.
    let width = I::WIDTH;
    let id_of = |r: usize| match records {
        Some(rows) => rows.get(r).map(|row| row.id),
        None => a.ids.get(r * width..(r + 1) * width).and_then(I::from_bytes),
    };
    let points_home = |(k, &r): (usize, &u32)| id_of(r as usize).is_some_and(|id| ids_sorted.holds(k, id));
    if id_rows.len() != n || !id_rows.iter().enumerate().all(points_home) {
        return Err("the id index does not lead to the rows holding its ids".into());
    }
    let ends = SortedEnds::from_archived(&a.sorted_ends, n, owner)?;
    // A dense run needs no directory: its ids are found by arithmetic.
    let id_dir = Directory::from_archived(&a.id_dir, (0, if ids_sorted.is_dense() { 0 } else { n }), owner)?;
    // A format 1 file keeps a dense run as offsets (strictly ascending,
    // ending at n - 1: they can only be 0..n) with a directory; it becomes
    // the run a build of the same ids makes.
    let (ids_sorted, id_dir) = match ids_sorted {
        SortedIds::Offsets { base, offsets } if offsets.last().is_some_and(|&o| o as usize + 1 == n) => {
            let dense = SortedIds::Dense { base, len: n };
            let dir = build::id_directory(&dense);
            (dense, dir)
        }
        other => (other, id_dir),
    };
    let id_blocks = id_blocks.map(|b| id_blocks_of(b, n, owner)).transpose()?;
    Ok((ids_sorted, id_rows, ends, id_dir, id_blocks))
}

fn postings_of(a: &ArchivedSegmentWire<'_>, n: usize, owner: Option<&SharedBytes>) -> Result<[Postings; 3], String> {
    Ok([
        Postings::from_archived(&a.by_charger, n, owner)?,
        Postings::from_archived(&a.by_site, n, owner)?,
        Postings::from_archived(&a.by_org, n, owner)?,
    ])
}

/// The blocks a snapshot may hold beside a segment's.
pub(crate) struct Extras<'a> {
    /// The segment's id blocks, if the file has them.
    pub(crate) id_blocks: Option<&'a ArchivedPostings>,
    /// Its organization ranks, if the file has them.
    pub(crate) org_ranks: Option<&'a ArchivedOrgRanksWire>,
    /// A file of format 1 or 2, which has no id blocks: a large segment has
    /// them built.
    pub(crate) build_id_blocks: bool,
    /// The bytes the archive lies in, if shared: the arrays whose archived
    /// form is their in-memory one are then read there, not copied.
    pub(crate) owner: Option<&'a SharedBytes>,
    /// The segment's rows block (format 5 on, for the ids it admits; see
    /// [`records`]): its body and the body's offset in the file.
    pub(crate) rows: Option<(&'a [u8], usize)>,
}

/// The segment an archived wire form describes, checked: its rows valid
/// windows with payload slots equal to their numbers and placements below
/// `places`, its tiers tiling the rows in `(start, id)` order, every column
/// one entry per row, every directory and posting list inside its arrays.
/// The dead rows are killed. `extras` are the blocks the file holds
/// beside the segment.
pub(crate) fn segment_from_archived<I: WindowId>(
    a: &ArchivedSegmentWire<'_>,
    places: usize,
    extras: Extras<'_>,
) -> Result<Segment<I>, String> {
    let Extras { id_blocks, org_ranks, build_id_blocks, owner, rows: records } = extras;
    let records = records.map(|(body, at)| records::decode::<I>(body, at, owner)).transpose()?;
    let records = records.as_ref();
    let n = records.map_or(a.starts.len(), |r| r.len());
    if n >= u32::MAX as usize {
        return Err(format!("a segment of {n} rows"));
    }
    // The three parts read and write disjoint arrays; a large segment
    // converts them on three threads (page faults on the new arrays
    // included), a small one on this one.
    let (rows, columns, postings) = if n >= PARALLEL_ROWS {
        std::thread::scope(|s| {
            let postings = s.spawn(|| postings_of(a, n, owner));
            let columns = s.spawn(|| columns_of::<I>(a, n, id_blocks, records, owner));
            let rows = rows_of::<I>(a, places, records, owner);
            (
                rows,
                columns.join().unwrap_or_else(|_| Err(PANICKED.into())),
                postings.join().unwrap_or_else(|_| Err(PANICKED.into())),
            )
        })
    } else {
        (
            rows_of::<I>(a, places, records, owner),
            columns_of::<I>(a, n, id_blocks, records, owner),
            postings_of(a, n, owner),
        )
    };
    let (built, tiers, block_max_end, block_min_end, long_ends) = rows?;
    let rows: Column<Row<I>> = match (built, records) {
        (Some(rows), _) => rows.into(),
        (None, Some(records)) => records.clone(),
        (None, None) => Column::default(),
    };
    let (ids_sorted, id_rows, ends, id_dir, by_id_block) = columns?;
    let [by_charger, by_site, by_org] = postings?;
    let org_ranks = org_ranks.map(|r| OrgRanks::from_archived(r, n)).transpose()?;
    if org_ranks.is_some() && n < ID_BLOCK_MIN_ROWS {
        return Err(format!("organization ranks for a segment of {n} rows"));
    }
    let by_id_block = by_id_block.or_else(|| {
        (build_id_blocks && n >= ID_BLOCK_MIN_ROWS).then(|| {
            let clock = *by_org.clock();
            build::id_blocks(&id_rows, &super::postings::entry_keys(&rows, &clock), tiers.map(|t| t.hi), clock)
        })
    });
    let start_dirs = [0, 1, 2]
        .map(|t| Directory::from_archived(&a.start_dirs[t], (tiers[t].lo as usize, tiers[t].hi as usize), owner));
    let [s0, s1, s2] = start_dirs;
    let start_dirs = [s0?, s1?, s2?];
    let data = SegmentData {
        rows,
        tiers,
        block_max_end,
        block_min_end,
        long_ends,
        ids_sorted,
        id_rows,
        ends,
        start_dirs,
        id_dir,
        by_charger,
        by_site,
        by_org,
        by_id_block,
        org_ranks,
    };
    let mut seg = Segment::from_data(Arc::new(data));
    let dead: Vec<u32> = a.dead.iter().map(|r| r.to_native()).collect();
    if !dead.windows(2).all(|w| w[0] < w[1]) || dead.last().is_some_and(|&r| r as usize >= n) {
        return Err("dead rows out of order or past the rows".into());
    }
    for r in dead {
        seg.kill(r);
    }
    Ok(seg)
}

/// The first id live in two of `segments`, if any (a snapshot's segments
/// never share a live id; a damaged or invented one might). Each segment's
/// ids are sorted, so each pair is checked by walking the smaller's ids and
/// galloping through the larger's: `O(m log(n / m))` a pair, a few
/// milliseconds for geometric segment sizes where a merge of all of them
/// would cost a heap operation per id.
pub(crate) fn repeated_live_id<I: WindowId>(segments: &[&Segment<I>]) -> Option<I> {
    for (i, a) in segments.iter().enumerate() {
        for b in &segments[i + 1..] {
            let (small, large) = if a.len() <= b.len() { (*a, *b) } else { (*b, *a) };
            if let Some(id) = shared_live_id(small, large) {
                return Some(id);
            }
        }
    }
    None
}

/// Ids compared by prefix when it is the whole id, else whole (a segment
/// of such ids keeps them whole).
#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Key<I> {
    Prefix(u64),
    Id(I),
}

fn key_at<I: WindowId>(seg: &Segment<I>, k: usize) -> Option<Key<I>> {
    if I::EXACT_PREFIX { Some(Key::Prefix(seg.ids_sorted.prefix(k))) } else { seg.ids_sorted.whole(k).map(Key::Id) }
}

fn live_at<I: WindowId>(seg: &Segment<I>, k: usize) -> bool {
    seg.id_rows.get(k).is_some_and(|&r| !seg.is_dead(r))
}

fn shared_live_id<I: WindowId>(small: &Segment<I>, large: &Segment<I>) -> Option<I> {
    let n = large.ids_sorted.len();
    let mut lo = 0;
    for k in (0..small.ids_sorted.len()).filter(|&k| live_at(small, k)) {
        let want = key_at(small, k)?;
        // Gallop to a bracket, then halve: the first position not below.
        let mut step = 1;
        let mut hi = lo;
        while hi < n && key_at(large, hi)? < want {
            lo = hi + 1;
            hi += step;
            step *= 2;
        }
        let mut hi = hi.min(n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key_at(large, mid)? < want {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == n {
            return None;
        }
        if key_at(large, lo)? == want && live_at(large, lo) {
            let r = *small.id_rows.get(k)?;
            return small.rows.get(r as usize).map(|row| row.id);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{NONE, Place, PlacesView};

    /// A format 1 file kept a dense run of ids as offsets `0..n` with a
    /// directory; read back, it is the run a build of the same ids makes.
    #[test]
    fn dense_offsets_of_format_1_are_read_as_a_dense_run() {
        let places = [Place { charger: NONE, site: NONE, org: 0 }];
        let rows: Vec<Row<u64>> = (0..5_000u32)
            .map(|i| {
                let start = i64::from(i * 7_919 % 5_000) * 1_000;
                Row { start, end: start + 500, id: 900 + u64::from(i), place: 0, slot: i }
            })
            .collect();
        let built = Segment::build(rows, &PlacesView::of(&places));
        assert!(built.ids_sorted.is_dense());
        let mut old = (*built.data).clone();
        old.ids_sorted = SortedIds::Offsets { base: 900, offsets: (0..5_000).collect() };
        old.id_dir = Directory::build(0, 5_000, |i| super::super::prefix_key(old.ids_sorted.prefix(i)));
        let old = Segment::from_data(Arc::new(old));
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&SegmentWire::of(&old, Vec::new(), true)).unwrap();
        let archived = rkyv::access::<ArchivedSegmentWire<'_>, rkyv::rancor::Error>(&bytes).unwrap();
        let read: Segment<u64> = segment_from_archived(
            archived,
            places.len(),
            Extras { id_blocks: None, org_ranks: None, build_id_blocks: true, owner: None, rows: None },
        )
        .unwrap();
        assert!(read.ids_sorted.is_dense());
        read.check_invariants(&PlacesView::of(&places)).unwrap();
        for id in [899u64, 900, 3_456, 5_899, 5_900] {
            assert_eq!(read.row_of(id), built.row_of(id), "id {id}");
        }
    }
}
