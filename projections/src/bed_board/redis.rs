//! The bed board kept in Redis, for deployments where the projection and the gateways run in
//! different processes. [`RedisBedBoard`] is the writer (a [`Projection`](crate::Projection),
//! exactly one per key prefix); [`RedisBedBoardReader`] serves the gateway's
//! [`BedBoardReader`](super::BedBoardReader) from any number of other processes.
//!
//! # Keys
//! Every key starts with the configured prefix `P` (default `careflow:`):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P checkpoint` | string | the last position applied (absent = 0) |
//! | `P sites`, `P wards`, `P beds` | set | every site, ward and bed id |
//! | `P site:{id}`, `P ward:{id}`, `P bed:{id}` | string | the `SiteView`, `WardView`, `BedView` as JSON |
//! | `P ward-beds:{id}`, `P site-beds:{id}` | set | bed ids of a ward, of a site |
//! | `P stays` | hash | open stay id → stay record JSON (what a bed view needs of a stay) |
//!
//! Changes are published on the channel `P changes` as JSON `{"checkpoint": n, "changes":
//! [BedChange…]}`, one message per applied batch (also when no bed changed, so readers learn
//! the checkpoint); a reset publishes checkpoint 0.
//!
//! # Writes
//! The writer folds events with the shared fold (`fold::Board`) and sends what a batch touched
//! with the new checkpoint in one Lua script. The script first compares the stored checkpoint
//! with the one the batch was computed from and writes nothing if they differ; the write, the
//! checkpoint and the publish are one atomic step, so a crash can neither double-apply nor lose
//! a change, and a batch at or below the checkpoint is a no-op. A batch with no events only
//! moves the checkpoint past events of other contexts; the runner sends at most one such
//! write per 100 ms.
//!
//! # Fold state after a restart
//! The writer keeps the fold in memory as a cache of what Redis holds and loads it back from
//! Redis (one read-only Lua script: checkpoint, sites, wards, bed views, stays) the first time
//! it is needed, i.e. at `checkpoint()` when the runner starts. A bed view carries every field
//! of the fold's bed record, so no second copy is stored. After any failed or rejected write
//! the cache is dropped and loaded again, since the outcome is unknown.
//!
//! # A lost model
//! Our Redis keeps nothing on disk: a restart or a flush loses the model. The writer notices
//! when the stored checkpoint is missing or behind the one it last wrote, at its next batch
//! (the compare-and-set fails) and while idle ([`Projection::verify`](crate::Projection::verify),
//! called on a timer by the runner), and reports [`ProjectionError::ModelLost`]; the runner then
//! resets (deletes every key under the prefix) and replays from position 1. A stored model that
//! does not parse, or whose sets name missing values, is treated the same way at load. Redis
//! must not evict keys (`maxmemory-policy noeviction`): an evicted key is not noticed.
//!
//! # Reads
//! The reader runs each read as one read-only Lua script (set members and their values), so a
//! ward's board is a consistent snapshot. A background task subscribes to the change channel,
//! forwards changes to a broadcast channel and keeps the checkpoint current; it resubscribes
//! after a lost connection, re-reads the checkpoint then and, if it moved meanwhile, resends
//! every bed as a change, so no subscriber keeps a state it missed the change of. While a caller waits in
//! `wait_for`, the checkpoint is also polled, so a lost message only delays. Commands go
//! through a [`ConnectionManager`], which reconnects.
//!
//! Depends on the bed board fold and model, and on Redis; nothing else.

mod reader;
mod scripts;
mod writer;

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError};
use careflow_eventstore::Position;
use serde::{Deserialize, Serialize};

pub use reader::RedisBedBoardReader;
pub use writer::RedisBedBoard;

use super::model::BedChange;
use crate::ProjectionError;

/// The key prefix used unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "careflow:";

/// Where the Redis bed board lives.
#[derive(Clone)]
pub struct RedisConfig {
    /// Redis URL, e.g. `redis://127.0.0.1:6379/0`.
    pub url: String,
    /// Prefix of every key and of the change channel (not empty), e.g. `careflow:`.
    pub prefix: String,
    /// How often a caller waiting in `wait_for` re-reads the checkpoint.
    pub poll_interval: Duration,
    /// How long to wait for a connection, and for one command's reply.
    pub timeout: Duration,
}

impl RedisConfig {
    /// `url` with the default prefix, a 200 ms poll interval and a 5 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            poll_interval: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
        }
    }

    /// The same, with keys under `prefix`.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// A client and a reconnecting connection; refuses an empty prefix (a reset deletes every
    /// key under the prefix).
    async fn connect(&self) -> Result<(Client, ConnectionManager, Keys), ProjectionError> {
        if self.prefix.is_empty() {
            return Err(ProjectionError::Storage("redis: the key prefix must not be empty".into()));
        }
        let client = Client::open(self.url.as_str()).map_err(storage("invalid Redis URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_max_delay(Duration::from_secs(2));
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(storage("cannot connect"))?;
        Ok((client, connection, Keys { prefix: self.prefix.clone() }))
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        let url = match self.url.rsplit_once('@') {
            Some((_, host)) => format!("redis://…@{host}"),
            None => self.url.clone(),
        };
        f.debug_struct("RedisConfig")
            .field("url", &url)
            .field("prefix", &self.prefix)
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The names of the model's keys.
#[derive(Debug, Clone)]
struct Keys {
    prefix: String,
}

impl Keys {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn checkpoint(&self) -> String {
        self.key("checkpoint")
    }

    fn channel(&self) -> String {
        self.key("changes")
    }

    fn sites(&self) -> String {
        self.key("sites")
    }

    fn wards(&self) -> String {
        self.key("wards")
    }

    fn beds(&self) -> String {
        self.key("beds")
    }

    fn stays(&self) -> String {
        self.key("stays")
    }

    /// The prefix of `site:{id}` keys.
    fn site_prefix(&self) -> String {
        self.key("site:")
    }

    fn ward_prefix(&self) -> String {
        self.key("ward:")
    }

    fn bed_prefix(&self) -> String {
        self.key("bed:")
    }

    fn site(&self, id: &str) -> String {
        format!("{}site:{id}", self.prefix)
    }

    fn ward(&self, id: &str) -> String {
        format!("{}ward:{id}", self.prefix)
    }

    fn bed(&self, id: &str) -> String {
        format!("{}bed:{id}", self.prefix)
    }

    fn ward_beds(&self, id: &str) -> String {
        format!("{}ward-beds:{id}", self.prefix)
    }

    fn site_beds(&self, id: &str) -> String {
        format!("{}site-beds:{id}", self.prefix)
    }

    /// A `SCAN MATCH` pattern for every key under the prefix.
    fn pattern(&self) -> String {
        let mut pattern = String::with_capacity(self.prefix.len() + 1);
        for c in self.prefix.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('*');
        pattern
    }
}

/// What the writer publishes after each batch.
#[derive(Debug, Serialize, Deserialize)]
struct ChangeMessage {
    /// The checkpoint the model reached with this batch.
    checkpoint: Position,
    /// The beds whose view changed, in bed id order.
    changes: Vec<BedChange>,
}

/// Maps a Redis error to a storage error saying what was being done.
fn storage(doing: &'static str) -> impl FnOnce(RedisError) -> ProjectionError {
    move |error| ProjectionError::Storage(format!("redis: {doing}: {error}"))
}

/// Reads a stored checkpoint (absent = 0).
fn parse_checkpoint(key: &str, stored: Option<String>) -> Result<Position, ProjectionError> {
    stored.map_or(Ok(0), |value| {
        value
            .parse()
            .map_err(|_| ProjectionError::ModelLost(format!("{key} holds {value:?}, not a position")))
    })
}

async fn read_checkpoint(connection: &ConnectionManager, keys: &Keys) -> Result<Position, ProjectionError> {
    let key = keys.checkpoint();
    let stored: Option<String> = ::redis::cmd("GET")
        .arg(&key)
        .query_async(&mut connection.clone())
        .await
        .map_err(storage("reading the checkpoint"))?;
    parse_checkpoint(&key, stored)
}
