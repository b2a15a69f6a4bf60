//! Large arrays on transparent huge pages (not to be confused with a page of
//! query results).
//!
//! A segment of 10M windows spans more than a gigabyte. On 4 KiB pages every
//! random read of a query (a row, a posting list, a bucket of a directory)
//! also misses the TLB and walks the page table, whose own entries miss the
//! cache; on 2 MiB pages the TLB covers the whole index. Linux gives huge
//! pages to memory that asks for them (`madvise(MADV_HUGEPAGE)`, honoured when
//! `/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` or `always`,
//! which is the default of most distributions), and only when it asks before
//! the pages are first written. So the segment's large, never-growing arrays
//! are allocated here: reserved, advised, then filled. Elsewhere, or when the
//! kernel says no, they are ordinary vectors.

/// Arrays smaller than this stay on ordinary pages (they hold at most one
/// whole huge page and are cheap to map either way).
#[cfg(target_os = "linux")]
const MIN_BYTES: usize = 4 << 20;

/// Bytes of a huge page on the platforms that have them.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// An empty vector with room for `n` elements, its memory advised to use
/// huge pages if it is large.
pub(crate) fn with_capacity<T>(n: usize) -> Vec<T> {
    let v = Vec::with_capacity(n);
    advise(&v);
    v
}

/// `iter` collected into a vector whose memory is advised before it is
/// written. The iterator's length must be exact (it sizes the allocation).
pub(crate) fn collect<T>(iter: impl ExactSizeIterator<Item = T>) -> Vec<T> {
    let mut v = with_capacity(iter.len());
    v.extend(iter);
    v
}

/// `n` copies of `value`, in memory advised before it is written.
pub(crate) fn filled<T: Clone>(value: T, n: usize) -> Vec<T> {
    let mut v = with_capacity(n);
    v.resize(n, value);
    v
}

/// Asks the kernel to back the whole huge pages inside `v`'s allocation with
/// huge pages. Advice only: the contents and validity of the memory are
/// unchanged whatever the answer.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise<T>(v: &Vec<T>) {
    let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
    if bytes < MIN_BYTES {
        return;
    }
    let begin = v.as_ptr() as usize;
    let from = begin.next_multiple_of(HUGE_PAGE);
    let to = (begin + bytes) / HUGE_PAGE * HUGE_PAGE;
    if to > from {
        // SAFETY: `from..to` lies inside the vector's own allocation, which
        // outlives this call; MADV_HUGEPAGE changes how the kernel backs the
        // pages, never what they hold, and a failure (a kernel without
        // transparent huge pages) leaves them as they were, which is harmless.
        let _ = unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise<T>(_: &Vec<T>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advised_vectors_hold_what_was_put_in() {
        let big = collect((0..3_000_000u32).map(|x| u64::from(x) * 3));
        assert_eq!(big.len(), 3_000_000);
        assert!(big.iter().enumerate().all(|(i, &x)| x == i as u64 * 3));
        let small = filled(7u8, 10);
        assert_eq!(small, vec![7u8; 10]);
        let mut grown: Vec<u32> = with_capacity(2_000_000);
        grown.extend(0..2_000_000);
        assert_eq!(grown.iter().map(|&x| u64::from(x)).sum::<u64>(), 1_999_999 * 2_000_000 / 2);
    }
}
