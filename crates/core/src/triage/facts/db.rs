//! What the homeserver's database said for the subject (the CLI runs the read-only queries).

use serde_json::Value;

/// A device of a user: (device_id, display_name, last_seen ms).
pub type DeviceRow = (String, Option<String>, Option<i64>);

/// A row of `e2e_one_time_keys_json`.
#[derive(Clone, Debug)]
pub struct OtkRow {
    /// `signed_curve25519`, …
    pub algorithm: String,
    /// The key id.
    pub key_id: String,
    /// When it was stored.
    pub ts_added_ms: Option<i64>,
    /// The stored key object, as text.
    pub key_json: String,
}

/// A row of `e2e_fallback_keys_json`.
#[derive(Clone, Debug)]
pub struct FallbackRow {
    /// `signed_curve25519`, …
    pub algorithm: String,
    /// The key id.
    pub key_id: String,
    /// Whether a claim has used it.
    pub used: bool,
}

/// A row of `event_json` (+ `events`).
#[derive(Clone, Debug)]
pub struct EventRow {
    /// `m.room.encrypted`, … (`None` without the `events` table).
    pub event_type: Option<String>,
    /// The sender (`None` without the `events` table).
    pub sender: Option<String>,
    /// The room.
    pub room_id: String,
    /// The stored event, as text.
    pub json: String,
}

/// What the database holds for another device the report names (a peer this device could not
/// reach): its advertised keys and its one-time keys.
#[derive(Clone, Debug, Default)]
pub struct PeerDevice {
    /// The other device's user.
    pub user_id: String,
    /// The other device.
    pub device_id: String,
    /// Its device keys (`None`: no row or no table).
    pub device_keys: Option<serde_json::Value>,
    /// Its one-time keys (`None`: no table).
    pub otks: Option<Vec<OtkRow>>,
}

/// What the database said for the subject (each `None`: not asked or table missing).
#[derive(Default)]
pub struct DbFacts {
    /// How the database is named in evidence (`db homeserver.db (schema 94)`).
    pub source: String,
    /// The device's one-time keys.
    pub otks: Option<Vec<OtkRow>>,
    /// The device's fallback keys.
    pub fallback: Option<Vec<FallbackRow>>,
    /// The device keys the server advertises (`Some(None)`: no row).
    pub device_keys: Option<Option<Value>>,
    /// The user's devices.
    pub devices: Option<Vec<DeviceRow>>,
    /// Queued to-device messages for the device, by event type.
    pub inbox: Option<Vec<(String, u64)>>,
    /// The KE-3 event (`Some(None)`: no row).
    pub event: Option<Option<EventRow>>,
    /// Other devices the report names (peers this device could not reach).
    pub peers: Vec<PeerDevice>,
    /// Tables a query needed but the database does not have.
    pub missing: Vec<String>,
}
