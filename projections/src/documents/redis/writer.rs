//! The writer: folds batches and stores each one's changed documents with its checkpoint, in
//! the one generation it writes; builds a new generation aside on reset and swaps it in once
//! caught up.

use super::scripts::{APPLY, LOAD, START, SWAP};
use super::*;

/// At most one checkpoint-only write (progress past events of other contexts) this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

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
        let lost = message(0, Vec::new(), false, None)?;
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
            .arg(message(
                through,
                keys,
                false,
                careflow_eventstore::trace::traceparent(&tracing::Span::current()),
            )?);
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
            .arg(message(checkpoint, Vec::new(), true, None)?)
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
