//! A segment's rows as a snapshot's rows block holds them (format 5 on):
//! records laid out byte for byte as the rows are in memory, at a 64-byte
//! aligned place of the file, so that an open reads them where they lie
//! in the mapped file instead of building 32 bytes of fresh memory a row
//! from columns (at 10M windows, a third of an open's time went to the
//! kernel zeroing those pages).
//!
//! ```text
//! body     rows u64 | record bytes u32 | 0u32 | zeros up to a file offset multiple of 64 | records
//! record   start i64 | end i64 | id (little-endian, 4, 8 or 16 bytes) | placement u32 | slot u32 | zeros to the record size
//! ```
//!
//! The record size and field offsets are those of [`Row`]: 32 bytes for
//! 4- and 8-byte ids, 64 for 16-byte ones. Only the crate's own id types
//! (`u32`, `u64`, `u128`, [`Ulid`](crate::Ulid)) are stored so, on a
//! little-endian target: any bytes are then a valid row (validated like
//! every input before use). Other ids keep the row columns of the segment's
//! archive.

use std::any::TypeId;
use std::mem::offset_of;

use super::Row;
use crate::WindowId;
use crate::memory::{Column, SharedBytes, huge_pages};

/// The alignment, in the file, of a rows block's first record.
const RECORDS_ALIGN: usize = 64;
/// Bytes before the padding: rows, record bytes, a zero.
const PREFIX: usize = 16;
/// Rows encoded at a time while writing.
const CHUNK_ROWS: usize = 4096;

const _: () = assert!(RECORDS_ALIGN.is_power_of_two() && RECORDS_ALIGN >= align_of::<Row<u128>>());

/// Whether rows of `I` are stored as records: `I` is one of the crate's id
/// types, whose every bit pattern is a valid id and which has no padding,
/// and the target is little-endian.
pub(crate) fn as_records<I: WindowId>() -> bool {
    let t = TypeId::of::<I>();
    let plain = [TypeId::of::<u32>(), TypeId::of::<u64>(), TypeId::of::<u128>(), TypeId::of::<crate::Ulid>()];
    cfg!(target_endian = "little") && plain.contains(&t) && size_of::<I>() == I::WIDTH
}

/// Zeros after the prefix of a body starting at file offset `at`.
fn padding(at: usize) -> usize {
    (at + PREFIX).next_multiple_of(RECORDS_ALIGN) - (at + PREFIX)
}

/// The length of the body of `rows` rows of `I`, starting at file offset `at`.
pub(crate) fn body_len<I>(rows: usize, at: usize) -> usize {
    PREFIX + padding(at) + rows * size_of::<Row<I>>()
}

/// Emits the body of `rows` (a block starting at file offset `at`) in
/// pieces, to `emit`. Only for ids [`as_records`] accepts.
pub(crate) fn encode<I: WindowId, E>(
    rows: &[Row<I>],
    at: usize,
    emit: &mut dyn FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    assert!(as_records::<I>(), "rows of {} are not stored as records", std::any::type_name::<I>());
    let size = size_of::<Row<I>>();
    let mut prefix = [0u8; PREFIX];
    prefix[..8].copy_from_slice(&(rows.len() as u64).to_le_bytes());
    prefix[8..12].copy_from_slice(&(size as u32).to_le_bytes());
    emit(&prefix)?;
    emit(&[0; RECORDS_ALIGN][..padding(at)])?;
    let mut buf = vec![0u8; CHUNK_ROWS.min(rows.len()) * size];
    for chunk in rows.chunks(CHUNK_ROWS) {
        let out = &mut buf[..std::mem::size_of_val(chunk)];
        for (row, record) in chunk.iter().zip(out.chunks_exact_mut(size)) {
            put(row, record);
        }
        emit(out)?;
    }
    Ok(())
}

/// Writes `row` into `record` (zeroed, `size_of::<Row<I>>()` bytes).
fn put<I: WindowId>(row: &Row<I>, record: &mut [u8]) {
    let field = |at: usize, bytes: &[u8], record: &mut [u8]| record[at..at + bytes.len()].copy_from_slice(bytes);
    field(offset_of!(Row<I>, start), &row.start.to_le_bytes(), record);
    field(offset_of!(Row<I>, end), &row.end.to_le_bytes(), record);
    field(offset_of!(Row<I>, place), &row.place.to_le_bytes(), record);
    field(offset_of!(Row<I>, slot), &row.slot.to_le_bytes(), record);
    // SAFETY: `as_records` admits only integer ids (and `Ulid`, one
    // `u128`): no padding, every byte initialized; on a little-endian
    // target their bytes are their little-endian encoding.
    #[allow(unsafe_code)]
    let id = unsafe { std::slice::from_raw_parts((&raw const row.id).cast::<u8>(), size_of::<I>()) };
    field(offset_of!(Row<I>, id), id, record);
}

/// The rows of a body read from file offset `at`: where they lie if the
/// body lies in `owner`'s bytes, aligned, else copied. The rows are not
/// validated here (see the segment's conversion).
pub(crate) fn decode<I: WindowId>(
    body: &[u8],
    at: usize,
    owner: Option<&SharedBytes>,
) -> Result<Column<Row<I>>, String> {
    if !as_records::<I>() {
        return Err(format!("a rows block, for ids of {} bytes, which keep their rows in columns", I::WIDTH));
    }
    let size = size_of::<Row<I>>();
    let word = |k: usize| body.get(k..k + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
    let (Some(rows), Some(shape)) = (word(0), word(8)) else {
        return Err(format!("a rows block of {} bytes", body.len()));
    };
    if shape != size as u64 {
        return Err(format!("rows of {shape} bytes where this id type's are {size}"));
    }
    let records = usize::try_from(rows)
        .ok()
        .and_then(|rows| rows.checked_mul(size))
        .filter(|&bytes| body.len().checked_sub(PREFIX + padding(at)) == Some(bytes))
        .and_then(|bytes| body.get(PREFIX + padding(at)..PREFIX + padding(at) + bytes))
        .ok_or_else(|| format!("a rows block of {} bytes for {rows} rows", body.len()))?;
    if body[PREFIX..PREFIX + padding(at)].iter().any(|&b| b != 0) {
        return Err("padding before the rows is not zero".into());
    }
    // SAFETY: `as_records` holds: every `size_of::<Row<I>>()` bytes are a
    // valid row (integers, and an id of an integer type or `Ulid`).
    #[allow(unsafe_code)]
    if let Some(rows) = owner.and_then(|o| unsafe { Column::in_place_bytes(records, o) }) {
        return Ok(rows);
    }
    let read = |record: &[u8], at: usize| -> [u8; 8] { record[at..at + 8].try_into().unwrap_or_default() };
    let read4 = |record: &[u8], at: usize| -> [u8; 4] { record[at..at + 4].try_into().unwrap_or_default() };
    let rows = huge_pages::collect(records.chunks_exact(size).map(|record| Row {
        start: i64::from_le_bytes(read(record, offset_of!(Row<I>, start))),
        end: i64::from_le_bytes(read(record, offset_of!(Row<I>, end))),
        // SAFETY: the record holds `size_of::<I>()` bytes at the id's
        // offset, and any bytes are an id of the types `as_records` admits.
        #[allow(unsafe_code)]
        id: unsafe { std::ptr::read_unaligned(record[offset_of!(Row<I>, id)..].as_ptr().cast::<I>()) },
        place: u32::from_le_bytes(read4(record, offset_of!(Row<I>, place))),
        slot: u32::from_le_bytes(read4(record, offset_of!(Row<I>, slot))),
    }));
    Ok(rows.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ulid;

    fn rows<I: WindowId>(ids: impl Iterator<Item = I>) -> Vec<Row<I>> {
        ids.enumerate()
            .map(|(k, id)| Row {
                start: -(k as i64) * 7,
                end: k as i64 * 11 + 1,
                id,
                place: k as u32 * 3,
                slot: k as u32,
            })
            .collect()
    }

    fn round_trip<I: WindowId>(rows: &[Row<I>], at: usize) -> Column<Row<I>> {
        let mut body = Vec::new();
        encode::<I, ()>(rows, at, &mut |b| {
            body.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(body.len(), body_len::<I>(rows.len(), at));
        decode::<I>(&body, at, None).unwrap()
    }

    #[test]
    fn records_of_every_admitted_id_type_read_back_as_the_rows_wherever_the_block_starts() {
        for at in [0, 16, 48, 4096 + 32] {
            let a = rows((0..5_000u64).map(|k| k * 0x0101_0101_0101));
            assert_eq!(&round_trip(&a, at)[..], &a[..]);
            let b = rows((0..100u32).map(|k| u32::MAX - k));
            assert_eq!(&round_trip(&b, at)[..], &b[..]);
            let c = rows((0..100u128).map(|k| k << 100 | k));
            assert_eq!(&round_trip(&c, at)[..], &c[..]);
            let d = rows((0..10u128).map(Ulid));
            assert_eq!(&round_trip(&d, at)[..], &d[..]);
        }
    }

    #[test]
    fn a_damaged_prefix_or_length_is_an_error() {
        let a = rows(0..10u64);
        let mut body = Vec::new();
        encode::<u64, ()>(&a, 0, &mut |b| {
            body.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        for cut in [0, 7, 15, 16, body.len() - 1] {
            assert!(decode::<u64>(&body[..cut], 0, None).is_err(), "cut at {cut}");
        }
        let mut huge = body.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode::<u64>(&huge, 0, None).is_err());
        let mut shape = body.clone();
        shape[8] = 48;
        assert!(decode::<u64>(&shape, 0, None).is_err());
        assert!(decode::<u64>(&body, 16, None).is_err(), "read at another offset, the padding is wrong");
    }
}
