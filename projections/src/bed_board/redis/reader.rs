//! The reader: serves the bed board's live generation from Redis and follows the writer's
//! change channel.

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{Script, Value};
use async_trait::async_trait;
use careflow_eventstore::Position;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::super::model::{BedChange, BedView, Capacity, SiteView, WardView};
use super::super::{BedBoardReader, CHANGE_BUFFER};
use super::{ChangeMessage, Keys, RedisConfig, read_checkpoint, scripts, storage};
use crate::ProjectionError;
use crate::redis_follow::{Feed, Follower, follow, subscribe};

/// How long to wait before re-reading the checkpoint after a failed read.
const REREAD_AFTER: Duration = Duration::from_millis(100);

/// The bed board read from Redis, for gateways in processes other than the projection's.
pub struct RedisBedBoardReader {
    connection: ConnectionManager,
    keys: Keys,
    members: Script,
    value: Script,
    poll_interval: Duration,
    timeout: Duration,
    follower: Arc<Follower<BedChange>>,
    /// Follows the change channel; stopped when the reader is dropped.
    listener: JoinHandle<()>,
}

/// The bed board's feed: its change messages, and what to resend after a gap.
struct BoardFeed {
    connection: ConnectionManager,
    keys: Keys,
    follower: Arc<Follower<BedChange>>,
}

#[async_trait]
impl Feed for BoardFeed {
    /// Changes first, so that whoever sees the checkpoint can already receive the changes up
    /// to it. After a resync message (a generation built aside went live) every bed is resent,
    /// then the checkpoint learnt.
    async fn message(&self, payload: &[u8]) {
        let message: ChangeMessage = match serde_json::from_slice(payload) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "ignoring an unreadable bed board change message");
                return;
            }
        };
        if message.resync {
            // A new generation went live: every bed may differ from what subscribers hold.
            if let Err(error) = resend_all(&self.connection, &self.keys, &self.follower).await {
                tracing::warn!(%error, "cannot resend the bed board after a rebuild");
            }
        } else {
            for change in message.changes {
                // No receivers is fine: nobody is watching.
                let _ = self.follower.changes.send(change);
            }
        }
        self.follower.learned(message.checkpoint);
    }

    async fn resubscribed(&self) {
        let seen = *self.follower.messages();
        let known = *self.follower.checkpoint.borrow();
        match read_checkpoint_again(&self.connection, &self.keys).await {
            Ok(stored) => {
                if stored != known {
                    // Messages were published while we were away: whoever watches a board may
                    // have missed changes, so send every bed as it is.
                    if let Err(error) = resend_all(&self.connection, &self.keys, &self.follower).await {
                        tracing::warn!(%error, "cannot resend the bed board after resubscribing");
                    }
                }
                self.follower.polled(seen, stored);
            }
            Err(error) => tracing::warn!(%error, "cannot re-read the bed board checkpoint"),
        }
    }
}

impl RedisBedBoardReader {
    /// Connects, subscribes to the change channel and reads the checkpoint; from then on a
    /// background task follows the channel (resubscribing after a lost connection) until the
    /// reader is dropped.
    pub async fn connect(config: &RedisConfig) -> Result<Self, ProjectionError> {
        let (client, connection, keys) = config.connect().await?;
        let pubsub =
            subscribe(&client, &keys.channel()).await.map_err(storage("subscribing to bed board changes"))?;
        // Read after subscribing, so that no batch falls between the two.
        let checkpoint = read_checkpoint(&connection, &keys).await?;
        let follower = Arc::new(Follower::new(checkpoint, CHANGE_BUFFER));
        let feed =
            BoardFeed { connection: connection.clone(), keys: keys.clone(), follower: follower.clone() };
        let listener = tokio::spawn(follow(client, keys.channel(), feed, pubsub));
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
        self.follower.wait_for(position, timeout, self.poll_interval, self.timeout, || self.refresh()).await
    }

    fn changes(&self) -> broadcast::Receiver<BedChange> {
        self.follower.changes.subscribe()
    }
}

fn decode<T: DeserializeOwned>(key: &str, value: &str) -> Result<T, ProjectionError> {
    serde_json::from_str(value)
        .map_err(|e| ProjectionError::Storage(format!("redis: cannot decode {key}: {e}")))
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
                tokio::time::sleep(REREAD_AFTER).await;
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
    follower: &Follower<BedChange>,
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
