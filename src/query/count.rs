//! Counts that read no rows: by searches over sorted starts and ends, or
//! from the sizes of posting lists.

use super::plan::RankShape;
use super::resolve::Resolved;
use super::time_box::TimeBox;
use crate::WindowId;
use crate::segment::{LiveSegment, TIERS, TierScan};

/// Live rows of a segment in the postings of the query's only filtered family:
/// the lists' sizes, less the deleted rows whose key is among the requested.
pub(crate) fn posting_count<I: WindowId>(seg: &LiveSegment<'_, I>, q: &Resolved<'_, I>) -> u64 {
    let Some(family) = q.only_family() else { return 0 };
    let keys = q.keys(family).unwrap_or(&[]);
    let postings = seg.postings(family);
    let all: u64 = keys
        .iter()
        .filter_map(|&k| postings.get(k))
        .map(|p| p.counts().iter().map(|&c| u64::from(c)).sum::<u64>())
        .sum();
    let dead = seg.dead_rows().filter(|&r| {
        let row = seg.row(r);
        q.place_ok(row.place)
    });
    all - dead.count() as u64
}

/// Live rows of a segment in `q`'s time box (which has `shape`) whose
/// organization is in one of `runs`: counted by the segment's organization
/// ranks over every row, less the dead rows among the candidates `r` that
/// match (each read and tested; the plan costed them). Nothing for a
/// segment without ranks (the scan counts it).
pub(crate) fn org_rank_count<I: WindowId>(
    seg: &LiveSegment<'_, I>,
    q: &Resolved<'_, I>,
    shape: RankShape,
    r: &[TierScan<I>; TIERS],
    runs: &[(u32, u32)],
) -> u64 {
    let Some(ranks) = seg.org_ranks() else { return 0 };
    let tb = &q.tb;
    // Prefix counts only grow with the prefix; `saturating_sub` keeps ranks
    // read from a damaged (if well-formed) snapshot from underflowing.
    let all = match shape {
        RankShape::Starts => {
            let ([hi, lo], []) = seg.rank_positions([tb.s_hi, tb.s_lo], []);
            ranks.started(hi, runs).saturating_sub(ranks.started(lo, runs))
        }
        RankShape::Ends => {
            let ([], [hi, lo]) = seg.rank_positions([], [tb.e_hi, tb.e_lo]);
            ranks.ended(hi, runs).saturating_sub(ranks.ended(lo, runs))
        }
        RankShape::Overlap => {
            let ([started], [ended]) = seg.rank_positions([tb.s_hi], [tb.e_lo]);
            ranks.started(started, runs).saturating_sub(ranks.ended(ended, runs))
        }
    };
    if !seg.has_dead() {
        return all;
    }
    // The dead candidates, a batch at a time: each batch's rows start
    // loading together, so their cache misses overlap, then are tested.
    let mut dead = 0;
    let mut batch = [0u32; DEAD_BATCH];
    let mut held = 0;
    let prefetch = crate::memory::Prefetch::of(&seg.rows);
    let test = |batch: &[u32]| {
        for &r in batch {
            prefetch.slot(r);
        }
        batch
            .iter()
            .filter(|&&r| {
                let row = seg.row(r);
                tb.contains(row.start, row.end) && q.place_ok(row.place)
            })
            .count() as u64
    };
    let mut words = seg.dead_words();
    for t in r.iter().filter(|t| !t.is_empty() && seg.dead_in(t.lo..t.hi) > 0) {
        for w in t.lo / 64..t.hi.div_ceil(64) {
            let first = w * 64;
            let mut bits = words.get(w as usize) & span_mask(first, t.lo, t.hi);
            while bits != 0 {
                batch[held] = first + bits.trailing_zeros();
                held += 1;
                if held == DEAD_BATCH {
                    dead += test(&batch);
                    held = 0;
                }
                bits &= bits - 1;
            }
        }
    }
    dead += test(&batch[..held]);
    all.saturating_sub(dead)
}

/// Dead candidates whose rows are loaded together.
const DEAD_BATCH: usize = 16;

/// The bits of the word of rows `first..first + 64` that lie in `lo..hi`.
#[inline]
fn span_mask(first: u32, lo: u32, hi: u32) -> u64 {
    let from = lo.saturating_sub(first).min(64);
    let to = hi.saturating_sub(first).min(64);
    let upto = |k: u32| if k >= 64 { u64::MAX } else { (1u64 << k) - 1 };
    upto(to) & !upto(from)
}

/// Counts live rows of a segment inside `tb`, which has `shape`.
pub(crate) fn rank_count<I: WindowId>(seg: &LiveSegment<'_, I>, tb: &TimeBox, shape: RankShape) -> u64 {
    match shape {
        RankShape::Starts => {
            let ([hi, lo], []) = seg.live_ranks([tb.s_hi, tb.s_lo], []);
            hi.saturating_sub(lo)
        }
        RankShape::Ends => {
            let ([], [hi, lo]) = seg.live_ranks([], [tb.e_hi, tb.e_lo]);
            hi.saturating_sub(lo)
        }
        RankShape::Overlap => {
            let ([started], [ended]) = seg.live_ranks([tb.s_hi], [tb.e_lo]);
            started - ended
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{NONE, Place, PlacesView};
    use crate::segment::{Kill, Row, SegKills, Segment};

    const HOUR: i64 = 3_600_000_000;

    /// `n` rows of segment `s`: starts spread over 100 days, lengths in all
    /// three tiers.
    fn rows(s: u64, n: u64) -> Vec<Row<u64>> {
        (0..n)
            .map(|i| {
                let x = (s * 1_000 + i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let start = (x >> 40) as i64 % (2_400 * HOUR);
                let len = [HOUR, 30 * HOUR, 900 * HOUR][(x % 3) as usize] + (x >> 20) as i64 % HOUR;
                Row { start, end: start + len, id: s * 1_000 + i, place: 0, slot: i as u32 }
            })
            .collect()
    }

    /// Counts over many segments, with tombstones and kills, equal a scan
    /// of the live rows, for every shape.
    #[test]
    fn rank_counts_over_segments_equal_a_scan_of_the_live_rows() {
        let places = [Place { charger: NONE, site: NONE, org: 0 }];
        let view = PlacesView::of(&places);
        let mut segments = Vec::new();
        let mut live: Vec<Row<u64>> = Vec::new();
        let mut kills: Vec<Vec<Kill>> = Vec::new();
        for s in 0..19u64 {
            let all = rows(s, 50 + s * 37);
            let mut seg = Segment::build(all.clone(), &view);
            let mut mine = Vec::new();
            for row in &all {
                let r = seg.row_of(row.id).expect("built from these rows");
                match row.id % 7 {
                    0 => seg.kill(r),
                    1 => mine.push(Kill { seg: s as u32, row: r, start: row.start, end: row.end }),
                    _ => live.push(*row),
                }
            }
            mine.sort_by_key(|k| k.row);
            segments.push(seg);
            kills.push(mine);
        }
        let segs = || segments.iter().zip(&kills).map(|(seg, k)| LiveSegment::new(seg, SegKills::of_slice(k)));
        let count = |tb: &TimeBox, shape| segs().map(|s| rank_count(&s, tb, shape)).sum::<u64>();
        for (a, b) in [(0, 10 * HOUR), (500 * HOUR, 501 * HOUR), (-HOUR, 3_000 * HOUR), (1_200 * HOUR, 1_300 * HOUR)] {
            let boxes = [
                (TimeBox { s_lo: a, s_hi: b, ..TimeBox::ALL }, RankShape::Starts),
                (TimeBox { e_lo: a, e_hi: b, ..TimeBox::ALL }, RankShape::Ends),
                (TimeBox { s_hi: b, e_lo: a, ..TimeBox::ALL }, RankShape::Overlap),
            ];
            for (tb, shape) in boxes {
                let want = live
                    .iter()
                    .filter(|r| tb.s_lo <= r.start && r.start < tb.s_hi && tb.e_lo < r.end && r.end <= tb.e_hi)
                    .count() as u64;
                assert_eq!(count(&tb, shape), want, "{shape:?} over {a}..{b}");
            }
        }
    }
}
