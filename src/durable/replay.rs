//! Replaying the log into an index: the records' net effect, applied in
//! batches.
//!
//! Between two records that need the index as it stands (bulk inserts,
//! `upsert_all`, organization changes), inserts, upserts and deletes are
//! only noted: the windows they leave, by id, in a batch, and the ids
//! whose earlier windows they remove in a set of deletes. A flush (at such
//! a record, every [`REPLAY_BATCH`] records, and at the end) applies the
//! deletes in id order, their lookups made in groups (see
//! [`Index::delete_each`]), then adds the batch with one sort and build. A
//! move therefore costs a batched lookup and a share of a bulk build, not a
//! trip through the write buffer. Deletes and additions of different ids
//! commute, and each id ends as its last record left it, so the index ends
//! with the windows and payloads applying every record in turn gives.

use rustc_hash::FxHashSet;

use crate::{Index, Mutation, Payload, Window, WindowId};

/// Records noted before they are applied at once.
const REPLAY_BATCH: usize = 1 << 16;

pub(crate) struct Replay<I, P> {
    pub(crate) index: Index<I, P>,
    /// Windows written since the last flush, in order. An id written again
    /// (or deleted) since is here more than once (or still here): see
    /// `rewritten`.
    batch: Vec<(Window<I>, P)>,
    /// The ids the batch's windows leave in the index: written since the
    /// last flush and not deleted since. (A set, not a map to places in the
    /// batch: its smaller table kept inserts 8% faster.)
    live: FxHashSet<I>,
    /// Whether an id of the batch was written again or deleted: the flush
    /// then keeps each live id's last window only.
    rewritten: bool,
    /// Ids whose window in the index (if it holds one) the records noted
    /// remove: upserted or deleted since the last flush.
    doomed: FxHashSet<I>,
    /// Records noted before a flush ([`REPLAY_BATCH`] but in tests).
    limit: usize,
}

impl<I: WindowId, P: Payload> Replay<I, P> {
    pub(crate) fn new(index: Index<I, P>) -> Self {
        Replay {
            index,
            batch: Vec::new(),
            live: FxHashSet::default(),
            rewritten: false,
            doomed: FxHashSet::default(),
            limit: REPLAY_BATCH,
        }
    }

    /// Applies one logged mutation (a failure changes nothing, as it did
    /// when it was logged).
    pub(crate) fn apply(&mut self, mutation: Mutation<I, P>) {
        match mutation {
            Mutation::Insert { window, payload } if self.can_note(&window) => {
                // An insert of an id held fails.
                if !self.holds(window.id()) {
                    self.live.insert(window.id());
                    self.batch.push((window, payload));
                }
            }
            Mutation::Upsert { window, payload } if self.can_note(&window) => {
                if self.live.insert(window.id()) {
                    self.doomed.insert(window.id());
                } else {
                    self.rewritten = true;
                }
                self.batch.push((window, payload));
            }
            Mutation::Delete(id) => {
                self.rewritten |= self.live.remove(&id);
                self.doomed.insert(id);
            }
            other => {
                self.flush();
                let _ = self.index.apply(other);
            }
        }
        if self.batch.len() >= self.limit || self.doomed.len() >= self.limit {
            self.flush();
        }
    }

    /// Whether a write of `w` can be noted: it fails only if its id is held
    /// (its organization is known, and the index has room for every
    /// window noted, so the flush's bulk insert cannot fail).
    fn can_note(&self, w: &Window<I>) -> bool {
        self.index.organization_parent(w.org()).is_ok() && self.index.has_room(self.batch.len() + 1)
    }

    /// Whether the index, with the records noted applied, holds `id`.
    fn holds(&self, id: I) -> bool {
        self.live.contains(&id) || (!self.doomed.contains(&id) && self.index.get(id).is_some())
    }

    /// Applies the records noted: the deletes, then the windows left.
    pub(crate) fn flush(&mut self) {
        if !self.doomed.is_empty() {
            let mut ids: Vec<I> = self.doomed.drain().collect();
            // In id order, the lookups walk each segment's id index forward.
            ids.sort_unstable();
            self.index.delete_each(&ids);
        }
        let mut windows = std::mem::take(&mut self.batch);
        if std::mem::take(&mut self.rewritten) {
            // Each live id's last window, found from the back.
            windows.reverse();
            windows.retain(|(w, _)| self.live.remove(&w.id()));
        }
        self.live.clear();
        if windows.is_empty() {
            return;
        }
        // Every id noted is absent from the index now (an insert checked,
        // an upsert's id was deleted above), its organization known and
        // the room checked: the bulk insert cannot fail.
        let added = self.index.apply(Mutation::Bulk(windows));
        debug_assert!(added.is_ok(), "a replayed batch failed to insert");
    }

    pub(crate) fn finish(mut self) -> Index<I, P> {
        self.flush();
        self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OrgId, Query, Timestamp};

    fn contents(index: &Index<u64, u32>) -> Vec<(Window<u64>, u32)> {
        let mut q = Query::new().page_size(50);
        let mut all = Vec::new();
        loop {
            let page = index.query(&q).unwrap();
            all.extend(page.items().iter().map(|e| (e.window, *e.payload)));
            match page.next_cursor() {
                Some(c) => q = q.cursor(c),
                None => return all,
            }
        }
    }

    /// Replay (with its batches) ends where applying every record in turn
    /// does, over logs dense in every interleaving: a delete of an absent
    /// id then its insert, moves after deletes, inserts of held ids,
    /// windows of unknown organizations, organization changes between.
    #[test]
    fn replay_ends_where_applying_in_turn_does() {
        let t = |m: u64| Timestamp::from_secs(m as i64 * 60).unwrap();
        for seed in 0..300u64 {
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut next = move |m: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % m
            };
            let builder = || Index::<u64, u32>::builder().write_buffer(4).organization(OrgId(1), None);
            let mut direct = builder().build().unwrap();
            let mut replay = Replay::new(builder().build().unwrap());
            // Flushes every few records, too, not only at other records.
            replay.limit = [REPLAY_BATCH, 1, 3, 16][seed as usize % 4];
            for n in 0..200u32 {
                let (id, s) = (next(12), next(1_000));
                let w = Window::new(id, t(s), t(s + 1 + next(50)), OrgId(1 + next(4) / 3)).unwrap();
                let m = match next(10) {
                    0..=2 => Mutation::Insert { window: w, payload: n },
                    3..=6 => Mutation::Upsert { window: w, payload: n },
                    7 | 8 => Mutation::Delete(id),
                    _ if next(2) == 0 => Mutation::AddOrganization { id: OrgId(2), parent: None },
                    _ => Mutation::Bulk(vec![(w, n)]),
                };
                let _ = direct.apply(m.clone());
                replay.apply(m);
            }
            let replayed = replay.finish();
            replayed.check_invariants().unwrap();
            assert_eq!(contents(&replayed), contents(&direct), "seed {seed}");
        }
    }
}
