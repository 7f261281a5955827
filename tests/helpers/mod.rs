//! Typed helpers for black-box tests of the real `careflow` binary.

#![allow(dead_code)]

pub mod flow;
pub mod servers;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

pub const SECRET: &str = "e2e-test-secret";
const BIN: &str = env!("CARGO_BIN_EXE_careflow");

/// A running `careflow serve` (all roles, or some with `--only`).
pub struct Careflow {
    child: Child,
    http: Option<SocketAddr>,
    grpc: Option<SocketAddr>,
    client: reqwest::Client,
}

impl Careflow {
    /// Starts `careflow serve` (all roles) on free ports over `data_dir` and waits for its ready
    /// line.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["--data-dir", data_dir.to_str().expect("utf-8 path")];
        args.extend_from_slice(extra);
        Self::spawn(&args)
    }

    /// Starts `careflow serve` with `args` on free ports and waits for its ready line.
    pub fn spawn(args: &[&str]) -> Self {
        Self::spawn_with(args, Some(SECRET), &[])
    }

    /// As [`Careflow::spawn`], with environment variables `env` set.
    pub fn spawn_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_with(args, Some(SECRET), env)
    }

    /// As [`Careflow::spawn`], with the public development secret (as a laptop runs it: the
    /// development sign-in is served).
    pub fn spawn_dev(args: &[&str]) -> Self {
        Self::spawn_with(args, None, &[])
    }

    fn spawn_with(args: &[&str], secret: Option<&str>, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command.envs(env.iter().copied());
        command.arg("serve").args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"]);
        match secret {
            Some(secret) => command.args(["--jwt-secret", secret]),
            None => command.env_remove("CAREFLOW_JWT_SECRET"),
        };
        let mut child = command
            .args(["--log", "warn"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn careflow");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("careflow ready ") {
                    let _ = tx.send(rest.to_owned());
                }
            }
        });
        let ready = rx.recv_timeout(Duration::from_secs(60)).expect("careflow printed its ready line");
        let addr = |key: &str| -> Option<SocketAddr> {
            ready
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key))
                .map(|a| a.parse().expect("an address"))
        };
        Self { http: addr("http="), grpc: addr("grpc="), child, client: reqwest::Client::new() }
    }

    /// The gateway's address (this process must run the gateway).
    pub fn http(&self) -> SocketAddr {
        self.http.expect("this careflow runs no gateway")
    }

    /// The gRPC services' address (this process must run the services).
    pub fn grpc(&self) -> SocketAddr {
        self.grpc.expect("this careflow runs no services")
    }

    /// Runs `careflow` with `args` (not `serve`) to completion; returns its standard output.
    pub fn run(args: &[&str]) -> String {
        let output = Command::new(BIN).args(args).output().expect("run careflow");
        assert!(
            output.status.success(),
            "careflow {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }

    /// Kills the process outright (SIGKILL: no drain, no flush) and waits for it to go.
    pub fn kill(mut self) {
        self.child.kill().expect("kill careflow");
        let _ = self.child.wait();
    }

    /// Asks for a graceful stop (SIGTERM) and waits; returns whether it exited cleanly.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let signalled = Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success());
        let status = self.child.wait().expect("wait for careflow");
        signalled && status.success()
    }

    /// POSTs a GraphQL request and returns the JSON response (data and errors).
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self.client.post(format!("http://{}/graphql", self.http()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("POST /graphql");
        response.json().await.expect("JSON response")
    }

    /// Like [`graphql`](Self::graphql) but fails on errors and returns `data`.
    pub async fn data(&self, token: &str, query: &str, variables: Value) -> Value {
        let response = self.graphql(Some(token), query, variables).await;
        assert!(response.get("errors").is_none(), "unexpected errors: {response}");
        response["data"].clone()
    }

    /// Starts a subscription and waits until this process counts it (it then receives every
    /// change committed from now on: a subscribe message alone does not say when that is).
    pub async fn subscribe(&self, token: &str, query: &str) -> Subscription {
        let before = self.subscriptions().await;
        let subscription = Subscription::start(self.http(), token, query).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.subscriptions().await <= before {
            assert!(tokio::time::Instant::now() < deadline, "the subscription did not start within 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        subscription
    }

    /// The `careflow_graphql_subscriptions` gauge.
    async fn subscriptions(&self) -> i64 {
        let (_, metrics) = self.get("/metrics").await;
        metrics
            .lines()
            .find_map(|line| line.strip_prefix("careflow_graphql_subscriptions "))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0)
    }

    /// GETs a path and returns status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self.client.get(format!("http://{}{path}", self.http())).send().await.expect("GET");
        (response.status().as_u16(), response.text().await.expect("body"))
    }
}

impl Drop for Careflow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token from `careflow token` (the real CLI), for a member of RXA.
pub fn token(role: &str) -> String {
    token_in(role, "RXA")
}

/// A token for `role` at organisation `org` (ODS code).
pub fn token_in(role: &str, org: &str) -> String {
    token_for(&format!("e2e.{role}"), role, org, &[])
}

/// A token for user `user` with `role` at `org`, naming `teams`.
pub fn token_for(user: &str, role: &str, org: &str, teams: &[&str]) -> String {
    let mut args = vec!["token", "--user", user, "--role", role, "--org", org, "--jwt-secret", SECRET];
    for team in teams {
        args.extend(["--team", team]);
    }
    let output = Command::new(BIN).args(&args).output().expect("careflow token");
    assert!(output.status.success(), "careflow token failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8").trim().to_owned()
}

/// A graphql-transport-ws subscription.
pub struct Subscription {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Subscription {
    /// Connects, authenticates and starts `query`.
    pub async fn start(addr: SocketAddr, token: &str, query: &str) -> Self {
        let mut request = format!("ws://{addr}/graphql/ws").into_client_request().expect("request");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
        let (socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket");
        let mut subscription = Self { socket };
        subscription
            .send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}))
            .await;
        let ack = subscription.next_message().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        subscription.send(json!({"id": "1", "type": "subscribe", "payload": {"query": query}})).await;
        subscription
    }

    async fn send(&mut self, message: Value) {
        self.socket.send(Message::text(message.to_string())).await.expect("send");
    }

    async fn next_message(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("a message within 10 s")
                .expect("socket open")
                .expect("frame");
            if let Message::Text(text) = frame {
                return serde_json::from_str(&text).expect("JSON");
            }
        }
    }

    /// The next `next` or `error` message's payload, errors included.
    pub async fn next_payload(&mut self) -> Value {
        loop {
            let message = self.next_message().await;
            match message["type"].as_str() {
                Some("next" | "error") => return message["payload"].clone(),
                Some("complete") => panic!("subscription ended: {message}"),
                _ => {}
            }
        }
    }

    /// The next pushed `data`.
    pub async fn next_data(&mut self) -> Value {
        loop {
            let message = self.next_message().await;
            match message["type"].as_str() {
                Some("next") => {
                    assert!(message["payload"].get("errors").is_none(), "subscription error: {message}");
                    return message["payload"]["data"].clone();
                }
                Some("error" | "complete") => panic!("subscription ended: {message}"),
                _ => {}
            }
        }
    }
}
