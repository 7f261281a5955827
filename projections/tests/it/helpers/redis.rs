//! A Redis for one test (its own key prefix, deleted on drop) and a bounded poll, shared by the
//! Redis tests of the bed board and the document models.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use careflow_projections::bed_board::RedisConfig;
use redis::aio::MultiplexedConnection;
use tokio::time::Instant;
use uuid::Uuid;

/// How long anything asynchronous may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A Redis for one test: its own key prefix, deleted on drop (panics included).
pub struct TestRedis {
    url: String,
    prefix: String,
    client: redis::Client,
}

impl TestRedis {
    /// `None` (after saying so) when Redis is unreachable and `CI` is not set.
    pub async fn start() -> Option<Self> {
        let url = std::env::var("CAREFLOW_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let client = redis::Client::open(url.as_str()).expect("a valid Redis URL");
        let ping = tokio::time::timeout(Duration::from_secs(2), async {
            let mut connection = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING").query_async::<String>(&mut connection).await
        })
        .await;
        let why = match ping {
            Ok(Ok(_)) => {
                let prefix = format!("careflow-test:{}:", Uuid::new_v4());
                return Some(Self { url, prefix, client });
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => "no answer within 2 s".to_owned(),
        };
        assert!(std::env::var_os("CI").is_none(), "Redis not reachable at {url} ({why}) and CI is set");
        eprintln!("skipping: Redis not reachable at {url} ({why}); set CAREFLOW_REDIS_URL to use another");
        None
    }

    /// The Redis URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The test's key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn config(&self) -> RedisConfig {
        RedisConfig::new(&self.url).with_prefix(&self.prefix)
    }

    pub async fn connection(&self) -> MultiplexedConnection {
        self.client.get_multiplexed_async_connection().await.unwrap()
    }

    pub async fn keys(&self) -> Vec<String> {
        let mut connection = self.connection().await;
        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
                .query_async(&mut connection)
                .await
                .unwrap();
            keys.extend(found);
            if next == 0 {
                keys.sort();
                return keys;
            }
            cursor = next;
        }
    }

    /// Loses the model behind the projection's back, as a FLUSHALL or a restart of our
    /// disk-less Redis would (but only this test's keys).
    pub async fn flush(&self) {
        let keys = self.keys().await;
        assert!(!keys.is_empty(), "there was a model to lose");
        let _: usize = redis::cmd("DEL").arg(&keys).query_async(&mut self.connection().await).await.unwrap();
    }

    /// Every key under the prefix with its value, to compare states.
    pub async fn snapshot(&self) -> BTreeMap<String, String> {
        let mut connection = self.connection().await;
        let mut snapshot = BTreeMap::new();
        for key in self.keys().await {
            let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut connection).await.unwrap();
            let value = match kind.as_str() {
                "string" => redis::cmd("GET").arg(&key).query_async(&mut connection).await.unwrap(),
                "set" => {
                    let mut members: Vec<String> =
                        redis::cmd("SMEMBERS").arg(&key).query_async(&mut connection).await.unwrap();
                    members.sort();
                    members.join(",")
                }
                "hash" => {
                    let fields: BTreeMap<String, String> =
                        redis::cmd("HGETALL").arg(&key).query_async(&mut connection).await.unwrap();
                    format!("{fields:?}")
                }
                other => panic!("unexpected {other} at {key}"),
            };
            snapshot.insert(key, value);
        }
        snapshot
    }

    /// The live generation, as `P current` names it.
    pub async fn live_generation(&self) -> Option<u64> {
        let key = format!("{}bed_board:current", self.prefix);
        redis::cmd("GET").arg(key).query_async(&mut self.connection().await).await.unwrap()
    }

    /// The generation being built aside, as `P next` names it.
    pub async fn next_generation(&self) -> Option<u64> {
        let key = format!("{}bed_board:next", self.prefix);
        redis::cmd("GET").arg(key).query_async(&mut self.connection().await).await.unwrap()
    }

    /// The stored checkpoint of the generation the writer writes: the one built aside if there
    /// is one, else the live one.
    pub async fn stored_checkpoint(&self) -> Option<u64> {
        let generation = match self.next_generation().await {
            Some(building) => building,
            None => self.live_generation().await?,
        };
        let key = format!("{}bed_board@{generation}:checkpoint", self.prefix);
        redis::cmd("GET").arg(key).query_async(&mut self.connection().await).await.unwrap()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let Ok(mut connection) = self.client.get_connection() else { return };
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{}*", self.prefix)).query(&mut connection).unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<usize, _> = redis::cmd("DEL").arg(&keys).query(&mut connection);
        }
    }
}

/// Polls `condition` until it holds; fails the test after [`DEADLINE`].
pub async fn eventually<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
