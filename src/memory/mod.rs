//! Hints to the memory system: large arrays on transparent huge pages, and
//! prefetches that overlap cache misses. Neither changes what a program
//! computes, only how fast its memory answers.

mod column;
pub(crate) mod huge_pages;
mod prefetch;

pub(crate) use column::{ArchivedAs, Column, SharedBytes, Stable};
pub(crate) use prefetch::{Prefetch, prefetch_whole};
