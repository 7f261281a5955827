//! Decoding a recorded event's payload once for every read model that reads it: the copies a
//! projection host hands to several read models share one decoded value.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::{RecordedEvent, StoreError};

/// A recorded event's payload, decoded once and shared by every clone of the event, once
/// [`RecordedEvent::share_decoding`] was called (a projection host does, before handing clones
/// of one batch to several read models); the first type asked for is kept. Nothing is
/// allocated for an event that is not shared. Not part of equality.
#[derive(Clone, Default)]
pub(crate) struct Decoded(Option<Arc<OnceLock<Arc<dyn std::any::Any + Send + Sync>>>>);

impl fmt::Debug for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.0 {
            None => "unshared",
            Some(cell) if cell.get().is_some() => "decoded",
            Some(_) => "shared",
        };
        f.write_str(state)
    }
}

impl PartialEq for Decoded {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Decoded {}

impl RecordedEvent {
    /// Makes the clones made from now on share one decoding of the payload (see
    /// [`decode_shared`](Self::decode_shared)).
    pub fn share_decoding(&mut self) {
        if self.decoded.0.is_none() {
            self.decoded.0 = Some(Arc::default());
        }
    }

    /// Decodes the JSON payload; after [`share_decoding`](Self::share_decoding), once for every
    /// clone: a later call for the same type, on this event or a clone, returns the same value.
    /// (Asked for another type than the one decoded first, it decodes afresh.)
    pub fn decode_shared<T>(&self) -> Result<Arc<T>, StoreError>
    where
        T: serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        let Some(cell) = &self.decoded.0 else { return self.decode().map(Arc::new) };
        if let Some(decoded) = cell.get() {
            return match decoded.clone().downcast::<T>() {
                Ok(value) => Ok(value),
                Err(_) => self.decode().map(Arc::new),
            };
        }
        let value: Arc<T> = Arc::new(self.decode()?);
        // Another clone may have won the race: its value is as good.
        let _ = cell.set(value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

    use super::super::*;
    use super::Decoded;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Payload {
        n: u32,
    }

    fn event(data: &str) -> RecordedEvent {
        let at = DateTime::from_timestamp(1_764_600_000, 0).unwrap();
        RecordedEvent {
            position: 7,
            stream: StreamName::new("bed-1").unwrap(),
            version: 0,
            id: Uuid::nil(),
            event_type: "Test".into(),
            schema_version: 1,
            data: data.as_bytes().to_vec(),
            metadata: Metadata::new(Uuid::nil(), at),
            recorded_at: at,
            decoded: Decoded::default(),
        }
    }

    #[test]
    fn a_payload_is_decoded_once_for_every_clone() {
        let mut original = event(r#"{"n": 3}"#);
        let unshared = original.clone();
        let (a, b) =
            (unshared.decode_shared::<Payload>().unwrap(), unshared.decode_shared::<Payload>().unwrap());
        assert!(!Arc::ptr_eq(&a, &b), "not shared: decoded each time, nothing kept");
        original.share_decoding();
        let clone = original.clone();
        let first = original.decode_shared::<Payload>().unwrap();
        let second = clone.decode_shared::<Payload>().unwrap();
        assert!(Arc::ptr_eq(&first, &second), "the clone got the same decoded value");
        assert_eq!(*first, Payload { n: 3 });
        // Another type decodes afresh; equality ignores the cache.
        let value = clone.decode_shared::<serde_json::Value>().unwrap();
        assert_eq!(value["n"], 3);
        assert_eq!(original, event(r#"{"n": 3}"#));
        // A payload that does not decode is an error naming the position, and nothing is kept.
        let mut bad = event("not json");
        bad.share_decoding();
        assert!(matches!(bad.decode_shared::<Payload>(), Err(StoreError::Decode { position: 7, .. })));
        assert!(bad.decoded.0.as_ref().is_some_and(|cell| cell.get().is_none()));
    }
}
