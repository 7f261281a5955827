//! The reader: serves the live generation and follows the writer's change channel.

use super::scripts::READ;
use super::*;

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
                    let trace: Option<std::sync::Arc<str>> = message.traceparent.as_deref().map(Into::into);
                    for (key, doc) in message.keys.into_iter().zip(docs) {
                        let _ = follower.changes.send(DocChange::Changed {
                            key,
                            doc: doc.map(std::sync::Arc::new),
                            position: message.checkpoint,
                            trace: trace.clone(),
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
