//! Running a [`Plan`]: a page's hits and its next cursor, or a count.

use super::count::{org_rank_count, posting_count, rank_count};
use super::plan::{Access, Driver, Plan};
use super::request::Order;
use super::scan;
use super::sink::{Counter, Hits, IdTopK, StartTopK, Warm};
use super::view::View;
use crate::WindowId;

/// Runs a page plan: gathers the page's hits (windows as rows in the store)
/// into `hits`, which the caller keeps on its stack, and returns the cursor
/// after them if more follow. `warm` starts loading what the page will read
/// of each hit it keeps (payloads, placements) while the scan goes on.
#[inline]
pub(crate) fn page<I: WindowId>(
    view: &View<'_, I>,
    plan: &Plan<'_, I>,
    warm: Warm<'_>,
    hits: &mut Hits<I>,
) -> Option<String> {
    let q = &plan.q;
    // One more than the page, so `has_next` is exact.
    let need = q.limit + 1;
    hits.clear();
    if let Access::Scan(driver) = plan.access {
        match q.order {
            Order::StartThenId => scan::run(view, plan, &mut StartTopK::new(need, warm, hits)),
            Order::Id => {
                scan::run(view, plan, &mut IdTopK::new(need, q.after_id, driver == Driver::IdOrder, warm, hits))
            }
        }
    }
    if hits.len() > q.limit {
        hits.truncate(q.limit);
        hits.last().map(|h| plan.cursor_after(view.key, h))
    } else {
        None
    }
}

/// Runs a count plan.
#[inline]
pub(crate) fn count<I: WindowId>(view: &View<'_, I>, plan: &Plan<'_, I>) -> u64 {
    let q = &plan.q;
    let from_segments: u64 = match plan.access {
        Access::Nothing => return 0,
        Access::Ranks(shape) => view.live_segments().map(|s| rank_count(&s, &q.tb, shape)).sum(),
        Access::Postings(_) => view.live_segments().map(|s| posting_count(&s, q)).sum(),
        Access::OrgRanks(shape) => {
            let runs = q.orgs.as_ref().map_or(&[][..], |o| o.runs());
            let ranked: u64 =
                view.live_segments().zip(&plan.ranges).map(|(seg, r)| org_rank_count(&seg, q, shape, r, runs)).sum();
            if plan.collect == Driver::PostingCount {
                // No time bound: the other segments by their lists' sizes.
                let rest: u64 =
                    view.live_segments().filter(|s| s.org_ranks().is_none()).map(|s| posting_count(&s, q)).sum();
                let mut buffered = Counter::default();
                scan::scan_buffers(view, q, &mut buffered);
                return ranked + rest + buffered.0;
            }
            // The other segments and the write buffer, by their driver.
            let mut sink = Counter::default();
            scan::run(view, plan, &mut sink);
            return ranked + sink.0;
        }
        Access::Scan(_) => {
            let mut sink = Counter::default();
            scan::run(view, plan, &mut sink);
            return sink.0;
        }
    };
    // Neither searches nor list sizes see the write buffer: it is scanned.
    let mut buffered = Counter::default();
    scan::scan_buffers(view, q, &mut buffered);
    from_segments + buffered.0
}
