//! Pins: versions held for consistent page sequences, each for a bounded
//! time, and at most a bounded number of them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

/// How long a pinned version is held after its last use, and how many are
/// held at most, for consistent cursors (see
/// [`Query::consistent`](crate::Query::consistent)).
///
/// A pin holds what the index replaced since its version (segments merged
/// away, rows deleted, the write buffer of the time): little for a walk of a
/// few seconds, more the longer it is held under heavy writes. The defaults
/// ([`PinPolicy::default`]) keep a version for a minute after its last page,
/// and at most 1,024 versions: when a new pin finds the cap reached, the pin
/// closest to expiring is dropped, and its walk goes on by key
/// ([`Consistency::Expired`](crate::Consistency::Expired)).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use mwindex::{OrgId, PinPolicy, SharedIndex};
///
/// let index: SharedIndex<u64, ()> = SharedIndex::builder()
///     .organization(OrgId(1), None)
///     .pins(PinPolicy { ttl: Duration::from_secs(30), max_pins: 64 })
///     .build_shared()?;
/// assert_eq!(index.pinned(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinPolicy {
    /// How long a pinned version is held after it was last read.
    pub ttl: Duration,
    /// How many versions are pinned at most.
    pub max_pins: usize,
}

impl Default for PinPolicy {
    /// A minute after the last page, 1,024 pins.
    fn default() -> Self {
        PinPolicy { ttl: Duration::from_secs(60), max_pins: 1024 }
    }
}

/// A pinned version and when it expires.
struct Held<V> {
    version: Arc<V>,
    expires: Instant,
}

/// The pinned versions, by number.
pub(crate) struct Pins<V> {
    held: Mutex<FxHashMap<u64, Held<V>>>,
    policy: PinPolicy,
    /// When the held versions were created, for `next_sweep`.
    epoch: Instant,
    /// Nanoseconds after `epoch` from which expired pins are worth a sweep.
    next_sweep: AtomicU64,
}

impl<V> Pins<V> {
    pub(crate) fn new(policy: PinPolicy) -> Self {
        Pins {
            held: Mutex::new(FxHashMap::default()),
            policy,
            epoch: Instant::now(),
            next_sweep: AtomicU64::new(u64::MAX),
        }
    }

    pub(crate) fn policy(&self) -> PinPolicy {
        self.policy
    }

    /// Pins `version`, numbered `number`, or extends its pin; returns the
    /// versions this dropped (expired, or over the cap), for the caller to
    /// drop outside the lock.
    #[must_use]
    pub(crate) fn pin(&self, number: u64, version: &Arc<V>) -> Vec<Arc<V>> {
        if self.policy.max_pins == 0 {
            return Vec::new();
        }
        let now = Instant::now();
        let expires = now.checked_add(self.policy.ttl).unwrap_or(now);
        let mut held = self.held.lock();
        let mut dropped = Vec::new();
        if let Some(h) = held.get_mut(&number) {
            h.expires = h.expires.max(expires);
            return dropped;
        }
        if held.len() >= self.policy.max_pins {
            dropped.extend(sweep(&mut held, now));
        }
        while held.len() >= self.policy.max_pins {
            let Some(&soonest) = held.iter().min_by_key(|(_, h)| h.expires).map(|(n, _)| n) else { break };
            dropped.extend(held.remove(&soonest).map(|h| h.version));
        }
        held.insert(number, Held { version: Arc::clone(version), expires });
        self.schedule(&held);
        dropped
    }

    /// The version pinned as `number`, if its pin has not expired; reading it
    /// extends the pin.
    pub(crate) fn get(&self, number: u64) -> Option<Arc<V>> {
        let now = Instant::now();
        let mut held = self.held.lock();
        let h = held.get_mut(&number)?;
        if h.expires < now {
            return None;
        }
        h.expires = now.checked_add(self.policy.ttl).unwrap_or(now);
        Some(Arc::clone(&h.version))
    }

    /// How many versions are pinned (expired ones included until swept).
    pub(crate) fn len(&self) -> usize {
        self.held.lock().len()
    }

    /// Drops the expired pins if a sweep is due; cheap when it is not (one
    /// atomic load, and a clock read only while a pin is held). Returns the
    /// versions dropped.
    #[must_use]
    pub(crate) fn sweep_if_due(&self) -> Vec<Arc<V>> {
        let next = self.next_sweep.load(Ordering::Relaxed);
        if next == u64::MAX || self.nanos(Instant::now()) < next {
            return Vec::new();
        }
        self.sweep()
    }

    /// Drops the expired pins; returns the versions dropped.
    #[must_use]
    pub(crate) fn sweep(&self) -> Vec<Arc<V>> {
        let mut held = self.held.lock();
        let dropped = sweep(&mut held, Instant::now());
        self.schedule(&held);
        dropped
    }

    /// Sets when the next sweep is due: when the soonest pin expires.
    fn schedule(&self, held: &FxHashMap<u64, Held<V>>) {
        let next = held.values().map(|h| h.expires).min().map_or(u64::MAX, |t| self.nanos(t));
        self.next_sweep.store(next, Ordering::Relaxed);
    }

    fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Checks that at most the cap is held.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let n = self.len();
        if n > self.policy.max_pins {
            return Err(format!("{n} versions pinned, above the cap of {}", self.policy.max_pins));
        }
        Ok(())
    }
}

/// Removes the pins expired at `now`.
fn sweep<V>(held: &mut FxHashMap<u64, Held<V>>, now: Instant) -> Vec<Arc<V>> {
    held.extract_if(|_, h| h.expires < now).map(|(_, h)| h.version).collect()
}
