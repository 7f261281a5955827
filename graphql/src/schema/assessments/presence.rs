//! Who is in which section of an assessment now: kept by the gateway, not the log (it is not a
//! fact about the patient, and it goes stale in seconds). A client says where it is with
//! `setAssessmentPresence` and repeats it while it stays; an entry expires [`TTL`] after it was
//! last said, and goes at once when its holder's last `assessment` subscription to the
//! assessment ends (the client went away). Subscribers are told of every change.
//!
//! Held per gateway process: with several gateway replicas, each knows the presence of its own
//! clients (sharing it through Redis is for the deployment work).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use tokio::time::Instant;

/// How long an entry lasts after it was last said.
pub const TTL: Duration = Duration::from_secs(30);

/// Most people present in one assessment (more are refused).
pub const MAX_PER_ASSESSMENT: usize = 100;

/// Most assessments with anyone present, per gateway.
pub const MAX_ASSESSMENTS: usize = 10_000;

/// Someone in an assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Here {
    /// Their user id.
    pub user_id: String,
    /// Their role.
    pub role: String,
    /// Their organisation.
    pub organisation: String,
    /// The section they are in (`None`: looking at the assessment, in no section).
    pub section_id: Option<String>,
    /// Since when they are there.
    pub since: DateTime<Utc>,
}

#[derive(Debug)]
struct Entry {
    here: Here,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Room {
    entries: HashMap<String, Entry>,
    /// Live subscriptions per user.
    watchers: HashMap<String, usize>,
}

/// Why presence was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresenceError {
    /// Too many people in one assessment, or too many assessments.
    #[error("too many people are present in assessments; try again later")]
    Full,
}

/// The presence of every assessment this gateway serves.
#[derive(Debug)]
pub struct Presence {
    rooms: Mutex<HashMap<String, Room>>,
    changes: broadcast::Sender<String>,
}

impl Default for Presence {
    fn default() -> Self {
        Self { rooms: Mutex::new(HashMap::new()), changes: broadcast::channel(1024).0 }
    }
}

impl Presence {
    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        // Nothing here panics while holding the lock, so a poisoned map is still whole.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self, assessment: &str) {
        // Nobody listening is fine.
        let _ = self.changes.send(assessment.to_owned());
    }

    /// Records that `here.user_id` is in `here.section_id` of `assessment`, for [`TTL`].
    pub fn set(&self, assessment: &str, here: Here) -> Result<(), PresenceError> {
        let now = Instant::now();
        let changed = {
            let mut rooms = self.rooms();
            if !rooms.contains_key(assessment) && rooms.len() >= MAX_ASSESSMENTS {
                // Rooms nobody watches are swept only here: forget those whose people left.
                rooms.retain(|_, r| !r.watchers.is_empty() || r.entries.values().any(|e| e.expires > now));
                if rooms.len() >= MAX_ASSESSMENTS {
                    return Err(PresenceError::Full);
                }
            }
            let room = rooms.entry(assessment.to_owned()).or_default();
            room.entries.retain(|_, e| e.expires > now);
            if !room.entries.contains_key(&here.user_id) && room.entries.len() >= MAX_PER_ASSESSMENT {
                return Err(PresenceError::Full);
            }
            let expires = now + TTL;
            match room.entries.get_mut(&here.user_id) {
                Some(entry) if entry.here.section_id == here.section_id => {
                    entry.expires = expires;
                    false
                }
                _ => {
                    room.entries.insert(here.user_id.clone(), Entry { here, expires });
                    true
                }
            }
        };
        if changed {
            self.changed(assessment);
        }
        Ok(())
    }

    /// Who is in `assessment` now, by user id.
    pub fn here(&self, assessment: &str) -> Vec<Here> {
        let now = Instant::now();
        let rooms = self.rooms();
        let mut here: Vec<Here> = rooms
            .get(assessment)
            .map(|room| room.entries.values().filter(|e| e.expires > now).map(|e| e.here.clone()).collect())
            .unwrap_or_default();
        here.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        here
    }

    /// When the next entry of `assessment` expires, if any is held.
    pub fn next_expiry(&self, assessment: &str) -> Option<Instant> {
        self.rooms().get(assessment).and_then(|room| room.entries.values().map(|e| e.expires).min())
    }

    /// Drops the expired entries of `assessment`, telling subscribers when there were any.
    pub fn sweep(&self, assessment: &str) {
        let now = Instant::now();
        let removed = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(assessment) else { return };
            let before = room.entries.len();
            room.entries.retain(|_, e| e.expires > now);
            let removed = room.entries.len() != before;
            if room.entries.is_empty() && room.watchers.is_empty() {
                rooms.remove(assessment);
            }
            removed
        };
        if removed {
            self.changed(assessment);
        }
    }

    /// Every change from now on: the id of an assessment whose presence changed.
    pub fn changes(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }

    /// Counts a subscription of `user_id` to `assessment` until the returned guard drops; the
    /// user's presence goes with their last one.
    pub fn watch(self: &std::sync::Arc<Self>, assessment: &str, user_id: &str) -> Watch {
        *self
            .rooms()
            .entry(assessment.to_owned())
            .or_default()
            .watchers
            .entry(user_id.to_owned())
            .or_default() += 1;
        Watch { presence: self.clone(), assessment: assessment.to_owned(), user_id: user_id.to_owned() }
    }

    fn unwatch(&self, assessment: &str, user_id: &str) {
        let left = {
            let mut rooms = self.rooms();
            let Some(room) = rooms.get_mut(assessment) else { return };
            let last = match room.watchers.get_mut(user_id) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                _ => {
                    room.watchers.remove(user_id);
                    true
                }
            };
            let left = last && room.entries.remove(user_id).is_some();
            if room.entries.is_empty() && room.watchers.is_empty() {
                rooms.remove(assessment);
            }
            left
        };
        if left {
            self.changed(assessment);
        }
    }
}

/// A live subscription's hold on its user's presence (see [`Presence::watch`]).
#[derive(Debug)]
pub struct Watch {
    presence: std::sync::Arc<Presence>,
    assessment: String,
    user_id: String,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.presence.unwatch(&self.assessment, &self.user_id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn here(user: &str, section: Option<&str>) -> Here {
        Here {
            user_id: user.into(),
            role: "ward_nurse".into(),
            organisation: "RXA".into(),
            section_id: section.map(Into::into),
            since: Utc::now(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn presence_expires_and_goes_with_the_last_subscription() {
        let presence = Arc::new(Presence::default());
        let mut changes = presence.changes();
        presence.set("a", here("grace", Some("frailty"))).expect("set");
        presence.set("a", here("sam", Some("goals"))).expect("set");
        assert_eq!(changes.try_recv().ok().as_deref(), Some("a"));
        assert_eq!(presence.here("a").len(), 2);

        // Said again in the same section: no news, a later expiry.
        tokio::time::advance(TTL / 2).await;
        let _ = changes.try_recv();
        presence.set("a", here("grace", Some("frailty"))).expect("set");
        assert!(changes.try_recv().is_err(), "nothing changed");

        // Sam stops saying it: gone after the TTL, and subscribers are told at the sweep.
        tokio::time::advance(TTL / 2 + Duration::from_millis(1)).await;
        assert_eq!(presence.here("a").iter().map(|h| h.user_id.as_str()).collect::<Vec<_>>(), ["grace"]);
        presence.sweep("a");
        assert_eq!(changes.try_recv().ok().as_deref(), Some("a"));

        // Grace has two subscriptions: she stays until the second ends.
        let first = presence.watch("a", "grace");
        let second = presence.watch("a", "grace");
        drop(first);
        assert_eq!(presence.here("a").len(), 1);
        drop(second);
        assert!(presence.here("a").is_empty());
        assert_eq!(changes.try_recv().ok().as_deref(), Some("a"));
        assert!(presence.rooms().is_empty(), "an empty room is forgotten");
    }

    #[tokio::test(start_paused = true)]
    async fn rooms_whose_people_left_make_way_for_new_ones() {
        let presence = Presence::default();
        for n in 0..MAX_ASSESSMENTS {
            presence.set(&format!("a{n}"), here("grace", None)).expect("room");
        }
        assert_eq!(presence.set("one-more", here("grace", None)), Err(PresenceError::Full));
        tokio::time::advance(TTL + Duration::from_millis(1)).await;
        presence.set("one-more", here("grace", None)).expect("the expired rooms are forgotten");
        assert_eq!(presence.rooms().len(), 1);
    }

    #[test]
    fn one_assessment_holds_a_bounded_crowd() {
        let presence = Presence::default();
        for n in 0..MAX_PER_ASSESSMENT {
            presence.set("a", here(&format!("user{n}"), None)).expect("room");
        }
        assert_eq!(presence.set("a", here("one-more", None)), Err(PresenceError::Full));
        presence.set("a", here("user0", Some("frailty"))).expect("someone already there may move");
    }
}
