//! Sealed write buffers: full buffers waiting for their segments, which a
//! background thread builds while the writer goes on (a shared index's
//! writes then never pay for a build). Queries scan them as they scan the
//! write buffer; the writer installs each segment, oldest first, once built.

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::parts::Part;
use super::signal::Signal;
use crate::segment::WriteBuffer;

/// The sealed buffers, oldest first, with the payload log of each.
#[derive(Debug)]
pub(crate) struct Sealed<I, P> {
    pub(crate) buffers: Vec<WriteBuffer<I>>,
    pub(crate) logs: Vec<Arc<[OnceLock<P>]>>,
}

impl<I, P> Default for Sealed<I, P> {
    fn default() -> Self {
        Sealed { buffers: Vec::new(), logs: Vec::new() }
    }
}

impl<I: Clone, P> Clone for Sealed<I, P> {
    fn clone(&self) -> Self {
        Sealed { buffers: self.buffers.clone(), logs: self.logs.clone() }
    }
}

impl<I, P> Sealed<I, P> {
    pub(crate) fn len(&self) -> usize {
        self.buffers.len()
    }
}

/// Work handed to the build thread: where it leaves its result, and
/// whether it ended.
#[derive(Debug)]
pub(crate) struct Pending<T> {
    /// Where the build thread leaves the result.
    pub(crate) output: Arc<Mutex<Option<T>>>,
    /// Set once the work ended (with an output, or, after a panic, none).
    pub(crate) done: Arc<Signal>,
}

/// A segment being built from a sealed buffer.
pub(crate) type Build<I, P> = Pending<Part<I, P>>;

impl<T> Pending<T> {
    pub(crate) fn new() -> Self {
        Pending { output: Arc::new(Mutex::new(None)), done: Signal::new() }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done.is_set()
    }

    /// Waits for the work to end, then takes its result (`None` if it
    /// panicked: a bug, and the caller does the work again or goes without).
    pub(crate) fn wait(self) -> Option<T> {
        self.done.wait();
        self.output.lock().take()
    }
}
