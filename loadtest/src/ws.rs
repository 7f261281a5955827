//! The devices' WebSockets: graphql-transport-ws on `/graphql/ws` (`connection_init` with the
//! bearer token, `subscribe` per subscription, `pong` to `ping`), each read by a task of its
//! own that timestamps every push on arrival, turns it into the [`Key`]s it shows and hands them
//! to the [`Tracker`]. Subscription errors, completions and closed sockets are counted as errors.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::LoadtestError;
use crate::plan::DevicePlan;
use crate::stats::{PushKind, Stats, record};
use crate::tracker::{Key, SubId, Tracker};

/// A device's socket.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long opening a socket (to its `connection_ack`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What every device's reader shares.
#[derive(Debug)]
pub struct Shared {
    /// Commands awaiting their pushes.
    pub tracker: Arc<Tracker>,
    /// Where pushes and errors are counted.
    pub stats: Arc<Stats>,
    kinds: Vec<PushKind>,
    ready: Vec<AtomicBool>,
    alive: Vec<AtomicBool>,
    first_refusal: Mutex<Option<String>>,
    stopping: AtomicBool,
}

impl Shared {
    /// For subscriptions of `kinds` (by [`SubId`]).
    pub fn new(kinds: Vec<PushKind>, tracker: Arc<Tracker>, stats: Arc<Stats>) -> Self {
        let n = kinds.len();
        Self {
            tracker,
            stats,
            kinds,
            ready: (0..n).map(|_| AtomicBool::new(false)).collect(),
            alive: (0..n).map(|_| AtomicBool::new(true)).collect(),
            first_refusal: Mutex::new(None),
            stopping: AtomicBool::new(false),
        }
    }

    /// Whether `sub` has delivered anything yet.
    pub fn is_ready(&self, sub: SubId) -> bool {
        self.ready.get(sub as usize).is_some_and(|r| r.load(Ordering::Relaxed))
    }

    /// Whether `sub` is still open.
    pub fn is_alive(&self, sub: SubId) -> bool {
        self.alive.get(sub as usize).is_some_and(|a| a.load(Ordering::Relaxed))
    }

    /// The kind of `sub`.
    pub fn kind(&self, sub: SubId) -> Option<PushKind> {
        self.kinds.get(sub as usize).copied()
    }

    /// Every subscription.
    pub fn subs(&self) -> impl Iterator<Item = SubId> + '_ {
        (0..self.kinds.len()).filter_map(|s| SubId::try_from(s).ok())
    }

    /// The first refusal a subscription got, if any.
    pub fn first_refusal(&self) -> Option<String> {
        self.first_refusal.lock().ok().and_then(|r| r.clone())
    }

    /// From now on a closed socket is the run ending, not an error.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn dead(&self, sub: SubId, why: &str) {
        if let Some(alive) = self.alive.get(sub as usize) {
            alive.store(false, Ordering::Relaxed);
        }
        if let Ok(mut first) = self.first_refusal.lock()
            && first.is_none()
        {
            *first = Some(why.to_owned());
        }
    }
}

/// The WebSocket URL of a gateway at `target` (`http://host:port`).
pub fn url_of(target: &str) -> String {
    let base = target.trim_end_matches('/');
    let base = base.strip_prefix("http://").map_or_else(|| base.to_owned(), |rest| format!("ws://{rest}"));
    format!("{base}/graphql/ws")
}

/// Opens a device's socket, authenticates, and starts its subscriptions.
pub async fn open(url: &str, device: &DevicePlan) -> Result<Socket, LoadtestError> {
    let failed = |reason: String| LoadtestError::WebSocket { url: url.to_owned(), reason };
    let opening = async {
        let mut request = url.into_client_request().map_err(|e| failed(e.to_string()))?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
        // Nagle off, as a browser does for WebSockets.
        let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .map_err(|e| failed(format!("connect: {e}")))?;
        let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {}", device.token)}});
        socket.send(Message::text(init.to_string())).await.map_err(|e| failed(e.to_string()))?;
        loop {
            let message = match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    serde_json::from_str::<Value>(text.as_str()).unwrap_or(Value::Null)
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(failed(format!("closed before the ack: {frame:?}")));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(failed(e.to_string())),
                None => return Err(failed("closed before the ack".into())),
            };
            match message.get("type").and_then(Value::as_str) {
                Some("connection_ack") => break,
                Some("ping") => {
                    let pong = json!({"type": "pong"}).to_string();
                    socket.send(Message::text(pong)).await.map_err(|e| failed(e.to_string()))?;
                }
                _ => return Err(failed(format!("expected connection_ack, got {message}"))),
            }
        }
        for sub in &device.subs {
            let message = json!({"id": sub.id.to_string(), "type": "subscribe",
                "payload": {"query": sub.query, "variables": sub.variables}});
            socket.send(Message::text(message.to_string())).await.map_err(|e| failed(e.to_string()))?;
        }
        Ok(socket)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, opening)
        .await
        .map_err(|_| failed("no connection_ack within 30 s".into()))?
}

/// Reads `socket` until `stop` (or until it closes), handing every push to the tracker.
pub async fn serve(
    mut socket: Socket,
    subs: Vec<SubId>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut inboxes: HashMap<SubId, HashSet<String>> = HashMap::new();
    let closed = |why: &str| {
        if !shared.stopping.load(Ordering::Relaxed) {
            shared.stats.error("websocket", "WS_CLOSED", why);
            for sub in &subs {
                shared.dead(*sub, why);
            }
        }
    };
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                    return;
                }
            }
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let at = Instant::now();
                    if let Some(reply) = handle(text.as_str(), at, &shared, &mut inboxes)
                        && socket.send(Message::text(reply)).await.is_err()
                    {
                        closed("the socket closed while answering a ping");
                        return;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    closed(&format!("closed by the server: {frame:?}"));
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    closed(&error.to_string());
                    return;
                }
                None => {
                    closed("closed");
                    return;
                }
            }
        }
    }
}

/// Handles one message; returns a reply to send, if any.
fn handle(
    text: &str,
    at: Instant,
    shared: &Shared,
    inboxes: &mut HashMap<SubId, HashSet<String>>,
) -> Option<String> {
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        shared.stats.error("websocket", "BAD_MESSAGE", &text.chars().take(200).collect::<String>());
        return None;
    };
    let kind = message.get("type").and_then(Value::as_str).unwrap_or_default();
    if kind == "ping" {
        return Some(json!({"type": "pong"}).to_string());
    }
    let sub = message.get("id").and_then(Value::as_str).and_then(|id| id.parse::<SubId>().ok())?;
    let push_kind = shared.kind(sub)?;
    let origin = push_kind.name();
    match kind {
        "next" => {
            let payload = message.get("payload").unwrap_or(&Value::Null);
            if let Some(error) = payload.get("errors").and_then(Value::as_array).and_then(|e| e.first()) {
                let (code, text) = code_of(error);
                shared.stats.error(origin, &code, &text);
                shared.dead(sub, &format!("{origin}: {code}: {text}"));
                return None;
            }
            if let Some(ready) = shared.ready.get(sub as usize) {
                ready.store(true, Ordering::Relaxed);
            }
            let stats = shared.stats.push(push_kind);
            stats.received.fetch_add(1, Ordering::Relaxed);
            let data = payload.get("data").unwrap_or(&Value::Null);
            let keys = keys(push_kind, data, inboxes.entry(sub));
            for delivery in shared.tracker.deliver(sub, &keys, at) {
                let stats = shared.stats.push(delivery.kind);
                stats.matched.fetch_add(1, Ordering::Relaxed);
                record(&stats.latency, delivery.latency);
            }
        }
        "error" => {
            let first = message.get("payload").and_then(Value::as_array).and_then(|e| e.first());
            let (code, text) = first.map_or_else(|| ("UNKNOWN".to_owned(), message.to_string()), code_of);
            shared.stats.error(origin, &code, &text);
            shared.dead(sub, &format!("{origin}: {code}: {text}"));
        }
        "complete" => {
            shared.stats.error(origin, "SUBSCRIPTION_COMPLETED", "the server ended the subscription");
            shared.dead(sub, &format!("{origin}: completed by the server"));
        }
        _ => {}
    }
    None
}

fn code_of(error: &Value) -> (String, String) {
    let code = error.pointer("/extensions/code").and_then(Value::as_str).unwrap_or("UNKNOWN").to_owned();
    let text = error.get("message").and_then(Value::as_str).unwrap_or_default().to_owned();
    (code, text)
}

fn str_of<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn array<'a>(value: &'a Value, field: &str) -> &'a [Value] {
    value.get(field).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// The keys a push of `kind` shows. `inbox` holds the task ids the subscription's last inbox
/// showed (vacant before its first push): a task gone since was completed or cancelled.
pub fn keys(
    kind: PushKind,
    data: &Value,
    inbox: std::collections::hash_map::Entry<'_, SubId, HashSet<String>>,
) -> Vec<Key> {
    match kind {
        PushKind::BedBoard => {
            let bed = data.get("bedBoard").unwrap_or(&Value::Null);
            let edd = str_of(bed, "expectedDischargeDate");
            vec![Key::bed(str_of(bed, "id"), str_of(bed, "status"), edd)]
        }
        PushKind::TeamInbox => {
            let tasks = array(data, "teamInbox");
            let mut keys = Vec::with_capacity(tasks.len() * 2);
            let now: HashSet<String> = tasks.iter().map(|t| str_of(t, "id").to_owned()).collect();
            for task in tasks {
                keys.push(Key::task_title(str_of(task, "title")));
                keys.push(Key::task(str_of(task, "id"), str_of(task, "status")));
            }
            match inbox {
                std::collections::hash_map::Entry::Occupied(mut before) => {
                    keys.extend(before.get().difference(&now).map(|gone| Key::task_gone(gone)));
                    before.insert(now);
                }
                std::collections::hash_map::Entry::Vacant(first) => {
                    first.insert(now);
                }
            }
            keys
        }
        PushKind::Assessment => {
            let assessment = data.get("assessment").unwrap_or(&Value::Null);
            let id = str_of(assessment, "id");
            array(assessment, "sections")
                .iter()
                .map(|s| {
                    Key::section(id, str_of(s, "id"), s.get("version").and_then(Value::as_u64).unwrap_or(0))
                })
                .collect()
        }
        PushKind::VirtualWardCensus => {
            let census = data.get("virtualWardCensus").unwrap_or(&Value::Null);
            array(census, "changed")
                .iter()
                .filter_map(|row| {
                    let taken = row.pointer("/latest/takenAt").and_then(Value::as_str)?;
                    let taken = chrono::DateTime::parse_from_rfc3339(taken).ok()?.timestamp_millis();
                    Some(Key::reading(str_of(row, "admissionId"), taken))
                })
                .collect()
        }
        PushKind::CareMarket | PushKind::ProviderRequests => {
            let update = data.get(kind.name()).unwrap_or(&Value::Null);
            let mut keys = Vec::new();
            for request in array(update, "changed") {
                for offer in array(request, "offers") {
                    let state = str_of(offer, "state");
                    keys.push(Key::offer(str_of(offer, "offerId"), state));
                    if state == "LIVE" {
                        let price = offer.get("weeklyPricePence").and_then(Value::as_u64).unwrap_or(0);
                        keys.push(Key::offer_made(str_of(request, "id"), str_of(offer, "provider"), price));
                    }
                }
            }
            keys
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(kind: PushKind, data: Value, inboxes: &mut HashMap<SubId, HashSet<String>>) -> Vec<Key> {
        keys(kind, &data, inboxes.entry(1))
    }

    #[test]
    fn pushes_show_the_keys_their_commands_expect() {
        let mut inboxes = HashMap::new();
        let bed =
            json!({"bedBoard": {"id": "B1", "status": "OCCUPIED", "expectedDischargeDate": "2030-01-02"}});
        assert_eq!(
            keys_of(PushKind::BedBoard, bed, &mut inboxes),
            [Key::bed("B1", "OCCUPIED", "2030-01-02")]
        );
        let blocked = json!({"bedBoard": {"id": "B1", "status": "BLOCKED", "expectedDischargeDate": null}});
        assert_eq!(keys_of(PushKind::BedBoard, blocked, &mut inboxes), [Key::bed("B1", "BLOCKED", "")]);

        let assessment = json!({"assessment": {"id": "a", "sections": [{"id": "s", "version": 3}]}});
        assert_eq!(keys_of(PushKind::Assessment, assessment, &mut inboxes), [Key::section("a", "s", 3)]);

        // takenAt as the gateway writes it (nanoseconds, +00:00) matches the ms we sent.
        let census = json!({"virtualWardCensus": {"changed": [{"admissionId": "ad",
            "latest": {"takenAt": "2030-01-01T10:00:00.123456789+00:00"}}, {"admissionId": "none", "latest": null}]}});
        let ms = chrono::DateTime::parse_from_rfc3339("2030-01-01T10:00:00.123Z").unwrap().timestamp_millis();
        assert_eq!(keys_of(PushKind::VirtualWardCensus, census, &mut inboxes), [Key::reading("ad", ms)]);

        let market = json!({"careMarket": {"changed": [{"id": "r", "offers": [
            {"offerId": "o1", "provider": "VN1", "weeklyPricePence": 80250, "state": "LIVE"},
            {"offerId": "o0", "provider": "VN1", "weeklyPricePence": 80000, "state": "WITHDRAWN"}]}]}});
        assert_eq!(
            keys_of(PushKind::CareMarket, market, &mut inboxes),
            [Key::offer("o1", "LIVE"), Key::offer_made("r", "VN1", 80250), Key::offer("o0", "WITHDRAWN")]
        );
    }

    #[test]
    fn a_task_gone_from_the_inbox_is_seen_as_gone_but_not_on_the_first_push() {
        let mut inboxes = HashMap::new();
        let first = json!({"teamInbox": [{"id": "t1", "title": "A", "status": "OPEN"}]});
        let keys = keys_of(PushKind::TeamInbox, first, &mut inboxes);
        assert_eq!(keys, [Key::task_title("A"), Key::task("t1", "OPEN")]);
        let second = json!({"teamInbox": [{"id": "t2", "title": "B", "status": "CLAIMED"}]});
        let keys = keys_of(PushKind::TeamInbox, second, &mut inboxes);
        assert!(
            keys.contains(&Key::task_gone("t1")) && keys.contains(&Key::task("t2", "CLAIMED")),
            "{keys:?}"
        );
        let keys = keys_of(PushKind::TeamInbox, json!({"teamInbox": []}), &mut inboxes);
        assert_eq!(keys, [Key::task_gone("t2")]);
    }

    #[test]
    fn the_websocket_url_follows_the_target() {
        assert_eq!(url_of("http://127.0.0.1:8080/"), "ws://127.0.0.1:8080/graphql/ws");
        assert_eq!(url_of("http://gw"), "ws://gw/graphql/ws");
    }

    #[test]
    fn refusals_errors_and_pings_are_handled() {
        let tracker = Arc::new(Tracker::new());
        let stats = Arc::new(Stats::new().unwrap());
        let shared =
            Shared::new(vec![PushKind::BedBoard, PushKind::TeamInbox], tracker.clone(), stats.clone());
        let mut inboxes = HashMap::new();
        let now = Instant::now();
        assert_eq!(
            handle(r#"{"type":"ping"}"#, now, &shared, &mut inboxes),
            Some(r#"{"type":"pong"}"#.into())
        );
        let key = Key::bed("B1", "BLOCKED", "");
        tracker.expect(key, now, vec![(0, PushKind::BedBoard)]);
        let push =
            r#"{"type":"next","id":"0","payload":{"data":{"bedBoard":{"id":"B1","status":"BLOCKED"}}}}"#;
        handle(push, now + Duration::from_millis(2), &shared, &mut inboxes);
        assert!(shared.is_ready(0) && !shared.is_ready(1));
        assert_eq!(stats.push(PushKind::BedBoard).matched.load(Ordering::Relaxed), 1);
        let refused =
            r#"{"type":"error","id":"1","payload":[{"message":"no","extensions":{"code":"FORBIDDEN"}}]}"#;
        handle(refused, now, &shared, &mut inboxes);
        assert!(!shared.is_alive(1) && shared.is_alive(0));
        assert!(shared.first_refusal().unwrap().contains("FORBIDDEN"));
        assert_eq!(stats.error_count(), 1);
    }
}
