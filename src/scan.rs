//! Execution: streams of matching rows, each in order, fed into sinks that
//! keep the first page, keep the smallest ids, or count.

use crate::memtable::Memtable;
use crate::plan::{Ranges, Resolved};
use crate::postings::RowIter;
use crate::segment::{BLOCK, Family, Place, Row, Segment, TIERS, TierScan};
use crate::{Driver, WindowId};

/// Where a hit lives: a segment number, or the memtable.
pub(crate) const MEMTABLE: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit<I> {
    pub(crate) start: i64,
    pub(crate) id: I,
    pub(crate) src: u32,
    pub(crate) row: u32,
}

/// Receives matching rows. A stream delivers rows in its own order and stops
/// as soon as `offer` returns `false`.
pub(crate) trait Sink<I> {
    fn offer(&mut self, hit: Hit<I>) -> bool;

    /// In `(start, id)` order: the key no later row of an ordered stream may
    /// reach and still be kept. Lets a stream stop before testing rows.
    #[inline]
    fn start_bound(&self) -> Option<(i64, I)> {
        None
    }
}

/// Keeps the first `need` hits in `(start, id)` order. A stream ordered the
/// same way stops once its rows cannot enter the page.
pub(crate) struct StartTopK<I> {
    need: usize,
    pub(crate) hits: Vec<Hit<I>>,
}

impl<I: WindowId> StartTopK<I> {
    pub(crate) fn new(need: usize) -> Self {
        StartTopK { need, hits: Vec::with_capacity(need + 1) }
    }
}

impl<I: WindowId> Sink<I> for StartTopK<I> {
    #[inline]
    fn offer(&mut self, hit: Hit<I>) -> bool {
        let key = (hit.start, hit.id);
        // Streams deliver ascending keys, so most hits go at the end.
        match self.hits.last() {
            Some(last) if key < (last.start, last.id) => {}
            Some(_) if self.hits.len() >= self.need => return false,
            _ => {
                self.hits.push(hit);
                return true;
            }
        }
        let at = self.hits.partition_point(|h| (h.start, h.id) < key);
        self.hits.insert(at, hit);
        self.hits.truncate(self.need);
        true
    }

    #[inline]
    fn start_bound(&self) -> Option<(i64, I)> {
        if self.hits.len() < self.need {
            return None;
        }
        self.hits.last().map(|h| (h.start, h.id))
    }
}

/// Keeps the `need` smallest ids greater than `after`. With `ordered`, the
/// stream delivers ascending ids and may stop once the page is full.
pub(crate) struct IdTopK<I> {
    need: usize,
    after: Option<I>,
    ordered: bool,
    pub(crate) hits: Vec<Hit<I>>,
}

impl<I: WindowId> IdTopK<I> {
    pub(crate) fn new(need: usize, after: Option<I>, ordered: bool) -> Self {
        IdTopK { need, after, ordered, hits: Vec::with_capacity(need + 1) }
    }
}

impl<I: WindowId> Sink<I> for IdTopK<I> {
    #[inline]
    fn offer(&mut self, hit: Hit<I>) -> bool {
        if self.after.is_some_and(|a| hit.id <= a) {
            return true;
        }
        if self.hits.len() == self.need && self.hits.last().is_none_or(|last| hit.id >= last.id) {
            return !self.ordered;
        }
        let at = self.hits.partition_point(|h| h.id < hit.id);
        self.hits.insert(at, hit);
        self.hits.truncate(self.need);
        true
    }
}

/// Counts every hit.
#[derive(Default)]
pub(crate) struct Counter(pub(crate) u64);

impl<I> Sink<I> for Counter {
    #[inline]
    fn offer(&mut self, _: Hit<I>) -> bool {
        self.0 += 1;
        true
    }
}

/// Posting rows read ahead at a time.
const BATCH: usize = 16;

/// Tiers are visited longest first: in `(start, id)` order their matches come
/// earliest, so they fill the page and let the other tiers stop sooner.
const TIER_VISIT: [usize; TIERS] = [2, 1, 0];

/// Runs `driver` over every segment's row ranges, then the memtable.
pub(crate) fn run<I: WindowId, S: Sink<I>>(
    segments: &[Segment<I>],
    ranges: &Ranges<I>,
    mem: &Memtable<I>,
    q: &Resolved<I>,
    driver: Driver,
    sink: &mut S,
) {
    for (src, (seg, r)) in segments.iter().zip(ranges).enumerate() {
        let src = src as u32;
        match driver {
            Driver::Nothing | Driver::RankCount | Driver::PostingCount => return,
            Driver::TimeRange => scan_time(seg, src, r, q, sink),
            Driver::ChargerPostings => scan_postings(seg, src, r, q, Family::Charger, sink),
            Driver::SitePostings => scan_postings(seg, src, r, q, Family::Site, sink),
            Driver::OrganizationPostings => scan_postings(seg, src, r, q, Family::Org, sink),
            Driver::IdOrder => scan_ids(seg, src, q, sink),
        }
    }
    scan_memtable(mem, q, sink);
}

/// Whether row number `n` (whose start is already known to be in range)
/// matches: its end, its liveness, its filters.
#[inline]
fn row_ok<I: WindowId>(seg: &Segment<I>, row: &Row<I>, n: u32, q: &Resolved<I>) -> bool {
    q.tb.end_ok(row.end) && !seg.is_dead(n) && q.filters_ok(row.charger, row.site, row.org)
}

fn scan_time<I: WindowId, S: Sink<I>>(
    seg: &Segment<I>,
    src: u32,
    r: &[TierScan<I>; TIERS],
    q: &Resolved<I>,
    sink: &mut S,
) {
    for t in TIER_VISIT {
        let scan = &r[t];
        let (lo, hi) = (scan.lo as usize, scan.hi as usize);
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
            for (j, row) in seg.rows[i..block_end].iter().enumerate() {
                let ok = scan.inside(row.start, row.id) & q.tb.end_ok(row.end);
                mask |= u64::from(ok) << (i + j - b * BLOCK);
            }
            mask &= !seg.dead_word(b);
            while mask != 0 {
                let n = (b * BLOCK) as u32 + mask.trailing_zeros();
                mask &= mask - 1;
                let row = &seg.rows[n as usize];
                if q.filters_ok(row.charger, row.site, row.org)
                    && !sink.offer(Hit { start: row.start, id: row.id, src, row: n })
                {
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

fn scan_postings<I: WindowId, S: Sink<I>>(
    seg: &Segment<I>,
    src: u32,
    r: &[TierScan<I>; TIERS],
    q: &Resolved<I>,
    family: Family,
    sink: &mut S,
) {
    /// One posting's iterator with its next row.
    struct Stream<'a> {
        iter: RowIter<'a>,
        head: Option<u32>,
    }
    let Some(keys) = q.keys(family) else { return };
    let postings = seg.postings(family);
    let (first, last) = (r[0].lo, r[TIERS - 1].hi.max(r[0].lo));
    // One iterator per key serves every tier: tiers are laid out in row order,
    // so the posting is walked once, front to back.
    let mut streams: Vec<Stream<'_>> = keys
        .iter()
        .filter_map(|&k| postings.get(k))
        .filter(|p| (0..TIERS).any(|t| p.counts()[t] > 0 && !r[t].is_empty()))
        .map(|p| {
            let mut iter = p.range(first, last);
            let head = iter.next();
            Stream { iter, head }
        })
        .collect();
    for scan in r {
        let (lo, hi) = (scan.lo, scan.hi);
        if lo == hi {
            continue;
        }
        for s in &mut streams {
            if s.head.is_some_and(|h| h < lo) {
                s.iter.advance_to(lo);
                s.head = s.iter.next();
            }
        }
        // Several keys merge into one stream in row order, which inside a tier
        // is (start, id) order.
        let mut merged = std::iter::from_fn(|| {
            let s = streams.iter_mut().filter(|s| s.head.is_some_and(|h| h < hi)).min_by_key(|s| s.head)?;
            let row = s.head;
            s.head = s.iter.next();
            row
        });
        scan_rows(seg, src, q, scan, &mut merged, sink);
    }
}

/// Tests rows arriving in `(start, id)` order, stopping once they can no
/// longer enter the sink. Rows of a posting are scattered, so they are read in
/// batches whose cache misses overlap instead of queueing.
fn scan_rows<I: WindowId, S: Sink<I>>(
    seg: &Segment<I>,
    src: u32,
    q: &Resolved<I>,
    scan: &TierScan<I>,
    rows: &mut impl Iterator<Item = u32>,
    sink: &mut S,
) {
    let mut numbers = [0u32; BATCH];
    loop {
        let mut got = 0;
        for (slot, row) in numbers.iter_mut().zip(rows.by_ref()) {
            *slot = row;
            got += 1;
        }
        if got == 0 {
            return;
        }
        let batch: [Row<I>; BATCH] = std::array::from_fn(|k| seg.rows[numbers[k.min(got - 1)] as usize]);
        for (k, r) in batch.iter().enumerate().take(got) {
            let row = numbers[k];
            if sink.start_bound().is_some_and(|b| (r.start, r.id) >= b) {
                return;
            }
            match scan.place(r.start, r.id) {
                Place::Past => return,
                Place::Before => continue,
                Place::Inside => {}
            }
            if row_ok(seg, r, row, q) && !sink.offer(Hit { start: r.start, id: r.id, src, row }) {
                return;
            }
        }
        if got < BATCH {
            return;
        }
    }
}

fn scan_ids<I: WindowId, S: Sink<I>>(seg: &Segment<I>, src: u32, q: &Resolved<I>, sink: &mut S) {
    let from = match q.after_id {
        Some(a) => seg.id_position_after(a),
        None => 0,
    };
    for &row in &seg.id_rows[from..] {
        let r = &seg.rows[row as usize];
        if q.tb.contains(r.start, r.end)
            && row_ok(seg, r, row, q)
            && !sink.offer(Hit { start: r.start, id: r.id, src, row })
        {
            break;
        }
    }
}

/// Tests every buffered row (the write buffer is small and sorted by `(start, id)`).
pub(crate) fn scan_memtable<I: WindowId, S: Sink<I>>(mem: &Memtable<I>, q: &Resolved<I>, sink: &mut S) {
    let from = match (q.order, q.after_key) {
        (crate::Order::StartThenId, Some(key)) => mem.rows.partition_point(|r| (r.start, r.id) <= key),
        _ => 0,
    };
    for (i, r) in mem.rows.iter().enumerate().skip(from) {
        if r.start >= q.tb.s_hi && q.order == crate::Order::StartThenId {
            break;
        }
        if q.tb.contains(r.start, r.end)
            && q.filters_ok(r.charger, r.site, r.org)
            && !sink.offer(Hit { start: r.start, id: r.id, src: MEMTABLE, row: i as u32 })
            && q.order == crate::Order::StartThenId
        {
            break;
        }
    }
}
