//! A set of row numbers (or positions) in chunks of 2,048 bits, with the
//! number of set bits below any position in `O(log n)`.
//!
//! Chunks are allocated only once a bit in them is set, and shared between
//! copies: that is what lets a version of the index keep its tombstones
//! while the next version adds to them. The chunks live in a few stores
//! (`Arc`s of chunk arrays) that copies share; the set itself is a table of
//! `u32`s naming each chunk's store and slot. A copy therefore costs a
//! memory copy of the table and one reference count per store, not one per
//! chunk: at 10M rows a segment has 4,883 chunks, and copying (then
//! dropping) an `Arc` of each, every cache line of them touched, was a
//! sixth of the background work of sustained moves. An insert changes a
//! chunk in place when no copy shares its store, and otherwise copies it
//! into the newest store (a new one if that is shared too); past
//! [`MAX_STORES`] the live chunks are gathered into one fresh store, which
//! also drops the chunks no copy names any more. Counts per chunk sit in a
//! Fenwick tree, so ranks never walk the set.

use std::sync::Arc;

/// Bits a chunk holds, and their log2. A move of kills into a large
/// segment's tombstones copies, per kill, the chunk it changes in both sets
/// (and later, gathering, about as much again), and per move of 128 kills
/// the table and tree of both sets: at 10M rows 2,048 bits costs about 1.8
/// KB a kill against 2.5 KB for 4,096 (1,024: 1.9 KB).
const CHUNK_BITS: usize = 2048;
const CHUNK_SHIFT: u32 = 11;
/// Words (of 64 bits) in a chunk.
const CHUNK_WORDS: usize = CHUNK_BITS / 64;

/// Words a rank inside a chunk counts bit by bit, at most. Two: a count
/// in a segment with deaths ranks seven points, and without a hardware
/// population count (not in the baseline x86-64 target) each word costs
/// about fifteen instructions. With 8, ranks were 41% of a count's
/// instructions at 1M windows with 3,000 dead rows.
const GROUP_WORDS: usize = 2;

/// Stores a set draws its chunks from before it gathers them into one (a
/// copy of every live chunk: with 32 rather than 16, half as often).
const MAX_STORES: usize = 32;

/// A table entry: the store in the high bits, the slot in the low ones.
const SLOT_BITS: u32 = 26;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
/// A table entry for a chunk with no bit set (none allocated).
const NO_CHUNK: u32 = u32::MAX;
const _: () = assert!(MAX_STORES < (1 << (32 - SLOT_BITS)) - 1, "store numbers must not reach NO_CHUNK");
// A set of up to 2^32 numbers has 2^20 chunks: every store's slots fit.
const _: () = assert!(32 - CHUNK_SHIFT <= SLOT_BITS);

/// 2,048 bits, with the number set before each group of [`GROUP_WORDS`]
/// words, so a rank inside the chunk counts at most that many words.
#[derive(Clone, Debug)]
struct Chunk {
    words: [u64; CHUNK_WORDS],
    before: [u16; CHUNK_WORDS / GROUP_WORDS],
}

impl Chunk {
    const EMPTY: Chunk = Chunk { words: [0; CHUNK_WORDS], before: [0; CHUNK_WORDS / GROUP_WORDS] };

    /// Bits set before bit `b` of the chunk.
    #[inline]
    fn rank(&self, b: usize) -> u64 {
        let (w, g) = (b / 64, b / 64 / GROUP_WORDS);
        let mut n = u64::from(self.before[g]);
        for word in &self.words[g * GROUP_WORDS..w] {
            n += u64::from(word.count_ones());
        }
        if !b.is_multiple_of(64) {
            n += u64::from((self.words[w] & ((1u64 << (b % 64)) - 1)).count_ones());
        }
        n
    }

    fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

/// A set of numbers below a fixed bound.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChunkedBits {
    /// Where each chunk is ([`NO_CHUNK`]: no bit of it is set).
    table: Vec<u32>,
    /// The chunks, shared with copies. Only the newest store grows, and
    /// only while no copy shares it.
    stores: Vec<Arc<Vec<Chunk>>>,
    /// A Fenwick tree (1-based) over the chunks' counts of set bits.
    tree: Vec<u32>,
    len: u32,
}

impl ChunkedBits {
    /// An empty set of numbers below `bound`.
    pub(crate) fn new(bound: usize) -> Self {
        let chunks = bound.div_ceil(CHUNK_BITS);
        ChunkedBits { table: vec![NO_CHUNK; chunks], stores: Vec::new(), tree: vec![0; chunks + 1], len: 0 }
    }

    /// How many numbers the set holds.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    /// Chunk `k`, if a bit of it is set.
    #[inline]
    fn chunk(&self, k: usize) -> Option<&Chunk> {
        match self.table.get(k) {
            Some(&at) if at != NO_CHUNK => Some(&self.stores[(at >> SLOT_BITS) as usize][(at & SLOT_MASK) as usize]),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn contains(&self, i: u32) -> bool {
        self.word(i as usize / 64) & (1 << (i % 64)) != 0
    }

    /// The bits of numbers `64 * w .. 64 * w + 64`.
    #[inline]
    pub(crate) fn word(&self, w: usize) -> u64 {
        self.chunk(w / CHUNK_WORDS).map_or(0, |chunk| chunk.words[w % CHUNK_WORDS])
    }

    /// A reader of [`ChunkedBits::word`] for words visited mostly in
    /// ascending order: it keeps the chunk it last read, so a walk over
    /// blocks reads one chunk pointer per 64 words.
    #[inline]
    pub(crate) fn words(&self) -> WordCursor<'_> {
        WordCursor { bits: self, chunk: usize::MAX, words: None }
    }

    /// Starts loading the chunk holding `i`, which an insert of `i` reads
    /// whole (to copy it, if a copy of the set shares it).
    #[inline]
    pub(crate) fn prefetch(&self, i: u32) {
        if let Some(chunk) = self.chunk((i >> CHUNK_SHIFT) as usize) {
            crate::memory::prefetch_whole(chunk);
        }
    }

    /// Starts loading the word holding `i`, which [`ChunkedBits::contains`]
    /// reads.
    #[inline]
    pub(crate) fn prefetch_word(&self, i: u32) {
        if let Some(chunk) = self.chunk((i >> CHUNK_SHIFT) as usize) {
            crate::memory::Prefetch::of(&chunk.words).slot((i as usize % CHUNK_BITS / 64) as u32);
        }
    }

    /// Adds `i` (below the bound); `false` if it was there.
    pub(crate) fn insert(&mut self, i: u32) -> bool {
        let k = (i >> CHUNK_SHIFT) as usize;
        let (w, bit) = ((i as usize % CHUNK_BITS) / 64, 1u64 << (i % 64));
        if self.chunk(k).is_some_and(|c| c.words[w] & bit != 0) {
            return false;
        }
        let chunk = self.writable(k);
        chunk.words[w] |= bit;
        for before in &mut chunk.before[w / GROUP_WORDS + 1..] {
            *before += 1;
        }
        self.len += 1;
        let mut t = k + 1;
        while t < self.tree.len() {
            self.tree[t] += 1;
            t += t & t.wrapping_neg();
        }
        true
    }

    /// Chunk `k`, to change: in place if its store is the newest and no
    /// copy shares it, else a copy of it (or an empty chunk) put there.
    fn writable(&mut self, k: usize) -> &mut Chunk {
        let at = self.table[k];
        let newest = self.stores.len().wrapping_sub(1);
        let in_place =
            at != NO_CHUNK && (at >> SLOT_BITS) as usize == newest && Arc::get_mut(&mut self.stores[newest]).is_some();
        if !in_place {
            let chunk = self.chunk(k).cloned().unwrap_or(Chunk::EMPTY);
            let store = self.growable();
            let slot = store.len() as u32;
            store.push(chunk);
            self.table[k] = ((self.stores.len() as u32 - 1) << SLOT_BITS) | slot;
        }
        // Unshared now: `make_mut` copies nothing.
        let at = self.table[k];
        &mut Arc::make_mut(&mut self.stores[(at >> SLOT_BITS) as usize])[(at & SLOT_MASK) as usize]
    }

    /// The newest store, if no copy shares it; else a new one (after
    /// gathering every live chunk into one store, at [`MAX_STORES`]).
    fn growable(&mut self) -> &mut Vec<Chunk> {
        let shared = self.stores.last_mut().is_none_or(|s| Arc::get_mut(s).is_none());
        if shared {
            if self.stores.len() >= MAX_STORES {
                self.gather();
            } else {
                // Sized as the last generation's: a store grown by doubling
                // copied its chunks over and over (a fold's 128 kills
                // touch as many chunks).
                let room = self.stores.last().map_or(1, |s| s.len()).clamp(1, self.table.len());
                self.stores.push(Arc::new(Vec::with_capacity(room)));
            }
        }
        // Unshared now: `make_mut` copies nothing.
        let newest = self.stores.len() - 1;
        Arc::make_mut(&mut self.stores[newest])
    }

    /// Copies every live chunk into one new store, in chunk order.
    fn gather(&mut self) {
        let live = self.table.iter().filter(|&&at| at != NO_CHUNK).count();
        let mut store = Vec::with_capacity(live + 1);
        for k in 0..self.table.len() {
            if let Some(chunk) = self.chunk(k) {
                store.push(chunk.clone());
                self.table[k] = (store.len() - 1) as u32;
            }
        }
        self.stores = vec![Arc::new(store)];
    }

    /// How many numbers below `p` the set holds.
    #[inline]
    pub(crate) fn rank(&self, p: u32) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let k = (p >> CHUNK_SHIFT) as usize;
        if k >= self.table.len() {
            return u64::from(self.len);
        }
        // Whole chunks before `k`, from the tree.
        let mut before = 0u64;
        let mut t = k;
        while t > 0 {
            before += u64::from(self.tree[t]);
            t -= t & t.wrapping_neg();
        }
        // Then the words of chunk `k` below `p`.
        if let Some(chunk) = self.chunk(k) {
            before += chunk.rank(p as usize % CHUNK_BITS);
        }
        before
    }

    /// How many numbers in `range` the set holds.
    #[inline]
    pub(crate) fn count_in(&self, range: std::ops::Range<u32>) -> u64 {
        if self.len == 0 || range.start >= range.end {
            return 0;
        }
        self.rank(range.end) - self.rank(range.start)
    }

    /// The numbers, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.table.len()).filter_map(|k| self.chunk(k).map(|c| (k, c))).flat_map(|(k, chunk)| {
            chunk.words.iter().enumerate().flat_map(move |(w, &word)| {
                let base = (k * CHUNK_BITS + w * 64) as u32;
                let mut rest = word;
                std::iter::from_fn(move || {
                    (rest != 0).then(|| {
                        let j = rest.trailing_zeros();
                        rest &= rest - 1;
                        base + j
                    })
                })
            })
        })
    }

    /// Bytes held (a store shared with another copy is counted by each).
    pub(crate) fn heap_bytes(&self) -> usize {
        let chunks: usize = self.stores.iter().map(|s| s.capacity() * std::mem::size_of::<Chunk>()).sum();
        (self.table.capacity() + self.tree.capacity()) * 4 + self.stores.capacity() * 8 + chunks
    }

    /// Checks the count and the tree against the chunks, and that no number
    /// reaches `bound`.
    pub(crate) fn check_invariants(&self, bound: usize) -> Result<(), String> {
        if self.table.len() != bound.div_ceil(CHUNK_BITS) || self.tree.len() != self.table.len() + 1 {
            return Err("chunked bits sized for another bound".into());
        }
        if self.stores.len() > MAX_STORES {
            return Err(format!("chunked bits draw on {} stores", self.stores.len()));
        }
        let placed =
            |at: u32| self.stores.get((at >> SLOT_BITS) as usize).is_some_and(|s| (at & SLOT_MASK) < s.len() as u32);
        if let Some(k) = self.table.iter().position(|&at| at != NO_CHUNK && !placed(at)) {
            return Err(format!("chunk {k} of chunked bits names no stored chunk"));
        }
        let counts: Vec<u64> = (0..self.table.len()).map(|k| self.chunk(k).map_or(0, Chunk::count)).collect();
        for c in (0..self.table.len()).filter_map(|k| self.chunk(k)) {
            let mut before = 0u64;
            for (g, &b) in c.before.iter().enumerate() {
                if u64::from(b) != before {
                    return Err(format!("a chunk counts {b} bits before group {g}, its words {before}"));
                }
                before += c.words[g * GROUP_WORDS..(g + 1) * GROUP_WORDS]
                    .iter()
                    .map(|w| u64::from(w.count_ones()))
                    .sum::<u64>();
            }
        }
        if counts.iter().sum::<u64>() != u64::from(self.len) {
            return Err("chunked bits' count disagrees with their chunks".into());
        }
        let mut prefix = 0u64;
        for (k, &c) in counts.iter().enumerate() {
            let want = prefix;
            let mut got = 0u64;
            let mut t = k;
            while t > 0 {
                got += u64::from(self.tree[t]);
                t -= t & t.wrapping_neg();
            }
            if got != want {
                return Err(format!("chunked bits' tree says {got} before chunk {k}, the chunks {want}"));
            }
            prefix += c;
        }
        if self.iter().any(|i| i as usize >= bound) {
            return Err("chunked bits hold a number past their bound".into());
        }
        Ok(())
    }
}

/// See [`ChunkedBits::words`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct WordCursor<'a> {
    bits: &'a ChunkedBits,
    chunk: usize,
    words: Option<&'a [u64; CHUNK_WORDS]>,
}

impl WordCursor<'_> {
    /// The bits of numbers `64 * w .. 64 * w + 64`.
    #[inline]
    pub(crate) fn get(&mut self, w: usize) -> u64 {
        let k = w / CHUNK_WORDS;
        if k != self.chunk {
            self.chunk = k;
            self.words = self.bits.chunk(k).map(|c| &c.words);
        }
        self.words.map_or(0, |words| words[w % CHUNK_WORDS])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ranks_and_copies_agree_with_a_sorted_set(
            bound in prop_oneof![1usize..100, 4_000usize..4_200, 8_192usize..20_000],
            picks in prop::collection::vec(any::<u32>(), 0..300),
            probes in prop::collection::vec(any::<u32>(), 1..30),
        ) {
            let mut set = ChunkedBits::new(bound);
            let mut want = std::collections::BTreeSet::new();
            let mut copy = None;
            for (n, p) in picks.iter().enumerate() {
                let i = p % bound as u32;
                prop_assert_eq!(set.insert(i), want.insert(i));
                if n == picks.len() / 2 {
                    copy = Some((set.clone(), want.clone()));
                }
            }
            set.check_invariants(bound).map_err(TestCaseError::fail)?;
            prop_assert_eq!(set.len(), want.len());
            prop_assert!(set.iter().eq(want.iter().copied()));
            for &p in &probes {
                let p = p % (bound as u32 + 1);
                prop_assert_eq!(set.rank(p), want.range(..p).count() as u64);
                prop_assert_eq!(set.contains(p.min(bound as u32 - 1)), want.contains(&p.min(bound as u32 - 1)));
                let lo = p / 2;
                prop_assert_eq!(set.count_in(lo..p), want.range(lo..p).count() as u64);
            }
            // The cursor reads the words `word` reads, in any order.
            let mut cursor = set.words();
            for w in (0..bound.div_ceil(64) + 2).chain((0..bound.div_ceil(64)).rev()) {
                prop_assert_eq!(cursor.get(w), set.word(w));
            }
            // A copy taken half way keeps what it held.
            if let Some((copy, held)) = copy {
                prop_assert!(copy.iter().eq(held.iter().copied()));
                copy.check_invariants(bound).map_err(TestCaseError::fail)?;
            }
        }
    }

    proptest! {
        /// The way tombstones are used: a copy taken, inserts into the copy,
        /// the older copies kept (versions readers hold) or dropped; over
        /// more generations than stores, so chunks are gathered too.
        #[test]
        fn every_generation_keeps_what_it_held(
            bound in prop_oneof![1usize..5_000, 20_000usize..70_000],
            rounds in prop::collection::vec((prop::collection::vec(any::<u32>(), 0..40), any::<bool>()), 1..40),
        ) {
            let mut set = ChunkedBits::new(bound);
            let mut want = std::collections::BTreeSet::new();
            let mut kept = Vec::new();
            for (picks, keep) in rounds {
                let older = (set.clone(), want.clone());
                if keep {
                    kept.push(older);
                }
                for p in picks {
                    let i = p % bound as u32;
                    prop_assert_eq!(set.insert(i), want.insert(i));
                }
                set.check_invariants(bound).map_err(TestCaseError::fail)?;
            }
            prop_assert!(set.iter().eq(want.iter().copied()));
            for (copy, held) in &kept {
                copy.check_invariants(bound).map_err(TestCaseError::fail)?;
                prop_assert!(copy.iter().eq(held.iter().copied()));
                prop_assert_eq!(copy.rank(bound as u32), held.len() as u64);
            }
        }
    }

    #[test]
    fn gathering_keeps_the_set_and_bounds_the_stores() {
        let bound = 40 * CHUNK_BITS;
        let mut set = ChunkedBits::new(bound);
        let mut copies = Vec::new();
        for round in 0..3 * MAX_STORES as u32 {
            copies.push(set.clone());
            assert!(set.insert((round * 7_919) % bound as u32));
            assert!(set.stores.len() <= MAX_STORES);
        }
        set.check_invariants(bound).unwrap();
        assert_eq!(set.len(), 3 * MAX_STORES);
        // The first copy was taken empty and stays so.
        assert_eq!(copies[0].len(), 0);
        assert_eq!(copies[0].iter().count(), 0);
    }

    #[test]
    fn words_of_empty_chunks_are_zero_and_ranks_cover_the_bound() {
        let mut set = ChunkedBits::new(3 * CHUNK_BITS);
        assert_eq!(set.word(0), 0);
        assert!(set.insert(CHUNK_BITS as u32 + 65));
        assert_eq!(set.word(CHUNK_WORDS + 1), 2);
        assert_eq!(set.rank(3 * CHUNK_BITS as u32), 1);
        assert_eq!(set.rank(CHUNK_BITS as u32 + 65), 0);
        assert_eq!(set.rank(CHUNK_BITS as u32 + 66), 1);
        assert_eq!(set.word(1_000_000), 0);
    }
}
