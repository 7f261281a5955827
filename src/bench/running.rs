//! careflow, all roles in this process, for the benchmarks that go through GraphQL: on SQLite
//! with in-memory read models, or on PostgreSQL with Redis read models (the path through the
//! stores is the one separate processes take).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use careflow_auth::{Actor, Authenticator, Role};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::backend::{Backend, Stores};
use crate::app::Application;
use crate::cli::ServeArgs;

const SECRET: &str = "careflow-bench-secret";

/// A running careflow.
pub struct Running {
    /// Its GraphQL address.
    pub http: SocketAddr,
    /// Its event store.
    pub store: Option<std::sync::Arc<dyn careflow_eventstore::EventStore>>,
    auth: Authenticator,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Starts careflow on fresh stores named after `name`, with `extra` flags (`--demo`).
    pub async fn start(stores: &Stores, name: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let data_dir = stores.dir().join(name).to_string_lossy().into_owned();
        let mut argv: Vec<String> = [
            "serve",
            "--data-dir",
            &data_dir,
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
            "--jwt-secret",
            SECRET,
        ]
        .map(String::from)
        .into();
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        if stores.backend == Backend::Postgres {
            let options = stores.fresh_schema(name).await?;
            let prefix = stores.fresh_redis_prefix(name)?;
            argv.extend(
                [
                    "--store",
                    "postgres",
                    "--database-url",
                    &options.url,
                    "--database-schema",
                    &options.schema,
                    "--read-models",
                    "redis",
                    "--redis-url",
                    stores.redis_url(),
                    "--redis-prefix",
                    &prefix,
                ]
                .map(String::from),
            );
        }
        let args = ServeArgs::try_parse_from(argv)?;
        let auth = args.jwt.authenticator();
        let app = Application::build(args).await?;
        let http = app.http_addr();
        let store = app.store();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Ok(Self { http, store, auth, stop, server })
    }

    /// A token for `role` at RXA.
    pub fn token(&self, role: Role) -> anyhow::Result<String> {
        self.token_for(role, &format!("bench.{role}"))
    }

    /// A token for user `user_id` in `role` at RXA.
    pub fn token_for(&self, role: Role, user_id: &str) -> anyhow::Result<String> {
        let actor = Actor { user_id: user_id.into(), role, organisation: "RXA".into(), teams: vec![] };
        Ok(self.auth.issue(&actor, chrono::Utc::now(), chrono::Duration::hours(1))?)
    }

    /// A token for user `user_id` in `role` at `organisation`.
    pub fn token_in(&self, role: Role, user_id: &str, organisation: &str) -> anyhow::Result<String> {
        let actor = Actor { user_id: user_id.into(), role, organisation: organisation.into(), teams: vec![] };
        Ok(self.auth.issue(&actor, chrono::Utc::now(), chrono::Duration::hours(1))?)
    }

    /// Waits (at most `deadline`) until `/readyz` answers 200: the demo, if asked for, is loaded.
    pub async fn ready(&self, deadline: Duration) -> anyhow::Result<()> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            if readyz(self.http).await.unwrap_or(false) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= until {
                bail!("careflow was not ready within {deadline:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops careflow and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await.context("the server task")?
    }
}

/// Whether `GET /readyz` answers 200 (plain HTTP/1.1, so no client library is needed).
async fn readyz(addr: SocketAddr) -> anyhow::Result<bool> {
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    socket.write_all(b"GET /readyz HTTP/1.1\r\nHost: careflow\r\nConnection: close\r\n\r\n").await?;
    let mut head = [0u8; 12];
    socket.read_exact(&mut head).await?;
    Ok(head.ends_with(b"200"))
}
