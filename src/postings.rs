//! Posting lists: the rows of each charger, site or organization in one
//! segment, in row order.
//!
//! Large segments keep one `roaring` bitmap per key (compact, with fast range
//! iteration). Small segments, which are built and merged often, keep all
//! lists in one flat array: three allocations per family instead of two per
//! key, which is what makes flushing the write buffer cheap.

use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;

use crate::segment::{NONE, TIERS, Tier};

/// Segments with fewer rows keep flat lists.
pub(crate) const FLAT_MAX_ROWS: usize = 1 << 16;

/// The rows of one key in a large segment, with per-tier counts for planning.
#[derive(Clone, Debug, Default)]
pub(crate) struct Posting {
    pub(crate) counts: [u32; TIERS],
    pub(crate) rows: RoaringBitmap,
}

/// All lists of one family, keyed by dense entity number.
#[derive(Clone, Debug)]
pub(crate) enum Postings {
    Flat { keys: Vec<u32>, offsets: Vec<u32>, counts: Vec<[u32; TIERS]>, rows: Vec<u32> },
    Roaring(FxHashMap<u32, Posting>),
}

impl Default for Postings {
    fn default() -> Self {
        Postings::Flat { keys: Vec::new(), offsets: vec![0], counts: Vec::new(), rows: Vec::new() }
    }
}

/// One key's list.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PostingRef<'a> {
    Flat { counts: &'a [u32; TIERS], rows: &'a [u32] },
    Roaring(&'a Posting),
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
            PostingRef::Flat { counts, .. } => **counts,
            PostingRef::Roaring(p) => p.counts,
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
            PostingRef::Roaring(p) => RowIter::Roaring(p.rows.range(lo..hi.max(lo))),
        }
    }

    pub(crate) fn rows(&self) -> Vec<u32> {
        match self {
            PostingRef::Flat { rows, .. } => rows.to_vec(),
            PostingRef::Roaring(p) => p.rows.iter().collect(),
        }
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
        if column.len() < FLAT_MAX_ROWS {
            let counts = offsets.windows(2).map(|w| tier_counts(&rows[w[0] as usize..w[1] as usize])).collect();
            return Postings::Flat { keys, offsets, counts, rows };
        }
        let mut map = FxHashMap::with_capacity_and_hasher(keys.len(), Default::default());
        for (k, &key) in keys.iter().enumerate() {
            let list = &rows[offsets[k] as usize..offsets[k + 1] as usize];
            let bitmap = RoaringBitmap::from_sorted_iter(list.iter().copied()).unwrap_or_default();
            map.insert(key, Posting { counts: tier_counts(list), rows: bitmap });
        }
        Postings::Roaring(map)
    }

    #[inline]
    pub(crate) fn get(&self, key: u32) -> Option<PostingRef<'_>> {
        match self {
            Postings::Flat { keys, offsets, counts, rows } => {
                let k = keys.binary_search(&key).ok()?;
                let (a, b) = (offsets[k] as usize, offsets[k + 1] as usize);
                Some(PostingRef::Flat { counts: &counts[k], rows: &rows[a..b] })
            }
            Postings::Roaring(map) => map.get(&key).map(PostingRef::Roaring),
        }
    }

    /// Every key with its list, for validation.
    pub(crate) fn entries(&self) -> Vec<(u32, PostingRef<'_>)> {
        match self {
            Postings::Flat { keys, .. } => keys.iter().filter_map(|&k| self.get(k).map(|p| (k, p))).collect(),
            Postings::Roaring(map) => map.iter().map(|(&k, p)| (k, PostingRef::Roaring(p))).collect(),
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Postings::Flat { keys, offsets, counts, rows } => {
                (keys.capacity() + offsets.capacity() + rows.capacity()) * 4 + counts.capacity() * 4 * TIERS
            }
            Postings::Roaring(map) => {
                map.capacity() * (std::mem::size_of::<(u32, Posting)>() + 1)
                    + map.values().map(|p| p.rows.serialized_size()).sum::<usize>()
            }
        }
    }
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
