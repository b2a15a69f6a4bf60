//! A wavelet matrix: a sequence of small integers (a segment's organization
//! numbers, in some order of its rows) that answers "how many of the first
//! `x` values are below `v`" in one rank step per bit of the values, however
//! long the sequence and however many values it holds.
//!
//! Level `l` (from the highest bit down) is a bit vector of bit `l` of every
//! value, in the order the levels above left them: each level stably moves
//! its zeros before its ones. A prefix of the sequence stays a contiguous
//! range through the levels, so counting values below `v` in it follows `v`'s
//! bits down, adding the range's zeros wherever `v` has a one (Claude,
//! Navarro, Ordóñez: "The wavelet matrix", 2015).
//!
//! Each rank reads one cache line and counts the bits of one word: the bits
//! are kept in lines of 64 bytes, the count of ones before the line in the
//! first word, the ones before each of the line's other words in the second
//! (nine bits each, as in Vigna's rank9), and 384 bits in the other six.

use crate::memory::Column;

/// Bits of one line.
const LINE_BITS: usize = 384;

/// Words of bits in a line, after its two words of counts.
const DATA_WORDS: usize = 6;

/// A line: the ones before it on its level, the ones before each of its
/// words inside it, then 384 bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, align(64))]
struct Line([u64; 8]);

impl Line {
    /// Sets the counts of a line whose bits are written, which `before`
    /// ones on its level precede; returns the ones up to its end.
    fn seal(&mut self, before: u64) -> u64 {
        self.0[0] = before;
        let mut inside = 0u64;
        let mut rel = 0u64;
        for k in 0..DATA_WORDS {
            rel |= inside << (9 * k);
            inside += u64::from(self.0[2 + k].count_ones());
        }
        self.0[1] = rel;
        before + inside
    }
}

/// A sequence of values below `2^bits`, with ranks (see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct WaveletMatrix {
    len: usize,
    bits: u32,
    /// `bits` levels of `lines_per_level` lines, the highest bit's first.
    lines: Column<Line>,
    /// Per level, its zeros (where its ones start on the next level).
    zeros: Vec<u32>,
}

/// Several prefix counts run together, one level at a time, so their cache
/// misses overlap.
pub(crate) const MAX_CHAINS: usize = 16;

impl WaveletMatrix {
    /// The matrix of `values`, each below `2^bits` (`bits` at most 32).
    ///
    /// # Panics
    ///
    /// If a value does not fit `bits` (a bug of the caller's).
    #[cfg(test)]
    pub(crate) fn build(values: Vec<u32>, bits: u32) -> Self {
        WaveletMatrix::build_in(values, Vec::new(), bits)
    }

    /// The matrix of `values` (each below `2^bits`), with `scratch`'s memory
    /// for the values' second order (a large segment's build reuses a column it is done
    /// with: fresh memory costs its page faults, half of a 10M build).
    pub(crate) fn build_in(values: Vec<u32>, mut scratch: Vec<u32>, bits: u32) -> Self {
        assert!(bits <= 32 && values.iter().all(|&v| u64::from(v) < 1u64 << bits), "a value wider than {bits} bits");
        let len = values.len();
        let per = lines_for(len);
        let mut lines = crate::memory::huge_pages::filled(Line::default(), per * bits as usize);
        let mut zeros = Vec::with_capacity(bits as usize);
        let mut cur = values;
        scratch.resize(if bits > 1 { len } else { 0 }, 0);
        let mut next = scratch;
        // The top level's bits, in the values' order.
        if bits > 0 {
            let mut out = BitWriter::at(0);
            for &v in &cur {
                out.push(&mut lines[..per], u64::from(v >> (bits - 1)) & 1);
            }
            out.flush(&mut lines[..per]);
        }
        for l in 0..bits as usize {
            let ones = lines[l * per..(l + 1) * per].iter_mut().fold(0, |ones, line| line.seal(ones));
            let z = len - ones as usize;
            zeros.push(z as u32);
            if l + 1 == bits as usize {
                break;
            }
            // One pass: the values split by this level's bit (zeros first,
            // each side in order) and, in that order, the next level's
            // bits. Each side is a stream of its own (a cursor and a word
            // being filled) picked by the bit, so no branch depends on it.
            let shift = bits - 1 - l as u32;
            let below = &mut lines[(l + 1) * per..(l + 2) * per];
            let mut sides = [BitWriter::at(0), BitWriter::at(z)];
            for &v in &cur {
                let side = &mut sides[((v >> shift) & 1) as usize];
                next[side.at] = v;
                side.push(below, u64::from(v >> (shift - 1)) & 1);
            }
            for side in &mut sides {
                side.flush(below);
            }
            std::mem::swap(&mut cur, &mut next);
        }
        WaveletMatrix { len, bits, lines: lines.into(), zeros }
    }

    /// Values in the sequence.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bits of each value.
    pub(crate) fn bits(&self) -> u32 {
        self.bits
    }

    /// Ones of level `l` among its first `i` bits.
    #[inline]
    fn rank1(&self, l: usize, i: usize) -> usize {
        let line = &self.lines[l * lines_for(self.len) + i / LINE_BITS].0;
        let r = i % LINE_BITS;
        let (w, part) = (r / 64, r % 64);
        let before = (line[1] >> (9 * w)) & 0x1FF;
        let word = line[2 + w] & ((1u64 << part) - 1);
        (line[0] + before + u64::from(word.count_ones())) as usize
    }

    /// For each `(x, v)` of `chains`, how many of the first `x` values are
    /// below `v` (`x` at most the length). The chains descend the levels
    /// together.
    #[inline]
    pub(crate) fn counts_below<const K: usize>(&self, chains: [(usize, u32); K]) -> [u64; K] {
        const { assert!(K <= MAX_CHAINS, "too many chains") };
        let mut lo = [0usize; K];
        let mut hi = chains.map(|(x, _)| x.min(self.len));
        let mut below = [0u64; K];
        // A bound past every value counts the whole prefix.
        let wide = |v: u32| self.bits < 32 && u64::from(v) >= 1u64 << self.bits;
        for l in 0..self.bits as usize {
            let shift = self.bits - 1 - l as u32;
            let z = self.zeros[l] as usize;
            for k in 0..K {
                let (x, v) = chains[k];
                // Nothing is below zero.
                if wide(v) || x == 0 || v == 0 {
                    continue;
                }
                let (ones_lo, ones_hi) = (self.rank1(l, lo[k]), self.rank1(l, hi[k]));
                let (zeros_lo, zeros_hi) = (lo[k] - ones_lo, hi[k] - ones_hi);
                if (v >> shift) & 1 == 1 {
                    below[k] += (zeros_hi - zeros_lo) as u64;
                    (lo[k], hi[k]) = (z + ones_lo, z + ones_hi);
                } else {
                    (lo[k], hi[k]) = (zeros_lo, zeros_hi);
                }
            }
        }
        std::array::from_fn(|k| if wide(chains[k].1) { hi[k] as u64 } else { below[k] })
    }

    /// The value at position `i` (`bits` rank steps).
    #[cfg(test)]
    pub(crate) fn get(&self, mut i: usize) -> Option<u32> {
        if i >= self.len {
            return None;
        }
        let mut v = 0u32;
        for l in 0..self.bits as usize {
            let ones = self.rank1(l, i);
            let bit = self.rank1(l, i + 1) - ones;
            v = v << 1 | bit as u32;
            i = if bit == 1 { self.zeros[l] as usize + ones } else { i - ones };
        }
        Some(v)
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.lines.bytes() + self.zeros.capacity() * 4
    }

    /// The wire form: the lines' words, flat.
    pub(crate) fn to_wire(&self) -> WaveletWire {
        WaveletWire {
            len: self.len as u64,
            bits: self.bits,
            words: self.lines.iter().flat_map(|l| l.0).collect(),
            zeros: self.zeros.clone(),
        }
    }

    /// The matrix a wire form describes, checked to be one a build of
    /// `len` values makes: every level's lines and counts consistent, so
    /// every rank stays inside the matrix. (Which values it holds is left to
    /// the caller's full check.)
    pub(crate) fn from_archived(a: &ArchivedWaveletWire, len: usize) -> Result<Self, String> {
        let bits = a.bits.to_native();
        let per = lines_for(len);
        if a.len.to_native() != len as u64 || bits == 0 || bits > 32 || a.zeros.len() != bits as usize {
            return Err(format!("a wavelet matrix of {} values of {bits} bits for {len} rows", a.len.to_native()));
        }
        if a.words.len() != per * bits as usize * 8 {
            return Err(format!("{} wavelet words for {len} values of {bits} bits", a.words.len()));
        }
        let mut lines = crate::memory::huge_pages::with_capacity(per * bits as usize);
        lines.extend(a.words.chunks_exact(8).map(|w| Line(std::array::from_fn(|k| w[k].to_native()))));
        let zeros: Vec<u32> = a.zeros.iter().map(|z| z.to_native()).collect();
        for (l, level) in lines.chunks(per.max(1)).take(bits as usize).enumerate() {
            let mut ones = 0u64;
            for (k, line) in level.iter().enumerate() {
                let mut sealed = *line;
                let next = sealed.seal(ones);
                if sealed != *line {
                    return Err(format!("wavelet level {l} miscounts its ones at line {k}"));
                }
                if tail_bits(line, len.saturating_sub(k * LINE_BITS).min(LINE_BITS)) {
                    return Err(format!("wavelet level {l} has bits past its values"));
                }
                ones = next;
            }
            if u64::from(zeros[l]) + ones != len as u64 {
                return Err(format!("wavelet level {l} counts {} zeros and {ones} ones for {len} values", zeros[l]));
            }
        }
        Ok(WaveletMatrix { len, bits, lines: lines.into(), zeros })
    }
}

/// Writes a run of bits from position `at` of a level (whose words start
/// zeroed), a word at a time: ORed in, since a run that starts inside a
/// word shares it with the run before.
struct BitWriter {
    at: usize,
    word: u64,
}

impl BitWriter {
    fn at(at: usize) -> Self {
        BitWriter { at, word: 0 }
    }

    #[inline]
    fn push(&mut self, level: &mut [Line], bit: u64) {
        self.word |= bit << (self.at % 64);
        self.at += 1;
        if self.at.is_multiple_of(64) {
            let k = self.at - 1;
            level[k / LINE_BITS].0[2 + k % LINE_BITS / 64] |= self.word;
            self.word = 0;
        }
    }

    /// Writes the word being filled, if any.
    fn flush(&mut self, level: &mut [Line]) {
        if !self.at.is_multiple_of(64) {
            let k = self.at;
            level[k / LINE_BITS].0[2 + k % LINE_BITS / 64] |= self.word;
            self.word = 0;
        }
    }
}

/// Whether `line` has a bit set at position `from` or past it.
fn tail_bits(line: &Line, from: usize) -> bool {
    (0..DATA_WORDS).any(|k| {
        let keep = from.saturating_sub(k * 64).min(64);
        let mask = if keep == 64 { 0 } else { u64::MAX << keep };
        line.0[2 + k] & mask != 0
    })
}

/// Lines of one level of `len` values (one past a multiple of 384, so a
/// rank at the very end reads a line that exists).
fn lines_for(len: usize) -> usize {
    len / LINE_BITS + 1
}

/// A wavelet matrix as a snapshot stores it.
#[derive(rkyv::Archive, rkyv::Serialize)]
pub(crate) struct WaveletWire {
    len: u64,
    bits: u32,
    words: Vec<u64>,
    zeros: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, bits: u32, seed: u64) -> Vec<u32> {
        (0..n as u64)
            .map(|i| ((i ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as u32 & ((1u64 << bits) - 1) as u32)
            .collect()
    }

    #[test]
    fn prefix_counts_equal_a_scan() {
        for (n, bits) in [(0usize, 1u32), (1, 1), (383, 3), (384, 9), (385, 9), (5_000, 9), (20_001, 12), (3_000, 32)] {
            let vals = values(n, bits, n as u64);
            let m = WaveletMatrix::build(vals.clone(), bits);
            assert_eq!(m.len(), n);
            for (i, &v) in vals.iter().enumerate().step_by(37) {
                assert_eq!(m.get(i), Some(v), "value {i} of {n}");
            }
            assert_eq!(m.get(n), None);
            let top = if bits == 32 { u32::MAX } else { (1u32 << bits) + 3 };
            for x in [0, 1, n / 3, n / 2 + 1, n.saturating_sub(1), n, n + 5] {
                for v in [0, 1, 2, 5, top / 2, top - 1, top, u32::MAX] {
                    let want = vals[..x.min(n)].iter().filter(|&&y| y < v).count() as u64;
                    let [got, again] = m.counts_below([(x, v), (x, v)]);
                    assert_eq!((got, again), (want, want), "{n} values of {bits} bits: below {v} in {x}");
                }
            }
        }
    }

    #[test]
    fn the_wire_form_reads_back_and_damage_is_refused() {
        let vals = values(3_000, 9, 7);
        let m = WaveletMatrix::build(vals, 9);
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&m.to_wire()).unwrap();
        let a = rkyv::access::<ArchivedWaveletWire, rkyv::rancor::Error>(&bytes).unwrap();
        assert_eq!(WaveletMatrix::from_archived(a, 3_000).unwrap(), m);
        assert!(WaveletMatrix::from_archived(a, 3_001).is_err());
        let mut wire = m.to_wire();
        wire.words[8 * 3 + 2] ^= 1 << 5;
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&wire).unwrap();
        let a = rkyv::access::<ArchivedWaveletWire, rkyv::rancor::Error>(&bytes).unwrap();
        assert!(WaveletMatrix::from_archived(a, 3_000).is_err(), "a flipped bit changes a later line's count");
        let mut wire = m.to_wire();
        let last = wire.words.len() - 1;
        wire.words[last] |= 1 << 63;
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&wire).unwrap();
        let a = rkyv::access::<ArchivedWaveletWire, rkyv::rancor::Error>(&bytes).unwrap();
        assert!(WaveletMatrix::from_archived(a, 3_000).is_err(), "a bit past the values");
    }
}
