//! Who sent a command, and the ids that make it traceable and safe to retry.

use careflow_auth::Actor;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Namespace for ids derived from command ids (UUID v5), so a retried command derives the same
/// event ids (and the store answers it idempotently) and the same new-aggregate ids.
const DERIVED_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6361_7265_666c_6f77_8000_0000_0000_0001);

/// Everything about a command except what it asks for.
#[derive(Debug, Clone)]
pub struct CommandContext {
    /// The client's command id: the idempotency key.
    pub command_id: Uuid,
    /// Who sent it.
    pub actor: Actor,
    /// Ties together everything caused by one user action.
    pub correlation_id: Uuid,
    /// W3C `traceparent` of the request, if any.
    pub traceparent: Option<String>,
    /// When the command is decided (the service's clock).
    pub at: DateTime<Utc>,
}

impl CommandContext {
    /// The id of the `index`-th event this command writes.
    pub fn event_id(&self, index: usize) -> Uuid {
        derive_id(self.command_id, &format!("event/{index}"))
    }

    /// A deterministic id for something the command creates (e.g. a stay), named by `purpose`.
    pub fn derived_id(&self, purpose: &str) -> Uuid {
        derive_id(self.command_id, purpose)
    }
}

fn derive_id(command_id: Uuid, purpose: &str) -> Uuid {
    let mut name = Vec::with_capacity(16 + purpose.len());
    name.extend_from_slice(command_id.as_bytes());
    name.extend_from_slice(purpose.as_bytes());
    Uuid::new_v5(&DERIVED_ID_NAMESPACE, &name)
}
