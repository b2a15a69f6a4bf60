//! Building a segment: sorting its rows into tiers and `(start, id)` order,
//! then every index over them, on two threads for large segments.

use super::clock::Clock;
use super::directory::Directory;
use super::end_column::EndColumn;
use super::ends::SortedEnds;
use super::org_ranks::{OrgRanks, bits_of, end_matrix, end_order, start_matrix};
use super::postings::{Postings, start_clock};
use super::prefix_key;
use super::radix;
use super::row::{BLOCK, Row, TIERS, Tier, row32};
use super::sorted_ids::SortedIds;
use super::{ID_BLOCK, ID_BLOCK_MIN_ROWS, ID_BLOCK_SERIAL_MIN_ROWS, SegmentData, id_block_of};
use crate::WindowId;
use crate::catalog::{NONE, Place, PlacesView};
use crate::memory::huge_pages;

/// Inputs with at most this many descents are sorted as runs (stably).
const FEW_RUNS: usize = 64;

/// Segments at least this large build their indexes on two threads.
const PARALLEL_BUILD_ROWS: usize = 1 << 18;

/// Sorts rows by `(tier, start, id)`, the segment's order. Merged segments
/// arrive as a few sorted runs, which the stable sort merges in linear time.
/// Bulk loads arrive in any order: large ones are split around the median of
/// a sample of their keys, and the two sides are sorted on two threads, so
/// no merge pass (and no scratch buffer half the rows' size) follows. Keys
/// are unique (ids are), so stability never changes the result.
fn sort_rows<I: WindowId>(rows: &mut [Row<I>], parallel: bool) {
    let key = |r: &Row<I>| (r.tier(), r.start, r.id);
    let descents = rows.windows(2).filter(|w| key(&w[0]) > key(&w[1])).count();
    // A sealed write buffer arrives in this order already.
    if descents == 0 {
        return;
    }
    if descents <= FEW_RUNS {
        rows.sort_by_key(key);
    } else if parallel && rows.len() >= PARALLEL_BUILD_ROWS {
        let mut sample: Vec<_> =
            (0..SORT_SAMPLE).map(|i| key(&rows[i * (rows.len() - 1) / (SORT_SAMPLE - 1)])).collect();
        sample.sort_unstable();
        let pivot = sample[SORT_SAMPLE / 2];
        let mid = partition(rows, |r| key(r) < pivot);
        let (left, right) = rows.split_at_mut(mid);
        std::thread::scope(|scope| {
            let helper = scope.spawn(|| left.sort_unstable_by_key(key));
            right.sort_unstable_by_key(key);
            // Sorting cannot panic; if the helper ever did, so does the build.
            if let Err(panic) = helper.join() {
                std::panic::resume_unwind(panic);
            }
        });
    } else {
        rows.sort_unstable_by_key(key);
    }
}

/// Keys sampled, evenly spaced, to split a bulk load for the parallel sort:
/// the two sides differ by a few percent at most.
const SORT_SAMPLE: usize = 1023;

/// Moves the elements satisfying `left` before the others and returns how
/// many there are (one pass, in place, order not kept).
fn partition<T>(v: &mut [T], left: impl Fn(&T) -> bool) -> usize {
    let (mut lo, mut hi) = (0, v.len());
    loop {
        while lo < hi && left(&v[lo]) {
            lo += 1;
        }
        while lo < hi && !left(&v[hi - 1]) {
            hi -= 1;
        }
        if lo >= hi {
            return lo;
        }
        v.swap(lo, hi - 1);
        lo += 1;
        hi -= 1;
    }
}

/// The radix directory over `ids`' prefixes: empty for a dense run, whose
/// ids are found by arithmetic.
pub(super) fn id_directory<I: WindowId>(ids: &SortedIds<I>) -> Directory {
    let n = if ids.is_dense() { 0 } else { ids.len() };
    Directory::build(0, n, |i| prefix_key(ids.prefix(i)))
}

/// The least and the greatest of the rows' ids, for integer ids (`None`
/// for other ids, or no rows): what both integer id indexes below start
/// from, found in one pass over the rows.
fn id_span<I: WindowId>(rows: &[Row<I>]) -> Option<(u64, u64)> {
    if !I::EXACT_PREFIX || rows.is_empty() {
        return None;
    }
    Some(rows.iter().fold((u64::MAX, 0), |(lo, hi), r| (lo.min(r.id.prefix()), hi.max(r.id.prefix()))))
}

/// The id index of rows whose ids are every integer from the least to the
/// greatest, each once (a bulk load of ids handed out in sequence): a dense
/// run, each id's row placed at its offset, with no sort (sorting 10M
/// `(id, row)` pairs took a build's largest temporary, 160 MB, and about
/// 0.7 s of a thread). `span` is [`id_span`] of the rows. `None` for any
/// other ids, repeats included (the sorted path lets a bulk load find
/// them).
fn dense_id_index<I: WindowId>(rows: &[Row<I>], span: Option<(u64, u64)>) -> Option<(SortedIds<I>, Vec<u32>)> {
    let (min, max) = span?;
    if max - min != rows.len() as u64 - 1 {
        return None;
    }
    let mut id_rows = huge_pages::filled(u32::MAX, rows.len());
    for (r, row) in rows.iter().enumerate() {
        let slot = &mut id_rows[(row.id.prefix() - min) as usize];
        if *slot != u32::MAX {
            return None;
        }
        *slot = row32(r);
    }
    Some((SortedIds::Dense { base: min, len: rows.len() }, id_rows))
}

/// The id index of integer ids spanning at most `u32::MAX` (ids handed
/// out in sequence, their segments' usual case), sorted as one `u64` a
/// row, the id's offset from the least above the row's number: half the
/// bytes of `(id, row)` pairs to move in each pass of the radix sort.
/// `span` is [`id_span`] of the rows. `None` for other ids, or too few or
/// too many rows for the radix sort.
fn packed_id_index<I: WindowId>(rows: &[Row<I>], span: Option<(u64, u64)>) -> Option<(SortedIds<I>, Vec<u32>)> {
    let (min, max) = span.filter(|_| radix::suits(rows.len()))?;
    if max - min > u64::from(u32::MAX) {
        return None;
    }
    let mut keys: Vec<u64> = rows.iter().enumerate().map(|(i, r)| ((r.id.prefix() - min) << 32) | i as u64).collect();
    radix::radix_sort_by_key(&mut keys, |&k| k >> 32);
    let id_rows = huge_pages::collect(keys.iter().map(|&k| k as u32));
    let offsets = huge_pages::collect(keys.iter().map(|&k| (k >> 32) as u32));
    Some((SortedIds::of_offsets(min, offsets), id_rows))
}

/// The id blocks (see [`SegmentData::by_id_block`]) of a segment whose
/// ids' rows, in ascending order of id, are `id_rows`.
pub(super) fn id_blocks(id_rows: &[u32], entry_keys: &[u32], tier_ends: [u32; TIERS], clock: Clock) -> Postings {
    Postings::build_groups(id_rows, ID_BLOCK, entry_keys, tier_ends, clock)
}

/// Each row's id block (see [`SegmentData::by_id_block`]), from the
/// rows of the ids in ascending order.
pub(super) fn id_block_column(id_rows: &[u32]) -> Vec<u32> {
    let mut column = vec![0u32; id_rows.len()];
    for (k, &r) in id_rows.iter().enumerate() {
        column[r as usize] = row32(id_block_of(k));
    }
    column
}

impl<I: WindowId> SegmentData<I> {
    /// Builds a segment from rows in any order, on two threads if it is
    /// large. Ids must be unique.
    pub(crate) fn build(rows: Vec<Row<I>>, places: &PlacesView) -> Self {
        SegmentData::build_with(rows, places, true)
    }

    /// Builds a segment on this thread only (background merges leave the
    /// other core to the writer).
    pub(crate) fn build_serial(rows: Vec<Row<I>>, places: &PlacesView) -> Self {
        SegmentData::build_with(rows, places, false)
    }

    fn build_with(mut rows: Vec<Row<I>>, places: &PlacesView, parallel: bool) -> Self {
        debug_assert!(rows.len() < NONE as usize, "segment too large for u32 row numbers");
        sort_rows(&mut rows, parallel);
        let n = rows.len();
        let mut seg = SegmentData::default();
        let mut tiers = [Tier::default(); TIERS];
        let mut cursor = 0u32;
        for (t, tier) in tiers.iter_mut().enumerate() {
            tier.lo = cursor;
            tier.min_len = i64::MAX;
            tier.max_len = 0;
            while (cursor as usize) < n && rows[cursor as usize].tier() == t {
                let len = rows[cursor as usize].end - rows[cursor as usize].start;
                tier.min_len = tier.min_len.min(len);
                tier.max_len = tier.max_len.max(len);
                cursor += 1;
            }
            tier.hi = cursor;
        }
        seg.tiers = tiers;
        let long = tiers[TIERS - 1];
        seg.long_ends = EndColumn::new(rows[long.lo as usize..long.hi as usize].iter().map(|r| r.end));
        seg.rows = rows.into();
        let rows = &seg.rows;
        // The id index, the sorted ends and the postings are independent: on
        // large segments they are built on two threads.
        let tier_ends = tiers.map(|t| t.hi);
        // Each tier is sorted by start: its first and last rows bound it.
        let (first, last) = tiers.iter().filter(|t| t.hi > t.lo).fold((i64::MAX, i64::MIN), |(a, b), t| {
            (a.min(rows[t.lo as usize].start), b.max(rows[t.hi as usize - 1].start))
        });
        let clock = start_clock(first.min(last), last);
        let column = |f: fn(Place) -> u32| -> Vec<u32> { rows.iter().map(|r| f(places.at(r.place))).collect() };
        // Every posting family's entries (and the id blocks') take their
        // keys from here.
        let keys = super::postings::entry_keys(rows, &clock);
        // Large segments have id blocks and organization ranks.
        let large = n >= if parallel { ID_BLOCK_MIN_ROWS } else { ID_BLOCK_SERIAL_MIN_ROWS };
        // Split so the two halves take about as long.
        let id_index = || {
            let span = id_span(rows);
            let (ids, id_rows) = dense_id_index(rows, span).unwrap_or_else(|| {
                if let Some(sorted) = packed_id_index(rows, span) {
                    return sorted;
                }
                let mut by_id: Vec<(I, u32)> = rows.iter().enumerate().map(|(i, r)| (r.id, row32(i))).collect();
                if I::EXACT_PREFIX {
                    // The prefix is the whole id, in order.
                    radix::sort_by_key(&mut by_id, |&(id, _)| id.prefix());
                } else {
                    by_id.sort_unstable_by_key(|&(id, _)| id);
                }
                let ids = SortedIds::new(by_id.len(), |k| by_id[k].0);
                (ids, huge_pages::collect(by_id.iter().map(|&(_, r)| r)))
            });
            let id_blocks = large.then(|| id_blocks(&id_rows, &keys, tier_ends, clock));
            // With organization ranks, the ends are sorted with each row's
            // organization, which the ranks take in that order.
            let (ends, end_ranks) = if large {
                let orgs = column(|p| p.org);
                let (ends, end_orgs) = end_order(rows, &orgs);
                (ends, Some(end_matrix(bits_of(&orgs), end_orgs, orgs)))
            } else {
                let mut ends: Vec<i64> = huge_pages::collect(rows.iter().map(|r| r.end));
                radix::sort_by_key(&mut ends, |&e| radix::signed_key(e));
                (ends, None)
            };
            (ids, id_rows, ends, (id_blocks, end_ranks))
        };
        let postings = || {
            let mut max_end = Vec::with_capacity(n.div_ceil(BLOCK));
            let mut min_end = Vec::with_capacity(n.div_ceil(BLOCK));
            for chunk in rows.chunks(BLOCK) {
                max_end.push(chunk.iter().map(|r| r.end).max().unwrap_or(i64::MIN));
                min_end.push(chunk.iter().map(|r| r.end).min().unwrap_or(i64::MAX));
            }
            let start_dirs = tiers.map(|t| Directory::build(t.lo as usize, t.hi as usize, |i| rows[i].start));
            // Each family's column lives only while its lists are built (the
            // organizations' also while their ranks are): all three at once
            // were part of a bulk load's peak.
            let by_charger = Postings::build(&column(|p| p.charger), &keys, tier_ends, clock);
            let by_site = Postings::build(&column(|p| p.site), &keys, tier_ends, clock);
            let orgs = column(|p| p.org);
            let p = [by_charger, by_site, Postings::build(&orgs, &keys, tier_ends, clock)];
            let start_ranks = large.then(|| start_matrix(rows, &tiers, orgs));
            (p, (max_end, min_end, start_dirs), start_ranks)
        };
        let ((ids, id_rows, ends, (id_blocks, end_ranks)), (postings, blocks, start_ranks)) =
            if parallel && n >= PARALLEL_BUILD_ROWS {
                std::thread::scope(|scope| {
                    let helper = scope.spawn(id_index);
                    let p = postings();
                    // A panic on the helper would be a bug; rebuild on this thread then.
                    (helper.join().unwrap_or_else(|_| id_index()), p)
                })
            } else {
                (id_index(), postings())
            };
        let [by_charger, by_site, by_org] = postings;
        (seg.by_charger, seg.by_site, seg.by_org) = (by_charger, by_site, by_org);
        let (block_max_end, block_min_end, start_dirs) = blocks;
        (seg.block_max_end, seg.block_min_end, seg.start_dirs) =
            (block_max_end.into(), block_min_end.into(), start_dirs);
        (seg.ids_sorted, seg.id_rows, seg.ends) = (ids, id_rows.into(), SortedEnds::new(ends));
        seg.by_id_block = id_blocks;
        seg.org_ranks = start_ranks.zip(end_ranks).map(|(starts, ends)| OrgRanks::of(starts, ends));
        seg.id_dir = id_directory(&seg.ids_sorted);
        seg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_puts_every_left_element_first() {
        for n in [0usize, 1, 2, 7, 100, 1_001] {
            for cut in [0u64, 1, 3, 50, 999, u64::MAX] {
                let mut v: Vec<u64> = (0..n as u64).map(|i| i * 7_919 % 1_009).collect();
                let mut want = v.clone();
                let mid = partition(&mut v, |&x| x < cut);
                assert_eq!(mid, want.iter().filter(|&&x| x < cut).count(), "n {n} cut {cut}");
                assert!(v[..mid].iter().all(|&x| x < cut) && v[mid..].iter().all(|&x| x >= cut));
                v.sort_unstable();
                want.sort_unstable();
                assert_eq!(v, want, "partition must only move elements");
            }
        }
    }

    #[test]
    fn dense_ids_are_placed_without_a_sort_and_others_are_sorted() {
        let row = |id: u64, i: u64| Row { start: (i * 7_919 % 1_000) as i64, end: 5_000, id, place: 0, slot: 0 };
        // Every id from 500 to 2,499 once, scattered.
        let rows: Vec<Row<u64>> = (0..2_000u64).map(|i| row(500 + i * 7 % 2_000, i)).collect();
        let (ids, id_rows) = dense_id_index(&rows, id_span(&rows)).expect("a dense run");
        assert!(ids.is_dense() && ids.len() == 2_000);
        for (k, &r) in id_rows.iter().enumerate() {
            assert_eq!(rows[r as usize].id, 500 + k as u64);
        }
        // A gap, a repeat (the span still matches the count), one row.
        let mut gap = rows.clone();
        gap[3].id = 9_999;
        assert!(dense_id_index(&gap, id_span(&gap)).is_none());
        let mut repeat = rows.clone();
        repeat[3].id = repeat[4].id;
        assert!(dense_id_index(&repeat, id_span(&repeat)).is_none(), "a repeat is left to the sorted path");
        assert!(dense_id_index(&rows[..1], id_span(&rows[..1])).is_some_and(|(ids, r)| ids.is_dense() && r == [0]));
        assert!(dense_id_index::<u64>(&[], id_span::<u64>(&[])).is_none());
    }

    #[test]
    fn packed_ids_sort_like_id_row_pairs() {
        let n = radix::RADIX_MIN as u64 + 1_000;
        let row = |id: u64, i: u64| Row { start: i as i64, end: 5_000, id, place: 0, slot: 0 };
        // Scattered ids with gaps, then one repeated, then a dense run.
        let sparse: Vec<Row<u64>> = (0..n).map(|i| row(1_000 + (i * 7_919) % (3 * n), i)).collect();
        let mut repeat = sparse.clone();
        repeat[10].id = repeat[20].id;
        let dense: Vec<Row<u64>> = (0..n).map(|i| row(77 + (i * 7_919) % n, i)).collect();
        for rows in [sparse, repeat, dense] {
            let (ids, id_rows) = packed_id_index(&rows, id_span(&rows)).expect("integer ids in a u32 span");
            let mut want: Vec<(u64, u32)> = rows.iter().enumerate().map(|(i, r)| (r.id, row32(i))).collect();
            want.sort_by_key(|&(id, _)| id);
            assert_eq!(ids.len(), want.len());
            assert!((0..want.len()).all(|k| ids.prefix(k) == want[k].0), "ids out of order");
            assert!(id_rows.iter().zip(&want).all(|(&r, w)| rows[r as usize].id == w.0), "rows do not hold their ids");
            assert_eq!(ids.is_dense(), want.windows(2).all(|p| p[1].0 == p[0].0 + 1));
        }
        // Too few rows for the radix sort, or a span past u32: not packed.
        let few = [row(1, 0), row(5, 1)];
        assert!(packed_id_index(&few, id_span(&few)).is_none());
        let wide: Vec<Row<u64>> = (0..n).map(|i| row(i << 33, i)).collect();
        assert!(packed_id_index(&wide, id_span(&wide)).is_none());
    }

    #[test]
    fn rows_in_start_order_split_by_tier_like_a_sort() {
        // Lengths of every tier, interleaved, in `(start, id)` order.
        let lens = [60, 86_400, 40 * 86_400, 3_600, 9 * 86_400];
        let rows: Vec<Row<u64>> = (0..5_000u64)
            .map(|i| {
                let start = (i / 3) as i64 * 1_000_000;
                Row { start, end: start + lens[(i * 7 % 5) as usize] * 1_000_000, id: i, place: 0, slot: 0 }
            })
            .collect();
        assert!(rows.windows(2).all(|w| (w[0].start, w[0].id) < (w[1].start, w[1].id)));
        let mut split = rows.clone();
        sort_rows(&mut split, false);
        let mut want = rows;
        want.sort_by_key(|r| (r.tier(), r.start, r.id));
        assert!(split.iter().zip(&want).all(|(a, b)| (a.start, a.end, a.id) == (b.start, b.end, b.id)));
        assert_eq!(split.len(), want.len());
    }

    #[test]
    fn large_bulk_loads_sort_on_two_threads_like_one() {
        // Scattered starts and lengths across all tiers, ids unique; large
        // enough for the split-and-sort path.
        let n = PARALLEL_BUILD_ROWS as u64 + 12_345;
        let hour = 3_600_000_000i64;
        let mut rows: Vec<Row<u64>> = (0..n)
            .map(|i| {
                let start = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as i64 * 1_000;
                let len = [hour, 30 * hour, 1_000 * hour][(i % 7 % 3) as usize] + (i % 13) as i64;
                Row { start, end: start + len, id: i * 3 % n, place: 0, slot: i as u32 }
            })
            .collect();
        let mut want = rows.clone();
        want.sort_by_key(|r| (r.tier(), r.start, r.id));
        sort_rows(&mut rows, true);
        assert!(rows.iter().zip(&want).all(|(a, b)| (a.id, a.start, a.slot) == (b.id, b.start, b.slot)));
    }
}
