//! Running a [`Plan`]: a page's hits and its next cursor, or a count.

use super::count::{org_rank_count, posting_count, rank_count};
use super::plan::{Access, Driver, Plan};
use super::request::Order;
use super::scan;
use super::sink::{Counter, Hit, IdTopK, StartTopK, Warm};
use super::view::View;
use crate::WindowId;

/// The windows of one page, as hits in the store, and the cursor after them.
#[derive(Debug)]
pub(crate) struct Found<I> {
    pub(crate) hits: Vec<Hit<I>>,
    pub(crate) next_cursor: Option<String>,
}

/// Runs a page plan. `warm` starts loading what the page will read of each
/// hit it keeps (payloads, placements) while the scan goes on.
#[inline]
pub(crate) fn page<I: WindowId>(view: &View<'_, I>, plan: &Plan<'_, I>, warm: Warm<'_>) -> Found<I> {
    let q = &plan.q;
    // One more than the page, so `has_next` is exact.
    let need = q.limit + 1;
    let mut hits = match plan.access {
        Access::Scan(driver) => match q.order {
            Order::StartThenId => {
                let mut sink = StartTopK::new(need, warm);
                scan::run(view, plan, &mut sink);
                sink.hits
            }
            Order::Id => {
                let mut sink = IdTopK::new(need, q.after_id, driver == Driver::IdOrder, warm);
                scan::run(view, plan, &mut sink);
                sink.hits
            }
        },
        Access::Nothing | Access::Ranks(_) | Access::Postings(_) | Access::OrgRanks(_) => Vec::new(),
    };
    let next_cursor = if hits.len() > q.limit {
        hits.truncate(q.limit);
        hits.last().map(|h| plan.cursor_after(view.key, h))
    } else {
        None
    };
    Found { hits, next_cursor }
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
