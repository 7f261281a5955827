//! Matching pushes to commands. Before a command is sent, it registers what its change will
//! look like in a push (a [`Key`]: the bed and its new state, the task and its status, the
//! section and its next version…) and which subscriptions must see it. Each subscription's
//! reader turns every push into the keys it shows and hands them here: the first arrival at
//! each waiting subscription is a latency sample (from the command's send). Once the command is
//! acknowledged, subscriptions still waiting after the push timeout count as missed.
//!
//! Bounded: an entry lives from its command's send until every subscription saw it, the command
//! failed, or the push timeout after its acknowledgement. (A key registered again while the
//! earlier command's push is still awaited, say a bed back in the same state within the push
//! timeout, replaces the earlier entry: lanes make that rare, and only under heavy lag.)

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::stats::PushKind;

/// A subscription's number in the run.
pub type SubId = u32;

/// What a change looks like in a push (a hash of its parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(u64);

/// Builds a [`Key`] from its parts.
pub struct KeyBuilder(DefaultHasher);

impl Key {
    /// A key of kind `tag` (e.g. `"bed"`); add its parts.
    pub fn of(tag: &str) -> KeyBuilder {
        let mut hasher = DefaultHasher::new();
        tag.hash(&mut hasher);
        KeyBuilder(hasher)
    }

    /// Bed `bed` in `status` with expected discharge date `edd` (`""` for none).
    pub fn bed(bed: &str, status: &str, edd: &str) -> Key {
        Key::of("bed").part(bed).part(status).part(edd).build()
    }

    /// A task titled `title` (titles are unique in a run) in an inbox.
    pub fn task_title(title: &str) -> Key {
        Key::of("task-title").part(title).build()
    }

    /// Task `task` in `status` in an inbox.
    pub fn task(task: &str, status: &str) -> Key {
        Key::of("task").part(task).part(status).build()
    }

    /// Task `task` gone from an inbox that showed it (completed or cancelled).
    pub fn task_gone(task: &str) -> Key {
        Key::of("task-gone").part(task).build()
    }

    /// Section `section` of assessment `assessment` at `version`.
    pub fn section(assessment: &str, section: &str, version: u64) -> Key {
        Key::of("section").part(assessment).part(section).number(version).build()
    }

    /// The latest reading of `admission`, taken at `taken_ms` (ms since the epoch).
    pub fn reading(admission: &str, taken_ms: i64) -> Key {
        Key::of("reading").part(admission).number(u64::from_ne_bytes(taken_ms.to_ne_bytes())).build()
    }

    /// A live offer of `provider` on `request` at `price` pence a week.
    pub fn offer_made(request: &str, provider: &str, price: u64) -> Key {
        Key::of("offer-made").part(request).part(provider).number(price).build()
    }

    /// Offer `offer` in `state`.
    pub fn offer(offer: &str, state: &str) -> Key {
        Key::of("offer").part(offer).part(state).build()
    }
}

impl KeyBuilder {
    /// Adds a text part.
    pub fn part(mut self, part: &str) -> Self {
        part.hash(&mut self.0);
        self
    }

    /// Adds a number part.
    pub fn number(mut self, part: u64) -> Self {
        part.hash(&mut self.0);
        self
    }

    /// The key.
    pub fn build(self) -> Key {
        Key(self.0.finish())
    }
}

#[derive(Debug)]
struct Expect {
    sent: Instant,
    acked: Option<Instant>,
    waiting: Vec<(SubId, PushKind)>,
}

/// The commands whose pushes are awaited.
#[derive(Debug, Default)]
pub struct Tracker {
    expected: Mutex<HashMap<Key, Expect>>,
}

/// A push that arrived where it was awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Its kind.
    pub kind: PushKind,
    /// From the command's send to its arrival.
    pub latency: Duration,
}

impl Tracker {
    /// Nothing awaited.
    pub fn new() -> Self {
        Self::default()
    }

    /// A command sent at `sent` will show as `key` to each of `waiting`.
    pub fn expect(&self, key: Key, sent: Instant, waiting: Vec<(SubId, PushKind)>) {
        if waiting.is_empty() {
            return;
        }
        if let Ok(mut expected) = self.expected.lock() {
            expected.insert(key, Expect { sent, acked: None, waiting });
        }
    }

    /// The command of `key` was acknowledged at `at`: its push timeout starts.
    pub fn acked(&self, key: Key, at: Instant) {
        if let Ok(mut expected) = self.expected.lock()
            && let Some(entry) = expected.get_mut(&key)
        {
            entry.acked = Some(at);
        }
    }

    /// The command of `key` changed nothing (refused, failed): nothing to await.
    pub fn cancel(&self, key: Key) {
        if let Ok(mut expected) = self.expected.lock() {
            expected.remove(&key);
        }
    }

    /// A push showing `keys` arrived at subscription `sub` at `at`: what it delivered.
    pub fn deliver(&self, sub: SubId, keys: &[Key], at: Instant) -> Vec<Delivery> {
        let mut delivered = Vec::new();
        if keys.is_empty() {
            return delivered;
        }
        let Ok(mut expected) = self.expected.lock() else { return delivered };
        for key in keys {
            let Some(entry) = expected.get_mut(key) else { continue };
            let Some(i) = entry.waiting.iter().position(|(s, _)| *s == sub) else { continue };
            let (_, kind) = entry.waiting.swap_remove(i);
            delivered.push(Delivery { kind, latency: at.saturating_duration_since(entry.sent) });
            if entry.waiting.is_empty() {
                expected.remove(key);
            }
        }
        delivered
    }

    /// Gives up on pushes acknowledged more than `timeout` before `now`: how many were missed,
    /// by kind. Commands never acknowledged for `stale` are forgotten (their failure is counted
    /// where they were sent).
    pub fn sweep(&self, now: Instant, timeout: Duration, stale: Duration) -> [u64; 6] {
        let mut missed = [0u64; 6];
        if let Ok(mut expected) = self.expected.lock() {
            expected.retain(|_, entry| match entry.acked {
                Some(acked) if now.saturating_duration_since(acked) > timeout => {
                    for (_, kind) in &entry.waiting {
                        missed[kind.index()] += 1;
                    }
                    false
                }
                Some(_) => true,
                None => now.saturating_duration_since(entry.sent) <= stale,
            });
        }
        missed
    }

    /// Acknowledged commands still awaiting a push.
    pub fn awaited(&self) -> usize {
        self.expected.lock().map(|e| e.values().filter(|e| e.acked.is_some()).count()).unwrap_or(0)
    }

    /// Every entry (acknowledged or not).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.expected.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BED: PushKind = PushKind::BedBoard;

    #[test]
    fn keys_tell_their_parts_apart() {
        assert_eq!(Key::bed("B1", "BLOCKED", ""), Key::bed("B1", "BLOCKED", ""));
        assert_ne!(Key::bed("B1", "BLOCKED", ""), Key::bed("B1", "AVAILABLE", ""));
        assert_ne!(Key::bed("B1", "BLOCKED", ""), Key::bed("B2", "BLOCKED", ""));
        // Parts do not run into each other.
        assert_ne!(Key::task("ab", "c"), Key::task("a", "bc"));
        assert_ne!(Key::task("t", "OPEN"), Key::offer("t", "OPEN"));
        assert_ne!(Key::section("a", "s", 1), Key::section("a", "s", 2));
        assert_ne!(Key::reading("a", 1), Key::reading("a", -1));
    }

    #[test]
    fn each_waiting_subscription_delivers_once_and_others_not_at_all() {
        let tracker = Tracker::new();
        let sent = Instant::now();
        let key = Key::bed("B1", "BLOCKED", "");
        tracker.expect(key, sent, vec![(1, BED), (2, BED)]);
        let later = sent + Duration::from_millis(3);
        assert_eq!(tracker.deliver(3, &[key], later), vec![], "not waited for at 3");
        assert_eq!(
            tracker.deliver(1, &[Key::bed("B1", "AVAILABLE", ""), key], later),
            vec![Delivery { kind: BED, latency: Duration::from_millis(3) }]
        );
        assert_eq!(tracker.deliver(1, &[key], later), vec![], "once per subscription");
        assert_eq!(tracker.len(), 1);
        assert_eq!(tracker.deliver(2, &[key], later).len(), 1);
        assert_eq!(tracker.len(), 0, "forgotten once everyone saw it");
    }

    #[test]
    fn a_push_before_the_acknowledgement_counts_and_a_late_one_is_missed() {
        let tracker = Tracker::new();
        let t0 = Instant::now();
        let (early, late) = (Key::task("t1", "CLAIMED"), Key::task("t2", "CLAIMED"));
        tracker.expect(early, t0, vec![(1, PushKind::TeamInbox)]);
        tracker.expect(late, t0, vec![(1, PushKind::TeamInbox), (2, PushKind::TeamInbox)]);
        assert_eq!(tracker.deliver(1, &[early], t0 + Duration::from_millis(1)).len(), 1);
        tracker.acked(early, t0 + Duration::from_millis(2));
        tracker.acked(late, t0 + Duration::from_millis(2));
        assert_eq!(tracker.deliver(2, &[late], t0 + Duration::from_millis(3)).len(), 1);
        let timeout = Duration::from_secs(5);
        let stale = Duration::from_secs(60);
        assert_eq!(tracker.sweep(t0 + Duration::from_secs(4), timeout, stale), [0; 6]);
        assert_eq!(tracker.awaited(), 1);
        let missed = tracker.sweep(t0 + Duration::from_secs(6), timeout, stale);
        assert_eq!(missed[PushKind::TeamInbox.index()], 1, "subscription 1 never saw t2");
        assert_eq!(tracker.len(), 0);
    }

    #[test]
    fn failed_and_forgotten_commands_are_not_missed() {
        let tracker = Tracker::new();
        let t0 = Instant::now();
        tracker.expect(Key::task_gone("t"), t0, vec![(1, PushKind::TeamInbox)]);
        tracker.cancel(Key::task_gone("t"));
        tracker.expect(Key::offer("o", "LIVE"), t0, vec![(1, PushKind::CareMarket)]);
        tracker.expect(Key::offer("p", "LIVE"), t0, vec![]);
        let missed =
            tracker.sweep(t0 + Duration::from_secs(120), Duration::from_secs(5), Duration::from_secs(60));
        assert_eq!(missed, [0; 6]);
        assert_eq!(tracker.len(), 0);
    }
}
