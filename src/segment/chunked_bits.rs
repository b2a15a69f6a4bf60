//! A set of row numbers (or positions) in chunks of 4,096 bits, with the
//! number of set bits below any position in `O(log n)`.
//!
//! Chunks are allocated only once a bit in them is set, and shared between
//! copies (`Arc`): a copy costs a pointer per chunk, and a later insert
//! copies only the one chunk it changes. That is what lets a version of the
//! index keep its tombstones while the next version adds to them. Counts
//! per chunk sit in a Fenwick tree, so ranks never walk the set.

use std::sync::Arc;

/// Bits a chunk holds, and their log2.
const CHUNK_BITS: usize = 4096;
const CHUNK_SHIFT: u32 = 12;
/// Words (of 64 bits) in a chunk.
const CHUNK_WORDS: usize = CHUNK_BITS / 64;

/// Words a rank inside a chunk counts bit by bit, at most.
const GROUP_WORDS: usize = 8;

/// 4,096 bits, with the number set before each group of 8 words, so a rank
/// inside the chunk counts at most 8 words.
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
    /// `None`: no bit of the chunk is set.
    chunks: Vec<Option<Arc<Chunk>>>,
    /// A Fenwick tree (1-based) over the chunks' counts of set bits.
    tree: Vec<u32>,
    len: u32,
}

impl ChunkedBits {
    /// An empty set of numbers below `bound`.
    pub(crate) fn new(bound: usize) -> Self {
        let chunks = bound.div_ceil(CHUNK_BITS);
        ChunkedBits { chunks: vec![None; chunks], tree: vec![0; chunks + 1], len: 0 }
    }

    /// How many numbers the set holds.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    #[inline]
    pub(crate) fn contains(&self, i: u32) -> bool {
        self.word(i as usize / 64) & (1 << (i % 64)) != 0
    }

    /// The bits of numbers `64 * w .. 64 * w + 64`.
    #[inline]
    pub(crate) fn word(&self, w: usize) -> u64 {
        match self.chunks.get(w / CHUNK_WORDS) {
            Some(Some(chunk)) => chunk.words[w % CHUNK_WORDS],
            _ => 0,
        }
    }

    /// A reader of [`ChunkedBits::word`] for words visited mostly in
    /// ascending order: it keeps the chunk it last read, so a walk over
    /// blocks reads one chunk pointer per 64 words.
    #[inline]
    pub(crate) fn words(&self) -> WordCursor<'_> {
        WordCursor { bits: self, chunk: usize::MAX, words: None }
    }

    /// Adds `i` (below the bound); `false` if it was there.
    pub(crate) fn insert(&mut self, i: u32) -> bool {
        let k = (i >> CHUNK_SHIFT) as usize;
        let chunk = Arc::make_mut(self.chunks[k].get_or_insert_with(|| Arc::new(Chunk::EMPTY)));
        let (w, bit) = ((i as usize % CHUNK_BITS) / 64, 1u64 << (i % 64));
        if chunk.words[w] & bit != 0 {
            return false;
        }
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

    /// How many numbers below `p` the set holds.
    #[inline]
    pub(crate) fn rank(&self, p: u32) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let k = (p >> CHUNK_SHIFT) as usize;
        if k >= self.chunks.len() {
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
        if let Some(chunk) = &self.chunks[k] {
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
        self.chunks.iter().enumerate().filter_map(|(k, c)| c.as_ref().map(|c| (k, c))).flat_map(|(k, chunk)| {
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

    /// Bytes held (a chunk shared with another copy is counted by each).
    pub(crate) fn heap_bytes(&self) -> usize {
        let chunks = self.chunks.iter().flatten().count() * std::mem::size_of::<Chunk>();
        self.chunks.capacity() * std::mem::size_of::<Option<Arc<Chunk>>>() + self.tree.capacity() * 4 + chunks
    }

    /// Checks the count and the tree against the chunks, and that no number
    /// reaches `bound`.
    pub(crate) fn check_invariants(&self, bound: usize) -> Result<(), String> {
        if self.chunks.len() != bound.div_ceil(CHUNK_BITS) || self.tree.len() != self.chunks.len() + 1 {
            return Err("chunked bits sized for another bound".into());
        }
        let counts: Vec<u64> = self.chunks.iter().map(|c| c.as_ref().map_or(0, |c| c.count())).collect();
        for c in self.chunks.iter().flatten() {
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
            self.words = self.bits.chunks.get(k).and_then(|c| c.as_deref()).map(|c| &c.words);
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
