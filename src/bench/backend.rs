//! Where the benchmark's fresh stores live: SQLite files in a temporary folder, or fresh
//! schemas in a PostgreSQL database and fresh key prefixes in Redis (dropped when the benchmark
//! ends).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use careflow_eventstore::EventStore;
use careflow_eventstore::postgres::{PostgresOptions, PostgresStore, drop_schema, migrate};
use careflow_eventstore::sqlite::SqliteStore;
use careflow_projections::Projection;
use careflow_projections::bed_board::redis::{RedisBedBoard, RedisConfig};
use clap::ValueEnum;

/// The event store backend measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// SQLite files (the embedded default).
    Sqlite,
    /// PostgreSQL at --database-url.
    Postgres,
}

impl Backend {
    /// The backend's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Makes fresh, empty stores of one backend.
pub struct Stores {
    /// The backend.
    pub backend: Backend,
    dir: PathBuf,
    database_url: String,
    redis_url: String,
    schemas: Mutex<Vec<PostgresOptions>>,
    prefixes: Mutex<Vec<String>>,
}

impl Stores {
    /// Stores in `dir` (SQLite) or in the database at `database_url` (PostgreSQL, with read
    /// models in Redis at `redis_url`).
    pub fn new(backend: Backend, dir: PathBuf, database_url: String, redis_url: String) -> Self {
        Self { backend, dir, database_url, redis_url, schemas: Mutex::default(), prefixes: Mutex::default() }
    }

    /// The Redis URL.
    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }

    /// A fresh Redis key prefix named after `name`, whose keys [`Self::cleanup`] deletes.
    pub fn fresh_redis_prefix(&self, name: &str) -> anyhow::Result<String> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let prefix = format!("careflow-bench-{name}-{}:", &suffix[..8]);
        self.prefixes.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(prefix.clone());
        Ok(prefix)
    }

    /// The temporary folder.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Options for a fresh PostgreSQL schema named after `name`, migrated, to be dropped by
    /// [`Self::cleanup`].
    pub async fn fresh_schema(&self, name: &str) -> anyhow::Result<PostgresOptions> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let schema = format!("bench_{}_{}", name.replace('-', "_"), &suffix[..8]);
        let options = PostgresOptions::new(&self.database_url).with_schema(schema);
        self.schemas.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(options.clone());
        migrate(&options).await.with_context(|| format!("cannot migrate {}", options.schema))?;
        Ok(options)
    }

    /// A fresh, empty store called `name`.
    pub async fn open(&self, name: &str) -> anyhow::Result<Arc<dyn EventStore>> {
        Ok(match self.backend {
            Backend::Sqlite => Arc::new(SqliteStore::open(self.dir.join(format!("{name}.sqlite")))?),
            Backend::Postgres => Arc::new(PostgresStore::connect(self.fresh_schema(name).await?).await?),
        })
    }

    /// Drops the PostgreSQL schemas and Redis keys made so far.
    pub async fn cleanup(&self) -> anyhow::Result<()> {
        let prefixes = std::mem::take(&mut *self.prefixes.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
        for prefix in prefixes {
            let config = RedisConfig::new(&self.redis_url).with_prefix(prefix);
            // A reset deletes every key under the prefix.
            RedisBedBoard::connect(&config).await?.reset().await?;
        }
        let schemas = std::mem::take(&mut *self.schemas.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
        for options in schemas {
            drop_schema(&options).await?;
        }
        Ok(())
    }
}
