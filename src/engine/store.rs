//! The store: segments, the write buffer, payloads, the catalog and the
//! compactor, with the one function that changes them ([`Store::apply`]).
//! Reads go through a [`View`] of it; the [`Index`](crate::Index) is its
//! public face.

use std::sync::Arc;

use super::compaction::Compactor;
use super::mutation::{Applied, Mutation};
use super::payloads::Payloads;
use crate::catalog::{CAPACITY, Catalog};
use crate::memory::{Prefetch, huge_pages};
use crate::query::{BUFFER, CursorKey, Driver, Entry, Found, Page, View, Warm};
use crate::segment::{Row, Segment, SegmentData, WriteBuffer, row32};
use crate::{Error, Window, WindowId};

/// Windows buffered before they are sorted into an immutable segment.
pub const DEFAULT_WRITE_BUFFER: usize = 256;

/// Windows whose lookups [`Store::upsert_all`] makes together.
const WRITE_BATCH: usize = 32;

/// Segments from this many rows on are warmed for a batch of writes.
const WARM_MIN_ROWS: usize = 1 << 16;

/// How many rows ahead a bulk load's payload gather starts its reads.
const PAYLOAD_PREFETCH: usize = 16;

/// Where a window's row lives.
#[derive(Clone, Copy, Debug)]
enum Loc {
    Buffer(usize),
    Seg(usize, u32),
}

/// Everything an index holds.
#[derive(Debug, Clone)]
pub(crate) struct Store<I, P> {
    segments: Vec<Segment<I>>,
    buffer: WriteBuffer<I>,
    payloads: Payloads<P>,
    /// Live windows.
    len: usize,
    catalog: Catalog,
    key: CursorKey,
    /// Rows buffered before they are built into a segment.
    write_buffer: usize,
    compactor: Compactor<I>,
}

impl<I: WindowId, P> Store<I, P> {
    pub(crate) fn new(catalog: Catalog, key: CursorKey, write_buffer: usize, inline_merge_rows: usize) -> Self {
        Store {
            segments: Vec::new(),
            buffer: WriteBuffer::default(),
            payloads: Payloads::default(),
            len: 0,
            catalog,
            key,
            write_buffer,
            compactor: Compactor::new(inline_merge_rows),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// What a query reads.
    #[inline]
    pub(crate) fn view(&self) -> View<'_, I> {
        View { segments: &self.segments, buffer: &self.buffer, catalog: self.catalog.view(), key: &self.key }
    }

    /// What page sinks prefetch for the hits they keep.
    #[inline]
    pub(crate) fn warm(&self) -> Warm<'_> {
        Warm { payloads: self.payloads.prefetch(), places: &self.catalog.view().places }
    }

    /// Applies one mutation: the only way the store changes.
    pub(crate) fn apply(&mut self, mutation: Mutation<I, P>) -> Result<Applied<I, P>, Error> {
        Ok(match mutation {
            Mutation::Insert { window, payload } => {
                self.insert(window, payload)?;
                Applied::Inserted
            }
            Mutation::Upsert { window, payload } => Applied::Upserted(self.upsert(window, payload)?),
            Mutation::UpsertAll(windows) => Applied::UpsertedAll(self.upsert_all(windows)?),
            Mutation::Delete(id) => Applied::Deleted(self.delete(id)),
            Mutation::Bulk(windows) => Applied::BulkInserted(self.bulk_insert(windows)?),
            Mutation::AddOrganization { id, parent } => {
                self.catalog.change_orgs(|orgs| orgs.add(id, parent))?;
                Applied::OrganizationAdded
            }
            Mutation::MoveOrganization { id, parent } => {
                self.catalog.change_orgs(|orgs| orgs.set_parent(id, parent))?;
                Applied::OrganizationMoved
            }
        })
    }

    /// Validate (organization, id, a payload slot), make the row, then
    /// the slot: a failure anywhere leaves nothing to roll back.
    fn insert(&mut self, window: Window<I>, payload: P) -> Result<(), Error> {
        self.catalog.orgs().require(window.org())?;
        if self.locate(window.id()).is_some() {
            return Err(Error::DuplicateId(window.id().to_string()));
        }
        if !self.payloads.has_room() {
            return Err(Error::CapacityExceeded(CAPACITY));
        }
        let mut row = self.make_row(&window)?;
        row.slot = self.payloads.put(payload).ok_or(Error::CapacityExceeded(CAPACITY))?;
        self.push(row);
        Ok(())
    }

    /// Validate (a payload slot if the id is new), make the row (which checks
    /// the organization), then replace or take the slot.
    fn upsert(&mut self, window: Window<I>, payload: P) -> Result<Option<P>, Error> {
        let loc = self.locate(window.id());
        if loc.is_none() && !self.payloads.has_room() {
            return Err(Error::CapacityExceeded(CAPACITY));
        }
        let mut row = self.make_row(&window)?;
        match loc {
            Some(loc) => {
                let old = self.remove_at(loc);
                self.len -= 1;
                row.slot = old.slot;
                let previous = self.payloads.replace(old.slot, payload);
                self.push(row);
                Ok(previous)
            }
            None => {
                row.slot = self.payloads.put(payload).ok_or(Error::CapacityExceeded(CAPACITY))?;
                self.push(row);
                Ok(None)
            }
        }
    }

    /// Upserts in order; organizations and capacity are checked for all
    /// windows before any is written. Each batch of [`WRITE_BATCH`] has its
    /// lookups made together first.
    fn upsert_all(&mut self, windows: Vec<(Window<I>, P)>) -> Result<Vec<Option<P>>, Error> {
        for (w, _) in &windows {
            self.catalog.orgs().require(w.org())?;
        }
        if !self.catalog.has_room_for(windows.len()) || self.payloads.len() as u64 + windows.len() as u64 >= CAPACITY {
            return Err(Error::CapacityExceeded(CAPACITY));
        }
        let mut previous = Vec::with_capacity(windows.len());
        let (mut ids, mut rows) = (Vec::with_capacity(WRITE_BATCH), Vec::with_capacity(WRITE_BATCH));
        let mut windows = windows.into_iter().peekable();
        while windows.peek().is_some() {
            let batch: Vec<(Window<I>, P)> = windows.by_ref().take(WRITE_BATCH).collect();
            ids.clear();
            ids.extend(batch.iter().map(|(w, _)| w.id()));
            self.warm_writes(&batch, &ids, &mut rows);
            for (w, p) in batch {
                previous.push(self.upsert(w, p)?);
            }
        }
        Ok(previous)
    }

    /// Loads what writing `batch` (whose ids are `ids`) will read: each
    /// window's placement, and in every large segment the id's row, its
    /// tombstones and its payload. Reads only; the writes then hit the cache.
    fn warm_writes(&self, batch: &[(Window<I>, P)], ids: &[I], rows: &mut Vec<Option<u32>>) {
        let mut acc = 0u64;
        for (w, _) in batch {
            acc ^= u64::from(self.catalog.find_place(w).unwrap_or(0));
        }
        let payloads = self.payloads.prefetch();
        // Small segments' lookups hit the cache anyway.
        for seg in self.segments.iter().filter(|s| s.len() >= WARM_MIN_ROWS) {
            rows.clear();
            seg.rows_of(ids, rows);
            for &r in rows.iter().flatten() {
                acc ^= seg.warm_kill(r) as u64;
            }
            for &r in rows.iter().flatten() {
                payloads.slot(seg.row(r).slot);
            }
        }
        std::hint::black_box(acc);
    }

    fn delete(&mut self, id: I) -> Option<(Window<I>, P)> {
        let loc = self.locate(id)?;
        let row = self.remove_at(loc);
        self.len -= 1;
        // Install finished merges now, as every write does: a merge's output
        // must also lose the rows deleted while it ran, and the writer kills
        // those left over at install; left waiting through a long run of
        // deletes they piled up into a pause (48 ms after 200,000 deletes).
        if self.compactor.running() > 0 {
            self.compactor.poll(&mut self.segments, &self.catalog.view().places);
        }
        let window = self.window_of(&row);
        self.payloads.take(row.slot).map(|p| (window, p))
    }

    /// Rows first carry the position of their item; once the segment has
    /// sorted them, payloads are laid out in row order, so the payloads of a
    /// page sit together in memory. Nothing is visible until the segment is
    /// pushed: on an error the store is unchanged (the catalog may keep
    /// numbers no window uses, which no query can observe).
    fn bulk_insert(&mut self, windows: Vec<(Window<I>, P)>) -> Result<usize, Error> {
        let mut rows = huge_pages::with_capacity(windows.len());
        let mut payloads = Vec::with_capacity(windows.len());
        for (w, payload) in windows {
            if self.len as u64 + rows.len() as u64 >= CAPACITY
                || self.payloads.len() as u64 + rows.len() as u64 >= CAPACITY
            {
                return Err(Error::CapacityExceeded(CAPACITY));
            }
            let mut row = self.make_row(&w)?;
            row.slot = row32(rows.len());
            rows.push(row);
            payloads.push(Some(payload));
        }
        if rows.is_empty() {
            return Ok(0);
        }
        if !self.is_empty()
            && let Some(id) = rows.iter().map(|r| r.id).find(|&id| self.locate(id).is_some())
        {
            return Err(Error::DuplicateId(id.to_string()));
        }
        let mut data = SegmentData::build(rows, &self.catalog.view().places);
        // The segment's id index is sorted: a repeated id sits next to itself.
        if let Some(k) = data.ids_sorted.first_repeat() {
            return Err(Error::DuplicateId(data.rows[data.id_rows[k] as usize].id.to_string()));
        }
        // A gather in row order: each read is a cache miss, so the reads a
        // few rows ahead are started early and their misses overlap.
        self.payloads.reserve(payloads.len());
        let ahead = Prefetch::of(&payloads);
        for r in 0..data.rows.len() {
            if let Some(next) = data.rows.get(r + PAYLOAD_PREFETCH) {
                ahead.slot(next.slot);
            }
            let row = &mut data.rows[r];
            row.slot = self.payloads.push_new(payloads[row.slot as usize].take());
        }
        let n = data.len();
        self.len += n;
        self.segments.push(Segment::from_data(Arc::new(data)));
        self.compactor.maintain(&mut self.segments, &self.catalog.view().places);
        Ok(n)
    }

    /// Waits for background merges, installs them, and merges until segment
    /// sizes are geometric again.
    pub(crate) fn compact(&mut self) {
        self.compactor.finish(&mut self.segments, &self.catalog.view().places);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The live window `id` with its payload.
    pub(crate) fn get(&self, id: I) -> Option<Entry<'_, I, P>> {
        let row = match self.locate(id)? {
            Loc::Buffer(i) => self.buffer.rows[i],
            Loc::Seg(s, r) => self.segments[s].row(r),
        };
        self.entry_of(&row)
    }

    /// The page of `found`'s hits, with their windows and payloads.
    #[inline]
    pub(crate) fn page(&self, found: Found<I>, driver: Driver) -> Page<'_, I, P> {
        let rows: Vec<&Row<I>> = found.hits.iter().map(|h| self.hit_row(h.src, h.row)).collect();
        // Touch every payload first: the loads are independent, so their cache
        // misses overlap instead of queueing behind each entry's construction.
        let present = rows.iter().filter(|r| self.payloads.get(r.slot).is_some()).count();
        debug_assert_eq!(present, rows.len(), "a live window lost its payload");
        // Keep the touching pass: the optimizer would otherwise drop it.
        std::hint::black_box(present);
        let mut items = Vec::with_capacity(rows.len());
        items.extend(rows.iter().filter_map(|r| self.entry_of(r)));
        Page { items, next_cursor: found.next_cursor, driver }
    }

    #[inline]
    fn hit_row(&self, src: u32, row: u32) -> &Row<I> {
        if src == BUFFER { &self.buffer.rows[row as usize] } else { &self.segments[src as usize].rows[row as usize] }
    }

    #[inline]
    fn window_of(&self, row: &Row<I>) -> Window<I> {
        self.catalog.view().window(row.id, row.start, row.end, row.place)
    }

    #[inline]
    fn entry_of(&self, row: &Row<I>) -> Option<Entry<'_, I, P>> {
        let payload = self.payloads.get(row.slot);
        debug_assert!(payload.is_some(), "live window {} has no payload", row.id);
        Some(Entry { window: self.window_of(row), payload: payload? })
    }

    /// Where the live window `id` is. At most one row of an id is live, so
    /// the segments may be searched in any order: oldest first, because
    /// segments are geometric and the oldest holds most windows (a random
    /// existing id is usually found by the first search), while an id outside
    /// a segment's range of ids is ruled out by its directory without a read.
    fn locate(&self, id: I) -> Option<Loc> {
        if let Some(i) = self.buffer.position(id) {
            return Some(Loc::Buffer(i));
        }
        self.segments.iter().enumerate().find_map(|(s, seg)| seg.find(id).map(|r| Loc::Seg(s, r)))
    }

    fn remove_at(&mut self, loc: Loc) -> Row<I> {
        match loc {
            Loc::Buffer(i) => self.buffer.remove(i),
            Loc::Seg(s, r) => {
                let seg = &mut self.segments[s];
                seg.kill(r);
                let row = seg.row(r);
                self.compactor.note_delete(&self.segments[s], row.id);
                let seg = &self.segments[s];
                // A segment mostly dead is rebuilt from its live rows.
                if seg.len() >= 2 * self.write_buffer && seg.dead_len() * 2 > seg.len() {
                    self.compactor.rebuild(&mut self.segments, s, &self.catalog.view().places);
                }
                row
            }
        }
    }

    /// A row for `w`, its placement numbered if new; its slot is set later.
    fn make_row(&mut self, w: &Window<I>) -> Result<Row<I>, Error> {
        let place = self.catalog.place(w.charger(), w.site(), w.org())?;
        Ok(Row { start: w.start().as_micros(), end: w.end().as_micros(), id: w.id(), place, slot: 0 })
    }

    /// Adds a made row to the write buffer, building a segment and merging
    /// as due.
    fn push(&mut self, row: Row<I>) {
        self.buffer.insert(row);
        self.len += 1;
        if self.buffer.len() >= self.write_buffer {
            let rows = self.buffer.take();
            self.segments.push(Segment::build(rows, &self.catalog.view().places));
            self.compactor.maintain(&mut self.segments, &self.catalog.view().places);
        } else if self.compactor.running() > 0 {
            self.compactor.poll(&mut self.segments, &self.catalog.view().places);
        }
    }

    /// Bytes held by the index structures, payloads excluded.
    pub(crate) fn index_bytes(&self) -> usize {
        self.segments.iter().map(Segment::heap_bytes).sum::<usize>()
            + self.buffer.rows.capacity() * std::mem::size_of::<Row<I>>()
            + self.payloads.heap_bytes()
            + self.catalog.heap_bytes()
    }

    /// Checks every layer: catalog, write buffer, segments, compactor, and
    /// across them, ids, payload slots and placements.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        self.catalog.check_invariants()?;
        self.buffer.check_invariants()?;
        self.compactor.check_invariants(&self.segments)?;
        let places = &self.catalog.view().places;
        let mut live = self.buffer.len();
        let mut ids = std::collections::HashSet::new();
        let mut slots = std::collections::HashSet::new();
        let mut check_row = |row: &Row<I>| -> Result<(), String> {
            if !ids.insert(row.id) {
                return Err(format!("id {} is live twice", row.id));
            }
            if !slots.insert(row.slot) || self.payloads.get(row.slot).is_none() {
                return Err(format!("id {} has a shared or empty payload slot {}", row.id, row.slot));
            }
            if places.get(row.place).is_none() {
                return Err(format!("id {} has an unknown placement {}", row.id, row.place));
            }
            Ok(())
        };
        for row in &self.buffer.rows {
            check_row(row)?;
        }
        for (s, seg) in self.segments.iter().enumerate() {
            seg.check_invariants(places).map_err(|e| format!("segment {s}: {e}"))?;
            live += seg.live();
            for r in 0..row32(seg.len()) {
                if !seg.is_dead(r) {
                    check_row(&seg.row(r))?;
                }
            }
        }
        if live != self.len {
            return Err(format!("len is {} but {live} rows are live", self.len));
        }
        self.payloads.check_invariants(self.len)
    }

    /// Merges in flight (tests).
    #[cfg(test)]
    pub(crate) fn compactor(&self) -> &Compactor<I> {
        &self.compactor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OrgId, Timestamp};

    /// Regression: deletes did not install finished merges, so the rows
    /// deleted while a merge ran waited for the next insert to kill them at
    /// install: a 48 ms insert after 200,000 deletes.
    #[test]
    fn deletes_install_finished_merges() {
        let mut orgs = crate::catalog::OrgTree::default();
        orgs.add(OrgId(1), None).unwrap();
        let mut store: Store<u64, ()> = Store::new(Catalog::new(orgs), CursorKey::random(), 64, 0);
        let t = |m: u64| Timestamp::from_secs(m as i64 * 60).unwrap();
        let mut id = 0u64;
        // Write until a merge is in flight after a write.
        while store.compactor().running() == 0 {
            assert!(id < 1_000_000, "no merge ever ran in the background");
            store
                .apply(Mutation::Insert { window: Window::new(id, t(id), t(id + 1), OrgId(1)).unwrap(), payload: () })
                .unwrap();
            id += 1;
        }
        // Let every merge in flight finish, with no write to install it.
        let finished = loop {
            let finished = store.compactor().finished();
            if finished.len() == store.compactor().running() {
                break finished;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        assert!(store.apply(Mutation::Delete(0)).unwrap().removed().is_some());
        let left = store.compactor().finished();
        assert!(finished.iter().all(|f| !left.contains(f)), "a delete left finished merges uninstalled");
        store.check_invariants().unwrap();
        assert_eq!(store.len() as u64, id - 1);
    }
}
