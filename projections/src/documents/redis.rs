//! A document model kept in Redis, for deployments where the projections and the gateways run
//! in different processes. [`RedisDocuments`] is the writer (a [`Projection`], exactly one per
//! key prefix and model); [`RedisDocumentReader`] serves [`DocumentReader`] from any number of
//! other processes.
//!
//! # Keys
//! Under the configured prefix `P` and the model's name `M`, the model is stored in
//! **generations** as the bed board is (see [`crate::bed_board::redis`]): each build from
//! position 1 writes keys of its own, and `P M:current` names the one readers read.
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P M:current` | string | the live generation `g` (absent: no model to read) |
//! | `P M:next` | string | the generation being built aside (absent: none) |
//! | `P M:generations` | string | the last generation number handed out |
//! | `P M@{g}:generation` | string | `g`, written when the generation starts; gone when Redis lost the model |
//! | `P M@{g}:checkpoint` | string | the last position applied to generation `g` |
//! | `P M@{g}:docs` | hash | document key → document JSON |
//!
//! Changes are published on `P M:changes` as JSON `{"checkpoint": n, "keys": [...], "resync":
//! bool}`, one message per batch applied to the live generation (readers fetch the documents
//! named); `resync` when a generation built aside went live; checkpoint 0 when the model was
//! lost.
//!
//! # Writes, rebuilds, loss
//! The writer keeps the fold's documents in memory as a cache of its generation (loaded back
//! with one script at start) and sends each batch's changed documents with the new checkpoint
//! in one Lua script, which checks the generation's marker and the checkpoint the batch was
//! folded from and writes nothing otherwise: a crash neither double-applies nor loses a change,
//! and a Redis that lost the model is noticed by the first batch (or by
//! [`Projection::verify`] while idle) and reported as [`ProjectionError::ModelLost`], never
//! written over. A reset builds a new generation aside while readers keep the last complete
//! one; once caught up it is swapped in and the old one deleted. After any failed or rejected
//! write the cache is dropped and loaded again.
//!
//! Single Redis node only (the scripts build key names); Redis must not evict keys.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError, Script, Value};
use async_trait::async_trait;
use careflow_eventstore::{Filter, Position, RecordedEvent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, broadcast};
use tokio::task::JoinHandle;

use super::{CHANGE_BUFFER, DocChange, Docs, DocumentReader, Fold, fold_batch};
use crate::redis_follow::{Feed, Follower, follow, subscribe};
use crate::{Projection, ProjectionError};

mod reader;
mod scripts;
mod writer;

pub use reader::RedisDocumentReader;
pub use writer::RedisDocuments;

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

    /// A client and a reconnecting connection; refuses an empty prefix (a purge deletes every
    /// key under the prefix).
    pub(crate) async fn connect(&self) -> Result<(Client, ConnectionManager), ProjectionError> {
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
        Ok((client, connection))
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

/// `text` with the `SCAN MATCH` wildcards escaped.
fn escape_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// Maps a Redis error to a storage error saying what was being done.
pub(crate) fn storage(doing: &'static str) -> impl FnOnce(RedisError) -> ProjectionError {
    move |error| ProjectionError::Storage(format!("redis: {doing}: {error}"))
}

/// Reads a stored checkpoint (absent = 0).
pub(crate) fn parse_checkpoint(key: &str, stored: Option<String>) -> Result<Position, ProjectionError> {
    stored.map_or(Ok(0), |value| {
        value
            .parse()
            .map_err(|_| ProjectionError::ModelLost(format!("{key} holds {value:?}, not a position")))
    })
}

/// Deletes every key matching `pattern` (SCAN + UNLINK in chunks); returns how many.
async fn delete_matching(connection: &ConnectionManager, pattern: &str) -> Result<usize, ProjectionError> {
    let mut connection = connection.clone();
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, found): (u64, Vec<String>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut connection)
            .await
            .map_err(storage("listing keys to delete"))?;
        for chunk in found.chunks(UNLINK_CHUNK) {
            let _: usize = ::redis::cmd("UNLINK")
                .arg(chunk)
                .query_async(&mut connection)
                .await
                .map_err(storage("deleting keys"))?;
        }
        deleted += found.len();
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// How many keys one `UNLINK` deletes.
const UNLINK_CHUNK: usize = 500;

/// The names of one model's keys.
#[derive(Debug, Clone)]
struct Keys {
    /// `P M`.
    base: String,
}

impl Keys {
    fn new(prefix: &str, model: &str) -> Self {
        Self { base: format!("{prefix}{model}") }
    }
    fn current(&self) -> String {
        format!("{}:current", self.base)
    }
    fn next(&self) -> String {
        format!("{}:next", self.base)
    }
    fn generations(&self) -> String {
        format!("{}:generations", self.base)
    }
    fn channel(&self) -> String {
        format!("{}:changes", self.base)
    }
    fn of(&self, generation: u64, name: &str) -> String {
        format!("{}@{generation}:{name}", self.base)
    }
}

/// What the writer publishes.
#[derive(Debug, Serialize, Deserialize)]
struct ChangeMessage {
    checkpoint: Position,
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    resync: bool,
    /// The `traceparent` of the batch that made the changes, when traced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
}

fn message(
    checkpoint: Position,
    keys: Vec<String>,
    resync: bool,
    traceparent: Option<String>,
) -> Result<String, ProjectionError> {
    serde_json::to_string(&ChangeMessage { checkpoint, keys, resync, traceparent })
        .map_err(|e| ProjectionError::Storage(format!("cannot encode a change message: {e}")))
}

/// A stored document. The error names the model, not the key: keys can hold personal data (an
/// index of family names), and errors are logged.
fn decode<D: DeserializeOwned>(keys: &Keys, value: &str) -> Result<D, ProjectionError> {
    serde_json::from_str(value).map_err(|e| {
        // serde's message can quote the value: only where and what kind of error.
        ProjectionError::ModelLost(format!(
            "redis: a document of {} does not parse ({:?} error at line {}, column {})",
            keys.base,
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

fn field<T: ::redis::FromRedisValue>(value: Option<Value>) -> Result<T, ProjectionError> {
    let value = value.ok_or_else(|| ProjectionError::Storage("redis: a short reply from a script".into()))?;
    ::redis::from_redis_value(value)
        .map_err(|e| ProjectionError::Storage(format!("redis: an unexpected reply from a script: {e}")))
}
