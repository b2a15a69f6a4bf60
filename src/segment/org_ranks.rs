//! Counts by organization without reading rows: a segment's organization
//! numbers in order of start and in order of end, as wavelet matrices.
//!
//! "Active at `t` in a parent's scope" is the rows of the scope that started
//! by `t` less those that ended by `t`. The rows that started before a bound
//! are a prefix of the rows in start order (its length is the sum of the
//! tiers' start searches the plain counts already make), and those that
//! ended by one a prefix of the sorted ends; so each count is a prefix count
//! of organization numbers in a range, `O(bits)` rank steps per range of
//! consecutive numbers the scope holds, however many windows or
//! organizations it holds. Posting lists answer the same count by walking
//! every organization's list in the scope (251 of them for the benchmark's
//! parent: 200 µs at 10M windows).

use super::row::{Row, TIERS, Tier};
use super::wavelet::{WaveletMatrix, WaveletWire};

/// A segment's organizations in start order and in end order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OrgRanks {
    starts: WaveletMatrix,
    ends: WaveletMatrix,
}

/// Ranges of organization numbers counted in one pass down the matrices.
const RUNS_PER_PASS: usize = 4;

impl OrgRanks {
    /// The ranks of rows sorted as a segment keeps them (by tier, then
    /// start), of which `orgs` gives each row's organization (in row order)
    /// and `end_orgs` the organizations in order of end.
    pub(crate) fn build<I>(rows: &[Row<I>], tiers: &[Tier; TIERS], orgs: &[u32], end_orgs: Vec<u32>) -> Self {
        let bits = bits_of(orgs);
        OrgRanks::of(start_matrix(rows, tiers, orgs.to_vec()), end_matrix(bits, end_orgs, Vec::new()))
    }

    /// The ranks of a segment of the two matrices (built apart, on two
    /// threads for a large segment), which must be of the same rows.
    pub(crate) fn of(starts: WaveletMatrix, ends: WaveletMatrix) -> Self {
        debug_assert_eq!(starts.bits(), ends.bits(), "matrices of two widths");
        OrgRanks { starts, ends }
    }

    /// Rows of organizations in `runs` (half-open ranges of organization
    /// numbers) among the first `x` rows in order of start.
    #[inline]
    pub(crate) fn started(&self, x: usize, runs: &[(u32, u32)]) -> u64 {
        in_runs(&self.starts, x, runs)
    }

    /// Rows of organizations in `runs` among the first `x` in order of end.
    #[inline]
    pub(crate) fn ended(&self, x: usize, runs: &[(u32, u32)]) -> u64 {
        in_runs(&self.ends, x, runs)
    }

    /// Bytes held on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.starts.heap_bytes() + self.ends.heap_bytes()
    }

    /// The wire form.
    pub(crate) fn to_wire(&self) -> OrgRanksWire {
        OrgRanksWire { starts: self.starts.to_wire(), ends: self.ends.to_wire() }
    }

    /// The ranks a wire form describes, for a segment of `n` rows, checked
    /// so no count reads outside them.
    pub(crate) fn from_archived(a: &ArchivedOrgRanksWire, n: usize) -> Result<Self, String> {
        let starts = WaveletMatrix::from_archived(&a.starts, n)?;
        let ends = WaveletMatrix::from_archived(&a.ends, n)?;
        if starts.bits() != ends.bits() {
            return Err("organization ranks of two widths".into());
        }
        Ok(OrgRanks { starts, ends })
    }

    /// Checks that these are the ranks of a segment's rows: `rows`, `tiers`
    /// and each row's organization `orgs` as [`OrgRanks::build`] takes them
    /// (ties of ends ordered by organization, as the build orders them).
    pub(crate) fn check<I>(&self, rows: &[Row<I>], tiers: &[Tier; TIERS], orgs: &[u32]) -> Result<(), String> {
        let want = OrgRanks::build(rows, tiers, orgs, end_order(rows, orgs).1);
        if *self != want {
            return Err("the organization ranks are not the rows' organizations".into());
        }
        Ok(())
    }
}

/// Bits of organization numbers up to `max` (at least one).
fn bits_for(max: u32) -> u32 {
    (u32::BITS - max.leading_zeros()).max(1)
}

/// Bits of the organization numbers in `orgs` (at least one).
pub(crate) fn bits_of(orgs: &[u32]) -> u32 {
    bits_for(orgs.iter().copied().max().unwrap_or(0))
}

/// The matrix of the organizations (`orgs`, in row order) in order of
/// start; `orgs`' memory is reused for the build.
pub(crate) fn start_matrix<I>(rows: &[Row<I>], tiers: &[Tier; TIERS], orgs: Vec<u32>) -> WaveletMatrix {
    let bits = bits_of(&orgs);
    WaveletMatrix::build_in(in_start_order(rows, tiers, &orgs), orgs, bits)
}

/// The matrix of the organizations in order of end (`end_orgs`, as
/// [`end_order`] gives them), `bits` wide (as [`start_matrix`] makes its
/// own), built in `scratch`'s memory.
pub(crate) fn end_matrix(bits: u32, end_orgs: Vec<u32>, scratch: Vec<u32>) -> WaveletMatrix {
    WaveletMatrix::build_in(end_orgs, scratch, bits)
}

/// `orgs` (in row order: each tier by start) in order of start across the
/// tiers (ties to the lower tier): a merge of the three tiers, the first
/// (most rows) copied in runs up to the others' next starts, so most rows
/// cost no choice of tier (a merge choosing one row at a time took 20 ns
/// a row at 10M, this 7).
fn in_start_order<I>(rows: &[Row<I>], tiers: &[Tier; TIERS], orgs: &[u32]) -> Vec<u32> {
    let mut out = crate::memory::huge_pages::with_capacity(rows.len());
    let mut at = tiers.map(|t| t.lo as usize);
    let end = tiers.map(|t| t.hi as usize);
    let head = |at: &[usize; TIERS], t: usize| if at[t] < end[t] { rows[at[t]].start } else { i64::MAX };
    loop {
        let (second, third) = (head(&at, 1), head(&at, 2));
        let bound = second.min(third);
        let from = at[0];
        let run = rows[from..end[0]].iter().take_while(|r| r.start <= bound).count();
        out.extend_from_slice(&orgs[from..from + run]);
        at[0] += run;
        // Both others done: so is the first (every start is below MAX).
        if bound == i64::MAX {
            return out;
        }
        let t = if second <= third { 1 } else { 2 };
        out.push(orgs[at[t]]);
        at[t] += 1;
    }
}

/// The rows' ends ascending, and their organizations in that order (ties
/// by organization). One sort of packed keys where the span of ends leaves
/// room for the organization's bits (always, in practice), else of pairs.
pub(crate) fn end_order<I>(rows: &[Row<I>], orgs: &[u32]) -> (Vec<i64>, Vec<u32>) {
    let bits = bits_for(orgs.iter().copied().max().unwrap_or(0));
    let (min, max) = rows.iter().fold((i64::MAX, i64::MIN), |(a, b), r| (a.min(r.end), b.max(r.end)));
    let span = max.wrapping_sub(min) as u64;
    let mask = (1u64 << bits) - 1;
    // `bits` is at most 32; no rows make a span of 1.
    if span < 1u64 << (64 - bits) {
        let mut keys: Vec<u64> = crate::memory::huge_pages::collect(
            rows.iter().zip(orgs).map(|(r, &o)| (r.end.wrapping_sub(min) as u64) << bits | u64::from(o)),
        );
        super::radix::sort_by_key(&mut keys, |&k| k);
        let end_orgs = crate::memory::huge_pages::collect(keys.iter().map(|&k| (k & mask) as u32));
        // The keys become the ends in place (collected into their own
        // allocation: same size and alignment).
        let ends = keys.into_iter().map(|k| min.wrapping_add((k >> bits) as i64)).collect();
        (ends, end_orgs)
    } else {
        let mut pairs: Vec<(i64, u32)> = rows.iter().zip(orgs).map(|(r, &o)| (r.end, o)).collect();
        pairs.sort_unstable();
        (crate::memory::huge_pages::collect(pairs.iter().map(|p| p.0)), pairs.iter().map(|p| p.1).collect())
    }
}

/// Values of `m` among its first `x` that fall in one of `runs`.
#[inline]
fn in_runs(m: &WaveletMatrix, x: usize, runs: &[(u32, u32)]) -> u64 {
    let mut total = 0;
    for group in runs.chunks(RUNS_PER_PASS) {
        let mut chains = [(0usize, 0u32); 2 * RUNS_PER_PASS];
        for (k, &(a, b)) in group.iter().enumerate() {
            chains[2 * k] = (x, a);
            chains[2 * k + 1] = (x, b);
        }
        let counts = m.counts_below(chains);
        total += counts.chunks(2).map(|c| c[1] - c[0]).sum::<u64>();
    }
    total
}

/// Organization ranks as a snapshot stores them.
#[derive(rkyv::Archive, rkyv::Serialize)]
pub(crate) struct OrgRanksWire {
    starts: WaveletWire,
    ends: WaveletWire,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::row::TIER_MAX_LEN as TIER_MAX;

    /// Rows in a segment's order over three tiers, with organizations.
    fn rows(n: u64) -> (Vec<Row<u64>>, [Tier; TIERS], Vec<u32>) {
        let mut rows: Vec<Row<u64>> = (0..n)
            .map(|i| {
                let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let start = (x >> 44) as i64 * 1_000;
                let len = 1 + [TIER_MAX[0] / 2, TIER_MAX[1] - 5, TIER_MAX[1] * 3][(x % 3) as usize];
                Row { start, end: start + len, id: i, place: (x >> 20) as u32 % 300, slot: 0 }
            })
            .collect();
        rows.sort_by_key(|r| (r.tier(), r.start, r.id));
        let mut tiers = [Tier::default(); TIERS];
        let mut lo = 0;
        for (t, tier) in tiers.iter_mut().enumerate() {
            let hi = lo + rows[lo..].iter().take_while(|r| r.tier() == t).count();
            (tier.lo, tier.hi) = (lo as u32, hi as u32);
            lo = hi;
        }
        let orgs = rows.iter().map(|r| r.place).collect();
        (rows, tiers, orgs)
    }

    #[test]
    fn counts_by_runs_equal_a_scan() {
        let (rows, tiers, orgs) = rows(6_000);
        let (ends, end_orgs) = end_order(&rows, &orgs);
        let ranks = OrgRanks::build(&rows, &tiers, &orgs, end_orgs);
        ranks.check(&rows, &tiers, &orgs).unwrap();
        let runs_list: [&[(u32, u32)]; 4] =
            [&[(0, 300)], &[(5, 6)], &[(0, 1), (10, 40), (41, 42), (100, 101), (290, 400)], &[]];
        for t in [i64::MIN, 0, 3_000_000, 9_000_000_000, i64::MAX] {
            let x = rows.iter().filter(|r| r.start < t).count();
            let y = ends.iter().filter(|&&e| e <= t).count();
            for runs in runs_list {
                let inside = |o: u32| runs.iter().any(|&(a, b)| a <= o && o < b);
                let want_s = rows.iter().zip(&orgs).filter(|&(r, &o)| r.start < t && inside(o)).count() as u64;
                let want_e = rows.iter().zip(&orgs).filter(|&(r, &o)| r.end <= t && inside(o)).count() as u64;
                assert_eq!(ranks.started(x, runs), want_s, "started by {t} in {runs:?}");
                assert_eq!(ranks.ended(y, runs), want_e, "ended by {t} in {runs:?}");
            }
        }
        let mut other = orgs.clone();
        other.swap(3, 4_000);
        if other != orgs {
            assert!(ranks.check(&rows, &tiers, &other).is_err());
        }
    }
}
