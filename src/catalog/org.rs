//! The organization tree: parents, children, and the scopes they imply.

use std::sync::Arc;

use parking_lot::RwLock;
use rustc_hash::FxHashMap;

use super::dense::{CAPACITY, NONE, dense_number};
use crate::{Error, OrgId};

/// Organizations numbered densely (`u32`, in order of addition) with their
/// parent links. Scopes are computed from it at query time, so moving an
/// organization never touches a window row.
#[derive(Debug, Default)]
pub(crate) struct OrgTree {
    dense: FxHashMap<OrgId, u32>,
    ids: Vec<OrgId>,
    parent: Vec<u32>,
    children: Vec<Vec<u32>>,
    /// Scopes computed so far, by root (`None`: the scope holds every
    /// organization, so it filters nothing). Resolving a parent's scope
    /// walks its subtree, sorts it and fills a bitset, which measured 16% of
    /// a query scoped to a parent of 250 organizations; queries repeat the
    /// same few scopes. Emptied by every change to the tree, and when it
    /// would outgrow [`SCOPE_CACHE_BYTES`].
    scopes: RwLock<ScopeCache>,
}

/// Scopes by root, and the bytes their sets hold.
#[derive(Debug, Default)]
struct ScopeCache {
    sets: FxHashMap<u32, Option<Arc<OrgSet>>>,
    /// Kept as sets come and go: summed over the map at every insertion,
    /// it made the thousandth new scope cost a thousand steps.
    bytes: usize,
}

impl ScopeCache {
    fn clear(&mut self) {
        self.sets.clear();
        self.bytes = 0;
    }
}

/// The most memory the scope cache holds (sets' lists and bitsets).
const SCOPE_CACHE_BYTES: usize = 4 << 20;

impl Clone for OrgTree {
    /// A clone starts with an empty scope cache.
    fn clone(&self) -> Self {
        OrgTree {
            dense: self.dense.clone(),
            ids: self.ids.clone(),
            parent: self.parent.clone(),
            children: self.children.clone(),
            scopes: RwLock::default(),
        }
    }
}

/// A set of dense organization numbers: a list for driving scans and a bitset
/// for O(1) membership checks.
#[derive(Clone, Debug, Default)]
pub(crate) struct OrgSet {
    pub(crate) list: Vec<u32>,
    bits: Vec<u64>,
    /// The list as runs of consecutive numbers, half-open: counts by
    /// organization rank cost a few steps per run.
    runs: Vec<(u32, u32)>,
}

impl OrgSet {
    pub(crate) fn from_list(mut list: Vec<u32>, universe: usize) -> Self {
        list.sort_unstable();
        list.dedup();
        let mut bits = vec![0u64; universe.div_ceil(64)];
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for &o in &list {
            bits[o as usize / 64] |= 1 << (o % 64);
            match runs.last_mut() {
                Some(run) if run.1 == o => run.1 = o + 1,
                _ => runs.push((o, o + 1)),
            }
        }
        OrgSet { list, bits, runs }
    }

    /// The set as runs of consecutive numbers, `(first, last + 1)`,
    /// ascending.
    #[inline]
    pub(crate) fn runs(&self) -> &[(u32, u32)] {
        &self.runs
    }

    /// Bytes held.
    fn heap_bytes(&self) -> usize {
        self.list.capacity() * 4 + self.bits.capacity() * 8 + self.runs.capacity() * 8
    }

    #[inline]
    pub(crate) fn contains(&self, org: u32) -> bool {
        self.bits.get(org as usize / 64).is_some_and(|w| w & (1 << (org % 64)) != 0)
    }
}

impl OrgTree {
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn dense(&self, id: OrgId) -> Option<u32> {
        self.dense.get(&id).copied()
    }

    pub(crate) fn require(&self, id: OrgId) -> Result<u32, Error> {
        self.dense(id).ok_or(Error::UnknownOrganization(id))
    }

    /// Every organization by dense number, with its parent's dense number
    /// ([`NONE`] for a root): what a snapshot stores.
    pub(crate) fn export(&self) -> impl Iterator<Item = (OrgId, u32)> + '_ {
        self.ids.iter().copied().zip(self.parent.iter().copied())
    }

    /// The tree [`OrgTree::export`] listed, numbered as it was.
    ///
    /// # Errors
    ///
    /// A message if an id repeats, a parent is not one of them, or the
    /// links form a cycle.
    pub(crate) fn import(orgs: impl IntoIterator<Item = (OrgId, u32)>) -> Result<Self, String> {
        let mut tree = OrgTree::default();
        let mut parents = Vec::new();
        for (id, parent) in orgs {
            tree.add(id, None).map_err(|e| e.to_string())?;
            parents.push((id, parent));
        }
        for (id, parent) in parents {
            if parent != NONE {
                let p = *tree
                    .ids
                    .get(parent as usize)
                    .ok_or_else(|| format!("organization {id} has parent number {parent}"))?;
                tree.set_parent(id, Some(p)).map_err(|e| e.to_string())?;
            }
        }
        Ok(tree)
    }

    pub(crate) fn parent_of(&self, id: OrgId) -> Result<Option<OrgId>, Error> {
        let d = self.require(id)?;
        let p = self.parent[d as usize];
        Ok((p != NONE).then(|| self.ids[p as usize]))
    }

    pub(crate) fn add(&mut self, id: OrgId, parent: Option<OrgId>) -> Result<u32, Error> {
        if self.dense.contains_key(&id) {
            return Err(Error::DuplicateOrganization(id));
        }
        let p = match parent {
            Some(p) => self.require(p)?,
            None => NONE,
        };
        let d = dense_number(self.ids.len()).ok_or(Error::CapacityExceeded(CAPACITY))?;
        self.scopes.get_mut().clear();
        self.dense.insert(id, d);
        self.ids.push(id);
        self.parent.push(p);
        self.children.push(Vec::new());
        if p != NONE {
            self.children[p as usize].push(d);
        }
        Ok(d)
    }

    pub(crate) fn set_parent(&mut self, id: OrgId, parent: Option<OrgId>) -> Result<(), Error> {
        let d = self.require(id)?;
        let p = match parent {
            Some(pid) => {
                let p = self.require(pid)?;
                // Walk up from the new parent: meeting `d` means a cycle.
                let mut cur = p;
                while cur != NONE {
                    if cur == d {
                        return Err(Error::OrganizationCycle { org: id, parent: pid });
                    }
                    cur = self.parent[cur as usize];
                }
                p
            }
            None => NONE,
        };
        self.scopes.get_mut().clear();
        let old = self.parent[d as usize];
        if old != NONE {
            self.children[old as usize].retain(|&c| c != d);
        }
        self.parent[d as usize] = p;
        if p != NONE {
            self.children[p as usize].push(d);
        }
        Ok(())
    }

    /// The organization and all its descendants, as dense numbers.
    pub(crate) fn subtree(&self, root: u32) -> Vec<u32> {
        let mut out = vec![root];
        let mut i = 0;
        while i < out.len() {
            out.extend_from_slice(&self.children[out[i] as usize]);
            i += 1;
        }
        out
    }

    /// The scope of `root`: it and its descendants, or `None` if that is
    /// every organization (the scope then filters nothing).
    pub(crate) fn scope(&self, root: u32) -> Option<Arc<OrgSet>> {
        if let Some(known) = self.scopes.read().sets.get(&root) {
            return known.clone();
        }
        let all = self.subtree(root);
        let set = (all.len() < self.len()).then(|| Arc::new(OrgSet::from_list(all, self.len())));
        let bytes = set.as_ref().map_or(0, |s| s.heap_bytes());
        let mut scopes = self.scopes.write();
        if scopes.bytes + bytes > SCOPE_CACHE_BYTES {
            scopes.clear();
        }
        // Another reader may have put the same root in meanwhile.
        if let Some(old) = scopes.sets.insert(root, set.clone()) {
            scopes.bytes -= old.map_or(0, |s| s.heap_bytes());
        }
        scopes.bytes += bytes;
        set
    }

    /// Whether `org` is `root` or one of its descendants.
    pub(crate) fn is_within(&self, mut org: u32, root: u32) -> bool {
        while org != NONE {
            if org == root {
                return true;
            }
            org = self.parent[org as usize];
        }
        false
    }

    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        for (d, &p) in self.parent.iter().enumerate() {
            if self.dense.get(&self.ids[d]) != Some(&(d as u32)) {
                return Err(format!("org {} not mapped to its dense number {d}", self.ids[d]));
            }
            if p != NONE && !self.children[p as usize].contains(&(d as u32)) {
                return Err(format!("org {} missing from its parent's children", self.ids[d]));
            }
            // No cycles: the walk up must end within len steps.
            let mut cur = p;
            let mut steps = 0;
            while cur != NONE {
                steps += 1;
                if steps > self.ids.len() {
                    return Err(format!("cycle above org {}", self.ids[d]));
                }
                cur = self.parent[cur as usize];
            }
        }
        let child_links: usize = self.children.iter().map(Vec::len).sum();
        let parent_links = self.parent.iter().filter(|&&p| p != NONE).count();
        if child_links != parent_links {
            return Err(format!("{child_links} child links but {parent_links} parent links"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache's count of bytes follows its sets: every new scope adds
    /// its set's bytes, a clear (when full, or by a change to the tree)
    /// starts over, and the cache never holds more than its bound.
    #[test]
    fn the_scope_cache_counts_what_it_holds() {
        let mut tree = OrgTree::default();
        tree.add(OrgId(0), None).expect("root");
        for id in 1..8_000u64 {
            tree.add(OrgId(id), Some(OrgId((id - 1) / 4))).expect("child");
        }
        let held = |tree: &OrgTree| {
            let cache = tree.scopes.read();
            let sum: usize = cache.sets.values().flatten().map(|s| s.heap_bytes()).sum();
            (cache.bytes, sum, cache.sets.len())
        };
        let (mut most, mut clears, mut last) = (0, 0, 0);
        for round in 0..2 {
            for root in (0..8_000u32).rev() {
                let set = tree.scope(root);
                assert_eq!(set.as_ref().map(|s| s.contains(root)), (root != 0).then_some(true));
                let (bytes, sum, len) = held(&tree);
                assert_eq!(bytes, sum, "round {round}, root {root}");
                assert!(bytes <= SCOPE_CACHE_BYTES);
                most = most.max(len);
                clears += usize::from(len < last);
                last = len;
            }
        }
        assert!(most > 1_000 && clears > 0, "the cache held at most {most} scopes, emptied {clears} times");
        tree.add(OrgId(9_999), None).expect("another root");
        assert_eq!(held(&tree), (0, 0, 0), "a change to the tree empties the cache");
    }
}
