//! The naive model the operation targets compare against: windows in a
//! map, the organization tree as parent links, linear scans.
#![allow(dead_code)] // each target uses a part of it

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use mwindex::{ChargerId, Error, Index, OrgId, Query, SharedIndex, Timestamp, Window};

/// A window as the fuzzer draws it: small ids, times in minutes, one of
/// [`ORGS`] organizations, maybe one of eight chargers.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct W {
    pub id: u8,
    pub start: u16,
    pub len: u16,
    pub org: u8,
    pub charger: Option<u8>,
}

/// Organizations 1..=ORGS, all roots at first.
pub const ORGS: u64 = 4;

/// The organization a drawn number names.
pub fn org(o: u8) -> u64 {
    1 + u64::from(o) % ORGS
}

/// Minutes as a timestamp.
pub fn ts(v: i64) -> Timestamp {
    Timestamp::from_secs(v * 60).expect("in range")
}

/// The window a drawn one describes.
pub fn window(w: &W) -> Window<u64> {
    let w2 = Window::new(
        u64::from(w.id),
        ts(i64::from(w.start)),
        ts(i64::from(w.start) + 1 + i64::from(w.len)),
        OrgId(org(w.org)),
    )
    .expect("positive length");
    match w.charger {
        Some(c) => w2.with_charger(ChargerId(u64::from(c % 8))),
        None => w2,
    }
}

/// Windows by id with their payloads, and each organization's parent.
#[derive(Clone)]
pub struct Model {
    pub windows: BTreeMap<u64, (Window<u64>, u32)>,
    pub parent: BTreeMap<u64, Option<u64>>,
}

impl Model {
    /// No windows; organizations 1..=ORGS, roots.
    pub fn new() -> Self {
        Model { windows: BTreeMap::new(), parent: (1..=ORGS).map(|o| (o, None)).collect() }
    }

    /// Whether `o` is `root` or below it.
    pub fn within(&self, mut o: u64, root: u64) -> bool {
        for _ in 0..=ORGS {
            if o == root {
                return true;
            }
            match self.parent.get(&o).copied().flatten() {
                Some(p) => o = p,
                None => return false,
            }
        }
        false
    }

    /// Ids of the windows overlapping `after..before`, in the scope, on
    /// the charger, in (start, id) order.
    pub fn matching(
        &self,
        after: Option<i64>,
        before: Option<i64>,
        scope: Option<u64>,
        charger: Option<u64>,
    ) -> Vec<u64> {
        let mut hits: Vec<(i64, u64)> = self
            .windows
            .values()
            .map(|(w, _)| w)
            .filter(|w| after.is_none_or(|a| w.end().as_micros() > ts(a).as_micros()))
            .filter(|w| before.is_none_or(|b| w.start().as_micros() < ts(b).as_micros()))
            .filter(|w| scope.is_none_or(|s| self.within(w.org().0, s)))
            .filter(|w| charger.is_none_or(|c| w.charger() == Some(ChargerId(c))))
            .map(|w| (w.start().as_micros(), w.id()))
            .collect();
        hits.sort_unstable();
        hits.into_iter().map(|(_, id)| id).collect()
    }
}

/// A write as the fuzzer draws it.
#[derive(Arbitrary, Debug)]
pub enum Write {
    Insert(W),
    Upsert(W),
    Delete(u8),
    Bulk(Vec<W>),
    Move { org: u8, parent: Option<u8> },
}

/// The writes of an index, whichever front door.
pub trait Writes {
    fn insert(&mut self, w: Window<u64>, p: u32) -> Result<(), Error>;
    fn upsert(&mut self, w: Window<u64>, p: u32) -> Result<Option<u32>, Error>;
    fn delete(&mut self, id: u64) -> Option<(Window<u64>, u32)>;
    fn bulk(&mut self, batch: Vec<(Window<u64>, u32)>) -> Result<(), Error>;
    fn move_org(&mut self, o: OrgId, parent: Option<OrgId>) -> Result<(), Error>;
}

impl Writes for Index<u64, u32> {
    fn insert(&mut self, w: Window<u64>, p: u32) -> Result<(), Error> {
        Index::insert(self, w, p)
    }
    fn upsert(&mut self, w: Window<u64>, p: u32) -> Result<Option<u32>, Error> {
        Index::upsert(self, w, p)
    }
    fn delete(&mut self, id: u64) -> Option<(Window<u64>, u32)> {
        Index::delete(self, id)
    }
    fn bulk(&mut self, batch: Vec<(Window<u64>, u32)>) -> Result<(), Error> {
        self.bulk_insert(batch)
    }
    fn move_org(&mut self, o: OrgId, parent: Option<OrgId>) -> Result<(), Error> {
        self.move_organization(o, parent)
    }
}

impl Writes for SharedIndex<u64, u32> {
    fn insert(&mut self, w: Window<u64>, p: u32) -> Result<(), Error> {
        SharedIndex::insert(self, w, p)
    }
    fn upsert(&mut self, w: Window<u64>, p: u32) -> Result<Option<u32>, Error> {
        SharedIndex::upsert(self, w, p)
    }
    fn delete(&mut self, id: u64) -> Option<(Window<u64>, u32)> {
        SharedIndex::delete(self, id)
    }
    fn bulk(&mut self, batch: Vec<(Window<u64>, u32)>) -> Result<(), Error> {
        self.bulk_insert(batch)
    }
    fn move_org(&mut self, o: OrgId, parent: Option<OrgId>) -> Result<(), Error> {
        self.move_organization(o, parent)
    }
}

impl Model {
    /// Applies `write` to the engine and to the model, asserting the
    /// engine answers as the model says it must.
    pub fn write<E: Writes>(&mut self, engine: &mut E, write: &Write, payload: u32) {
        match write {
            Write::Insert(w) => {
                let result = engine.insert(window(w), payload);
                let id = u64::from(w.id);
                assert_eq!(result.is_ok(), !self.windows.contains_key(&id), "insert {w:?}");
                self.windows.entry(id).or_insert((window(w), payload));
            }
            Write::Upsert(w) => {
                let previous = engine.upsert(window(w), payload).expect("upsert");
                let want = self.windows.insert(u64::from(w.id), (window(w), payload)).map(|(_, p)| p);
                assert_eq!(previous, want, "upsert {w:?}");
            }
            Write::Delete(id) => {
                let removed = engine.delete(u64::from(*id));
                assert_eq!(removed, self.windows.remove(&u64::from(*id)), "delete {id}");
            }
            Write::Bulk(ws) => {
                let batch: Vec<_> = ws.iter().take(64).map(|w| (window(w), payload)).collect();
                let mut ids: Vec<u64> = batch.iter().map(|(w, _)| w.id()).collect();
                ids.sort_unstable();
                let fresh = ids.windows(2).all(|p| p[0] != p[1]) && ids.iter().all(|id| !self.windows.contains_key(id));
                let result = engine.bulk(batch.clone());
                assert_eq!(result.is_ok(), fresh, "bulk of {} windows", batch.len());
                if fresh {
                    for (w, p) in batch {
                        self.windows.insert(w.id(), (w, p));
                    }
                }
            }
            Write::Move { org: o, parent } => {
                let (o, p) = (org(*o), parent.map(org));
                let cycle = p.is_some_and(|p| self.within(p, o));
                let result = engine.move_org(OrgId(o), p.map(OrgId));
                assert_eq!(result.is_ok(), !cycle, "move {o} under {p:?}");
                if !cycle {
                    self.parent.insert(o, p);
                }
            }
        }
    }
}

/// A query as the fuzzer draws it: an overlap range, maybe a scope and a
/// charger, a page size.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Ask {
    pub after: u16,
    pub span: u16,
    pub scope: Option<u8>,
    pub charger: Option<u8>,
    pub size: u8,
}

impl Ask {
    fn range(&self) -> (i64, i64) {
        (i64::from(self.after), i64::from(self.after) + 1 + i64::from(self.span))
    }

    /// The page size, 1..=50.
    pub fn size(&self) -> usize {
        1 + usize::from(self.size % 50)
    }

    /// The engine's query.
    pub fn query(&self) -> Query<u64> {
        let (a, b) = self.range();
        let mut q = Query::new().overlapping(ts(a), ts(b)).page_size(self.size());
        if let Some(s) = self.scope {
            q = q.scope(OrgId(org(s)));
        }
        if let Some(c) = self.charger {
            q = q.chargers([ChargerId(u64::from(c % 8))]);
        }
        q
    }

    /// Every id the model says matches, in order.
    pub fn want(&self, model: &Model) -> Vec<u64> {
        let (a, b) = self.range();
        model.matching(Some(a), Some(b), self.scope.map(org), self.charger.map(|c| u64::from(c % 8)))
    }
}
