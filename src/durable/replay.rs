//! Replaying the log into an index: every record applied in order, with
//! runs of writes of new windows gathered into bulk builds.
//!
//! A logged insert (or upsert) of an id the index does not hold, for an
//! organization it knows, adds a window and can fail no other way than a
//! bulk insert of it would; such writes are gathered, up to
//! [`REPLAY_BATCH`], and added with one sort and build instead of one at a
//! time through the write buffer. Any other record first adds the gathered windows, then applies as it
//! was logged. The index ends the same.

use rustc_hash::FxHashSet;

use crate::{Error, Index, Mutation, Payload, Window, WindowId};

/// Windows gathered before they are built at once.
const REPLAY_BATCH: usize = 1 << 16;

pub(crate) struct Replay<I, P> {
    pub(crate) index: Index<I, P>,
    /// New windows.
    batch: Vec<(Window<I>, P)>,
    ids: FxHashSet<I>,
}

impl<I: WindowId, P: Payload> Replay<I, P> {
    pub(crate) fn new(index: Index<I, P>) -> Self {
        Replay { index, batch: Vec::new(), ids: FxHashSet::default() }
    }

    /// Applies one logged mutation (a failure changes nothing, as it did
    /// when it was logged).
    pub(crate) fn apply(&mut self, mutation: Mutation<I, P>) {
        match mutation {
            Mutation::Insert { window, payload } | Mutation::Upsert { window, payload } if self.is_new(&window) => {
                self.ids.insert(window.id());
                self.batch.push((window, payload));
                if self.batch.len() >= REPLAY_BATCH {
                    self.flush();
                }
            }
            other => {
                self.flush();
                let _ = self.index.apply(other);
            }
        }
    }

    /// Whether a write of `w` adds a window: its id held neither by the
    /// index nor by the batch, its organization known.
    fn is_new(&self, w: &Window<I>) -> bool {
        !self.ids.contains(&w.id())
            && self.index.organization_parent(w.org()).is_ok()
            && self.index.get(w.id()).is_none()
    }

    /// Adds the gathered windows.
    pub(crate) fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        self.ids.clear();
        let batch = std::mem::take(&mut self.batch);
        if let Err(Error::CapacityExceeded(_)) = self.index.bulk_insert(batch.iter().cloned()) {
            // As they were logged: one at a time, the last ones failing.
            for (w, p) in batch {
                let _ = self.index.insert(w, p);
            }
        }
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
