//! What every Redis reader of a read model shares: following the writer's change channel for
//! as long as the reader lives, resubscribing after a lost connection, and the checkpoint it
//! learns from messages and from polls ([`Follower`]). A reader says what a message means and
//! what to do after a gap ([`Feed`]).

use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ::redis::Client;
use ::redis::aio::PubSub;
use async_trait::async_trait;
use careflow_eventstore::Position;
use futures::StreamExt;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, MissedTickBehavior};

use crate::ProjectionError;

/// First and longest wait before subscribing again after the subscription failed.
const RESUBSCRIBE_FIRST: Duration = Duration::from_millis(100);
const RESUBSCRIBE_LONGEST: Duration = Duration::from_secs(5);

/// How often the subscription is pinged, to notice a connection that died silently.
const PING_EVERY: Duration = Duration::from_secs(15);

/// The checkpoint and the changes a reader learns, shared with the task following the channel.
pub(crate) struct Follower<C> {
    /// The live model's checkpoint, as last learnt.
    pub(crate) checkpoint: watch::Sender<Position>,
    /// Changes, for subscriptions.
    pub(crate) changes: broadcast::Sender<C>,
    /// Counts checkpoints learnt from messages, so that a poll that raced with a message does
    /// not put back an older value.
    messages: Mutex<u64>,
}

impl<C: Clone> Follower<C> {
    /// At `checkpoint`, with room for `buffer` changes per slow receiver.
    pub(crate) fn new(checkpoint: Position, buffer: usize) -> Self {
        Self {
            checkpoint: watch::channel(checkpoint).0,
            changes: broadcast::channel(buffer).0,
            messages: Mutex::new(0),
        }
    }
}

impl<C> Follower<C> {
    /// How many checkpoints messages have told so far (take it before a poll).
    pub(crate) fn messages(&self) -> MutexGuard<'_, u64> {
        // Holds a plain counter: a panic elsewhere cannot leave it inconsistent.
        self.messages.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes in a checkpoint the writer published.
    pub(crate) fn learned(&self, checkpoint: Position) {
        let mut messages = self.messages();
        *messages += 1;
        self.checkpoint.send_if_modified(|c| std::mem::replace(c, checkpoint) != checkpoint);
    }

    /// Takes in a checkpoint read with a poll, unless a message arrived since `seen` was taken.
    pub(crate) fn polled(&self, seen: u64, stored: Position) {
        let messages = self.messages();
        if *messages == seen {
            self.checkpoint.send_if_modified(|c| std::mem::replace(c, stored) != stored);
        }
    }
}

impl<C> Follower<C> {
    /// Waits until the checkpoint reaches `position`, at most `timeout`. Messages normally move
    /// it; every `poll_interval` `refresh` re-reads it (at most `op_timeout` each), so a lost
    /// message only delays. Returns whether it reached it.
    pub(crate) async fn wait_for<F>(
        &self,
        position: Position,
        timeout: Duration,
        poll_interval: Duration,
        op_timeout: Duration,
        refresh: impl Fn() -> F,
    ) -> bool
    where
        F: Future<Output = Result<(), ProjectionError>>,
    {
        let deadline = Instant::now() + timeout;
        let mut checkpoint = self.checkpoint.subscribe();
        loop {
            if *checkpoint.borrow_and_update() >= position {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let poll_at = (now + poll_interval).min(deadline);
            tokio::select! {
                changed = checkpoint.changed() => {
                    if changed.is_err() {
                        return false;
                    }
                }
                () = tokio::time::sleep_until(poll_at) => {
                    let wait = deadline.saturating_duration_since(Instant::now()).min(op_timeout);
                    // A failed or slow poll only delays: the next one may succeed.
                    if let Ok(Err(error)) = tokio::time::timeout(wait, refresh()).await {
                        tracing::debug!(%error, "cannot poll a read model's checkpoint");
                    }
                }
            }
        }
    }
}

/// What a reader does with its change channel.
#[async_trait]
pub(crate) trait Feed: Send + Sync + 'static {
    /// Takes in one published message.
    async fn message(&self, payload: &[u8]);
    /// Back after a gap in the subscription (messages published meanwhile are lost): re-read
    /// the checkpoint and, if it moved, tell subscribers what they may have missed.
    async fn resubscribed(&self);
}

/// Subscribes to `channel`.
pub(crate) async fn subscribe(client: &Client, channel: &str) -> Result<PubSub, ::redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

/// Follows `channel` for as long as the task lives, starting with `first`, resubscribing after
/// a failure and handing every message to `feed`.
pub(crate) async fn follow(client: Client, channel: String, feed: impl Feed, first: PubSub) {
    let mut pubsub = Some(first);
    let mut wait = RESUBSCRIBE_FIRST;
    loop {
        let current = match pubsub.take() {
            Some(current) => current,
            None => match subscribe(&client, &channel).await {
                Ok(current) => {
                    feed.resubscribed().await;
                    tracing::info!(%channel, "resubscribed to read model changes");
                    wait = RESUBSCRIBE_FIRST;
                    current
                }
                Err(error) => {
                    tracing::warn!(%error, %channel, retry_in_ms = wait.as_millis(), "cannot subscribe to read model changes");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RESUBSCRIBE_LONGEST);
                    continue;
                }
            },
        };
        let (mut sink, mut stream) = current.split();
        let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = stream.next() => match message {
                    Some(message) => feed.message(message.get_payload_bytes()).await,
                    None => break,
                },
                _ = ping.tick() => {
                    let pong = tokio::time::timeout(PING_EVERY, sink.ping::<::redis::Value>()).await;
                    if !matches!(pong, Ok(Ok(_))) {
                        break;
                    }
                }
            }
        }
        tracing::warn!(%channel, "lost the read model change subscription; resubscribing");
    }
}
