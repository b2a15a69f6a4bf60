//! Posting lists: the rows of each charger, site or organization in one
//! segment, with each row's start and end beside it.
//!
//! A list is laid out like the segment: by length tier, then `(start, id)`
//! (its rows ascend). Keeping the times in the list means a filtered query
//! finds where its time range begins by searching the list itself, tests
//! every candidate's times on memory it reads in order, and fetches only the
//! rows that pass: a charger's 200 rows scattered over 10M are otherwise one
//! cache miss each. One family's lists share three flat columns, so small
//! segments built by every flush allocate per family, not per key.

use rustc_hash::FxHashMap;

use crate::WindowId;
use crate::segment::{NONE, Row, TIERS};

/// Where one key's list sits in the family's columns.
#[derive(Clone, Copy, Debug)]
struct List {
    at: u32,
    /// Entries of the list up to the end of each tier (cumulative).
    tier_ends: [u32; TIERS],
}

/// All lists of one family in one segment, keyed by dense entity number.
#[derive(Clone, Debug, Default)]
pub(crate) struct Postings {
    lists: FxHashMap<u32, List>,
    starts: Vec<i64>,
    ends: Vec<i64>,
    rows: Vec<u32>,
}

/// One key's list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PostingRef<'a> {
    tier_ends: [u32; TIERS],
    starts: &'a [i64],
    ends: &'a [i64],
    rows: &'a [u32],
}

/// The entries of one list in one tier: ascending rows, so ascending
/// `(start, id)`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Run<'a> {
    pub(crate) starts: &'a [i64],
    pub(crate) ends: &'a [i64],
    pub(crate) rows: &'a [u32],
}

impl<'a> Run<'a> {
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The entries whose start lies in `from..to`.
    #[inline]
    pub(crate) fn between(&self, from: i64, to: i64) -> Run<'a> {
        let a = lower_bound(self.starts, from);
        let b = a + lower_bound(&self.starts[a..], to);
        Run { starts: &self.starts[a..b], ends: &self.ends[a..b], rows: &self.rows[a..b] }
    }
}

/// The first position whose value is at least `t` in an ascending slice:
/// interpolation narrows long lists (times spread roughly evenly) before the
/// binary search, so a 20,000-entry list costs a few reads, not fifteen.
#[inline]
fn lower_bound(values: &[i64], t: i64) -> usize {
    let (mut lo, mut hi) = (0, values.len());
    for _ in 0..2 {
        if hi - lo <= 64 {
            break;
        }
        let (a, b) = (values[lo], values[hi - 1]);
        if t <= a {
            return lo;
        }
        if t > b {
            return hi;
        }
        // Guess where t falls, then check a small window around the guess.
        let frac = (t as f64 - a as f64) / (b as f64 - a as f64);
        let guess = lo + ((hi - lo) as f64 * frac) as usize;
        let (g_lo, g_hi) = (guess.saturating_sub(16).max(lo), (guess + 16).min(hi));
        if g_lo > lo && values[g_lo] >= t {
            hi = g_lo;
        } else if g_hi < hi && values[g_hi - 1] < t {
            lo = g_hi;
        } else {
            (lo, hi) = (g_lo, g_hi);
            break;
        }
    }
    lo + values[lo..hi].partition_point(|&v| v < t)
}

impl<'a> PostingRef<'a> {
    /// Entries per tier.
    pub(crate) fn counts(&self) -> [u32; TIERS] {
        let mut prev = 0;
        self.tier_ends.map(|e| {
            let c = e - prev;
            prev = e;
            c
        })
    }

    /// The entries of tier `t`.
    #[inline]
    pub(crate) fn tier(&self, t: usize) -> Run<'a> {
        let from = if t == 0 { 0 } else { self.tier_ends[t - 1] as usize };
        let to = self.tier_ends[t] as usize;
        Run { starts: &self.starts[from..to], ends: &self.ends[from..to], rows: &self.rows[from..to] }
    }

    /// All entries: rows with their starts and ends.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u32, i64, i64)> + 'a {
        let (rows, starts, ends) = (self.rows, self.starts, self.ends);
        rows.iter().zip(starts).zip(ends).map(|((&r, &s), &e)| (r, s, e))
    }
}

impl Postings {
    /// Groups the rows of `column` (one dense key per row, [`NONE`] for none)
    /// of a segment whose rows are `rows`, split in tiers ending at `tier_ends`.
    pub(crate) fn build<I: WindowId>(column: &[u32], rows: &[Row<I>], tier_ends: [u32; TIERS]) -> Self {
        let (keys, offsets, grouped) = group_rows(column);
        let mut lists = FxHashMap::with_capacity_and_hasher(keys.len(), Default::default());
        for (k, &key) in keys.iter().enumerate() {
            let list = &grouped[offsets[k] as usize..offsets[k + 1] as usize];
            let mut ends = [0u32; TIERS];
            for (t, e) in ends.iter_mut().enumerate() {
                *e = list.partition_point(|&r| r < tier_ends[t]) as u32;
            }
            lists.insert(key, List { at: offsets[k], tier_ends: ends });
        }
        let starts = grouped.iter().map(|&r| rows[r as usize].start).collect();
        let ends = grouped.iter().map(|&r| rows[r as usize].end).collect();
        Postings { lists, starts, ends, rows: grouped }
    }

    #[inline]
    pub(crate) fn get(&self, key: u32) -> Option<PostingRef<'_>> {
        let l = self.lists.get(&key)?;
        let (from, to) = (l.at as usize, l.at as usize + l.tier_ends[TIERS - 1] as usize);
        Some(PostingRef {
            tier_ends: l.tier_ends,
            starts: self.starts.get(from..to)?,
            ends: self.ends.get(from..to)?,
            rows: self.rows.get(from..to)?,
        })
    }

    /// Every key with its list, for validation.
    pub(crate) fn lists(&self) -> Vec<(u32, PostingRef<'_>)> {
        self.lists.keys().filter_map(|&k| self.get(k).map(|p| (k, p))).collect()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.lists.capacity() * (std::mem::size_of::<(u32, List)>() + 1)
            + self.starts.capacity() * 8
            + self.ends.capacity() * 8
            + self.rows.capacity() * 4
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn lower_bound_agrees_with_partition_point(
            mut values in prop::collection::vec(prop_oneof![-1_000i64..1_000, any::<i64>()], 0..600),
            t in prop_oneof![-1_001i64..1_001, any::<i64>()],
        ) {
            values.sort_unstable();
            prop_assert_eq!(lower_bound(&values, t), values.partition_point(|&v| v < t));
        }
    }
}
