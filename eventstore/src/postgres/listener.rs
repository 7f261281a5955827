//! Keeps a store's `head` watch current with commits of other processes: `LISTEN` on the
//! schema's channel, plus a timer that reads `log_head` (module docs of [`super`]).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use super::reader::Readers;
use super::{PostgresError, PostgresOptions, configure};
use crate::{Position, StoreError};

/// The longest wait between attempts to re-establish the listening connection.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Moves `head` forwards to `position` (never back).
fn advance(head: &watch::Sender<Position>, position: Position) {
    head.send_if_modified(|current| {
        let moved = position > *current;
        *current = (*current).max(position);
        moved
    });
}

/// Runs until aborted (when the store is dropped).
pub(super) async fn run(options: PostgresOptions, readers: Arc<Readers>, head: Arc<watch::Sender<Position>>) {
    let (notified, mut notifications) = mpsc::unbounded_channel::<Position>();
    let listening = tokio::spawn(listen(options.clone(), notified));
    // The store read the head just before starting us: the first poll is one period away.
    let period = options.poll_interval.max(Duration::from_millis(10));
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let _stop_listening = AbortOnDrop(listening);
    loop {
        tokio::select! {
            Some(position) = notifications.recv() => advance(&head, position),
            _ = poll.tick() => match readers.head().await {
                Ok(position) => advance(&head, position),
                Err(error) => tracing::warn!(%error, "polling the PostgreSQL log head failed"),
            },
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Holds a `LISTEN`ing connection, re-establishing it after failures, and forwards each
/// notified head.
async fn listen(options: PostgresOptions, notified: mpsc::UnboundedSender<Position>) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match listen_once(&options, &notified).await {
            Ok(()) => return, // the store is gone
            Err(error) => {
                tracing::warn!(%error, retry_in = ?backoff, "the PostgreSQL listener stopped; polling continues");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn listen_once(
    options: &PostgresOptions,
    notified: &mpsc::UnboundedSender<Position>,
) -> Result<(), StoreError> {
    let (client, mut connection) =
        configure(options, "careflow-listener")?.connect(NoTls).await.map_err(PostgresError::from)?;
    let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
    let channel = options.channel().replace('"', "\"\"");
    let statement = format!("LISTEN \"{channel}\"");
    let subscribe = client.batch_execute(&statement);
    // The connection only makes progress while its messages are polled: drive both.
    tokio::pin!(subscribe);
    let mut subscribed = false;
    loop {
        tokio::select! {
            result = &mut subscribe, if !subscribed => {
                result.map_err(PostgresError::from)?;
                subscribed = true;
            }
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(notification))) => {
                    match notification.payload().parse::<Position>() {
                        Ok(position) => {
                            if notified.send(position).is_err() {
                                return Ok(());
                            }
                        }
                        Err(_) => tracing::warn!(payload = notification.payload(), "ignoring a malformed head notification"),
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(PostgresError::from(error).into()),
                None => return Err(StoreError::Unavailable("the listening connection closed".into())),
            },
        }
    }
}
