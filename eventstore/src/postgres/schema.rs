//! The schema: versioned migrations, applied by [`migrate`] (`careflow migrate`), and the check
//! that a store opens only a schema at the version this build expects.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::{PostgresError, PostgresOptions, connect};
use crate::StoreError;

/// One schema change. Applied in order, each once, in one transaction with its bookkeeping row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// 1, 2, 3 … without gaps.
    pub version: i32,
    /// What it does, for `careflow migrate` to print.
    pub description: &'static str,
    /// The SQL, run in the store's schema (it is first on `search_path`).
    pub sql: &'static str,
}

/// Every migration, in order. Never edit one that has shipped: add the next.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "events, the one-row log head, checkpoints",
        sql: r"
CREATE TABLE events (
    position       bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    stream         text        NOT NULL,
    category       text        NOT NULL,
    version        bigint      NOT NULL,
    event_type     text        NOT NULL,
    schema_version bigint      NOT NULL,
    data           bytea       NOT NULL,
    metadata       json        NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream, version),
    CONSTRAINT events_position_check CHECK (position > 0),
    CONSTRAINT events_version_check CHECK (version >= 0)
);
CREATE TABLE log_head (
    singleton boolean NOT NULL DEFAULT true,
    position  bigint  NOT NULL,
    CONSTRAINT log_head_pkey PRIMARY KEY (singleton),
    CONSTRAINT log_head_singleton_check CHECK (singleton),
    CONSTRAINT log_head_position_check CHECK (position >= 0)
);
INSERT INTO log_head (singleton, position) VALUES (true, 0);
CREATE TABLE checkpoints (
    name       text        NOT NULL,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checkpoints_pkey PRIMARY KEY (name)
);
",
    },
    Migration {
        version: 2,
        description: "careflow_append: one call locks the head, checks it and the event ids, inserts, moves \
                      the head, notifies",
        sql: r"
CREATE FUNCTION careflow_append(
    expected_head bigint, new_head bigint, channel text,
    p bigint[], i uuid[], s text[], c text[], v bigint[], t text[], sv bigint[], d bytea[], m text[]
) RETURNS void LANGUAGE plpgsql
-- A plan cached while the table was empty would scan it whole on every call.
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    current_head bigint;
BEGIN
    SELECT position INTO current_head FROM log_head FOR UPDATE;
    IF current_head IS DISTINCT FROM expected_head THEN
        RAISE EXCEPTION 'log head moved from % to %', expected_head, current_head
            USING ERRCODE = 'CF001';
    END IF;
    IF EXISTS (SELECT 1 FROM events WHERE event_id = ANY(i)) THEN
        RAISE EXCEPTION 'an event id is already stored' USING ERRCODE = 'CF002';
    END IF;
    INSERT INTO events (position, event_id, stream, category, version, event_type, schema_version, data, metadata)
    SELECT u.p, u.i, u.s, u.c, u.v, u.t, u.sv, u.d, u.m::json
    FROM unnest(p, i, s, c, v, t, sv, d, m) AS u(p, i, s, c, v, t, sv, d, m);
    UPDATE log_head SET position = new_head;
    PERFORM pg_notify(channel, new_head::text);
END
$$;
",
    },
];

/// The schema version this build reads and writes.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Key of the advisory lock that serialises concurrent `migrate` runs (any value unique to us).
const MIGRATION_LOCK: i64 = 0x6361_7265_666c_6f77; // "careflow"

/// Creates the schema if needed and applies every pending migration, under an advisory lock so
/// that concurrent runs (several replicas starting with `--migrate`) apply each migration once.
/// Returns the migrations applied now (empty when the schema was up to date).
pub async fn migrate(options: &PostgresOptions) -> Result<Vec<Migration>, StoreError> {
    let mut client = connect(options, "careflow-migrate").await?;
    let tx = client.transaction().await.map_err(PostgresError::from)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(PostgresError::from)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
         CREATE TABLE IF NOT EXISTS \"{schema}\".careflow_migrations (
             version     integer     NOT NULL PRIMARY KEY,
             description text        NOT NULL,
             applied_at  timestamptz NOT NULL DEFAULT now()
         );",
        schema = options.schema
    ))
    .await
    .map_err(PostgresError::from)?;
    let current = current_version(&tx).await?.unwrap_or(0);
    if current > latest_version() {
        return Err(newer_than_build(options, current));
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.batch_execute(migration.sql).await.map_err(PostgresError::from)?;
        tx.execute(
            "INSERT INTO careflow_migrations (version, description) VALUES ($1, $2)",
            &[&migration.version, &migration.description],
        )
        .await
        .map_err(PostgresError::from)?;
        applied.push(*migration);
    }
    tx.commit().await.map_err(PostgresError::from)?;
    Ok(applied)
}

/// Drops the schema and everything in it (the store's tables, its function, its checkpoints).
/// For tests, benchmarks and tearing down an environment; there is no undo.
pub async fn drop_schema(options: &PostgresOptions) -> Result<(), StoreError> {
    // `connect` validates the schema name, so it is safe to quote into the statement.
    let client = connect(options, "careflow-drop-schema").await?;
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", options.schema))
        .await
        .map_err(PostgresError::from)?;
    Ok(())
}

/// The applied version, `None` when the bookkeeping table does not exist.
async fn current_version(client: &impl tokio_postgres::GenericClient) -> Result<Option<i32>, StoreError> {
    match client.query_one("SELECT max(version) FROM careflow_migrations", &[]).await {
        Ok(row) => Ok(Some(row.try_get::<_, Option<i32>>(0).map_err(PostgresError::from)?.unwrap_or(0))),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(PostgresError::from(e).into()),
    }
}

/// Fails unless the schema is exactly at [`latest_version`].
pub(super) async fn check(client: &Client, options: &PostgresOptions) -> Result<(), StoreError> {
    let current = current_version(client).await?.unwrap_or(0);
    match current.cmp(&latest_version()) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(newer_than_build(options, current)),
        std::cmp::Ordering::Less => Err(StoreError::Unavailable(format!(
            "the PostgreSQL schema \"{}\" is at version {current}, this build needs {}: \
             run `careflow migrate` (or serve with --migrate)",
            options.schema,
            latest_version()
        ))),
    }
}

fn newer_than_build(options: &PostgresOptions, current: i32) -> StoreError {
    StoreError::Unavailable(format!(
        "the PostgreSQL schema \"{}\" is at version {current}, newer than this build ({}): \
         upgrade careflow",
        options.schema,
        latest_version()
    ))
}
