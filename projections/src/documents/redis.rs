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

/// At most one checkpoint-only write (progress past events of other contexts) this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Starts a new generation, to be built aside: allocates its number (at least `ARGV[2]`),
/// names it in `P next` and writes its marker. A live generation whose marker is gone is no
/// model at all: `P current` is deleted and the "lost" message published, so readers stop
/// reporting a checkpoint for it.
///
/// `KEYS[1]`: `P current`; `KEYS[2]`: `P next`; `KEYS[3]`: `P generations`. `ARGV[1]`: the
/// prefix; `ARGV[2]`: the least acceptable number; `ARGV[3]`: the change channel; `ARGV[4]`:
/// the lost message. Returns `{new generation, live generation or ''}`.
const START: &str = r"
local prefix = ARGV[1]
local function key(g, name)
  return prefix .. '@' .. g .. ':' .. name
end
local g = redis.call('INCR', KEYS[3])
local least = tonumber(ARGV[2])
if g < least then
  g = least
  redis.call('SET', KEYS[3], g)
end
g = tostring(g)
redis.call('SET', KEYS[2], g)
redis.call('SET', key(g, 'generation'), g)
local current = redis.call('GET', KEYS[1])
local live = ''
if current and redis.call('EXISTS', key(current, 'generation')) == 1 then
  live = current
else
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return {g, live}
";

/// Makes the generation built aside the live one, if it is still the one being built, still
/// exists and is at the checkpoint the writer reached; publishes the resync message.
///
/// `KEYS[1]`: `P current`; `KEYS[2]`: `P next`; `KEYS[3]`: the generation's marker; `KEYS[4]`:
/// its checkpoint. `ARGV[1]`: the generation; `ARGV[2]`: its checkpoint; `ARGV[3]`: the change
/// channel; `ARGV[4]`: the resync message. Returns `{'swapped', previous live generation or
/// ''}`, `{'rejected', ''}` or `{'lost', ''}`.
const SWAP: &str = r"
if redis.call('EXISTS', KEYS[3]) == 0 then
  return {'lost', ''}
end
if redis.call('GET', KEYS[2]) ~= ARGV[1] or (redis.call('GET', KEYS[4]) or '0') ~= ARGV[2] then
  return {'rejected', ''}
end
local previous = redis.call('GET', KEYS[1]) or ''
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return {'swapped', previous}
";

/// Applies a batch to one generation. `KEYS`: marker, checkpoint, docs, `P M:current`.
/// `ARGV`: generation, expected checkpoint, new checkpoint, channel, message, then key/JSON
/// pairs (empty JSON: delete). Returns `ok`, `lost` or `stale`.
const APPLY: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'lost'
end
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[2] then
  return 'stale'
end
for i = 6, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[3], ARGV[i])
  else
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  end
end
redis.call('SET', KEYS[2], ARGV[3])
if redis.call('GET', KEYS[4]) == ARGV[1] then
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return 'ok'
";

/// The generation the writer resumes: the one being built aside, else the live one.
/// `KEYS`: `P M:current`, `P M:next`. `ARGV[1]`: `P M`. Returns `{g or '', live (0/1), marker
/// exists (0/1), checkpoint, docs as HGETALL}`.
const LOAD: &str = r"
local base = ARGV[1]
local g = redis.call('GET', KEYS[2])
local live = 0
if not g then
  g = redis.call('GET', KEYS[1])
  live = 1
end
if not g then
  return {'', 0, 0, '0', {}}
end
local function key(name)
  return base .. '@' .. g .. ':' .. name
end
return {g, live, redis.call('EXISTS', key('generation')), redis.call('GET', key('checkpoint')) or '0',
  redis.call('HGETALL', key('docs'))}
";

/// Documents of the live generation. `KEYS[1]`: current. `ARGV`: `P M`, then document keys.
/// Returns `{'none'}` without a live model, else `{'found', checkpoint, {values}}`.
const READ: &str = r"
local g = redis.call('GET', KEYS[1])
if not g then
  return {'none'}
end
local base = ARGV[1] .. '@' .. g .. ':'
if redis.call('EXISTS', base .. 'generation') == 0 then
  return {'none'}
end
local values = {}
if #ARGV > 1 then
  values = redis.call('HMGET', base .. 'docs', unpack(ARGV, 2))
end
return {'found', redis.call('GET', base .. 'checkpoint') or '0', values}
";

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
}

fn message(checkpoint: Position, keys: Vec<String>, resync: bool) -> Result<String, ProjectionError> {
    serde_json::to_string(&ChangeMessage { checkpoint, keys, resync })
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

/// A [`Fold`]'s documents written to Redis. Exactly one writer per prefix and model.
pub struct RedisDocuments<F: Fold> {
    fold: F,
    connection: ConnectionManager,
    /// The configured prefix `P`.
    prefix: String,
    keys: Keys,
    state: Mutex<State<F::Doc>>,
}

/// How one attempt at a batch ended.
enum Applied {
    /// Written, or already in the stored model.
    Done,
    /// The stored checkpoint was not `from`, the one the batch was folded from.
    Stale {
        /// The checkpoint the batch was folded from.
        from: Position,
    },
}

/// What the writer knows of Redis.
struct State<D> {
    /// The generation it writes and whether it is live; `None` until loaded.
    generation: Option<(u64, bool)>,
    /// The documents and checkpoint of that generation; `None` until loaded and after a write
    /// whose outcome is unknown.
    cache: Option<(Position, Docs<D>)>,
    /// The highest generation number seen, so a new one is higher even if Redis lost its
    /// counter.
    highest: u64,
}

impl<F: Fold> RedisDocuments<F> {
    /// Connects; the model is loaded when first needed.
    pub async fn connect(config: &RedisConfig, fold: F) -> Result<Self, ProjectionError> {
        let (_, connection) = config.connect().await?;
        let keys = Keys::new(&config.prefix, fold.name());
        Ok(Self {
            fold,
            connection,
            prefix: config.prefix.clone(),
            keys,
            state: Mutex::new(State { generation: None, cache: None, highest: 0 }),
        })
    }

    /// Loads the cache if it is not loaded; returns the checkpoint.
    async fn ensure_loaded(&self, state: &mut State<F::Doc>) -> Result<Position, ProjectionError> {
        if let Some((checkpoint, _)) = &state.cache {
            return Ok(*checkpoint);
        }
        let reply: Vec<Value> = Script::new(LOAD)
            .key(self.keys.current())
            .key(self.keys.next())
            .arg(&self.keys.base)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("loading a document model"))?;
        let mut reply = reply.into_iter();
        let generation: String = field(reply.next())?;
        if generation.is_empty() {
            if let Some((number, _)) = state.generation {
                // We wrote a generation and Redis has none: it lost the model (a restart, a
                // flush). Folding on from here would build on nothing: it must be rebuilt.
                return Err(ProjectionError::ModelLost(format!(
                    "generation {number} of {} is gone",
                    self.keys.base
                )));
            }
            // Nothing stored yet: build the first generation aside.
            self.start(state).await?;
            return Ok(0);
        }
        let live: i64 = field(reply.next())?;
        let exists: i64 = field(reply.next())?;
        let checkpoint: Option<String> = field(reply.next())?;
        let pairs: Vec<String> = field(reply.next())?;
        let number: u64 = generation.parse().map_err(|_| {
            ProjectionError::ModelLost(format!("{} names {generation:?}", self.keys.current()))
        })?;
        state.highest = state.highest.max(number);
        if let Some((ours, _)) = state.generation
            && ours != number
        {
            return Err(ProjectionError::ModelLost(format!(
                "generation {ours} of {} was replaced by {number}",
                self.keys.base
            )));
        }
        state.generation = Some((number, live == 1));
        if exists == 0 {
            return Err(ProjectionError::ModelLost(format!(
                "generation {number} of {} is gone",
                self.keys.base
            )));
        }
        let checkpoint = parse_checkpoint(&self.keys.of(number, "checkpoint"), checkpoint)?;
        let mut map = HashMap::with_capacity(pairs.len() / 2);
        let mut pairs = pairs.into_iter();
        while let (Some(key), Some(value)) = (pairs.next(), pairs.next()) {
            let doc = decode(&self.keys, &value)?;
            map.insert(key, doc);
        }
        tracing::info!(
            model = self.fold.name(),
            generation = number,
            checkpoint,
            docs = map.len(),
            "document model loaded from Redis"
        );
        state.cache = Some((checkpoint, Docs::from_map(map)));
        Ok(checkpoint)
    }

    /// Starts a new generation built aside, at checkpoint 0.
    async fn start(&self, state: &mut State<F::Doc>) -> Result<(), ProjectionError> {
        let lost = message(0, Vec::new(), false)?;
        let (number, _live): (u64, String) = Script::new(START)
            .key(self.keys.current())
            .key(self.keys.next())
            .key(self.keys.generations())
            .arg(&self.keys.base)
            .arg(state.highest + 1)
            .arg(self.keys.channel())
            .arg(lost)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("starting a generation"))?;
        tracing::info!(model = self.fold.name(), generation = number, "building a document model generation");
        // A generation this writer was building aside is abandoned: its keys go.
        if let Some((abandoned, false)) = state.generation
            && abandoned != number
        {
            self.delete_generation(abandoned).await;
        }
        state.highest = state.highest.max(number);
        state.generation = Some((number, false));
        state.cache = Some((0, Docs::default()));
        Ok(())
    }

    /// Folds and writes one batch on the loaded model (loading it first if needed).
    async fn apply_once(
        &self,
        state: &mut State<F::Doc>,
        events: &[RecordedEvent],
        through: Position,
        folded_from: Option<Position>,
    ) -> Result<Applied, ProjectionError> {
        let checkpoint = self.ensure_loaded(state).await?;
        if let Some(from) = folded_from.filter(|from| checkpoint < *from) {
            // The stored model went back (Redis restored an older snapshot): the events between
            // are not in it, and this batch does not hold them.
            state.cache = None;
            return Err(ProjectionError::ModelLost(format!(
                "{} went back from position {from} to {checkpoint}",
                self.keys.base
            )));
        }
        if through <= checkpoint {
            return Ok(Applied::Done);
        }
        let Some((number, _)) = state.generation else {
            return Err(ProjectionError::Storage("no generation after loading".into()));
        };
        let Some((_, docs)) = state.cache.as_mut() else {
            return Err(ProjectionError::Storage("no documents after loading".into()));
        };
        if let Err(error) = fold_batch(&self.fold, docs, events, checkpoint) {
            state.cache = None;
            return Err(error);
        }
        let changes = docs.take_changes();
        // From here the cache holds the batch: unless it is written, it must be dropped.
        let written = self.write_batch(number, checkpoint, through, &changes).await;
        match (&written, state.cache.as_mut()) {
            (Ok(Applied::Done), Some((stored, _))) => *stored = through,
            _ => state.cache = None,
        }
        written
    }

    /// Writes one folded batch with its checkpoint, if the stored checkpoint is `checkpoint`.
    async fn write_batch(
        &self,
        number: u64,
        checkpoint: Position,
        through: Position,
        changes: &[(String, Option<F::Doc>)],
    ) -> Result<Applied, ProjectionError> {
        let keys: Vec<String> = changes.iter().map(|(key, _)| key.clone()).collect();
        let script = Script::new(APPLY);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.keys.of(number, "generation"))
            .key(self.keys.of(number, "checkpoint"))
            .key(self.keys.of(number, "docs"))
            .key(self.keys.current())
            .arg(number)
            .arg(checkpoint)
            .arg(through)
            .arg(self.keys.channel())
            .arg(message(through, keys, false)?);
        for (key, doc) in changes {
            let json = match doc {
                Some(doc) => serde_json::to_string(doc).map_err(|e| {
                    ProjectionError::Storage(format!(
                        "cannot encode a document of {}: {:?}",
                        self.keys.base,
                        e.classify()
                    ))
                })?,
                None => String::new(),
            };
            invocation.arg(key).arg(json);
        }
        let outcome: Result<String, _> = invocation.invoke_async(&mut self.connection.clone()).await;
        match outcome.as_deref() {
            Ok("ok") => Ok(Applied::Done),
            Ok("lost") => {
                Err(ProjectionError::ModelLost(format!("generation {number} of {} is gone", self.keys.base)))
            }
            Ok(_) => Ok(Applied::Stale { from: checkpoint }),
            Err(error) => Err(ProjectionError::Storage(format!("redis: writing a batch: {error}"))),
        }
    }

    /// Deletes every key under the configured prefix, every model and generation included
    /// (for tests and tools: never while a projection writes); returns how many.
    pub async fn purge_prefix(&self) -> Result<usize, ProjectionError> {
        let pattern = format!("{}*", escape_pattern(&self.prefix));
        delete_matching(&self.connection, &pattern).await
    }

    async fn delete_generation(&self, number: u64) {
        let keys = ["generation", "checkpoint", "docs"].map(|name| self.keys.of(number, name));
        let deleted: Result<i64, _> =
            ::redis::cmd("UNLINK").arg(&keys).query_async(&mut self.connection.clone()).await;
        if let Err(error) = deleted {
            tracing::warn!(model = self.fold.name(), generation = number, %error, "cannot delete an old generation");
        }
    }
}

#[async_trait]
impl<F: Fold> Projection for RedisDocuments<F> {
    fn name(&self) -> &str {
        self.fold.name()
    }

    fn filter(&self) -> Filter {
        self.fold.filter()
    }

    async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        let mut state = self.state.lock().await;
        self.ensure_loaded(&mut state).await
    }

    async fn apply(&self, events: &[RecordedEvent], through: Position) -> Result<(), ProjectionError> {
        let mut state = self.state.lock().await;
        // A batch found stale (another writer, or this one before a restart, moved the stored
        // checkpoint) is folded once more from the model as reloaded: what it holds already is
        // skipped, the rest applied once.
        let mut folded_from = None;
        for _ in 0..2 {
            match self.apply_once(&mut state, events, through, folded_from).await? {
                Applied::Done => return Ok(()),
                Applied::Stale { from } => {
                    tracing::info!(model = self.fold.name(), "stored model moved on; reloading");
                    folded_from = Some(from);
                }
            }
        }
        Err(ProjectionError::Storage(
            "redis: the batch was rejected twice: another writer keeps moving the checkpoint".into(),
        ))
    }

    async fn reset(&self) -> Result<(), ProjectionError> {
        let mut state = self.state.lock().await;
        self.start(&mut state).await
    }

    async fn verify(&self) -> Result<(), ProjectionError> {
        let state = self.state.lock().await;
        let Some((number, _)) = state.generation else { return Ok(()) };
        let exists: i64 = ::redis::cmd("EXISTS")
            .arg(self.keys.of(number, "generation"))
            .query_async(&mut self.connection.clone())
            .await
            .map_err(storage("verifying a document model"))?;
        if exists == 0 {
            return Err(ProjectionError::ModelLost(format!(
                "generation {number} of {} is gone",
                self.keys.base
            )));
        }
        Ok(())
    }

    async fn caught_up(&self, position: Position) -> Result<(), ProjectionError> {
        let mut state = self.state.lock().await;
        let checkpoint = self.ensure_loaded(&mut state).await?;
        let Some((number, false)) = state.generation else { return Ok(()) };
        let reply: Vec<String> = Script::new(SWAP)
            .key(self.keys.current())
            .key(self.keys.next())
            .key(self.keys.of(number, "generation"))
            .key(self.keys.of(number, "checkpoint"))
            .arg(number)
            .arg(checkpoint)
            .arg(self.keys.channel())
            .arg(message(checkpoint, Vec::new(), true)?)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(storage("swapping a generation in"))?;
        match reply.first().map(String::as_str) {
            Some("swapped") => {
                state.generation = Some((number, true));
                tracing::info!(
                    model = self.fold.name(),
                    generation = number,
                    position,
                    "document model generation is live"
                );
                if let Some(previous) =
                    reply.get(1).and_then(|p| p.parse::<u64>().ok()).filter(|p| *p != number)
                {
                    self.delete_generation(previous).await;
                }
                Ok(())
            }
            Some("lost") => {
                state.cache = None;
                Err(ProjectionError::ModelLost(format!("generation {number} of {} is gone", self.keys.base)))
            }
            _ => {
                state.cache = None;
                Err(ProjectionError::Storage("redis: the swap was rejected; reloading".into()))
            }
        }
    }

    fn progress_every(&self) -> Duration {
        PROGRESS_EVERY
    }
}

/// A document model read from Redis, for gateways in other processes.
pub struct RedisDocumentReader<D> {
    name: &'static str,
    connection: ConnectionManager,
    keys: Keys,
    poll_interval: Duration,
    timeout: Duration,
    follower: Arc<Follower<DocChange<D>>>,
    listener: JoinHandle<()>,
}

/// A document model's feed: its change messages (the documents they name are read and sent
/// before the checkpoint moves), and a resync after a gap.
struct DocFeed<D> {
    connection: ConnectionManager,
    keys: Keys,
    follower: Arc<Follower<DocChange<D>>>,
}

/// Reads documents of the live generation: `None` when there is no live model.
async fn read<D: DeserializeOwned>(
    connection: &ConnectionManager,
    keys: &Keys,
    docs: &[String],
) -> Result<Option<(Position, Vec<Option<D>>)>, ProjectionError> {
    let script = Script::new(READ);
    let mut invocation = script.key(keys.current());
    invocation.arg(&keys.base);
    for key in docs {
        invocation.arg(key);
    }
    let reply: Vec<Value> =
        invocation.invoke_async(&mut connection.clone()).await.map_err(storage("reading documents"))?;
    let mut reply = reply.into_iter();
    if field::<String>(reply.next())? != "found" {
        return Ok(None);
    }
    let checkpoint: Option<String> = field(reply.next())?;
    let checkpoint = parse_checkpoint(&keys.current(), checkpoint)?;
    let values: Vec<Option<String>> = field(reply.next())?;
    let docs = docs
        .iter()
        .zip(values)
        .map(|(_, value)| value.map(|v| decode(keys, &v)).transpose())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((checkpoint, docs)))
}

impl<D: DeserializeOwned + Clone + Send + Sync + 'static> RedisDocumentReader<D> {
    /// Connects, subscribes to the model's change channel and reads its checkpoint; a
    /// background task then follows the channel until the reader is dropped.
    pub async fn connect(config: &RedisConfig, name: &'static str) -> Result<Self, ProjectionError> {
        let (client, connection) = config.connect().await?;
        let keys = Keys::new(&config.prefix, name);
        let pubsub =
            subscribe(&client, &keys.channel()).await.map_err(storage("subscribing to document changes"))?;
        // Read after subscribing, so that no batch falls between the two.
        let checkpoint = read::<D>(&connection, &keys, &[]).await?.map_or(0, |(c, _)| c);
        let follower = Arc::new(Follower::new(checkpoint, CHANGE_BUFFER));
        let feed = DocFeed { connection: connection.clone(), keys: keys.clone(), follower: follower.clone() };
        let listener = tokio::spawn(follow(client, keys.channel(), feed, pubsub));
        Ok(Self {
            name,
            connection,
            keys,
            poll_interval: config.poll_interval,
            timeout: config.timeout,
            follower,
            listener,
        })
    }

    async fn refresh(&self) -> Result<(), ProjectionError> {
        let seen = *self.follower.messages();
        let stored = read::<D>(&self.connection, &self.keys, &[]).await?.map_or(0, |(c, _)| c);
        self.follower.polled(seen, stored);
        Ok(())
    }
}

impl<D> Drop for RedisDocumentReader<D> {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

#[async_trait]
impl<D: DeserializeOwned + Clone + Send + Sync + 'static> DocumentReader<D> for RedisDocumentReader<D> {
    fn name(&self) -> &str {
        self.name
    }

    async fn get(&self, key: &str) -> Result<Option<D>, ProjectionError> {
        Ok(self.get_many(&[key.to_owned()]).await?.into_iter().next().flatten())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<D>>, ProjectionError> {
        let seen = *self.follower.messages();
        match read(&self.connection, &self.keys, keys).await? {
            Some((_, docs)) => Ok(docs),
            None => {
                self.follower.polled(seen, 0);
                Err(ProjectionError::Storage(format!(
                    "the {} read model is being built; try again shortly",
                    self.name
                )))
            }
        }
    }

    fn checkpoint(&self) -> Position {
        *self.follower.checkpoint.borrow()
    }

    async fn wait_for(&self, position: Position, timeout: Duration) -> bool {
        self.follower.wait_for(position, timeout, self.poll_interval, self.timeout, || self.refresh()).await
    }

    fn changes(&self) -> broadcast::Receiver<DocChange<D>> {
        self.follower.changes.subscribe()
    }
}

#[async_trait]
impl<D: DeserializeOwned + Clone + Send + Sync + 'static> Feed for DocFeed<D> {
    async fn message(&self, payload: &[u8]) {
        let message: ChangeMessage = match serde_json::from_slice(payload) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "ignoring an unreadable document change message");
                return;
            }
        };
        let follower = &self.follower;
        if message.resync || message.checkpoint == 0 {
            let _ = follower.changes.send(DocChange::Resync);
        } else if !message.keys.is_empty() {
            match read::<D>(&self.connection, &self.keys, &message.keys).await {
                Ok(Some((_, docs))) => {
                    for (key, doc) in message.keys.into_iter().zip(docs) {
                        let _ = follower.changes.send(DocChange::Changed {
                            key,
                            doc,
                            position: message.checkpoint,
                        });
                    }
                }
                // Subscribers cannot know what they missed: they re-read.
                Ok(None) | Err(_) => {
                    let _ = follower.changes.send(DocChange::Resync);
                }
            }
        }
        follower.learned(message.checkpoint);
    }

    async fn resubscribed(&self) {
        // Whatever was published while we were away is lost, and a poll may already have moved
        // the checkpoint past it: subscribers always re-read.
        let _ = self.follower.changes.send(DocChange::Resync);
        let seen = *self.follower.messages();
        // The command connection was probably lost too, and the connection manager reconnects
        // only once a command has failed on it: a few tries.
        let mut stored = read::<D>(&self.connection, &self.keys, &[]).await;
        for _ in 0..3 {
            if stored.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            stored = read::<D>(&self.connection, &self.keys, &[]).await;
        }
        match stored {
            Ok(stored) => self.follower.polled(seen, stored.map_or(0, |(c, _)| c)),
            Err(error) => tracing::warn!(%error, "cannot re-read a document model's checkpoint"),
        }
    }
}
