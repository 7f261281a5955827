//! The reader: serves the bed board's live generation from Redis and follows the writer's
//! change channel.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, PubSub};
use ::redis::{Client, Script, Value};
use async_trait::async_trait;
use careflow_eventstore::Position;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::super::model::{BedChange, BedView, Capacity, SiteView, WardView};
use super::super::{BedBoardReader, CHANGE_BUFFER};
use super::{ChangeMessage, Keys, RedisConfig, read_checkpoint, scripts, storage};
use crate::ProjectionError;

/// First and longest wait before subscribing again after the subscription failed.
const RESUBSCRIBE_FIRST: Duration = Duration::from_millis(100);
const RESUBSCRIBE_LONGEST: Duration = Duration::from_secs(5);

/// How often the subscription is pinged, to notice a connection that died silently.
const PING_EVERY: Duration = Duration::from_secs(15);

/// The bed board read from Redis, for gateways in processes other than the projection's.
pub struct RedisBedBoardReader {
    connection: ConnectionManager,
    keys: Keys,
    members: Script,
    value: Script,
    poll_interval: Duration,
    timeout: Duration,
    follower: Arc<Follower>,
    /// Follows the change channel; stopped when the reader is dropped.
    listener: JoinHandle<()>,
}

/// What the change channel tells, shared with the task that listens to it.
struct Follower {
    checkpoint: watch::Sender<Position>,
    changes: broadcast::Sender<BedChange>,
    /// Counts checkpoints learnt from messages, so that a poll that raced with a message does
    /// not put back an older value.
    messages: Mutex<u64>,
}

impl Follower {
    fn messages(&self) -> std::sync::MutexGuard<'_, u64> {
        // Holds a plain counter: a panic elsewhere cannot leave it inconsistent.
        self.messages.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes in one published message: changes first, so that whoever sees the checkpoint
    /// can already receive the changes up to it. A resync message (a generation built aside
    /// went live) is left to the caller, which resends the board and then calls
    /// [`learned`](Self::learned): its checkpoint is returned.
    fn receive(&self, payload: &[u8]) -> Option<Position> {
        let message: ChangeMessage = match serde_json::from_slice(payload) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "ignoring an unreadable bed board change message");
                return None;
            }
        };
        if message.resync {
            return Some(message.checkpoint);
        }
        for change in message.changes {
            // No receivers is fine: nobody is watching.
            let _ = self.changes.send(change);
        }
        self.learned(message.checkpoint);
        None
    }

    /// Takes in a checkpoint the writer published.
    fn learned(&self, checkpoint: Position) {
        let mut messages = self.messages();
        *messages += 1;
        self.checkpoint.send_if_modified(|c| std::mem::replace(c, checkpoint) != checkpoint);
    }

    /// Takes in a checkpoint read with GET, unless a message arrived since `seen` was taken.
    fn polled(&self, seen: u64, stored: Position) {
        let messages = self.messages();
        if *messages == seen {
            self.checkpoint.send_if_modified(|c| std::mem::replace(c, stored) != stored);
        }
    }
}

impl RedisBedBoardReader {
    /// Connects, subscribes to the change channel and reads the checkpoint; from then on a
    /// background task follows the channel (resubscribing after a lost connection) until the
    /// reader is dropped.
    pub async fn connect(config: &RedisConfig) -> Result<Self, ProjectionError> {
        let (client, connection, keys) = config.connect().await?;
        let pubsub = subscribe(&client, &keys).await.map_err(storage("subscribing to bed board changes"))?;
        // Read after subscribing, so that no batch falls between the two.
        let checkpoint = read_checkpoint(&connection, &keys).await?;
        let follower = Arc::new(Follower {
            checkpoint: watch::channel(checkpoint).0,
            changes: broadcast::channel(CHANGE_BUFFER).0,
            messages: Mutex::new(0),
        });
        let listener =
            tokio::spawn(follow(client, keys.clone(), connection.clone(), follower.clone(), pubsub));
        Ok(Self {
            connection,
            keys,
            members: Script::new(scripts::MEMBERS),
            value: Script::new(scripts::VALUE),
            poll_interval: config.poll_interval,
            timeout: config.timeout,
            follower,
            listener,
        })
    }

    /// Re-reads the stored checkpoint.
    async fn refresh(&self) -> Result<(), ProjectionError> {
        let seen = *self.follower.messages();
        let stored = read_checkpoint(&self.connection, &self.keys).await?;
        self.follower.polled(seen, stored);
        Ok(())
    }

    /// The values of the ids in the set named `set` of the live generation (`None` if `guard`
    /// is given and missing, or there is no live model), sorted by `id`.
    async fn members<T: DeserializeOwned>(
        &self,
        set: String,
        guard: Option<String>,
        value_prefix: &str,
        id: impl Fn(&T) -> &str,
    ) -> Result<Option<Vec<T>>, ProjectionError> {
        let seen = *self.follower.messages();
        let values =
            members(&self.members, &self.connection, &self.keys, &set, guard.as_deref(), value_prefix)
                .await?;
        let values = match values {
            Members::Found(values) => values,
            Members::Absent => return Ok(None),
            Members::NoModel => {
                self.follower.polled(seen, 0);
                return Ok(None);
            }
        };
        // An id without a value is a write still to come: leave it out.
        let mut items =
            values.iter().flatten().map(|v| decode::<T>(&set, v)).collect::<Result<Vec<_>, _>>()?;
        items.sort_by(|a, b| id(a).cmp(id(b)));
        Ok(Some(items))
    }

    /// The value named `name` in the live generation.
    async fn get<T: DeserializeOwned>(&self, name: String) -> Result<Option<T>, ProjectionError> {
        let seen = *self.follower.messages();
        let reply: Vec<Value> = self
            .value
            .key(self.keys.current())
            .arg(&self.keys.prefix)
            .arg(&name)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("reading the bed board"))?;
        let mut reply = reply.into_iter();
        if reply_field::<String>(reply.next())? != "found" {
            self.follower.polled(seen, 0);
            return Ok(None);
        }
        let value: Option<String> = reply_field(reply.next())?;
        value.map(|v| decode(&name, &v)).transpose()
    }
}

/// What the members script found.
enum Members {
    /// The values (`None` for an id without one).
    Found(Vec<Option<String>>),
    /// The guard key is missing.
    Absent,
    /// There is no live model.
    NoModel,
}

/// Runs the members script (see [`scripts::MEMBERS`]).
async fn members(
    script: &Script,
    connection: &ConnectionManager,
    keys: &Keys,
    set: &str,
    guard: Option<&str>,
    value_prefix: &str,
) -> Result<Members, ProjectionError> {
    let reply: Vec<Value> = script
        .key(keys.current())
        .arg(&keys.prefix)
        .arg(set)
        .arg(guard.unwrap_or_default())
        .arg(value_prefix)
        .invoke_async(&mut connection.clone())
        .await
        .map_err(storage("reading the bed board"))?;
    let mut reply = reply.into_iter();
    match reply_field::<String>(reply.next())?.as_str() {
        "found" => Ok(Members::Found(reply_field(reply.next())?)),
        "absent" => Ok(Members::Absent),
        _ => Ok(Members::NoModel),
    }
}

/// One field of a read script's reply.
fn reply_field<T: ::redis::FromRedisValue>(value: Option<Value>) -> Result<T, ProjectionError> {
    let value =
        value.ok_or_else(|| ProjectionError::Storage("redis: a short reply from a read script".into()))?;
    ::redis::from_redis_value(value)
        .map_err(|e| ProjectionError::Storage(format!("redis: an unexpected reply from a read script: {e}")))
}

impl Drop for RedisBedBoardReader {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

#[async_trait]
impl BedBoardReader for RedisBedBoardReader {
    async fn sites(&self) -> Result<Vec<SiteView>, ProjectionError> {
        let sites = self.members("sites".into(), None, "site:", |s: &SiteView| &s.site_id).await?;
        Ok(sites.unwrap_or_default())
    }

    async fn wards(&self, site_id: Option<&str>) -> Result<Vec<WardView>, ProjectionError> {
        let wards = self.members("wards".into(), None, "ward:", |w: &WardView| &w.ward_id).await?;
        Ok(wards.unwrap_or_default().into_iter().filter(|w| site_id.is_none_or(|s| w.site_id == s)).collect())
    }

    async fn ward(&self, ward_id: &str) -> Result<Option<WardView>, ProjectionError> {
        self.get(format!("ward:{ward_id}")).await
    }

    async fn bed_board(&self, ward_id: &str) -> Result<Option<Vec<BedView>>, ProjectionError> {
        let (set, guard) = (format!("ward-beds:{ward_id}"), Some(format!("ward:{ward_id}")));
        self.members(set, guard, "bed:", |b: &BedView| &b.bed_id).await
    }

    async fn bed(&self, bed_id: &str) -> Result<Option<BedView>, ProjectionError> {
        self.get(format!("bed:{bed_id}")).await
    }

    async fn ward_capacity(&self, ward_id: &str) -> Result<Option<Capacity>, ProjectionError> {
        Ok(self.bed_board(ward_id).await?.map(|beds| Capacity::of(&beds)))
    }

    async fn site_capacity(&self, site_id: &str) -> Result<Option<Capacity>, ProjectionError> {
        let (set, guard) = (format!("site-beds:{site_id}"), Some(format!("site:{site_id}")));
        let beds = self.members(set, guard, "bed:", |b: &BedView| &b.bed_id).await?;
        Ok(beds.map(|beds| Capacity::of(&beds)))
    }

    fn checkpoint(&self) -> Position {
        *self.follower.checkpoint.borrow()
    }

    async fn wait_for(&self, position: Position, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut checkpoint = self.follower.checkpoint.subscribe();
        loop {
            if *checkpoint.borrow_and_update() >= position {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // Messages normally move the checkpoint; polling covers a lost one.
            let poll_at = (now + self.poll_interval).min(deadline);
            tokio::select! {
                changed = checkpoint.changed() => {
                    if changed.is_err() {
                        return false;
                    }
                }
                () = tokio::time::sleep_until(poll_at) => {
                    let wait = deadline.saturating_duration_since(Instant::now()).min(self.timeout);
                    // A failed or slow poll only delays: the next one may succeed.
                    if let Ok(Err(error)) = tokio::time::timeout(wait, self.refresh()).await {
                        tracing::debug!(%error, "cannot poll the bed board checkpoint");
                    }
                }
            }
        }
    }

    fn changes(&self) -> broadcast::Receiver<BedChange> {
        self.follower.changes.subscribe()
    }
}

fn decode<T: DeserializeOwned>(key: &str, value: &str) -> Result<T, ProjectionError> {
    serde_json::from_str(value)
        .map_err(|e| ProjectionError::Storage(format!("redis: cannot decode {key}: {e}")))
}

async fn subscribe(client: &Client, keys: &Keys) -> Result<PubSub, ::redis::RedisError> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(keys.channel()).await?;
    Ok(pubsub)
}

/// The stored checkpoint, after a lost connection: the command connection was probably lost too,
/// and the connection manager only reconnects once a command has failed on it.
async fn read_checkpoint_again(
    connection: &ConnectionManager,
    keys: &Keys,
) -> Result<Position, ProjectionError> {
    let mut attempts = 0;
    loop {
        match read_checkpoint(connection, keys).await {
            Err(error) if attempts < 3 => {
                attempts += 1;
                tracing::debug!(%error, "re-reading the bed board checkpoint");
                tokio::time::sleep(RESUBSCRIBE_FIRST).await;
            }
            result => return result,
        }
    }
}

/// Every bed's current view in the live generation, sent as a change: after a gap in the
/// subscription or a swap of generations, subscribers see the present state of whatever changed
/// (a large board makes slow receivers lag, and they re-read the board, as after any lag).
async fn resend_all(
    connection: &ConnectionManager,
    keys: &Keys,
    follower: &Follower,
) -> Result<(), ProjectionError> {
    let script = Script::new(scripts::MEMBERS);
    let values = match members(&script, connection, keys, "beds", None, "bed:").await? {
        Members::Found(values) => values,
        Members::Absent | Members::NoModel => Vec::new(),
    };
    let beds = values
        .iter()
        .flatten()
        .map(|value| decode::<BedView>("beds", value))
        .collect::<Result<Vec<_>, _>>()?;
    tracing::info!(beds = beds.len(), "resending the bed board");
    for bed in beds {
        // No receivers is fine: nobody is watching.
        let _ = follower.changes.send(BedChange { ward_id: bed.ward_id.clone(), bed });
    }
    Ok(())
}

/// Follows the change channel for as long as the reader lives, resubscribing after a failure.
/// Messages published meanwhile are lost: once back, it re-reads the checkpoint and, if that
/// moved, resends every bed.
async fn follow(
    client: Client,
    keys: Keys,
    connection: ConnectionManager,
    follower: Arc<Follower>,
    first: PubSub,
) {
    let mut pubsub = Some(first);
    let mut wait = RESUBSCRIBE_FIRST;
    loop {
        let current = match pubsub.take() {
            Some(current) => current,
            None => match subscribe(&client, &keys).await {
                Ok(current) => {
                    let seen = *follower.messages();
                    let known = *follower.checkpoint.borrow();
                    match read_checkpoint_again(&connection, &keys).await {
                        Ok(stored) => {
                            if stored != known {
                                // Messages were published while we were away: whoever watches
                                // a board may have missed changes, so send every bed as it is.
                                if let Err(error) = resend_all(&connection, &keys, &follower).await {
                                    tracing::warn!(%error, "cannot resend the bed board after resubscribing");
                                }
                            }
                            follower.polled(seen, stored);
                        }
                        Err(error) => tracing::warn!(%error, "cannot re-read the bed board checkpoint"),
                    }
                    tracing::info!(channel = %keys.channel(), "resubscribed to bed board changes");
                    wait = RESUBSCRIBE_FIRST;
                    current
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = wait.as_millis(), "cannot subscribe to bed board changes");
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
                    Some(message) => {
                        if let Some(checkpoint) = follower.receive(message.get_payload_bytes()) {
                            // A new generation went live: every bed may differ from what
                            // subscribers hold.
                            if let Err(error) = resend_all(&connection, &keys, &follower).await {
                                tracing::warn!(%error, "cannot resend the bed board after a rebuild");
                            }
                            follower.learned(checkpoint);
                        }
                    }
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
        tracing::warn!(channel = %keys.channel(), "lost the bed board change subscription; resubscribing");
    }
}
