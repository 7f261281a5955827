//! The bed board kept in Redis, for deployments where the projection and the gateways run in
//! different processes. [`RedisBedBoard`] is the writer (a [`Projection`](crate::Projection),
//! exactly one per key prefix); [`RedisBedBoardReader`] serves the gateway's
//! [`BedBoardReader`](super::BedBoardReader) from any number of other processes.
//!
//! # Keys
//! Every key starts with the configured prefix `P` (default `careflow:`). The model is stored
//! in **generations**: each build of it, from position 1, writes keys of its own under
//! `P@{g}:`, and `P current` names the one readers read.
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P current` | string | the live generation `g` (absent: no model to read) |
//! | `P next` | string | the generation being built aside, not yet live (absent: none) |
//! | `P generations` | string | the last generation number handed out (a counter) |
//! | `P@{g}:generation` | string | `g`: the generation's marker, written when it starts; its absence means Redis lost the model |
//! | `P@{g}:checkpoint` | string | the last position applied to generation `g` (absent = 0) |
//! | `P@{g}:sites`, `P@{g}:wards`, `P@{g}:beds` | set | every site, ward and bed id |
//! | `P@{g}:site:{id}`, `P@{g}:ward:{id}`, `P@{g}:bed:{id}` | string | the `SiteView`, `WardView`, `BedView` as JSON |
//! | `P@{g}:ward-beds:{id}`, `P@{g}:site-beds:{id}` | set | bed ids of a ward, of a site |
//! | `P@{g}:stays` | hash | open stay id → stay record JSON (what a bed view needs of a stay) |
//!
//! Changes are published on the channel `P changes` as JSON `{"checkpoint": n, "changes":
//! [BedChange…], "resync": bool}`: one message per batch applied to the live generation (also
//! when no bed changed, so readers learn the checkpoint); `resync: true` when a generation built
//! aside has gone live (readers resend every bed to their subscribers); checkpoint 0 when the
//! model was found lost (there is nothing left to read).
//!
//! # Writes
//! The writer folds events with the shared fold (`fold::Board`) and sends what a batch touched
//! with the new checkpoint in one Lua script, to the one generation it writes. The script
//! checks that the generation's marker exists and compares its stored checkpoint with the one
//! the batch was computed from, and writes nothing otherwise; the write, the checkpoint and the
//! publish (live generation only) are one atomic step, so a crash can neither double-apply nor
//! lose a change, and a batch at or below the checkpoint is a no-op. A batch with no events
//! only moves the checkpoint past events of other contexts; the runner sends at most one such
//! write per 100 ms.
//!
//! # Rebuilds: a generation built aside, then swapped in
//! A reset ([`Projection::reset`](crate::Projection::reset)) never deletes what readers read.
//! It starts a new generation (`P next`, a new marker) and the writer replays into it while
//! `P current` keeps naming the last complete model, so gateways go on serving it (a checkpoint
//! that does not move: read-your-writes waits say "not yet"). When the runner says the
//! subscription has caught up ([`Projection::caught_up`](crate::Projection::caught_up)), one
//! script makes the new generation current and publishes the resync message; the old
//! generation is then deleted in the background (`SCAN` + `UNLINK`). Readers resolve
//! `P current` inside each read script, so a read sees one generation, whole.
//!
//! # A lost model
//! Our Redis keeps nothing on disk: a restart or a flush loses the model. The writer knows the
//! generation it writes; the batch script, a reload of the writer's cache and
//! [`Projection::verify`](crate::Projection::verify) (called on a timer by the runner while
//! idle) each find its marker gone, and the writer reports [`ProjectionError::ModelLost`]
//! rather than writing on top of an empty model. The runner resets: a new generation is
//! started, and since the live one is gone too, `P current` is deleted and a checkpoint-0
//! message published: readers report checkpoint 0 (never "caught up" for an empty model) and
//! answer "not found" until the rebuilt generation goes live with a resync. A stored model that
//! does not parse, or whose sets name missing values, is treated the same way at load. Redis
//! must not evict keys (`maxmemory-policy noeviction`): an evicted key is not noticed.
//!
//! # Fold state after a restart
//! The writer keeps the fold in memory as a cache of its generation and loads it back from
//! Redis (one read-only Lua script) the first time it is needed, i.e. at `checkpoint()` when
//! the runner starts: the generation being built aside if there is one (a rebuild resumes),
//! else the live one; with neither, it starts a generation. A bed view carries every field of
//! the fold's bed record, so no second copy is stored. After any failed or rejected write the
//! cache is dropped and loaded again, since the outcome is unknown.
//!
//! # Reads
//! The reader runs each read as one read-only Lua script that resolves the live generation
//! (set members and their values), so a ward's board is a consistent snapshot of one
//! generation. A background task subscribes to the change channel, forwards changes to a
//! broadcast channel and keeps the checkpoint current; after a resync message it resends every
//! bed of the new generation as a change; it resubscribes after a lost connection, re-reads the
//! checkpoint then and, if it moved meanwhile, resends every bed too, so no subscriber keeps a
//! state it missed the change of. While a caller waits in `wait_for`, the checkpoint is also
//! polled, so a lost message only delays; a read or a poll that finds no live model sets the
//! checkpoint to 0. Commands go through a [`ConnectionManager`], which reconnects.
//!
//! The scripts build key names of a generation inside Lua: a single Redis node only (no
//! Redis Cluster).
//!
//! Keys of the layout before generations (`P checkpoint`, `P bed:{id}`, … without `@{g}:`) are
//! neither read nor deleted: after upgrading, the writer builds generation 1 from the log, and
//! the old keys can be deleted by hand.
//!
//! Depends on the bed board fold and model, and on Redis; nothing else.

mod reader;
pub(crate) mod scripts;
mod writer;

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, RedisError, Script};
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
    pub(crate) async fn connect(&self) -> Result<(Client, ConnectionManager, Keys), ProjectionError> {
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

/// The names of the model's keys (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) prefix: String,
}

impl Keys {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn channel(&self) -> String {
        self.key("changes")
    }

    /// `P current`: the live generation.
    fn current(&self) -> String {
        self.key("current")
    }

    /// `P next`: the generation being built aside.
    fn next(&self) -> String {
        self.key("next")
    }

    /// `P generations`: the counter of generation numbers.
    fn generations(&self) -> String {
        self.key("generations")
    }

    /// The keys of generation `generation`.
    fn of(&self, generation: u64) -> GenerationKeys {
        GenerationKeys { base: format!("{}@{generation}:", self.prefix) }
    }

    /// The generation a key under `P@{g}:` belongs to.
    fn generation_of(&self, key: &str) -> Option<u64> {
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix('@')?;
        rest.split_once(':')?.0.parse().ok()
    }

    /// A `SCAN MATCH` pattern for every key under the prefix.
    fn pattern(&self) -> String {
        format!("{}*", escape_pattern(&self.prefix))
    }

    /// A `SCAN MATCH` pattern for the keys of every generation.
    fn generations_pattern(&self) -> String {
        format!("{}@*", escape_pattern(&self.prefix))
    }
}

/// The keys of one generation, all under `P@{g}:`.
#[derive(Debug, Clone)]
struct GenerationKeys {
    base: String,
}

impl GenerationKeys {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.base)
    }

    /// The marker: written when the generation starts, gone when Redis lost it.
    fn marker(&self) -> String {
        self.key("generation")
    }

    fn checkpoint(&self) -> String {
        self.key("checkpoint")
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

    fn site(&self, id: &str) -> String {
        self.key(&format!("site:{id}"))
    }

    fn ward(&self, id: &str) -> String {
        self.key(&format!("ward:{id}"))
    }

    fn bed(&self, id: &str) -> String {
        self.key(&format!("bed:{id}"))
    }

    fn ward_beds(&self, id: &str) -> String {
        self.key(&format!("ward-beds:{id}"))
    }

    fn site_beds(&self, id: &str) -> String {
        self.key(&format!("site-beds:{id}"))
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

/// What the writer publishes after each batch, swap and loss.
#[derive(Debug, Serialize, Deserialize)]
struct ChangeMessage {
    /// The checkpoint the live model reached (0: there is no model).
    checkpoint: Position,
    /// The beds whose view changed, in bed id order.
    changes: Vec<BedChange>,
    /// A generation built aside went live: every bed may have changed.
    #[serde(default)]
    resync: bool,
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

/// The live generation's checkpoint (0 when there is no live model).
async fn read_checkpoint(connection: &ConnectionManager, keys: &Keys) -> Result<Position, ProjectionError> {
    let stored: Option<String> = Script::new(scripts::CHECKPOINT)
        .key(keys.current())
        .arg(&keys.prefix)
        .invoke_async(&mut connection.clone())
        .await
        .map_err(storage("reading the checkpoint"))?;
    parse_checkpoint(&keys.current(), stored)
}
