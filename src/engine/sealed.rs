//! Sealed write buffers: full buffers waiting for their segments, which a
//! background thread builds while the writer goes on (a shared index's
//! writes then never pay for a build). Queries scan them as they scan the
//! write buffer; the writer installs each segment, oldest first, once built.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::parts::Part;
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

/// A segment being built from a sealed buffer.
#[derive(Debug)]
pub(crate) struct Build<I, P> {
    /// Where the build thread leaves the segment.
    pub(crate) output: Arc<Mutex<Option<Part<I, P>>>>,
    /// Set once the build ended (with an output, or, after a panic, none).
    pub(crate) done: Arc<AtomicBool>,
}

impl<I, P> Build<I, P> {
    pub(crate) fn new() -> Self {
        Build { output: Arc::new(Mutex::new(None)), done: Arc::new(AtomicBool::new(false)) }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Waits for the build to end, then takes its segment (`None` if the
    /// build panicked: a bug, and the caller builds it again).
    pub(crate) fn wait(self) -> Option<Part<I, P>> {
        while !self.is_done() {
            std::thread::sleep(std::time::Duration::from_micros(20));
        }
        self.output.lock().take()
    }
}

/// Sets its flag when dropped (however the build ends).
pub(crate) struct DoneOnDrop(pub(crate) Arc<AtomicBool>);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}
