//! The queues that hand work to the background threads, made so that a
//! push costs the writer no system call while the thread is awake.
//!
//! Waking a sleeping thread is a system call for the waker and, on a
//! virtual machine whose other core has gone idle, an interrupt sent
//! through the hypervisor. Measured at 10M windows with one writer
//! deleting windows through the shared handle (`concurrency --only
//! writes`), a send on a channel that woke the idle build thread took the
//! writer over 10 µs in 3,201 to 7,689 of 4,795 to 7,764 sends a run
//! (every move of kills into tombstones is one): most of them, enough to
//! set the deletes' 99th percentile. So a thread that runs out of work keeps looking for more,
//! sleeping [`POLL`] between looks, for [`LINGER`]; only then does it sleep
//! until a push wakes it. Under a steady stream of writes (a task every few
//! hundred microseconds) it never sleeps that long, and pushes only take a
//! lock no one else holds for more than a few instructions.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// How long an idle worker sleeps between looks at its queue (the kernel's
/// timer slack, 50 µs by default, comes on top).
const POLL: Duration = Duration::from_micros(50);

/// How long an idle worker keeps looking before it sleeps until woken.
const LINGER: Duration = Duration::from_millis(2);

impl<T> State<T> {
    /// Whether a sleeping worker must be woken for the items waiting: more
    /// of them than workers looking.
    fn needs_waking(&self) -> bool {
        self.parked > 0 && self.items.len() > self.polling
    }
}

/// An item [`TaskQueue::push_awake`] gave back.
#[derive(Debug)]
pub(crate) enum Refused<T> {
    /// The queue takes no more items.
    Closed(T),
    /// Taking it would mean waking a sleeping worker.
    Asleep(T),
}

/// Work for one or more background threads, first in, first out.
#[derive(Debug)]
pub(crate) struct TaskQueue<T> {
    state: Mutex<State<T>>,
    wake: Condvar,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    /// Workers asleep until a push wakes them.
    parked: usize,
    /// Workers out of work and looking every [`POLL`]: one of them takes
    /// the next item without being woken.
    polling: usize,
    /// No more pushes; workers end once the queue is empty.
    closed: bool,
}

impl<T> TaskQueue<T> {
    /// An empty, open queue.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(TaskQueue {
            state: Mutex::new(State { items: VecDeque::new(), parked: 0, polling: 0, closed: false }),
            wake: Condvar::new(),
        })
    }

    /// Adds `item` at the back, waking a sleeping worker only if the
    /// workers looking for work are fewer than the items waiting; gives it
    /// back if the queue is closed.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(item);
        }
        state.items.push_back(item);
        if state.needs_waking() {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Adds `item` at the back if that wakes no thread: a worker looking
    /// for work takes it, or none sleeps (each is busy and takes it next).
    /// Otherwise, or if the queue is closed, gives it back.
    pub(crate) fn push_awake(&self, item: T) -> Result<(), Refused<T>> {
        let mut state = self.state.lock();
        if state.closed {
            return Err(Refused::Closed(item));
        }
        state.items.push_back(item);
        if state.needs_waking() {
            let item = state.items.pop_back().expect("just pushed");
            return Err(Refused::Asleep(item));
        }
        Ok(())
    }

    /// The front item, if there is one, without waiting.
    pub(crate) fn try_pop(&self) -> Option<T> {
        self.state.lock().items.pop_front()
    }

    /// The front item, waiting for one: looking every [`POLL`] for
    /// [`LINGER`], then asleep until a push. `None` once the queue is
    /// closed and empty.
    pub(crate) fn pop(&self) -> Option<T> {
        let idle_since = Instant::now();
        let mut polling = false;
        loop {
            {
                let mut state = self.state.lock();
                let item = state.items.pop_front();
                if item.is_some() || state.closed {
                    state.polling -= usize::from(polling);
                    return item;
                }
                if idle_since.elapsed() >= LINGER {
                    state.polling -= usize::from(polling);
                    polling = false;
                    // The push that follows takes the lock after this wait
                    // released it, sees the count and wakes a worker.
                    state.parked += 1;
                    self.wake.wait(&mut state);
                    state.parked -= 1;
                    continue;
                }
                if !polling {
                    state.polling += 1;
                    polling = true;
                }
            }
            std::thread::sleep(POLL);
        }
    }

    /// Refuses further pushes and wakes every worker: each ends once the
    /// items left are taken.
    pub(crate) fn close(&self) {
        self.state.lock().closed = true;
        self.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_in_order_and_workers_end_on_close() {
        let queue = TaskQueue::new();
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let queue = Arc::clone(&queue);
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while let Some(x) = queue.pop() {
                        got.push(x);
                    }
                    got
                })
            })
            .collect();
        // Some pushes find the workers looking, some asleep.
        for i in 0..300u32 {
            queue.push(i).expect("open");
            if i % 100 == 99 {
                std::thread::sleep(LINGER * 2);
            }
        }
        queue.close();
        assert_eq!(queue.push(7), Err(7), "a closed queue refuses items");
        let mut all = Vec::new();
        for worker in workers {
            let got = worker.join().expect("no panic");
            assert!(got.windows(2).all(|w| w[0] < w[1]), "each worker takes items in order");
            all.extend(got);
        }
        all.sort_unstable();
        assert_eq!(all, (0..300).collect::<Vec<_>>(), "every item taken exactly once");
    }

    #[test]
    fn items_pushed_before_close_are_still_taken() {
        let queue = TaskQueue::new();
        queue.push(1).expect("open");
        queue.push(2).expect("open");
        queue.close();
        assert_eq!(queue.try_pop(), Some(1));
        assert_eq!(queue.pop(), Some(2));
        assert_eq!(queue.pop(), None);
    }

    /// Waits (up to 5 s) until `ready` holds of the queue's state.
    fn wait_until<T>(queue: &TaskQueue<T>, ready: impl Fn(&State<T>) -> bool) {
        let began = Instant::now();
        while !ready(&queue.state.lock()) {
            assert!(began.elapsed() < Duration::from_secs(5), "the worker never reached the state awaited");
            std::thread::sleep(POLL);
        }
    }

    #[test]
    fn a_push_that_would_wake_a_sleeping_worker_is_given_back_and_a_plain_push_wakes_it() {
        let queue = TaskQueue::new();
        let (sent, got) = std::sync::mpsc::channel();
        let worker = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                while let Some(x) = queue.pop() {
                    sent.send(x).expect("the test listens");
                }
            })
        };
        // Asleep: only a plain push takes the item, and wakes the worker.
        wait_until(&queue, |s| s.parked == 1);
        assert!(matches!(queue.push_awake(1u32), Err(Refused::Asleep(1))));
        assert!(queue.state.lock().items.is_empty(), "an item given back is not queued");
        queue.push(1).expect("open");
        assert_eq!(got.recv_timeout(Duration::from_secs(5)), Ok(1));
        // Looking for work (for LINGER after an item): taken without a
        // wake. (On a loaded machine the worker may fall asleep between the
        // look at its state and the push: then wake it and try again.)
        for attempt in 0.. {
            wait_until(&queue, |s| s.polling == 1);
            match queue.push_awake(2) {
                Ok(()) => break,
                Err(refused) => {
                    assert!(matches!(refused, Refused::Asleep(2)) && attempt < 100, "{refused:?}");
                    queue.push(0).expect("open");
                    assert_eq!(got.recv_timeout(Duration::from_secs(5)), Ok(0));
                }
            }
        }
        assert_eq!(got.recv_timeout(Duration::from_secs(5)), Ok(2));
        queue.close();
        assert!(matches!(queue.push_awake(3), Err(Refused::Closed(3))));
        worker.join().expect("no panic");
    }
}
