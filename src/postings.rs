//! Posting lists: the rows of each charger, site or organization in one
//! segment, in row order.
//!
//! Each key's list is stored the way that is smaller for it: a `roaring`
//! bitmap when its rows are dense enough for roaring's containers to pay off
//! (at least [`DENSE_PER_CONTAINER`] rows per 65,536-row container on
//! average), else a plain sorted run in one flat array shared by the family. A
//! charger with 200 windows spread over 10M rows has one or two rows per
//! container, where roaring spends far more on container headers than the 4
//! bytes a row costs flat; an organization with 20,000 rows compresses well.
//! Small segments, built by every flush, thus allocate per family, not per key.

use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use crate::segment::{NONE, TIERS, Tier};

/// Average rows per roaring container from which a list is kept as a bitmap.
pub(crate) const DENSE_PER_CONTAINER: usize = 24;

/// Where one key's list is, with its per-tier counts for planning.
#[derive(Clone, Copy, Debug)]
struct Entry {
    counts: [u32; TIERS],
    /// Index into `bitmaps` when `dense`, else the start of the run in `flat`.
    at: u32,
    /// Rows in the run in `flat` (unused when `dense`).
    len: u32,
    dense: bool,
}

/// All lists of one family in one segment, keyed by dense entity number.
#[derive(Clone, Debug, Default)]
pub(crate) struct Postings {
    entries: FxHashMap<u32, Entry>,
    flat: Vec<u32>,
    bitmaps: Vec<RoaringBitmap>,
}

/// One key's list.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PostingRef<'a> {
    Flat { counts: [u32; TIERS], rows: &'a [u32] },
    Roaring { counts: [u32; TIERS], rows: &'a RoaringBitmap },
}

/// Rows of one list in ascending order, able to skip ahead.
pub(crate) enum RowIter<'a> {
    Flat(std::slice::Iter<'a, u32>),
    Roaring(roaring::bitmap::Iter<'a>),
}

impl Iterator for RowIter<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        match self {
            RowIter::Flat(it) => it.next().copied(),
            RowIter::Roaring(it) => it.next(),
        }
    }
}

impl RowIter<'_> {
    /// Skips every row below `row`.
    pub(crate) fn advance_to(&mut self, row: u32) {
        match self {
            RowIter::Flat(it) => {
                let skip = it.as_slice().partition_point(|&r| r < row);
                if skip > 0 {
                    it.nth(skip - 1);
                }
            }
            RowIter::Roaring(it) => it.advance_to(row),
        }
    }
}

impl<'a> PostingRef<'a> {
    pub(crate) fn counts(&self) -> [u32; TIERS] {
        match self {
            PostingRef::Flat { counts, .. } | PostingRef::Roaring { counts, .. } => *counts,
        }
    }

    /// Rows in `lo..hi`.
    pub(crate) fn range(&self, lo: u32, hi: u32) -> RowIter<'a> {
        match *self {
            PostingRef::Flat { rows, .. } => {
                let a = rows.partition_point(|&r| r < lo);
                let b = a + rows[a..].partition_point(|&r| r < hi);
                RowIter::Flat(rows[a..b].iter())
            }
            PostingRef::Roaring { rows, .. } => RowIter::Roaring(rows.range(lo..hi.max(lo))),
        }
    }

    pub(crate) fn rows(&self) -> Vec<u32> {
        match self {
            PostingRef::Flat { rows, .. } => rows.to_vec(),
            PostingRef::Roaring { rows, .. } => rows.iter().collect(),
        }
    }

    pub(crate) fn is_bitmap(&self) -> bool {
        matches!(self, PostingRef::Roaring { .. })
    }
}

impl Postings {
    /// Groups the rows of `column` (one dense key per row, [`NONE`] for none).
    pub(crate) fn build(column: &[u32], tiers: &[Tier; TIERS]) -> Self {
        let tier_counts = |rows: &[u32]| {
            let mut counts = [0u32; TIERS];
            let mut prev = 0;
            for (t, tier) in tiers.iter().enumerate() {
                let upto = rows.partition_point(|&r| r < tier.hi);
                counts[t] = (upto - prev) as u32;
                prev = upto;
            }
            counts
        };
        let (keys, offsets, rows) = group_rows(column);
        let list = |k: usize| &rows[offsets[k] as usize..offsets[k + 1] as usize];
        let dense: Vec<bool> = (0..keys.len()).map(|k| is_dense(list(k))).collect();
        let any_dense = dense.iter().any(|&d| d);
        let mut entries = FxHashMap::with_capacity_and_hasher(keys.len(), Default::default());
        let mut flat = Vec::new();
        let mut bitmaps = Vec::new();
        if any_dense {
            flat.reserve((0..keys.len()).filter(|&k| !dense[k]).map(|k| list(k).len()).sum());
        }
        for (k, &key) in keys.iter().enumerate() {
            let rows_k = list(k);
            let entry = if dense[k] {
                bitmaps.push(RoaringBitmap::from_sorted_iter(rows_k.iter().copied()).unwrap_or_default());
                Entry { counts: tier_counts(rows_k), at: (bitmaps.len() - 1) as u32, len: 0, dense: true }
            } else if any_dense {
                let at = flat.len() as u32;
                flat.extend_from_slice(rows_k);
                Entry { counts: tier_counts(rows_k), at, len: rows_k.len() as u32, dense: false }
            } else {
                // No key is dense: the grouped rows serve as the flat array as is.
                Entry { counts: tier_counts(rows_k), at: offsets[k], len: rows_k.len() as u32, dense: false }
            };
            entries.insert(key, entry);
        }
        if !any_dense {
            flat = rows;
        }
        Postings { entries, flat, bitmaps }
    }

    #[inline]
    pub(crate) fn get(&self, key: u32) -> Option<PostingRef<'_>> {
        let e = self.entries.get(&key)?;
        Some(if e.dense {
            PostingRef::Roaring { counts: e.counts, rows: self.bitmaps.get(e.at as usize)? }
        } else {
            PostingRef::Flat { counts: e.counts, rows: self.flat.get(e.at as usize..(e.at + e.len) as usize)? }
        })
    }

    /// Every key with its list, for validation.
    pub(crate) fn entries(&self) -> Vec<(u32, PostingRef<'_>)> {
        self.entries.keys().filter_map(|&k| self.get(k).map(|p| (k, p))).collect()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.capacity() * (std::mem::size_of::<(u32, Entry)>() + 1)
            + self.flat.capacity() * 4
            + self.bitmaps.capacity() * std::mem::size_of::<RoaringBitmap>()
            + self.bitmaps.iter().map(RoaringBitmap::serialized_size).sum::<usize>()
    }
}

/// Whether a sorted list has at least [`DENSE_PER_CONTAINER`] rows per
/// 65,536-row container it touches.
pub(crate) fn is_dense(rows: &[u32]) -> bool {
    if rows.len() < DENSE_PER_CONTAINER {
        return false;
    }
    let containers = 1 + rows.windows(2).filter(|w| w[0] >> 16 != w[1] >> 16).count();
    rows.len() >= DENSE_PER_CONTAINER * containers
}

/// Rows grouped by key, each group in row order, keys ascending, as flat
/// arrays `(keys, offsets, rows)`: a counting sort when keys are few relative
/// to rows, else a sort of packed pairs. Flat arrays keep the build from
/// scattering thousands of short-lived allocations among the long-lived ones.
fn group_rows(column: &[u32]) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let Some(max_key) = column.iter().copied().filter(|&k| k != NONE).max() else {
        return (Vec::new(), vec![0], Vec::new());
    };
    let universe = max_key as usize + 1;
    if universe <= column.len() * 2 {
        let mut starts = vec![0u32; universe + 1];
        for &k in column.iter().filter(|&&k| k != NONE) {
            starts[k as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut rows = vec![0u32; starts[universe] as usize];
        let mut fill = starts.clone();
        for (row, &k) in column.iter().enumerate() {
            if k != NONE {
                rows[fill[k as usize] as usize] = row as u32;
                fill[k as usize] += 1;
            }
        }
        let mut keys = Vec::new();
        let mut offsets = vec![0u32];
        for k in 0..universe {
            if starts[k + 1] > starts[k] {
                keys.push(k as u32);
                offsets.push(starts[k + 1]);
            }
        }
        return (keys, offsets, rows);
    }
    let mut pairs: Vec<u64> = column
        .iter()
        .enumerate()
        .filter(|&(_, &k)| k != NONE)
        .map(|(row, &k)| (u64::from(k) << 32) | row as u64)
        .collect();
    pairs.sort_unstable();
    let mut keys = Vec::new();
    let mut offsets = vec![0u32];
    for (i, p) in pairs.iter().enumerate() {
        let key = (p >> 32) as u32;
        if keys.last() != Some(&key) {
            if i > 0 {
                offsets.push(i as u32);
            }
            keys.push(key);
        }
    }
    offsets.push(pairs.len() as u32);
    let rows = pairs.into_iter().map(|p| p as u32).collect();
    (keys, offsets, rows)
}
