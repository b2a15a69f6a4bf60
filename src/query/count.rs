//! Counts that read no rows: by searches over sorted starts and ends, or
//! from the sizes of posting lists.

use super::plan::RankShape;
use super::resolve::Resolved;
use super::time_box::TimeBox;
use crate::WindowId;
use crate::segment::LiveSegment;

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
