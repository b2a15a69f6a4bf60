//! Execution: streams of matching rows, each in order, fed into a
//! [`Sink`](super::sink::Sink).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;

use super::plan::{Access, Driver, Plan};
use super::request::Order;
use super::resolve::Resolved;
use super::sink::{BUFFER, Hit, Sink, sealed_src};
use super::view::View;
use crate::WindowId;
use crate::catalog::PlacesView;
use crate::segment::{
    BLOCK, Clock, Entry, Family, Fit, LiveSegment, Row, Stream, TIERS, TierScan, WriteBuffer, id_block_of,
    last_key_at_most, lower_bounds, row32,
};

/// Posting rows read ahead at a time.
const BATCH: usize = 64;

/// Tiers are visited longest first: in `(start, id)` order their matches come
/// earliest, so they fill the page and let the other tiers stop sooner.
const TIER_VISIT: [usize; TIERS] = [2, 1, 0];

/// Runs the plan's scan over every segment's row ranges, then the write
/// buffer; under [`Driver::IdBlocks`], segments without id blocks are read
/// by the plan's collecting driver.
pub(crate) fn run<I: WindowId, S: Sink<I>>(view: &View<'_, I>, plan: &Plan<'_, I>, sink: &mut S) {
    let driver = match plan.access {
        Access::Scan(driver) => driver,
        Access::OrgRanks(_) => plan.collect,
        Access::Nothing | Access::Ranks(_) | Access::Postings(_) => return,
    };
    let q = &plan.q;
    let ranked = matches!(plan.access, Access::OrgRanks(_));
    for (src, (seg, r)) in view.segments.iter().zip(&plan.ranges).enumerate() {
        // Segments the plan counts by their organization ranks.
        if ranked && seg.org_ranks().is_some() {
            continue;
        }
        let src = row32(src);
        let seg = &LiveSegment::new(seg, view.kills.of(src));
        let driver = if driver == Driver::IdBlocks && seg.id_blocks().is_none() { plan.collect } else { driver };
        match driver {
            Driver::Nothing | Driver::RankCount | Driver::PostingCount | Driver::OrganizationRanks => return,
            Driver::TimeRange => scan_time(seg, src, r, q, sink),
            Driver::ChargerPostings => scan_postings(seg, src, r, q, Family::Charger, sink),
            Driver::SitePostings => scan_postings(seg, src, r, q, Family::Site, sink),
            Driver::OrganizationPostings => scan_postings(seg, src, r, q, Family::Org, sink),
            Driver::IdOrder => scan_ids(seg, src, q, sink),
            Driver::IdBlocks => scan_id_blocks(seg, src, r, q, plan.first_group, sink),
        }
    }
    scan_buffers(view, q, sink);
}

/// Tests the write buffer's rows, then each sealed buffer's.
pub(crate) fn scan_buffers<I: WindowId, S: Sink<I>>(view: &View<'_, I>, q: &Resolved<'_, I>, sink: &mut S) {
    scan_buffer(view.buffer, BUFFER, q, sink);
    for (k, sealed) in view.sealed.iter().enumerate() {
        scan_buffer(sealed, sealed_src(k), q, sink);
    }
}

/// Whether row number `n` (whose start is already known to be in range)
/// matches: its end, its liveness, its filters.
#[inline]
fn row_ok<I: WindowId>(seg: &LiveSegment<'_, I>, row: &Row<I>, n: u32, q: &Resolved<'_, I>) -> bool {
    q.tb.end_ok(row.end) && !seg.is_dead(n) && q.place_ok(row.place)
}

fn scan_time<I: WindowId, S: Sink<I>>(
    seg: &LiveSegment<'_, I>,
    src: u32,
    r: &[TierScan<I>; TIERS],
    q: &Resolved<'_, I>,
    sink: &mut S,
) {
    let filtered = q.has_filters();
    let any_dead = seg.has_dead();
    let mut dead = seg.dead_words();
    for t in TIER_VISIT {
        let scan = &r[t];
        let (lo, hi) = (scan.lo as usize, scan.hi as usize);
        // The longest tier's ends have a column of their own: the block's
        // ends are tested there, and a row's start only once its end passed.
        let long_ends = (t == TIERS - 1)
            .then(|| (&seg.long_ends, seg.long_ends.bounds(q.tb.e_lo, q.tb.e_hi), seg.tiers[t].lo as usize));
        // A full page whose last start precedes every start this tier may
        // hold is final here: skip the tier without reading a row of it.
        if sink.start_bound().is_some_and(|(s, _)| scan.from > s) {
            continue;
        }
        let mut i = lo;
        'tier: while i < hi {
            let b = i / BLOCK;
            let block_end = ((b + 1) * BLOCK).min(hi);
            if seg.block_max_end[b] <= q.tb.e_lo || seg.block_min_end[b] > q.tb.e_hi {
                i = block_end;
                continue;
            }
            // Rows come in key order: once past the page's last key, stop.
            if sink.start_bound().is_some_and(|b| (seg.rows[i].start, seg.rows[i].id) >= b) {
                break;
            }
            // Test the block's times without branching, then visit the
            // survivors that are alive.
            let mut mask = 0u64;
            if let Some((ends, bounds, base)) = long_ends {
                mask = ends.candidates(i - base, block_end - base, bounds) << (i - b * BLOCK);
            } else {
                for (j, row) in seg.rows[i..block_end].iter().enumerate() {
                    let ok = scan.inside(row.start, row.id) & q.tb.end_ok(row.end);
                    mask |= u64::from(ok) << (i + j - b * BLOCK);
                }
            }
            if any_dead {
                mask &= !dead.get(b);
            }
            if long_ends.is_some() {
                touch_rows(&seg.rows, set_bits(mask).map(|j| b * BLOCK + j));
            }
            while mask != 0 {
                let n = row32(b * BLOCK) + mask.trailing_zeros();
                mask &= mask - 1;
                let row = &seg.rows[n as usize];
                // The end column is coarse: its candidates' exact ends are
                // tested here, on the row read anyway.
                if long_ends.is_some() && !(scan.inside(row.start, row.id) && q.tb.end_ok(row.end)) {
                    continue;
                }
                if (!filtered || q.place_ok(row.place)) && !sink.offer(Hit::of(row, src, n)) {
                    break 'tier;
                }
            }
            if seg.rows[block_end - 1].start >= scan.to {
                break;
            }
            i = block_end;
        }
    }
}

/// Reads the rows at `at` (see [`Row::touch`]) before any is tested: the
/// loads are independent, so their cache misses overlap instead of queueing
/// behind each test.
#[inline]
fn touch_rows<I: WindowId>(rows: &[Row<I>], at: impl Iterator<Item = usize>) {
    std::hint::black_box(at.fold(0i64, |acc, n| acc ^ rows[n].touch()));
}

/// The positions of the bits set in `mask`, lowest first.
#[inline]
fn set_bits(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let j = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            j
        })
    })
}

/// Working memory of posting scans, kept per thread so a query allocates
/// nothing for its streams, merge heap or row batches.
#[derive(Default)]
struct Scratch {
    streams: Vec<Stream>,
    heap: Vec<Reverse<(u32, u32)>>,
    batch: Vec<(u32, u32)>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The next entry of `s` that may match, judged from the list alone (its
/// coarse start and length), with what the list tells of it.
#[inline]
fn next_entry<I>(
    entries: &[Entry],
    s: &mut Stream,
    clock: &Clock,
    scan: &TierScan<I>,
    q: &Resolved<'_, I>,
) -> Option<(Entry, Fit)> {
    while let Some(e) = s.next(entries) {
        match e.fit(clock, scan.from, scan.to, q.tb.e_lo, q.tb.e_hi) {
            Fit::Out => {}
            fit => return Some((e, fit)),
        }
    }
    None
}

fn scan_postings<I: WindowId, S: Sink<I>>(
    seg: &LiveSegment<'_, I>,
    src: u32,
    r: &[TierScan<I>; TIERS],
    q: &Resolved<'_, I>,
    family: Family,
    sink: &mut S,
) {
    let Some(keys) = q.keys(family) else { return };
    let postings = seg.postings(family);
    let (entries, clock) = (postings.all_entries(), postings.clock());
    let mut scratch = SCRATCH.with_borrow_mut(std::mem::take);
    let streams = &mut scratch.streams;
    streams.clear();
    for &k in keys {
        let Some(p) = postings.get(k) else { continue };
        for (t, scan) in r.iter().enumerate() {
            if !scan.is_empty() && !p.tier_range(t).is_empty() {
                streams.push(p.stream(t, scan.lo, scan.hi));
            }
        }
    }
    lower_bounds(entries, streams);
    // Membership of the list proves the driving family's filter; the others,
    // tombstones, times near a bound and the cursor need the row.
    let others = q.only_family() != Some(family);
    let any_dead = seg.has_dead();
    let verify = verifier(seg, r, q, others);
    let places = others.then_some(q.places);
    if S::ORDERED {
        merge_streams(seg, src, q, entries, clock, r, &mut scratch, (verify, places), sink);
    } else {
        let Scratch { streams, batch, .. } = &mut scratch;
        for s in streams.iter_mut() {
            let scan = &r[s.tier as usize];
            if S::COUNTING && !others && scan.after.is_none() {
                let mut n = 0u64;
                while let Some((e, fit)) = next_entry(entries, s, clock, scan, q) {
                    let counted = match fit {
                        // The entry settles the times: only the tombstone is left.
                        Fit::In => !(any_dead && seg.is_dead(e.row)),
                        _ => verify(&seg.rows[e.row as usize], e.row, s.tier),
                    };
                    n += u64::from(counted);
                }
                sink.tally(n);
                continue;
            }
            let tier = s.tier;
            let mut pull = || next_entry(entries, s, clock, scan, q).map(|(e, _)| (e.row, tier));
            if !fetch_and_offer(seg, src, &mut pull, batch, &verify, places, sink) {
                break;
            }
        }
    }
    SCRATCH.with_borrow_mut(|s| *s = scratch);
}

/// The test of a row a posting list led to (its number and tier given):
/// alive, its times inside the query's, and, with `filters`, its
/// placement passing the query's filters.
#[inline]
fn verifier<'a, I: WindowId>(
    seg: &'a LiveSegment<'_, I>,
    r: &'a [TierScan<I>; TIERS],
    q: &'a Resolved<'_, I>,
    filters: bool,
) -> impl Fn(&Row<I>, u32, u32) -> bool + 'a {
    let any_dead = seg.has_dead();
    move |row: &Row<I>, n: u32, tier: u32| {
        !(any_dead && seg.is_dead(n))
            && q.tb.end_ok(row.end)
            && r[tier as usize].inside(row.start, row.id)
            && (!filters || q.place_ok(row.place))
    }
}

/// Walks a segment's id blocks in ascending order from the one holding
/// the first id after the query's `after` id, offering each block's
/// matches (found through its list, within the query's row ranges), and
/// stops at a block whose ids are all above every id the sink keeps.
fn scan_id_blocks<I: WindowId, S: Sink<I>>(
    seg: &LiveSegment<'_, I>,
    src: u32,
    r: &[TierScan<I>; TIERS],
    q: &Resolved<'_, I>,
    first_group: usize,
    sink: &mut S,
) {
    let Some(blocks) = seg.id_blocks() else { return };
    let entries = blocks.all_entries();
    let clock = blocks.clock();
    let from = q.after_id.map_or(0, |a| seg.id_position_after(a));
    let verify = verifier(seg, r, q, q.has_filters());
    let mut scratch = SCRATCH.with_borrow_mut(std::mem::take);
    let Scratch { streams, batch, .. } = &mut scratch;
    // Blocks are read in groups, their lists positioned together and their
    // rows loaded together, so the cache misses of a group overlap. The
    // first group is as many blocks as the plan expects a page to take;
    // each next one as many as the hits per block seen so far say the room
    // left needs.
    let (first, count) = (id_block_of(from), seg.id_block_count());
    let (mut b, mut group, room) = (first, first_group.clamp(1, MAX_BLOCK_GROUP), sink.room());
    while b < count {
        if sink.id_bound().is_some_and(|last| seg.id_block_above(b, last)) {
            break;
        }
        let end = (b + group).min(count);
        streams.clear();
        for p in (b..end).filter_map(|k| blocks.get(row32(k))) {
            for (t, scan) in r.iter().enumerate() {
                if !scan.is_empty() && !p.tier_range(t).is_empty() {
                    streams.push(p.stream(t, scan.lo, scan.hi));
                }
            }
        }
        lower_bounds(entries, streams);
        batch.clear();
        for s in streams.iter_mut() {
            let (scan, tier) = (&r[s.tier as usize], s.tier);
            while let Some((e, _)) = next_entry(entries, s, clock, scan, q) {
                batch.push((e.row, tier));
            }
        }
        offer_batch(seg, src, batch, &verify, q.has_filters().then_some(q.places), sink);
        b = end;
        let found = room.saturating_sub(sink.room()).max(1);
        group = (sink.room() * (b - first)).div_ceil(found).clamp(1, MAX_BLOCK_GROUP);
    }
    SCRATCH.with_borrow_mut(|s| *s = scratch);
}

/// The most id blocks read together.
const MAX_BLOCK_GROUP: usize = 16;

/// Feeds the streams' entries to an ordered sink in ascending key (coarse
/// start) order, reading rows only for entries the sink still has room for:
/// a page of 50 reads about 50 rows however many entries the lists hold.
/// Entries of one quantum may come in any order: the sink places each hit by
/// its exact key.
#[allow(clippy::too_many_arguments)]
fn merge_streams<I: WindowId, S: Sink<I>>(
    seg: &LiveSegment<'_, I>,
    src: u32,
    q: &Resolved<'_, I>,
    entries: &[Entry],
    clock: &Clock,
    r: &[TierScan<I>; TIERS],
    scratch: &mut Scratch,
    (verify, places): (impl Fn(&Row<I>, u32, u32) -> bool, Option<&PlacesView>),
    sink: &mut S,
) {
    let Scratch { streams, heap, batch } = scratch;
    // Each stream's next entry, by key (the heap holds the stream's number;
    // the stream's position holds the entry).
    heap.clear();
    for (i, s) in streams.iter_mut().enumerate() {
        if let Some((e, _)) = next_entry(entries, s, clock, &r[s.tier as usize], q) {
            s.pos -= 1;
            heap.push(Reverse((e.key, row32(i))));
        }
    }
    let mut heads = BinaryHeap::from(std::mem::take(heap));
    loop {
        // Entries up to the page's last start's quantum may still enter it
        // (exact starts and ids decide); entries past it cannot.
        let (bound, want) = match sink.start_bound() {
            None => (u32::MAX, sink.room().clamp(1, BATCH)),
            Some((s, _)) => match last_key_at_most(clock, s) {
                Some(bound) => (bound, BATCH),
                None => break,
            },
        };
        batch.clear();
        while batch.len() < want {
            // The smallest key of the other streams: the root's children
            // hold it. Until then, the top stream's entries come next in order
            // and are taken without touching the heap.
            let next = heads
                .as_slice()
                .get(1..)
                .map_or(u32::MAX, |c| c.iter().take(2).map(|h| h.0.0).min().unwrap_or(u32::MAX));
            let Some(mut top) = heads.peek_mut() else { break };
            let Reverse((key, i)) = *top;
            if key > bound {
                break;
            }
            let limit = next.min(bound);
            let s = &mut streams[i as usize];
            let scan = &r[s.tier as usize];
            batch.push((entries[s.pos as usize].row, s.tier));
            s.pos += 1;
            let head = loop {
                match next_entry(entries, s, clock, scan, q) {
                    Some((e, _)) if e.key <= limit && batch.len() < want => batch.push((e.row, s.tier)),
                    Some((e, _)) => {
                        s.pos -= 1;
                        break Some(e.key);
                    }
                    None => break None,
                }
            };
            match head {
                // Replacing the top sifts once; popping and pushing twice.
                Some(key) => *top = Reverse((key, i)),
                None => {
                    PeekMut::pop(top);
                }
            }
        }
        // A refused hit does not end the merge: an entry at the page's last
        // start may still enter it by id.
        offer_batch(seg, src, batch, &verify, places, sink);
        if batch.len() < want {
            break;
        }
    }
    *heap = heads.into_vec();
}

/// Reads the rows of `batch` (row numbers with their tiers) and offers those
/// that pass `verify`; `false` once the sink refuses one. The rows are loaded
/// first, all at once, so their cache misses overlap instead of queueing
/// behind each test; with `places`, the placements the rows name are
/// loaded next, the same way, for the filters' tests.
#[inline(always)]
fn offer_batch<I: WindowId, S: Sink<I>>(
    seg: &LiveSegment<'_, I>,
    src: u32,
    batch: &[(u32, u32)],
    verify: &impl Fn(&Row<I>, u32, u32) -> bool,
    places: Option<&PlacesView>,
    sink: &mut S,
) -> bool {
    touch_rows(&seg.rows, batch.iter().map(|&(n, _)| n as usize));
    seg.prefetch_dead(batch);
    if let Some(places) = places {
        batch.iter().for_each(|&(n, _)| places.prefetch_dense(seg.rows[n as usize].place));
    }
    let mut accepted = true;
    for &(n, tier) in batch {
        let r = &seg.rows[n as usize];
        if verify(r, n, tier) && !sink.offer(Hit::of(r, src, n)) {
            accepted = false;
            if !S::ORDERED {
                break;
            }
        }
    }
    accepted
}

/// Reads the rows of the entries from `pull`, [`BATCH`] at a time so their
/// cache misses overlap, and offers those that pass `verify`. Returns `false`
/// once the sink refuses a hit.
fn fetch_and_offer<I: WindowId, S: Sink<I>>(
    seg: &LiveSegment<'_, I>,
    src: u32,
    pull: &mut impl FnMut() -> Option<(u32, u32)>,
    batch: &mut Vec<(u32, u32)>,
    verify: &impl Fn(&Row<I>, u32, u32) -> bool,
    places: Option<&PlacesView>,
    sink: &mut S,
) -> bool {
    loop {
        batch.clear();
        batch.extend(std::iter::from_fn(&mut *pull).take(BATCH));
        if !offer_batch(seg, src, batch, verify, places, sink) {
            return false;
        }
        if batch.len() < BATCH {
            return true;
        }
    }
}

fn scan_ids<I: WindowId, S: Sink<I>>(seg: &LiveSegment<'_, I>, src: u32, q: &Resolved<'_, I>, sink: &mut S) {
    let from = match q.after_id {
        Some(a) => seg.id_position_after(a),
        None => 0,
    };
    for &row in &seg.id_rows[from..] {
        let r = &seg.rows[row as usize];
        if q.tb.contains(r.start, r.end) && row_ok(seg, r, row, q) && !sink.offer(Hit::of(r, src, row)) {
            break;
        }
    }
}

/// Tests the buffered rows whose starts can match (a write buffer is small,
/// and each of its two layers is sorted by tier, then `(start, id)`); their
/// hits come from source `src`.
fn scan_buffer<I: WindowId, S: Sink<I>>(buffer: &WriteBuffer<I>, src: u32, q: &Resolved<'_, I>, sink: &mut S) {
    // Each tier's rows start in order: none before the earliest start that
    // can still reach the query's ends (given the tier's longest row)
    // matches, nor any from `s_hi` on, whatever the query's order.
    // A buffer that holds none of the query's chargers or sites is skipped
    // whole: testing its rows' placements is a cache miss each.
    if buffer.len() == 0 || buffer.excludes(q.chargers.as_deref(), q.sites.as_deref()) {
        return;
    }
    for layer in buffer.tiers() {
        for (t, (first, rows)) in layer.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            let (earliest, _) = q.tb.start_range(0, buffer.max_len[t]);
            let mut from = rows.partition_point(|r| r.start < earliest);
            if let (Order::StartThenId, Some(key)) = (q.order, q.after_key) {
                from = from.max(rows.partition_point(|r| (r.start, r.id) <= key));
            }
            for (i, r) in rows.iter().enumerate().skip(from) {
                if r.start >= q.tb.s_hi {
                    break;
                }
                if q.tb.contains(r.start, r.end)
                    && q.place_ok(r.place)
                    && !sink.offer(Hit::of(r, src, row32(first + i)))
                    && q.order == Order::StartThenId
                {
                    break;
                }
            }
        }
    }
}
