//! GraphQL over HTTP: `POST {target}/graphql` with a bearer token, through one pooled
//! connection-reusing client. Every answer is sorted into data or a failure with a code: the
//! GraphQL `extensions.code`, or what failed underneath (`TRANSPORT`, `TIMEOUT`, `HTTP_<status>`,
//! `BAD_RESPONSE`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::error::LoadtestError;

/// How long one request may take before it counts as a `TIMEOUT`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What a GraphQL request came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// No errors: the `data`.
    Data(Value),
    /// Refused or failed.
    Failed(Failure),
}

/// A refusal or failure.
#[derive(Debug, Clone)]
pub struct Failure {
    /// `extensions.code` of the first error, or the transport's.
    pub code: String,
    /// Its message.
    pub message: String,
    /// The first error's `extensions` (e.g. the section as it is now, for a CONFLICT).
    pub extensions: Value,
}

impl Failure {
    fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), extensions: Value::Null }
    }
}

/// A GraphQL-over-HTTP client for one gateway.
#[derive(Debug, Clone)]
pub struct Gql {
    http: reqwest::Client,
    url: String,
}

impl Gql {
    /// A client for the gateway at `target` keeping up to `pool` idle connections.
    pub fn new(target: &str, pool: usize) -> Result<Self, LoadtestError> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .tcp_nodelay(true)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(LoadtestError::Client)?;
        Ok(Self { http, url: format!("{}/graphql", target.trim_end_matches('/')) })
    }

    /// Sends `query` with `variables` as the holder of `token`.
    pub async fn call(&self, token: &str, query: &str, variables: Value) -> Outcome {
        let body = json!({"query": query, "variables": variables});
        let response = match self.http.post(&self.url).bearer_auth(token).json(&body).send().await {
            Ok(response) => response,
            Err(error) => return Outcome::Failed(transport(&error)),
        };
        let status = response.status();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return Outcome::Failed(transport(&error)),
        };
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(body) => outcome(body, status.as_u16()),
            Err(_) if !status.is_success() => Outcome::Failed(Failure::new(
                format!("HTTP_{}", status.as_u16()),
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            )),
            Err(error) => Outcome::Failed(Failure::new("BAD_RESPONSE", error.to_string())),
        }
    }

    /// As [`Gql::call`] for a setup step: the data, or the step's error.
    pub async fn setup(
        &self,
        step: &str,
        token: &str,
        query: &str,
        variables: Value,
    ) -> Result<Value, LoadtestError> {
        match self.call(token, query, variables).await {
            Outcome::Data(data) => Ok(data),
            Outcome::Failed(failure) => Err(LoadtestError::Setup {
                step: step.to_owned(),
                code: failure.code,
                message: failure.message,
            }),
        }
    }
}

fn transport(error: &reqwest::Error) -> Failure {
    let code = if error.is_timeout() { "TIMEOUT" } else { "TRANSPORT" };
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Failure::new(code, message)
}

/// Sorts a GraphQL response body into data or the first error.
pub fn outcome(mut body: Value, status: u16) -> Outcome {
    if let Some(first) = body.get("errors").and_then(Value::as_array).and_then(|e| e.first()) {
        let extensions = first.get("extensions").cloned().unwrap_or(Value::Null);
        let code = extensions.get("code").and_then(Value::as_str).map(str::to_owned);
        let code = code.unwrap_or_else(|| {
            if (200..300).contains(&status) { "UNKNOWN".to_owned() } else { format!("HTTP_{status}") }
        });
        let message = first.get("message").and_then(Value::as_str).unwrap_or_default().to_owned();
        return Outcome::Failed(Failure { code, message, extensions });
    }
    match body.get_mut("data").map(Value::take) {
        Some(data) if !data.is_null() => Outcome::Data(data),
        _ => Outcome::Failed(Failure::new(format!("HTTP_{status}"), "a response without data or errors")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_sorted_by_their_first_code() {
        let ok = outcome(json!({"data": {"blockBed": {"position": "7"}}}), 200);
        assert!(matches!(ok, Outcome::Data(d) if d["blockBed"]["position"] == "7"));
        let conflict = outcome(
            json!({"data": null, "errors": [{"message": "stale", "extensions": {"code": "CONFLICT", "section": {"version": 4}}}]}),
            200,
        );
        let Outcome::Failed(failure) = conflict else { panic!("a failure") };
        assert_eq!((failure.code.as_str(), failure.message.as_str()), ("CONFLICT", "stale"));
        assert_eq!(failure.extensions["section"]["version"], 4);
        let uncoded = outcome(json!({"errors": [{"message": "x"}]}), 400);
        assert!(matches!(uncoded, Outcome::Failed(f) if f.code == "HTTP_400"));
        let empty = outcome(json!({}), 502);
        assert!(matches!(empty, Outcome::Failed(f) if f.code == "HTTP_502"));
    }
}
