//! Column: an immutable array of a segment, read as a slice.
//!
//! A segment's arrays never change once built; a column says so in its
//! type, and reads at the cost of a slice (a pointer and a length). It is
//! the seam through which a segment opened from a snapshot is to use the
//! snapshot's mapped bytes in place, with nothing copied: a second kind of
//! owner beside the vector, no change to any reader.

use std::fmt;
use std::ptr::NonNull;

use rkyv::rancor::Fallible;
use rkyv::ser::{Allocator, Writer};
use rkyv::vec::{ArchivedVec, VecResolver};
use rkyv::{Archive, Place, Serialize};

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
}

// SAFETY: a column is a read-only view of elements it owns (a `Vec<T>`):
// sending or sharing it is sending a `Vec<T>` or sharing a `&[T]`.
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

    /// The elements, to change in place.
    pub(crate) fn to_mut(&mut self) -> &mut [T] {
        let Owner::Vec(items) = &mut self.owner;
        // Re-derived from the vector's mutable borrow, so later reads
        // through `ptr` come from this borrow, not from before it.
        self.ptr = NonNull::from(items.as_mut_slice()).cast();
        items.as_mut_slice()
    }

    /// Bytes the elements take, for `heap_bytes` figures.
    pub(crate) fn bytes(&self) -> usize {
        let Owner::Vec(items) = &self.owner;
        items.capacity() * size_of::<T>()
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
        Column::from(self.as_slice().to_vec())
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
            let Owner::Vec(items) = &self.owner;
            items.capacity()
        }
    }
}
