//! The real PostgreSQL and Redis of this machine, for tests of the distributed roles. Absent
//! servers skip the test with a message, except under CI (`CI` set), where that is a failure.

use std::time::Duration;

use careflow_projections::bed_board::redis::{RedisBedBoard, RedisConfig};

/// PostgreSQL: `CAREFLOW_TEST_DATABASE_URL` or the local server's `postgres` database.
pub async fn postgres_url() -> Option<String> {
    let url = std::env::var("CAREFLOW_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let connected =
        tokio::time::timeout(Duration::from_secs(5), tokio_postgres::connect(&url, tokio_postgres::NoTls))
            .await;
    match connected {
        Ok(Ok(_)) => Some(url),
        Ok(Err(error)) => absent("PostgreSQL", &url, &error.to_string()),
        Err(_) => absent("PostgreSQL", &url, "timed out"),
    }
}

/// Redis: `CAREFLOW_TEST_REDIS_URL` or the local server.
pub async fn redis_url() -> Option<String> {
    let url = std::env::var("CAREFLOW_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let ping = async {
        let client = redis::Client::open(url.as_str())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut connection).await
    };
    match tokio::time::timeout(Duration::from_secs(5), ping).await {
        Ok(Ok(_)) => Some(url),
        Ok(Err(error)) => absent("Redis", &url, &error.to_string()),
        Err(_) => absent("Redis", &url, "timed out"),
    }
}

fn absent(server: &str, url: &str, why: &str) -> Option<String> {
    assert!(
        std::env::var_os("CI").is_none(),
        "{server} is required under CI but {url} is unreachable: {why}"
    );
    eprintln!("skipping: {server} is not reachable at {url} ({why})");
    None
}

/// Drops a PostgreSQL schema and deletes Redis keys under a prefix when dropped.
pub struct Cleanup {
    /// PostgreSQL URL and schema.
    pub postgres: Option<(String, String)>,
    /// Redis URL and key prefix.
    pub redis: Option<(String, String)>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let (postgres, redis) = (self.postgres.take(), self.redis.take());
        // Drop may run on a runtime thread: clean up on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                if let Some((url, schema)) = postgres {
                    let options =
                        careflow_eventstore::postgres::PostgresOptions::new(url).with_schema(schema);
                    careflow_eventstore::postgres::drop_schema(&options).await.ok()?;
                }
                if let Some((url, prefix)) = redis {
                    let config = RedisConfig::new(url).with_prefix(prefix);
                    // Every key under the prefix, every generation of the model included.
                    RedisBedBoard::connect(&config).await.ok()?.purge().await.ok()?;
                }
                Some(())
            })
        });
        let _ = cleanup.join();
    }
}
