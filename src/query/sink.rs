//! Sinks: where a scan's matching rows go. One keeps the first page in
//! `(start, id)` order, one the smallest ids, one only counts.

use arrayvec::ArrayVec;

use super::request::MAX_PAGE_SIZE;
use crate::WindowId;
use crate::catalog::PlacesView;
use crate::memory::Prefetch;
use crate::segment::Row;

/// The source of a hit in the write buffer (other hits name their segment
/// by number).
pub(crate) const BUFFER: u32 = u32::MAX;

/// Sealed write buffers an index holds at most (see [`sealed_src`]).
pub(crate) const MAX_SEALED: usize = 64;

/// The source number of sealed write buffer `k` (counted down from just
/// below [`BUFFER`]; segments count up from 0).
#[inline]
pub(crate) fn sealed_src(k: usize) -> u32 {
    debug_assert!(k < MAX_SEALED);
    BUFFER - 1 - k as u32
}

/// The sealed write buffer a source number names, if it names one.
#[inline]
pub(crate) fn sealed_of(src: u32) -> Option<usize> {
    let k = BUFFER.wrapping_sub(src).wrapping_sub(1) as usize;
    (src != BUFFER && k < MAX_SEALED).then_some(k)
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Hit<I> {
    pub(crate) start: i64,
    pub(crate) id: I,
    pub(crate) src: u32,
    pub(crate) row: u32,
    /// The row's payload slot and placement, so a sink can start loading
    /// what the page will read of them.
    pub(crate) slot: u32,
    pub(crate) place: u32,
}

impl<I: WindowId> Hit<I> {
    /// Row `row` of source `src` (a segment number or [`BUFFER`]).
    #[inline]
    pub(crate) fn of(r: &Row<I>, src: u32, row: u32) -> Self {
        Hit { start: r.start, id: r.id, src, row, slot: r.slot, place: r.place }
    }
}

/// What a page sink starts loading for every hit it keeps: the payload and
/// the placement's public ids, both read when the page is assembled.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Warm<'a> {
    /// Each segment's payloads, by row.
    pub(crate) payloads: &'a [Prefetch],
    /// The write buffer's payloads, by slot.
    pub(crate) buffered: Prefetch,
    pub(crate) places: &'a PlacesView,
}

impl Warm<'_> {
    #[inline(always)]
    fn hit<I>(&self, hit: &Hit<I>) {
        if hit.src == BUFFER {
            self.buffered.slot(hit.slot);
        } else if let Some(p) = self.payloads.get(hit.src as usize) {
            p.slot(hit.slot);
        }
        self.places.prefetch(hit.place);
    }
}

/// Receives matching rows. A stream delivers rows in its own order and stops
/// as soon as `offer` returns `false`.
pub(crate) trait Sink<I> {
    /// Whether the sink keeps the first hits in `(start, id)` order, so an
    /// ordered stream may stop once they are found.
    const ORDERED: bool = false;
    /// Whether only the number of hits matters: a stream that can tell
    /// matches without reading their rows calls [`Sink::tally`] instead.
    const COUNTING: bool = false;

    fn offer(&mut self, hit: Hit<I>) -> bool;

    /// Adds `n` hits known only by number (for [`Sink::COUNTING`] sinks).
    fn tally(&mut self, _n: u64) {}

    /// How many more hits the sink keeps before it is full.
    #[inline]
    fn room(&self) -> usize {
        usize::MAX
    }

    /// In `(start, id)` order: the key no later row of an ordered stream may
    /// reach and still be kept. Lets a stream stop before testing rows.
    #[inline]
    fn start_bound(&self) -> Option<(i64, I)> {
        None
    }

    /// In id order: the id no later hit may reach and still be kept (the
    /// largest kept, once the sink is full). Lets a walk of id blocks stop.
    #[inline]
    fn id_bound(&self) -> Option<I> {
        None
    }
}

/// Room for the hits of a page: the page, one more (so `has_next` is
/// exact), and one a sink inserts before it drops its last.
const HITS: usize = MAX_PAGE_SIZE + 2;

/// A page's hits, on the stack.
pub(crate) type Hits<I> = ArrayVec<Hit<I>, HITS>;

/// Keeps the first `need` hits in `(start, id)` order. A stream ordered the
/// same way stops once its rows cannot enter the page.
pub(crate) struct StartTopK<'a, 'h, I> {
    need: usize,
    warm: Warm<'a>,
    hits: &'h mut Hits<I>,
}

impl<'a, 'h, I: WindowId> StartTopK<'a, 'h, I> {
    /// Gathers into `hits` (empty) at most `MAX_PAGE_SIZE + 1` (a page
    /// and one more).
    pub(crate) fn new(need: usize, warm: Warm<'a>, hits: &'h mut Hits<I>) -> Self {
        debug_assert!(hits.is_empty());
        StartTopK { need: need.min(HITS - 1), warm, hits }
    }
}

impl<I: WindowId> Sink<I> for StartTopK<'_, '_, I> {
    const ORDERED: bool = true;

    #[inline]
    fn room(&self) -> usize {
        self.need - self.hits.len()
    }

    #[inline(always)]
    fn offer(&mut self, hit: Hit<I>) -> bool {
        let key = (hit.start, hit.id);
        // Streams deliver ascending keys, so most hits go at the end.
        let at = match self.hits.last() {
            Some(last) if key < (last.start, last.id) => Some(self.hits.partition_point(|h| (h.start, h.id) < key)),
            Some(_) if self.hits.len() >= self.need => return false,
            _ => None,
        };
        self.warm.hit(&hit);
        match at {
            None => self.hits.push(hit),
            Some(at) => {
                self.hits.insert(at, hit);
                self.hits.truncate(self.need);
            }
        }
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
pub(crate) struct IdTopK<'a, 'h, I> {
    need: usize,
    after: Option<I>,
    ordered: bool,
    warm: Warm<'a>,
    hits: &'h mut Hits<I>,
}

impl<'a, 'h, I: WindowId> IdTopK<'a, 'h, I> {
    /// Gathers into `hits` (empty) at most `MAX_PAGE_SIZE + 1` (a page
    /// and one more).
    pub(crate) fn new(need: usize, after: Option<I>, ordered: bool, warm: Warm<'a>, hits: &'h mut Hits<I>) -> Self {
        debug_assert!(hits.is_empty());
        IdTopK { need: need.min(HITS - 1), after, ordered, warm, hits }
    }
}

impl<I: WindowId> Sink<I> for IdTopK<'_, '_, I> {
    #[inline]
    fn offer(&mut self, hit: Hit<I>) -> bool {
        if self.after.is_some_and(|a| hit.id <= a) {
            return true;
        }
        if self.hits.len() == self.need && self.hits.last().is_none_or(|last| hit.id >= last.id) {
            return !self.ordered;
        }
        self.warm.hit(&hit);
        let at = self.hits.partition_point(|h| h.id < hit.id);
        self.hits.insert(at, hit);
        self.hits.truncate(self.need);
        true
    }

    #[inline]
    fn id_bound(&self) -> Option<I> {
        self.hits.last().filter(|_| self.hits.len() == self.need).map(|h| h.id)
    }

    #[inline]
    fn room(&self) -> usize {
        self.need - self.hits.len()
    }
}

/// Counts every hit.
#[derive(Default)]
pub(crate) struct Counter(pub(crate) u64);

impl<I> Sink<I> for Counter {
    const COUNTING: bool = true;

    #[inline]
    fn offer(&mut self, _: Hit<I>) -> bool {
        self.0 += 1;
        true
    }

    #[inline]
    fn tally(&mut self, n: u64) {
        self.0 += n;
    }
}
