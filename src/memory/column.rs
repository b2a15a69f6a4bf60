//! Column: an immutable array of a segment, read as a slice.
//!
//! A segment built in memory owns its arrays (`Vec`s, on huge pages where
//! large). A segment opened from a snapshot uses the snapshot's bytes where
//! they lie (a memory-mapped file) wherever the archived form of an array
//! is laid out as the array is in memory: the column keeps the mapping
//! alive and reads the elements in it, and nothing is copied or allocated
//! (at 10M windows, opening copied some 800 MB into fresh memory, which
//! the kernel zeroes first). Either way a column reads at the cost of a
//! slice: a pointer and a length, no branch on which kind it is.

use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

use rkyv::rancor::Fallible;
use rkyv::ser::{Allocator, Writer};
use rkyv::vec::{ArchivedVec, VecResolver};
use rkyv::{Archive, Place, Serialize};

/// Bytes that never move or change while an `Arc` holds them: a
/// snapshot's mapping, which columns may point into.
pub(crate) trait Stable: Send + Sync + 'static {
    fn bytes(&self) -> &[u8];
}

/// Shared, stable bytes (see [`Stable`]).
pub(crate) type SharedBytes = Arc<dyn Stable>;

/// An archived array element whose layout is its native form's, on this
/// target: same size, alignment, fields in the same places, each field's
/// bytes the native value's. A slice of it can be read as a slice of `T`.
///
/// # Safety
///
/// `IN_PLACE` may be `true` only if every `Self` is bytewise a valid `T`
/// of the same value as [`ArchivedAs::native`] returns, and `Self` and
/// `T` have the same size.
#[allow(unsafe_code)]
pub(crate) unsafe trait ArchivedAs<T: Copy> {
    /// Whether a `&[Self]` reads as a `&[T]` on this target.
    const IN_PLACE: bool;
    /// The value, converted.
    fn native(&self) -> T;
}

/// `ArchivedAs` for rend's little-endian integers: `repr(C, align(size))`
/// wrappers of the integer holding its little-endian bytes, on a
/// little-endian target the native integer's bytes.
macro_rules! little_endian_in_place {
    ($($archived:ty => $native:ty),*) => {$(
        // SAFETY: see the macro: same size, and on a little-endian target
        // the same bytes as the native integer of the same value.
        #[allow(unsafe_code)]
        unsafe impl ArchivedAs<$native> for $archived {
            const IN_PLACE: bool = cfg!(target_endian = "little");
            #[inline]
            fn native(&self) -> $native {
                self.to_native()
            }
        }
    )*};
}

little_endian_in_place!(rkyv::rend::u32_le => u32, rkyv::rend::i32_le => i32, rkyv::rend::i64_le => i64);

/// An immutable array: `Deref`s to `[T]`.
pub(crate) struct Column<T> {
    /// The first element, in memory `owner` keeps alive and unchanged.
    ptr: NonNull<T>,
    len: usize,
    owner: Owner<T>,
}

/// What keeps a column's elements alive.
enum Owner<T> {
    /// The column's own elements (`ptr` points into this vector, which is
    /// never grown or shrunk while it is here).
    Vec(Vec<T>),
    /// Bytes shared with others, which the elements lie in.
    Shared(SharedBytes),
}

// SAFETY: a column is a read-only view of elements it owns (a `Vec<T>`) or
// of stable bytes an `Arc` keeps alive (`Send + Sync`): sending or sharing
// it is sending a `Vec<T>` or sharing a `&[T]`.
#[allow(unsafe_code)]
unsafe impl<T: Send + Sync> Send for Column<T> {}
// SAFETY: as for `Send`: every access through `&Column<T>` is a `&[T]`.
#[allow(unsafe_code)]
unsafe impl<T: Sync> Sync for Column<T> {}

impl<T> Column<T> {
    /// The elements, as a slice.
    #[inline(always)]
    pub(crate) fn as_slice(&self) -> &[T] {
        // SAFETY: `ptr` points at `len` initialized elements that `owner`
        // keeps alive and that nothing changes while `&self` is held (see
        // `Owner`); for an empty column it is dangling but aligned.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr(), self.len)
        }
    }

    /// A column of `archived`, in place if it lies in `owner`'s bytes and
    /// its layout is `T`'s, else a copy (on huge pages if large).
    pub(crate) fn of_archived<A: ArchivedAs<T>>(archived: &[A], owner: Option<&SharedBytes>) -> Self
    where
        T: Copy,
    {
        if let Some(column) = owner.and_then(|o| Self::in_place(archived, o)) {
            return column;
        }
        Column::from(super::huge_pages::collect(archived.iter().map(A::native)))
    }

    /// A column reading `archived` where it lies, if it lies in `owner`'s
    /// bytes, its layout is `T`'s and it is aligned for `T`.
    fn in_place<A: ArchivedAs<T>>(archived: &[A], owner: &SharedBytes) -> Option<Self>
    where
        T: Copy,
    {
        let fits = A::IN_PLACE && size_of::<A>() == size_of::<T>();
        // SAFETY: the elements are valid `T`s (`ArchivedAs`) when they
        // read in place and are as large.
        #[allow(unsafe_code)]
        fits.then(|| unsafe { Self::shared(archived.as_ptr().cast::<T>(), archived.len(), owner) })?
    }

    /// A column reading `bytes` as elements where they lie, if they lie in
    /// `owner`'s bytes, are aligned for `T` and are a whole number of them.
    ///
    /// # Safety
    ///
    /// Every `size_of::<T>()` bytes must be a valid `T`.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn in_place_bytes(bytes: &[u8], owner: &SharedBytes) -> Option<Self> {
        let whole = size_of::<T>() > 0 && bytes.len().is_multiple_of(size_of::<T>());
        // SAFETY: valid `T`s (the caller), as many as the bytes hold.
        whole.then(|| unsafe { Self::shared(bytes.as_ptr().cast::<T>(), bytes.len() / size_of::<T>(), owner) })?
    }

    /// A column of the `len` `T`s at `ptr`, if they lie inside `owner`'s
    /// bytes and `ptr` is aligned for `T`.
    ///
    /// # Safety
    ///
    /// The `len * size_of::<T>()` bytes at `ptr` must be valid `T`s.
    #[allow(unsafe_code)]
    unsafe fn shared(ptr: *const T, len: usize, owner: &SharedBytes) -> Option<Self> {
        let within = owner.bytes().as_ptr_range();
        let (start, size) = (ptr as usize, len * size_of::<T>());
        let inside = within.start as usize <= start && start + size <= within.end as usize;
        if !inside || !start.is_multiple_of(align_of::<T>()) {
            return None;
        }
        // Aligned, inside bytes `owner` keeps alive and unchanged
        // (`Stable`), held here.
        Some(Column { ptr: NonNull::new(ptr.cast_mut())?, len, owner: Owner::Shared(Arc::clone(owner)) })
    }

    /// A column of the same elements in memory of its own (on huge pages
    /// if large): a copy of one in shared bytes; a clone of one that owns
    /// its elements.
    pub(crate) fn owned(&self) -> Self
    where
        T: Copy,
    {
        Column::from(super::huge_pages::collect(self.iter().copied()))
    }

    /// Whether the elements lie in shared bytes rather than a vector of
    /// the column's own.
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self.owner, Owner::Shared(_))
    }

    /// The elements, to change in place: a column in shared bytes first
    /// copies them into a vector of its own.
    pub(crate) fn to_mut(&mut self) -> &mut [T]
    where
        T: Clone,
    {
        if self.is_shared() {
            *self = Column::from(self.as_slice().to_vec());
        }
        let Owner::Vec(items) = &mut self.owner else { unreachable!("owned above") };
        // Re-derived from the vector's mutable borrow, so later reads
        // through `ptr` come from this borrow, not from before it.
        self.ptr = NonNull::from(items.as_mut_slice()).cast();
        items.as_mut_slice()
    }

    /// Bytes the elements take (in a vector or in shared bytes: memory
    /// either way), for `heap_bytes` figures.
    pub(crate) fn bytes(&self) -> usize {
        match &self.owner {
            Owner::Vec(items) => items.capacity() * size_of::<T>(),
            Owner::Shared(_) => self.len * size_of::<T>(),
        }
    }
}

impl<T> From<Vec<T>> for Column<T> {
    fn from(mut items: Vec<T>) -> Self {
        let ptr = NonNull::from(items.as_mut_slice()).cast();
        Column { ptr, len: items.len(), owner: Owner::Vec(items) }
    }
}

impl<T> FromIterator<T> for Column<T> {
    fn from_iter<It: IntoIterator<Item = T>>(iter: It) -> Self {
        Column::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl<T> Default for Column<T> {
    fn default() -> Self {
        Column::from(Vec::new())
    }
}

impl<T> std::ops::Deref for Column<T> {
    type Target = [T];

    #[inline(always)]
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Clone> Clone for Column<T> {
    fn clone(&self) -> Self {
        match &self.owner {
            Owner::Vec(_) => Column::from(self.as_slice().to_vec()),
            Owner::Shared(owner) => Column { ptr: self.ptr, len: self.len, owner: Owner::Shared(Arc::clone(owner)) },
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Column<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl<T: PartialEq> PartialEq for Column<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq> Eq for Column<T> {}

/// Archived as a `Vec<T>` is: the file format does not know columns.
impl<T: Archive> Archive for Column<T> {
    type Archived = ArchivedVec<T::Archived>;
    type Resolver = VecResolver;

    fn resolve(&self, resolver: Self::Resolver, out: Place<Self::Archived>) {
        ArchivedVec::resolve_from_slice(self.as_slice(), resolver, out);
    }
}

impl<T: Serialize<S>, S: Fallible + Allocator + Writer + ?Sized> Serialize<S> for Column<T> {
    fn serialize(&self, serializer: &mut S) -> Result<Self::Resolver, S::Error> {
        ArchivedVec::<T::Archived>::serialize_from_slice(self.as_slice(), serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_reads_as_its_vector_and_changes_in_place() {
        let mut c = Column::from(vec![3u32, 1, 4, 1, 5]);
        assert_eq!(&c[..], &[3, 1, 4, 1, 5]);
        assert_eq!(c.bytes(), c.capacity_for_tests() * 4);
        let copy = c.clone();
        c.to_mut()[1] = 9;
        assert_eq!(&c[..], &[3, 9, 4, 1, 5]);
        assert_eq!(&copy[..], &[3, 1, 4, 1, 5], "a copy owns its elements");
        assert!(Column::<u64>::default().is_empty());
        assert_eq!((0..4u8).collect::<Column<u8>>().as_slice(), &[0, 1, 2, 3]);
    }

    impl<T> Column<T> {
        fn capacity_for_tests(&self) -> usize {
            match &self.owner {
                Owner::Vec(items) => items.capacity(),
                Owner::Shared(_) => self.len,
            }
        }
    }

    struct Bytes(rkyv::util::AlignedVec<16>);

    impl Stable for Bytes {
        fn bytes(&self) -> &[u8] {
            &self.0
        }
    }

    #[test]
    fn an_archived_array_inside_shared_bytes_is_read_in_place_and_one_outside_is_copied() {
        let values: Vec<i64> = vec![-5, 0, 7, i64::MAX];
        let archived = rkyv::to_bytes::<rkyv::rancor::Error>(&values).expect("serializes");
        let mut held = rkyv::util::AlignedVec::<16>::new();
        held.extend_from_slice(&archived);
        let owner: SharedBytes = Arc::new(Bytes(held));
        let a = rkyv::access::<rkyv::Archived<Vec<i64>>, rkyv::rancor::Error>(owner.bytes()).expect("valid");
        let column = Column::<i64>::of_archived(a.as_slice(), Some(&owner));
        assert_eq!(&column[..], &values[..]);
        assert_eq!(column.is_shared(), cfg!(target_endian = "little"));
        assert_eq!(std::ptr::eq(column.as_ptr().cast::<u8>(), a.as_slice().as_ptr().cast::<u8>()), column.is_shared());
        // The copy an unaligned body would be read from is not the owner's.
        let elsewhere = rkyv::access::<rkyv::Archived<Vec<i64>>, rkyv::rancor::Error>(&archived).expect("valid");
        let copied = Column::<i64>::of_archived(elsewhere.as_slice(), Some(&owner));
        assert!(!copied.is_shared());
        assert_eq!(&copied[..], &values[..]);
        // A column in shared bytes keeps them alive, and copies to change.
        let mut column = column;
        drop(owner);
        assert_eq!(&column[..], &values[..]);
        column.to_mut()[0] = 1;
        assert!(!column.is_shared());
        assert_eq!(&column[..], &[1, 0, 7, i64::MAX]);
    }
}
