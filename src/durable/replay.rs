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
