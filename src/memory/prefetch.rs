//! Prefetching: starting the loads of elements a caller will soon read, so
//! their cache misses overlap with other work instead of queueing.

/// Starts loading elements of an array (payloads of the hits a page keeps,
/// while the scan goes on), so their cache misses overlap the scan's instead
/// of forming a wave of their own when the page is assembled.
///
/// It holds the array's address as a number: it never reads through it (a
/// prefetch is a hint), so it may outlive the array or cross threads.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Prefetch {
    base: usize,
    stride: usize,
    len: usize,
}

impl Prefetch {
    /// Prefetches elements of `slice`.
    pub(crate) fn of<T>(slice: &[T]) -> Self {
        Prefetch { base: slice.as_ptr() as usize, stride: std::mem::size_of::<T>(), len: slice.len() }
    }

    /// Starts loading slot `slot` (nothing if it is out of bounds).
    #[inline]
    pub(crate) fn slot(&self, slot: u32) {
        if (slot as usize) < self.len {
            prefetch(std::ptr::without_provenance(self.base.wrapping_add(slot as usize * self.stride)));
        }
    }
}

/// Starts loading every cache line of `value`: a block about to be read
/// whole (a chunk of tombstones a write copies).
#[inline]
pub(crate) fn prefetch_whole<T>(value: &T) {
    let start = (value as *const T).cast::<u8>();
    let first = start.addr() & !(LINE - 1);
    let end = start.addr() + size_of::<T>();
    for line in (first..end).step_by(LINE) {
        prefetch(start.with_addr(line));
    }
}

/// Bytes of a cache line.
const LINE: usize = 64;

/// Asks the processor to bring the cache line at `p` closer.
#[inline]
#[allow(unsafe_code)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults and changes nothing the
    // program can observe, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
