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
    /// `[start, end]` of each entry: a search that finds a start has its end
    /// in the same cache line.
    times: Vec<[i64; 2]>,
    rows: Vec<u32>,
}

/// One key's list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PostingRef<'a> {
    tier_ends: [u32; TIERS],
    times: &'a [[i64; 2]],
    rows: &'a [u32],
}

/// The entries of one list in one tier: ascending rows, so ascending
/// `(start, id)`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Run<'a> {
    /// `[start, end]` per entry.
    pub(crate) times: &'a [[i64; 2]],
    pub(crate) rows: &'a [u32],
}

impl Run<'_> {
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// For each run, the first entry whose start is at least its target
/// (`targets[i]` for `runs[i]`), written to `out[i]`. The binary searches
/// advance in lockstep, one probe of every run per round, so the cache misses
/// of different lists overlap instead of queueing one search behind another:
/// ten sites' lists cost about one search's latency, not ten.
pub(crate) fn lower_bounds(runs: &[Run<'_>], targets: &[i64], out: &mut Vec<usize>) {
    debug_assert_eq!(runs.len(), targets.len());
    out.clear();
    out.resize(runs.len(), 0);
    let mut sizes: Vec<usize> = runs.iter().map(Run::len).collect();
    loop {
        let mut active = false;
        for ((run, &t), (base, size)) in runs.iter().zip(targets).zip(out.iter_mut().zip(sizes.iter_mut())) {
            if *size > 1 {
                let half = *size / 2;
                let mid = *base + half;
                if run.times[mid][0] < t {
                    *base = mid;
                }
                *size -= half;
                active = true;
            }
        }
        if !active {
            break;
        }
    }
    for ((run, &t), (base, &size)) in runs.iter().zip(targets).zip(out.iter_mut().zip(&sizes)) {
        if size == 1 && run.times[*base][0] < t {
            *base += 1;
        }
    }
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
        Run { times: &self.times[from..to], rows: &self.rows[from..to] }
    }

    /// All entries: rows with their starts and ends.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (u32, i64, i64)> + 'a {
        self.rows.iter().zip(self.times).map(|(&r, &[s, e])| (r, s, e))
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
        let times = grouped.iter().map(|&r| [rows[r as usize].start, rows[r as usize].end]).collect();
        Postings { lists, times, rows: grouped }
    }

    #[inline]
    pub(crate) fn get(&self, key: u32) -> Option<PostingRef<'_>> {
        let l = self.lists.get(&key)?;
        let (from, to) = (l.at as usize, l.at as usize + l.tier_ends[TIERS - 1] as usize);
        Some(PostingRef { tier_ends: l.tier_ends, times: self.times.get(from..to)?, rows: self.rows.get(from..to)? })
    }

    /// Every key with its list, for validation.
    pub(crate) fn lists(&self) -> Vec<(u32, PostingRef<'_>)> {
        self.lists.keys().filter_map(|&k| self.get(k).map(|p| (k, p))).collect()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.lists.capacity() * (std::mem::size_of::<(u32, List)>() + 1)
            + self.times.capacity() * 16
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
        fn lower_bounds_agree_with_partition_point(
            lists in prop::collection::vec(
                (prop::collection::vec(prop_oneof![-1_000i64..1_000, any::<i64>()], 0..300),
                 prop_oneof![-1_001i64..1_001, any::<i64>()]),
                0..6,
            ),
        ) {
            let times: Vec<Vec<[i64; 2]>> = lists
                .iter()
                .map(|(v, _)| {
                    let mut v = v.clone();
                    v.sort_unstable();
                    v.into_iter().map(|x| [x, x]).collect()
                })
                .collect();
            let rows: Vec<Vec<u32>> = times.iter().map(|t| vec![0; t.len()]).collect();
            let runs: Vec<Run<'_>> = times.iter().zip(&rows).map(|(t, r)| Run { times: t, rows: r }).collect();
            let targets: Vec<i64> = lists.iter().map(|(_, t)| *t).collect();
            let mut out = Vec::new();
            lower_bounds(&runs, &targets, &mut out);
            for ((t, &target), got) in times.iter().zip(&targets).zip(&out) {
                prop_assert_eq!(*got, t.partition_point(|v| v[0] < target));
            }
        }
    }
}
