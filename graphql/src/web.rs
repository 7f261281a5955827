//! The web app people work on (bed board, site capacity, team inboxes, the patient summary),
//! served by the gateway from files embedded in the binary: `/` is the page, `/assets/…` its
//! modules, styles and the vendored Preact. There is no build step: the files under `web/` are
//! what the browser runs, so what is committed is what is served.
//!
//! Sign-in in development: with the public development secret (the embedded laptop run only),
//! `GET /dev/personas` lists the demo's people and `POST /dev/token {"persona": "<user id>"}`
//! mints a token for one of them. Without the development secret those routes do not exist, and
//! the app asks for a bearer token from the organisation's identity provider instead.
//!
//! Every response carries a Content-Security-Policy that allows only this origin's scripts
//! (and the page's one inline import map, by its hash), styles and connections.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use careflow_auth::{Actor, Authenticator, Role};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One embedded file: its path under `web/`, its bytes and its media type.
struct Embedded {
    path: &'static str,
    body: &'static [u8],
    media_type: &'static str,
}

macro_rules! embed {
    ($($path:literal => $media:expr),* $(,)?) => {
        &[$(Embedded {
            path: $path,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/", $path)),
            media_type: $media,
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Every file of the app. A test checks that this lists every file under `web/` (and nothing
/// else), so a new module cannot be forgotten.
const FILES: &[Embedded] = embed![
    "index.html" => "text/html; charset=utf-8",
    "app/style.css" => "text/css; charset=utf-8",
    "app/main.js" => JS,
    "app/api.js" => JS,
    "app/session.js" => JS,
    "app/ui.js" => JS,
    "app/beds.js" => JS,
    "app/capacity.js" => JS,
    "app/virtualward.js" => JS,
    "app/market.js" => JS,
    "app/provider.js" => JS,
    "app/inbox.js" => JS,
    "app/patient.js" => JS,
    "app/assessment.js" => JS,
    "vendor/preact.mjs" => JS,
    "vendor/hooks.mjs" => JS,
    "vendor/htm.mjs" => JS,
    "vendor/LICENSE-preact" => "text/plain; charset=utf-8",
    "vendor/LICENSE-htm" => "text/plain; charset=utf-8",
    "app/icon.svg" => "image/svg+xml",
];

/// A demo person one may sign in as in development.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Persona {
    /// Their user id (the token's `sub`).
    pub user_id: String,
    /// Their (invented) name.
    pub name: String,
    /// What they do, in a few words.
    pub description: String,
    /// Their role.
    pub role: Role,
    /// Their organisation's ODS code.
    pub organisation: String,
    /// Their teams.
    pub teams: Vec<String>,
}

/// Development sign-in: the people one may be, and the authenticator (holding the development
/// secret) that signs their tokens.
#[derive(Clone)]
pub struct DevSignIn {
    /// The demo's people.
    pub personas: Vec<Persona>,
    /// Signs the tokens.
    pub auth: Authenticator,
}

/// How long a development sign-in lasts.
const DEV_TOKEN_HOURS: i64 = 12;

struct Served {
    body: &'static [u8],
    media_type: &'static str,
    etag: HeaderValue,
}

#[derive(Clone)]
struct WebState {
    files: Arc<Vec<(&'static str, Served)>>,
    policy: HeaderValue,
    dev: Option<Arc<DevSignIn>>,
}

/// The page's inline import map, whose hash the policy allows.
fn import_map(page: &str) -> Option<&str> {
    const OPEN: &str = "<script type=\"importmap\">";
    let start = page.find(OPEN)? + OPEN.len();
    let end = start + page[start..].find("</script>")?;
    Some(&page[start..end])
}

fn content_security_policy(page: &[u8]) -> HeaderValue {
    let map = std::str::from_utf8(page).ok().and_then(import_map).unwrap_or_default();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(map.as_bytes()));
    let policy = format!(
        "default-src 'self'; script-src 'self' 'sha256-{hash}'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

/// The app's routes; the development sign-in only with `dev`.
pub(crate) fn routes(dev: Option<DevSignIn>) -> Router {
    let files = FILES
        .iter()
        .map(|file| {
            let digest = Sha256::digest(file.body);
            let tag =
                format!("\"{}\"", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12]));
            let etag = HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
            (file.path, Served { body: file.body, media_type: file.media_type, etag })
        })
        .collect::<Vec<_>>();
    let page = FILES.iter().find(|f| f.path == "index.html").map(|f| f.body).unwrap_or_default();
    let state =
        WebState { files: Arc::new(files), policy: content_security_policy(page), dev: dev.map(Arc::new) };
    let mut router = Router::new().route("/", get(index)).route("/assets/{*path}", get(asset));
    if state.dev.is_some() {
        router = router.route("/dev/personas", get(personas)).route("/dev/token", post(dev_token));
    }
    router.with_state(state).layer(axum::extract::DefaultBodyLimit::max(MAX_TOKEN_REQUEST_BYTES * 16))
}

fn serve(state: &WebState, path: &str, headers: &HeaderMap) -> Response {
    let Some((_, file)) = state.files.iter().find(|(p, _)| *p == path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let common = [
        (header::CONTENT_SECURITY_POLICY, state.policy.clone()),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        // Revalidated on every load (cheap: 304 by ETag), so a new release is never half-cached.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, file.etag.clone()),
    ];
    if headers.get(header::IF_NONE_MATCH) == Some(&file.etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(header::CONTENT_TYPE, HeaderValue::from_static(file.media_type))], file.body).into_response()
}

async fn index(State(state): State<WebState>, headers: HeaderMap) -> Response {
    serve(&state, "index.html", &headers)
}

async fn asset(State(state): State<WebState>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    if path == "index.html" {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    serve(&state, &path, &headers)
}

async fn personas(State(state): State<WebState>) -> Response {
    match &state.dev {
        Some(dev) => axum::Json(&dev.personas).into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    persona: String,
}

#[derive(Serialize)]
struct DevError {
    error: String,
    code: &'static str,
}

fn dev_error(status: StatusCode, code: &'static str, error: String) -> Response {
    (status, axum::Json(DevError { error, code })).into_response()
}

/// The largest sign-in request read.
const MAX_TOKEN_REQUEST_BYTES: usize = 1024;

/// Whether a browser's request comes from another site: its `Origin` (sent by browsers with
/// every POST) names another host than the one it was sent to. A page elsewhere (or a DNS
/// rebinding) cannot have tokens minted for it.
fn cross_site(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    origin_host != host
}

async fn dev_token(State(state): State<WebState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(dev) = &state.dev else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    if cross_site(&headers) {
        let message = "sign-in is only for careflow's own pages".to_owned();
        return dev_error(StatusCode::FORBIDDEN, "FORBIDDEN", message);
    }
    let json = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json {
        let message = "the body must be JSON (content-type: application/json)".to_owned();
        return dev_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "BAD_REQUEST", message);
    }
    if body.len() > MAX_TOKEN_REQUEST_BYTES {
        let message = format!("the request body is larger than {MAX_TOKEN_REQUEST_BYTES} bytes");
        return dev_error(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message);
    }
    let request: TokenRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(_) => {
            let message = "the body must be {\"persona\": \"<user id>\"}".to_owned();
            return dev_error(StatusCode::BAD_REQUEST, "BAD_USER_INPUT", message);
        }
    };
    let Some(persona) = dev.personas.iter().find(|p| p.user_id == request.persona) else {
        return dev_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "persona: no demo person has that user id".into(),
        );
    };
    let actor = Actor {
        user_id: persona.user_id.clone(),
        role: persona.role,
        organisation: persona.organisation.clone(),
        teams: persona.teams.clone(),
    };
    match dev.auth.issue(&actor, Utc::now(), Duration::hours(DEV_TOKEN_HOURS)) {
        Ok(token) => axum::Json(serde_json::json!({ "token": token, "persona": persona })).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot sign a development token");
            dev_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "the token could not be signed".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;

    fn files_under(dir: &std::path::Path, root: &std::path::Path, found: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("read web/") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "tests" || n == "node_modules") {
                    continue;
                }
                files_under(&path, root, found);
            } else {
                let relative =
                    path.strip_prefix(root).expect("under web/").to_string_lossy().replace('\\', "/");
                found.insert(relative);
            }
        }
    }

    #[test]
    fn every_file_of_the_app_is_embedded_and_nothing_else() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web");
        let mut on_disk = BTreeSet::new();
        files_under(&root, &root, &mut on_disk);
        let embedded = FILES.iter().map(|f| f.path.to_owned()).collect::<BTreeSet<_>>();
        assert_eq!(
            embedded, on_disk,
            "graphql/src/web.rs FILES must list every file under web/ (bar web/tests)"
        );
        assert_eq!(embedded.len(), FILES.len(), "a file is listed twice");
    }

    #[test]
    fn the_policy_allows_exactly_the_pages_import_map() {
        let page = FILES.iter().find(|f| f.path == "index.html").expect("index").body;
        let map = import_map(std::str::from_utf8(page).expect("utf-8")).expect("the page has an import map");
        assert!(map.contains("preact"), "{map}");
        let policy = content_security_policy(page);
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(map.as_bytes()));
        assert!(policy.to_str().expect("ascii").contains(&format!("'sha256-{expected}'")));
        assert!(!policy.to_str().expect("ascii").contains("unsafe-inline"));
    }
}
