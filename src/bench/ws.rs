//! A minimal GraphQL-over-WebSocket client (graphql-transport-ws), for the benchmarks.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The raw socket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens `/graphql/ws` on `addr` and authenticates with `token` (waits for the ack).
pub async fn connect(addr: SocketAddr, token: &str) -> anyhow::Result<Socket> {
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request()?;
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    // Nagle off, as a browser does for WebSockets: the benchmark measures careflow, not ACK timers.
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .context("websocket connect")?;
    let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    socket.send(Message::text(init.to_string())).await?;
    match next_json(&mut socket).await?.get("type").and_then(Value::as_str) {
        Some("connection_ack") => Ok(socket),
        other => bail!("expected connection_ack, got {other:?}"),
    }
}

/// Starts operation `id` (query, mutation or subscription).
pub async fn start(socket: &mut Socket, id: &str, query: &str) -> anyhow::Result<()> {
    let message = json!({"id": id, "type": "subscribe", "payload": {"query": query}});
    socket.send(Message::text(message.to_string())).await?;
    Ok(())
}

/// Runs one operation to completion and returns its `data`, failing on GraphQL errors.
pub async fn execute(socket: &mut Socket, id: &str, query: &str) -> anyhow::Result<Value> {
    start(socket, id, query).await?;
    loop {
        let message = next_json(socket).await?;
        if message.get("id").and_then(Value::as_str) != Some(id) {
            continue;
        }
        match message.get("type").and_then(Value::as_str) {
            Some("next") => {
                let payload = message.get("payload").cloned().unwrap_or(Value::Null);
                if let Some(errors) = payload.get("errors") {
                    bail!("GraphQL errors: {errors}");
                }
                return Ok(payload.get("data").cloned().unwrap_or(Value::Null));
            }
            Some("error") => bail!("operation failed: {message}"),
            _ => {}
        }
    }
}

/// The next text message as JSON (pings answered by tungstenite, other frames skipped).
pub async fn next_json<S>(socket: &mut S) -> anyhow::Result<Value>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match socket.next().await.context("websocket closed")?? {
            Message::Text(text) => return Ok(serde_json::from_str(&text)?),
            Message::Close(frame) => bail!("websocket closed: {frame:?}"),
            _ => {}
        }
    }
}

/// Reads every reply on `replies` until the socket closes; how many carried GraphQL errors.
pub async fn count_errors<S>(mut replies: S) -> usize
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut failures = 0usize;
    while let Ok(message) = next_json(&mut replies).await {
        if let Some(errors) = message.pointer("/payload/errors") {
            if failures == 0 {
                eprintln!("first failed mutation: {errors}");
            }
            failures += 1;
        }
    }
    failures
}

/// Registers site `BENCH` and its ward `ward` (as an admin's socket).
pub async fn bench_ward(socket: &mut Socket, ward: &str) -> anyhow::Result<()> {
    let site = r#"mutation { registerSite(input: {siteId: "BENCH", name: "Bench Hospital"}) { position } }"#;
    execute(socket, "site", site).await?;
    let ward = format!(
        r#"mutation {{ configureWard(input: {{wardId: "{ward}", siteId: "BENCH", name: "Bench Ward"}}) {{ position }} }}"#
    );
    execute(socket, "ward", &ward).await?;
    Ok(())
}
