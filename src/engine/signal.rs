//! A flag a background thread sets once its work ends, which the writer
//! checks without waiting or blocks on until it is set (also the flag a
//! shared index sets when it drops, which ends its tidying thread).
//!
//! Waiting used to be a loop of short sleeps; a sleep of 20 µs lasts about
//! 70 (the kernel's default timer slack is 50 µs), and the writer waited
//! for builds and merges that way at the 99.9th percentile of its writes.
//! A waiter here sleeps on a condition variable, woken the moment the flag
//! is set.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{Condvar, Mutex};

/// Set once, when work handed to another thread ended.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    set: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Signal {
    /// A signal not set yet, to share with the thread that will set it.
    pub(crate) fn new() -> Arc<Signal> {
        Arc::new(Signal::default())
    }

    /// Whether the work ended.
    #[inline]
    pub(crate) fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Marks the work ended and wakes every waiter.
    pub(crate) fn set(&self) {
        self.set.store(true, Ordering::Release);
        // Taken so that a waiter that saw the flag unset is asleep (and
        // will be woken) or has not yet looked again (and will see it set).
        let _guard = self.lock.lock();
        self.wake.notify_all();
    }

    /// Blocks until the work ended.
    pub(crate) fn wait(&self) {
        if self.is_set() {
            return;
        }
        let mut guard = self.lock.lock();
        while !self.is_set() {
            self.wake.wait(&mut guard);
        }
    }

    /// Blocks until the work ended or `timeout` passed; whether it ended.
    pub(crate) fn wait_for(&self, timeout: std::time::Duration) -> bool {
        if !self.is_set() {
            let mut guard = self.lock.lock();
            if !self.is_set() {
                self.wake.wait_for(&mut guard, timeout);
            }
        }
        self.is_set()
    }
}

/// Sets its signal when dropped: however the work ends, a panic included.
pub(crate) struct SetOnDrop(pub(crate) Arc<Signal>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_wakes_once_the_signal_is_set_and_not_before() {
        for _ in 0..200 {
            let signal = Signal::new();
            let seen = Arc::new(AtomicBool::new(false));
            let waiter = {
                let (signal, seen) = (Arc::clone(&signal), Arc::clone(&seen));
                std::thread::spawn(move || {
                    signal.wait();
                    seen.store(true, Ordering::SeqCst);
                })
            };
            std::thread::yield_now();
            assert!(!seen.load(Ordering::SeqCst) || signal.is_set());
            drop(SetOnDrop(Arc::clone(&signal)));
            waiter.join().unwrap();
            assert!(signal.is_set() && seen.load(Ordering::SeqCst));
        }
    }

    #[test]
    fn a_timed_wait_times_out_unset_and_wakes_at_once_when_set() {
        let closing = Signal::new();
        assert!(!closing.wait_for(std::time::Duration::from_millis(1)));
        let waiter = {
            let closing = Arc::clone(&closing);
            std::thread::spawn(move || closing.wait_for(std::time::Duration::from_secs(30)))
        };
        closing.set();
        assert!(waiter.join().unwrap());
        assert!(closing.wait_for(std::time::Duration::from_secs(30)));
    }

    #[test]
    fn waiting_on_a_set_signal_returns_at_once() {
        let signal = Signal::new();
        signal.set();
        signal.wait();
        assert!(signal.is_set());
    }
}
