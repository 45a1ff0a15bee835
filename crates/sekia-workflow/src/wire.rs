//! Events on the bus, with the hop count of workflow chains.
//!
//! The hop count travels as an extra top-level envelope field, `sekia_hops`,
//! written only when non-zero. Go's decoder (and ours) ignore unknown envelope
//! fields, so agents and the Go daemon are unaffected, and the payload — which
//! scripts and signatures see — is never touched.

use serde::{Deserialize, Serialize};

use sekia_protocol::{Event, Payload};

/// Name of the envelope field that carries the hop count.
pub const HOPS_FIELD: &str = "sekia_hops";

/// An event received from the bus, with its chain depth.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The concrete subject it arrived on.
    pub subject: String,
    /// The decoded envelope.
    pub event: Event,
    /// How many workflow publishes led to it (0 = from an agent).
    pub hops: u32,
    /// Size of the encoded event in bytes.
    pub size: usize,
}

#[derive(Deserialize)]
struct WireIn {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "type")]
    event_type: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(default)]
    payload: Option<Payload>,
    #[serde(default)]
    sekia_hops: Option<u32>,
}

#[derive(Serialize)]
struct WireOut<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    source: &'a str,
    timestamp: i64,
    payload: &'a Payload,
    #[serde(skip_serializing_if = "is_zero")]
    sekia_hops: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Decodes an event envelope (Go rules: `null` fields are zero values).
pub fn decode_event(subject: &str, bytes: &[u8]) -> Result<Incoming, serde_json::Error> {
    let w: WireIn = serde_json::from_slice(bytes)?;
    Ok(Incoming {
        subject: subject.to_owned(),
        event: Event {
            id: w.id.unwrap_or_default(),
            event_type: w.event_type.unwrap_or_default(),
            source: w.source.unwrap_or_default(),
            timestamp: w.timestamp.unwrap_or_default(),
            payload: w.payload.unwrap_or_default(),
        },
        hops: w.sekia_hops.unwrap_or(0),
        size: bytes.len(),
    })
}

/// Encodes an event the way Go would, plus `sekia_hops` when non-zero.
pub fn encode_event(event: &Event, hops: u32) -> Result<Vec<u8>, serde_json::Error> {
    sekia_protocol::json::to_vec(&WireOut {
        id: &event.id,
        event_type: &event.event_type,
        source: &event.source,
        timestamp: event.timestamp,
        payload: &event.payload,
        sekia_hops: hops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_round_trip_and_go_shape() {
        let mut p = Payload::new();
        p.insert("a".into(), 1.into());
        let e = Event {
            id: "evt_1".into(),
            event_type: "t".into(),
            source: "workflow:x".into(),
            timestamp: 5,
            payload: p,
        };
        let plain = String::from_utf8(encode_event(&e, 0).unwrap()).unwrap();
        assert_eq!(
            plain,
            r#"{"id":"evt_1","type":"t","source":"workflow:x","timestamp":5,"payload":{"a":1}}"#
        );
        assert_eq!(plain.as_bytes(), sekia_protocol::json::to_vec(&e).unwrap());
        let b = encode_event(&e, 3).unwrap();
        let back = decode_event("s", &b).unwrap();
        assert_eq!(back.hops, 3);
        assert_eq!(back.event, e);
        let n = decode_event("s", br#"{"id":null,"payload":null}"#).unwrap();
        assert_eq!(n.event, Event::default());
    }
}
