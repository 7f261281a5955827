//! The state cache: each recently used stream's folded state and the version it was folded to,
//! so a command reads only a stream's newest events. Bounded: two generations of at most half
//! the capacity each; a stream used again moves to the newer one, and the older generation is
//! dropped whole when the newer fills (a cheap approximation of least-recently-used).
//!
//! An entry is only ever a state folded from the stream's own events up to its version, and
//! the handler always reads what follows from the store, so a stale entry costs a longer read,
//! never a wrong decision.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

use careflow_eventstore::{CurrentVersion, Position};

/// How many streams a handler caches by default.
pub(crate) const DEFAULT_CAPACITY: usize = 20_000;

/// A stream's state as of a version.
#[derive(Debug, Clone)]
pub(crate) struct Cached<S> {
    /// The version of the last event folded in.
    pub(crate) version: CurrentVersion,
    /// That event's position.
    pub(crate) position: Position,
    /// The folded state.
    pub(crate) state: S,
}

struct Generations<K, S> {
    newer: HashMap<K, Cached<S>>,
    older: HashMap<K, Cached<S>>,
}

/// See the module docs.
pub(crate) struct StateCache<K, S> {
    half: usize,
    generations: Mutex<Generations<K, S>>,
}

impl<K: Eq + Hash + Clone, S: Clone> Default for StateCache<K, S> {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl<K: Eq + Hash + Clone, S: Clone> StateCache<K, S> {
    /// A cache of at most `capacity` streams (0: caches nothing).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            half: capacity / 2,
            generations: Mutex::new(Generations { newer: HashMap::new(), older: HashMap::new() }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations<K, S>> {
        // Inserts and removes cannot leave the maps half-changed: a poisoned lock is still sound.
        self.generations.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached state of `stream`, if any.
    pub(crate) fn get(&self, stream: &K) -> Option<Cached<S>> {
        if self.half == 0 {
            return None;
        }
        let mut generations = self.lock();
        if let Some(hit) = generations.newer.get(stream) {
            return Some(hit.clone());
        }
        let hit = generations.older.remove(stream)?;
        Self::insert(&mut generations, self.half, stream.clone(), hit.clone());
        Some(hit)
    }

    /// Caches the state of `stream`, unless an entry at a later version is there already.
    pub(crate) fn put(&self, stream: K, entry: Cached<S>) {
        if self.half == 0 {
            return;
        }
        let mut generations = self.lock();
        let newer_held = generations.newer.get(&stream).or_else(|| generations.older.get(&stream));
        if newer_held.is_some_and(|held| held.version.next() > entry.version.next()) {
            return;
        }
        generations.older.remove(&stream);
        Self::insert(&mut generations, self.half, stream, entry);
    }

    fn insert(generations: &mut Generations<K, S>, half: usize, stream: K, entry: Cached<S>) {
        if generations.newer.len() >= half && !generations.newer.contains_key(&stream) {
            generations.older = std::mem::take(&mut generations.newer);
        }
        generations.newer.insert(stream, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(version: u64) -> Cached<u64> {
        Cached { version: CurrentVersion::Version(version), position: version + 1, state: version }
    }

    #[test]
    fn keeps_at_most_its_capacity_and_the_recently_used() {
        let cache = StateCache::with_capacity(4);
        for stream in 0..4 {
            cache.put(stream, entry(stream));
        }
        // 0 and 1 went to the older generation when 2 arrived; reading 0 brings it back.
        assert_eq!(cache.get(&0).map(|c| c.state), Some(0));
        for stream in 10..12 {
            cache.put(stream, entry(stream));
        }
        let held: Vec<u64> = (0..12).filter(|s| cache.get(s).is_some()).collect();
        assert!(held.len() <= 4, "held {held:?}");
        assert!(held.contains(&11), "the newest entry is kept: {held:?}");
    }

    #[test]
    fn never_goes_back_to_an_older_version() {
        let cache = StateCache::with_capacity(10);
        cache.put("bed-1", entry(7));
        cache.put("bed-1", entry(3));
        assert_eq!(cache.get(&"bed-1").map(|c| c.state), Some(7));
        cache.put("bed-1", entry(9));
        assert_eq!(cache.get(&"bed-1").map(|c| c.state), Some(9));
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let cache = StateCache::with_capacity(0);
        cache.put(1, entry(1));
        assert!(cache.get(&1).is_none());
    }
}
