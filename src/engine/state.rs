//! One state of the index as reads see it: the segment list, the kills and
//! the write buffer after it, the buffered payloads, and the catalog. The
//! writer's own state and every published version lend themselves as one,
//! so queries, counts, pages and lookups run the same code on both.

use std::sync::OnceLock;

use super::log;
use super::parts::Parts;
use super::sealed::Sealed;
use crate::catalog::CatalogView;
use crate::query::{
    BUFFER, Consistency, Driver, Entry, Explain, Hits, MAX_SEALED, OwnedEntry, OwnedPage, Page, Plan, Query, View,
    Warm, sealed_of, sealed_src,
};
use crate::segment::{Kills, Row, WriteBuffer, row32};
use crate::{Error, Window, WindowId};

/// A borrowed state of the index.
#[derive(Debug)]
pub(crate) struct State<'a, I, P> {
    pub(crate) parts: &'a Parts<I, P>,
    pub(crate) kills: &'a Kills,
    pub(crate) buffer: &'a WriteBuffer<I>,
    pub(crate) log: &'a [OnceLock<P>],
    pub(crate) sealed: &'a Sealed<I, P>,
    pub(crate) catalog: &'a CatalogView,
}

impl<I, P> Clone for State<'_, I, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I, P> Copy for State<'_, I, P> {}

impl<'a, I: WindowId, P> State<'a, I, P> {
    /// What a query reads.
    #[inline]
    pub(crate) fn view(&self) -> View<'a, I> {
        View {
            segments: &self.parts.segments,
            kills: self.kills,
            buffer: self.buffer,
            sealed: &self.sealed.buffers,
            catalog: self.catalog,
            key: &self.parts.key,
        }
    }

    /// What page sinks prefetch for the hits they keep.
    #[inline]
    fn warm(&self) -> Warm<'a> {
        Warm { payloads: self.parts.prefetchers(), buffered: log::prefetch(self.log), places: &self.catalog.places }
    }

    /// The page of windows matching `query`; its cursor pins version `pin`
    /// if given.
    #[inline]
    pub(crate) fn query(&self, query: &Query<I>, pin: Option<u64>) -> Result<Page<'a, I, P>, Error> {
        let (items, next_cursor, driver) = self.query_with(query, pin, |window, payload| Entry { window, payload })?;
        Ok(Page { items, next_cursor, driver })
    }

    /// The page of windows matching `query` as `version` holds them, with
    /// clones of their payloads (what a shared index returns: made from
    /// the rows directly, not from a borrowed page copied).
    #[inline]
    pub(crate) fn query_owned(
        &self,
        query: &Query<I>,
        pin: Option<u64>,
        version: u64,
        consistency: Consistency,
    ) -> Result<OwnedPage<I, P>, Error>
    where
        P: Clone,
    {
        let (items, next_cursor, driver) =
            self.query_with(query, pin, |window, payload: &P| OwnedEntry { window, payload: payload.clone() })?;
        Ok(OwnedPage { items, next_cursor, driver, version, consistency })
    }

    /// The items of the page of windows matching `query`, each made by
    /// `item` from its window and payload; its cursor (pinning version
    /// `pin` if given) and driver.
    #[inline]
    fn query_with<E>(
        &self,
        query: &Query<I>,
        pin: Option<u64>,
        item: impl Fn(Window<I>, &'a P) -> E,
    ) -> Result<(Vec<E>, Option<String>, Driver), Error> {
        let view = self.view();
        let mut plan = Plan::page(&view, query)?;
        plan.pin = pin;
        let mut hits = Hits::new();
        let next_cursor = crate::query::page(&view, &plan, self.warm(), &mut hits);
        Ok((self.items(&hits, item), next_cursor, plan.driver()))
    }

    /// The number of windows matching `query`.
    #[inline]
    pub(crate) fn count(&self, query: &Query<I>) -> Result<u64, Error> {
        let view = self.view();
        let plan = Plan::count(&view, query)?;
        Ok(crate::query::count(&view, &plan))
    }

    /// How [`State::query`] would run `query`.
    pub(crate) fn explain(&self, query: &Query<I>) -> Result<Explain, Error> {
        let view = self.view();
        Ok(Plan::page(&view, query)?.explain(&view))
    }

    /// How [`State::count`] would run `query`.
    pub(crate) fn explain_count(&self, query: &Query<I>) -> Result<Explain, Error> {
        let view = self.view();
        Ok(Plan::count(&view, query)?.explain(&view))
    }

    /// The live window `id` with its payload. The write buffer first (the
    /// newest rows), then the segments, oldest first: at most one row of an
    /// id is live.
    pub(crate) fn get(&self, id: I) -> Option<Entry<'a, I, P>> {
        if let Some(i) = self.buffer.position(id) {
            return self.entry(BUFFER, row32(i));
        }
        for (k, sealed) in self.sealed.buffers.iter().enumerate() {
            if let Some(i) = sealed.position(id) {
                return self.entry(sealed_src(k), row32(i));
            }
        }
        let (s, r) = self.find(id)?;
        self.entry(row32(s), r)
    }

    /// The segment and row of the live window `id`, if a segment holds it.
    /// The row and its payload start loading as soon as the row's number is
    /// known, before its tombstone is read, so the three cache misses
    /// overlap (whoever asks reads the row and payload next: a write returns
    /// them, a `get` answers with them).
    pub(crate) fn find(&self, id: I) -> Option<(usize, u32)> {
        self.parts.segments.iter().enumerate().find_map(|(s, seg)| {
            let r = seg.find(id, |r| self.parts.prefetchers()[s].slot(r))?;
            (!self.kills.contains(row32(s), r)).then_some((s, r))
        })
    }

    /// The items of `hits`, each made by `item` from its window and payload.
    #[inline]
    fn items<E>(&self, hits: &Hits<I>, item: impl Fn(Window<I>, &'a P) -> E) -> Vec<E> {
        // Find every row and payload first: the loads are independent, so
        // their cache misses overlap instead of queueing behind each entry's
        // construction.
        let found: Vec<(&Row<I>, Option<&P>)> = hits
            .iter()
            .map(|h| {
                let row = self.row(h.src, h.row);
                (row, self.payload(h.src, row))
            })
            .collect();
        debug_assert!(found.iter().all(|(_, p)| p.is_some()), "a live window lost its payload");
        let mut items = Vec::with_capacity(found.len());
        items.extend(found.iter().filter_map(|&(row, payload)| Some(item(self.window_of(row), payload?))));
        items
    }

    /// Row `row` of source `src` (a segment number, [`BUFFER`] or a sealed
    /// buffer's source).
    #[inline(always)]
    pub(crate) fn row(&self, src: u32, row: u32) -> &'a Row<I> {
        if src == BUFFER {
            self.buffer.row(row as usize)
        } else if let Some(k) = sealed_of(src) {
            self.sealed.buffers[k].row(row as usize)
        } else {
            &self.parts.segments[src as usize].rows[row as usize]
        }
    }

    /// The payload of `row`, of source `src`.
    #[inline]
    pub(crate) fn payload(&self, src: u32, row: &Row<I>) -> Option<&'a P> {
        if src == BUFFER {
            log::read(self.log, row.slot)
        } else if let Some(k) = sealed_of(src) {
            log::read(self.sealed.logs.get(k)?, row.slot)
        } else {
            self.parts.payload(src as usize, row.slot)
        }
    }

    /// The public window of `row`.
    #[inline]
    pub(crate) fn window_of(&self, row: &Row<I>) -> Window<I> {
        self.catalog.window(row.id, row.start, row.end, row.place)
    }

    #[inline]
    fn entry(&self, src: u32, r: u32) -> Option<Entry<'a, I, P>> {
        self.entry_of(src, self.row(src, r))
    }

    #[inline]
    fn entry_of(&self, src: u32, row: &Row<I>) -> Option<Entry<'a, I, P>> {
        let payload = self.payload(src, row);
        debug_assert!(payload.is_some(), "live window {} has no payload", row.id);
        Some(Entry { window: self.window_of(row), payload: payload? })
    }

    /// Checks every layer of the state, which holds `len` live windows:
    /// segments and their payloads, kills, the write buffer and its
    /// payloads, and across them, ids and placements.
    pub(crate) fn check_invariants(&self, len: usize) -> Result<(), String> {
        self.buffer.check_invariants()?;
        self.parts.check_invariants()?;
        self.kills.check_invariants(&self.parts.segments)?;
        let places = &self.catalog.places;
        let mut live = self.buffer.len();
        let mut ids = std::collections::HashSet::new();
        let mut check_row = |row: &Row<I>| -> Result<(), String> {
            if !ids.insert(row.id) {
                return Err(format!("id {} is live twice", row.id));
            }
            if places.get(row.place).is_none() {
                return Err(format!("id {} has an unknown placement {}", row.id, row.place));
            }
            Ok(())
        };
        let mut slots = std::collections::HashSet::new();
        for (_, row) in self.buffer.numbered() {
            check_row(row)?;
            if !slots.insert(row.slot) || log::read(self.log, row.slot).is_none() {
                return Err(format!("buffered id {} has a shared or empty payload slot {}", row.id, row.slot));
            }
        }
        if self.sealed.buffers.len() != self.sealed.logs.len() || self.sealed.len() > MAX_SEALED {
            return Err(format!("{} sealed buffers with {} logs", self.sealed.len(), self.sealed.logs.len()));
        }
        for (sealed, log) in self.sealed.buffers.iter().zip(&self.sealed.logs) {
            sealed.check_invariants()?;
            let mut slots = std::collections::HashSet::new();
            for (_, row) in sealed.numbered() {
                check_row(row)?;
                live += 1;
                if !slots.insert(row.slot) || log::read(log, row.slot).is_none() {
                    return Err(format!("sealed id {} has a shared or empty payload slot {}", row.id, row.slot));
                }
            }
        }
        for (s, (stored, seg)) in self.parts.segments.iter().zip(self.view().live_segments()).enumerate() {
            stored.check_invariants(places).map_err(|e| format!("segment {s}: {e}"))?;
            for r in 0..row32(seg.len()) {
                if !seg.is_dead(r) {
                    live += 1;
                    check_row(&seg.row(r))?;
                }
            }
        }
        if live != len {
            return Err(format!("len is {len} but {live} rows are live"));
        }
        Ok(())
    }
}
