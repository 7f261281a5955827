//! Catch-up-then-live subscriptions to `$all`, for any [`EventStore`].
//!
//! A backend only makes a position visible once it and every position before it are committed
//! (its `head` watch says how far that is). So a subscriber never needs to look back: it reads
//! forwards from the next position up to the head, says it has caught up once, then waits for the
//! head to move. No gap and no duplicate, whatever order concurrent appends commit in.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::watch;

use crate::{EventStore, Filter, Position, RecordedEvent, StoreError};

/// How many positions one read of the log examines.
const READ_BATCH: usize = 512;

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq, Eq)]
// Boxing the event would cost an allocation per delivered event; messages are moved one at a
// time, never stored in bulk, so the size difference is harmless.
#[allow(clippy::large_enum_variant)]
pub enum SubscriptionMessage {
    /// The next matching event.
    Event(RecordedEvent),
    /// The subscription has delivered everything committed when it caught up (sent once);
    /// carries the last position examined.
    CaughtUp(Position),
}

/// A subscription to `$all` from a position. See the module docs.
pub struct Subscription {
    store: Arc<dyn EventStore>,
    filter: Filter,
    head: watch::Receiver<Position>,
    next: Position,
    buffer: VecDeque<RecordedEvent>,
    caught_up: bool,
}

impl Subscription {
    /// Subscribes to events at positions `>= from` that match `filter`.
    pub fn new(store: Arc<dyn EventStore>, from: Position, filter: Filter) -> Self {
        let head = store.head();
        Self { store, filter, head, next: from.max(1), buffer: VecDeque::new(), caught_up: false }
    }

    /// The next message: an event, or the one-off caught-up marker. Waits while there is
    /// nothing new; fails only when the store fails or shuts down.
    pub async fn next(&mut self) -> Result<SubscriptionMessage, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                return Ok(SubscriptionMessage::Event(event));
            }
            if let Some(marker) = self.fill().await? {
                return Ok(marker);
            }
        }
    }

    /// Up to `max` events at once (at least one) with `None`; or, the one time the
    /// subscription catches up, no events and `Some(last position examined)`.
    pub async fn next_batch(
        &mut self,
        max: usize,
    ) -> Result<(Vec<RecordedEvent>, Option<Position>), StoreError> {
        loop {
            if !self.buffer.is_empty() {
                let take = self.buffer.len().min(max.max(1));
                return Ok((self.buffer.drain(..take).collect(), None));
            }
            if let Some(SubscriptionMessage::CaughtUp(position)) = self.fill().await? {
                return Ok((Vec::new(), Some(position)));
            }
        }
    }

    /// The next position this subscription will read from the store (events buffered but not yet
    /// returned lie below it; see [`delivered_through`](Self::delivered_through)).
    pub fn next_position(&self) -> Position {
        self.next
    }

    /// Every matching event at or below this position has been returned: a consumer that has
    /// applied what it received may checkpoint here (filtered-out positions included).
    pub fn delivered_through(&self) -> Position {
        self.buffer.front().map_or(self.next - 1, |pending| pending.position - 1)
    }

    /// Reads more into the buffer, or waits for the head to move. Returns the caught-up
    /// marker the first time there is nothing more to read.
    async fn fill(&mut self) -> Result<Option<SubscriptionMessage>, StoreError> {
        let head = *self.head.borrow_and_update();
        if self.next <= head {
            let slice = self.store.read_all(self.next, READ_BATCH, &self.filter).await?;
            if slice.next > self.next {
                self.next = slice.next;
                self.buffer.extend(slice.events);
                return Ok(None);
            }
            // The head says there is more, but nothing could be read: treat as caught up and
            // wait for the next commit rather than spin.
        }
        if !self.caught_up {
            self.caught_up = true;
            return Ok(Some(SubscriptionMessage::CaughtUp(self.next - 1)));
        }
        self.head
            .changed()
            .await
            .map_err(|_| StoreError::Unavailable("the event store has shut down".into()))?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::{ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};

    #[tokio::test]
    async fn delivered_through_never_passes_an_event_still_buffered() {
        let store = Arc::new(MemoryStore::new());
        for i in 0..10 {
            let metadata = Metadata {
                correlation_id: uuid::Uuid::nil(),
                causation_id: None,
                command_id: None,
                command_digest: None,
                actor: None,
                occurred_at: chrono::Utc::now(),
                traceparent: None,
            };
            let event = NewEvent::json(uuid::Uuid::new_v4(), "Ticked", 1, &i, metadata).unwrap();
            let stream = StreamName::new("clock-1").unwrap();
            store
                .append(vec![StreamAppend { stream, expected: ExpectedVersion::Any, events: vec![event] }])
                .await
                .unwrap();
        }
        let mut subscription = Subscription::new(store, 1, Filter::all());
        let (events, caught_up) = subscription.next_batch(3).await.unwrap();
        assert_eq!((events.len(), caught_up), (3, None));
        assert_eq!(subscription.next_position(), 11, "the whole log was read into the buffer");
        assert_eq!(subscription.delivered_through(), 3);
        let (events, _) = subscription.next_batch(100).await.unwrap();
        assert_eq!(events.len(), 7);
        assert_eq!(subscription.delivered_through(), 10);
    }
}
