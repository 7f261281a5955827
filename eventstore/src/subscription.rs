//! Catch-up-then-live subscriptions to `$all`, for any [`EventStore`].
//!
//! A backend only makes a position visible once it and every position before it are committed
//! (its `head` watch says how far that is). So a subscriber never needs to look back: it reads
//! forwards from the next position up to the head, says it has caught up once, then waits for the
//! head to move. No gap and no duplicate, whatever order concurrent appends commit in.
//!
//! A filtered subscription also reports progress: when a read moved past positions its filter
//! rejects and found nothing it wants, [`Subscription::next_batch`] returns an empty batch, so
//! a consumer can checkpoint past events it does not read (a read model whose events are rare
//! would otherwise stay behind the head while other streams are written).

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
            if let Fill::CaughtUp(position) = self.fill().await? {
                return Ok(SubscriptionMessage::CaughtUp(position));
            }
        }
    }

    /// The next batch, one of:
    /// - up to `max` events (at least one) and `None`;
    /// - no events and `None`: progress, the subscription read past positions its filter rejects
    ///   and [`delivered_through`](Self::delivered_through) moved on (never for
    ///   [`Filter::all`], which rejects nothing);
    /// - the one time the subscription catches up, no events and `Some(last position examined)`.
    pub async fn next_batch(
        &mut self,
        max: usize,
    ) -> Result<(Vec<RecordedEvent>, Option<Position>), StoreError> {
        loop {
            if !self.buffer.is_empty() {
                let take = self.buffer.len().min(max.max(1));
                return Ok((self.buffer.drain(..take).collect(), None));
            }
            match self.fill().await? {
                Fill::CaughtUp(position) => return Ok((Vec::new(), Some(position))),
                Fill::Skipped => return Ok((Vec::new(), None)),
                Fill::Read | Fill::Waited => {}
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

    /// Reads more into the buffer, or waits for the head to move. Says it has caught up the
    /// first time there is nothing more to read.
    async fn fill(&mut self) -> Result<Fill, StoreError> {
        let head = *self.head.borrow_and_update();
        if self.next <= head {
            let slice = self.store.read_all(self.next, READ_BATCH, &self.filter).await?;
            if slice.next > self.next {
                self.next = slice.next;
                if slice.events.is_empty() {
                    return Ok(Fill::Skipped);
                }
                self.buffer.extend(slice.events);
                return Ok(Fill::Read);
            }
            // The head says there is more, but nothing could be read: treat as caught up and
            // wait for the next commit rather than spin.
        }
        if !self.caught_up {
            self.caught_up = true;
            return Ok(Fill::CaughtUp(self.next - 1));
        }
        self.head
            .changed()
            .await
            .map_err(|_| StoreError::Unavailable("the event store has shut down".into()))?;
        Ok(Fill::Waited)
    }
}

/// What one [`Subscription::fill`] did.
enum Fill {
    /// Buffered at least one matching event.
    Read,
    /// Moved past positions that hold no matching event (the buffer stays empty).
    Skipped,
    /// Caught up for the first time, at this position.
    CaughtUp(Position),
    /// Waited for the head to move.
    Waited,
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
            let metadata = Metadata::new(uuid::Uuid::nil(), chrono::Utc::now());
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

    #[tokio::test]
    async fn a_filtered_batch_reports_progress_past_events_it_does_not_read() {
        let store = Arc::new(MemoryStore::new());
        let append = |stream: &'static str| {
            let store = store.clone();
            async move {
                let metadata = Metadata::new(uuid::Uuid::nil(), chrono::Utc::now());
                let event = NewEvent::json(uuid::Uuid::new_v4(), "Happened", 1, &0, metadata).unwrap();
                let stream = StreamName::new(stream).unwrap();
                store
                    .append(vec![StreamAppend {
                        stream,
                        expected: ExpectedVersion::Any,
                        events: vec![event],
                    }])
                    .await
                    .unwrap();
            }
        };
        append("bed-1").await;
        let mut subscription = Subscription::new(store.clone(), 1, Filter::categories(["bed"]));
        assert_eq!(subscription.next_batch(10).await.unwrap().0.len(), 1);
        assert_eq!(subscription.next_batch(10).await.unwrap(), (vec![], Some(1)));
        // Live: another category's events move the subscription on, with an empty batch.
        append("task-1").await;
        append("task-2").await;
        let progress = tokio::time::timeout(std::time::Duration::from_secs(10), subscription.next_batch(10));
        assert_eq!(progress.await.unwrap().unwrap(), (vec![], None));
        assert_eq!(subscription.delivered_through(), 3);
        append("bed-2").await;
        let (events, marker) = subscription.next_batch(10).await.unwrap();
        assert_eq!((events.len(), marker, subscription.delivered_through()), (1, None, 4));
    }
}
