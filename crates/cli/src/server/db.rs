//! Synapse's database, read only, for the triage's and the scan's queries: one set of SQL and one row
//! mapping for both backends (SQLite file, PostgreSQL server), so the two cannot drift.
//!
//! A backend only runs a query and hands back typed cells; every question is asked here.
//! The SQL uses `$1`, `$2` placeholders, which both SQLite and PostgreSQL read positionally.
//! Tables differ between Synapse versions, so every query first checks its table and a missing
//! one becomes a note, not a failure.

use super::error::{DbError, QueryError};
use super::{postgres, sqlite};
use serde_json::Value;

/// A cell as the database typed it. SQLite stores Synapse's booleans as integers and PostgreSQL
/// as `boolean`; timestamps are `bigint` there: the mapping below reads either.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
}

impl Cell {
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Cell::Text(s) => Some(s.clone()),
            Cell::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Cell::Int(i) => Some(*i),
            Cell::Bool(b) => Some(*b as i64),
            Cell::Text(s) => s.parse().ok(),
            Cell::Null => None,
        }
    }
    pub(crate) fn bool(&self) -> Option<bool> {
        match self {
            Cell::Bool(b) => Some(*b),
            Cell::Int(i) => Some(*i != 0),
            Cell::Text(s) => match s.as_str() {
                "t" | "true" | "1" => Some(true),
                "f" | "false" | "0" => Some(false),
                _ => None,
            },
            Cell::Null => None,
        }
    }
}

/// A query parameter.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Param<'a> {
    Text(&'a str),
    Int(i64),
}

/// What a backend does: run one read-only query, say whether a table exists.
pub(crate) trait Backend {
    /// `Err` carries the backend's message (never a password), by kind.
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Vec<Cell>>, QueryError>;
    /// Whether `table` (or a view of that name) exists; `Err` when the database cannot be read.
    fn has_table(&mut self, table: &str) -> Result<bool, DbError>;
    /// How the database is named in evidence (`db homeserver.db`, `db postgresql synapse@host/synapse`).
    fn label(&self) -> String;
}

pub(crate) struct SynapseDb {
    backend: Box<dyn Backend>,
    pub label: String,
    pub schema_version: Option<i64>,
    /// Tables a query needed but the database does not have.
    pub missing: Vec<String>,
}

pub(crate) use crypto_health_core::triage::facts::db::{DeviceRow, EventRow, FallbackRow, OtkRow};

/// Per device, for the whole-server scan.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct DeviceKeyState {
    pub user_id: String,
    pub device_id: String,
    pub signed_otks: i64,
    /// `None`: no fallback key; `Some(used)`.
    pub fallback_used: Option<bool>,
}

/// A device holding many one-time keys: user, device, `signed_curve25519` count.
pub(crate) type FloodRow = (String, String, i64);

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Backlog {
    pub user_id: String,
    pub device_id: String,
    pub queued: i64,
    pub min_stream: i64,
    pub max_stream: i64,
    pub last_seen: Option<i64>,
}

fn is_postgres(spec: &str) -> bool {
    let l = spec.trim_start().to_ascii_lowercase();
    l.starts_with("postgres://")
        || l.starts_with("postgresql://")
        || l.split_whitespace()
            .any(|kv| kv.split_once('=').is_some_and(|(k, _)| matches!(k, "host" | "hostaddr" | "dbname" | "user" | "port" | "sslmode")))
}

/// Open `spec` read-only: a libpq URL or key/value string is PostgreSQL, anything else a SQLite path.
pub(crate) fn open(spec: &str) -> Result<SynapseDb, DbError> {
    let backend: Box<dyn Backend> = if is_postgres(spec) { Box::new(postgres::open(spec)?) } else { Box::new(sqlite::open(spec)?) };
    let label = backend.label();
    let mut db = SynapseDb { backend, label, schema_version: None, missing: Vec::new() };
    let has_schema = db.backend.has_table("schema_version")?;
    if !has_schema && !db.backend.has_table("e2e_one_time_keys_json")? {
        return Err(DbError::NotSynapse { db: db.label });
    }
    if has_schema {
        db.schema_version = db.backend.query("SELECT version FROM schema_version", &[]).ok().and_then(|r| r.first()?.first()?.int());
    }
    Ok(db)
}

fn s(c: &[Cell], i: usize) -> String {
    c.get(i).and_then(Cell::text).unwrap_or_default()
}

impl SynapseDb {
    #[cfg(test)]
    pub(crate) fn backend(&mut self) -> &mut dyn Backend {
        self.backend.as_mut()
    }

    /// `Ok(false)` and a note when the table is missing.
    fn need(&mut self, t: &str) -> Result<bool, DbError> {
        let ok = self.backend.has_table(t)?;
        if !ok && !self.missing.iter().any(|m| m == t) {
            self.missing.push(t.to_string());
        }
        Ok(ok)
    }

    fn q(&mut self, table: &str, sql: &str, params: &[Param<'_>]) -> Result<Vec<Vec<Cell>>, DbError> {
        self.backend.query(sql, params).map_err(|e| DbError::query(&self.label, table, e))
    }

    pub(crate) fn one_time_keys(&mut self, user: &str, device: &str) -> Result<Option<Vec<OtkRow>>, DbError> {
        if !self.need("e2e_one_time_keys_json")? {
            return Ok(None);
        }
        let rows = self.q(
            "e2e_one_time_keys_json",
            "SELECT algorithm, key_id, ts_added_ms, key_json FROM e2e_one_time_keys_json WHERE user_id = $1 AND device_id = $2 ORDER BY algorithm, key_id",
            &[Param::Text(user), Param::Text(device)],
        )?;
        Ok(Some(rows.iter().map(|c| OtkRow { algorithm: s(c, 0), key_id: s(c, 1), ts_added_ms: c[2].int(), key_json: s(c, 3) }).collect()))
    }

    /// One stored one-time key (the scan compares it with the key a 400 quoted).
    pub(crate) fn one_time_key(
        &mut self,
        user: &str,
        device: &str,
        algorithm: &str,
        key_id: &str,
    ) -> Result<Option<Option<OtkRow>>, DbError> {
        if !self.need("e2e_one_time_keys_json")? {
            return Ok(None);
        }
        let rows = self.q(
            "e2e_one_time_keys_json",
            "SELECT algorithm, key_id, ts_added_ms, key_json FROM e2e_one_time_keys_json WHERE user_id = $1 AND device_id = $2 AND algorithm = $3 AND key_id = $4",
            &[Param::Text(user), Param::Text(device), Param::Text(algorithm), Param::Text(key_id)],
        )?;
        Ok(Some(rows.first().map(|c| OtkRow { algorithm: s(c, 0), key_id: s(c, 1), ts_added_ms: c[2].int(), key_json: s(c, 3) })))
    }

    pub(crate) fn fallback_keys(&mut self, user: &str, device: &str) -> Result<Option<Vec<FallbackRow>>, DbError> {
        if !self.need("e2e_fallback_keys_json")? {
            return Ok(None);
        }
        let rows = self.q(
            "e2e_fallback_keys_json",
            "SELECT algorithm, key_id, used FROM e2e_fallback_keys_json WHERE user_id = $1 AND device_id = $2 ORDER BY algorithm, key_id",
            &[Param::Text(user), Param::Text(device)],
        )?;
        Ok(Some(rows.iter().map(|c| FallbackRow { algorithm: s(c, 0), key_id: s(c, 1), used: c[2].bool().unwrap_or(false) }).collect()))
    }

    /// The device keys the server advertises for the device (`key_json`), if any.
    pub(crate) fn device_keys(&mut self, user: &str, device: &str) -> Result<Option<Option<Value>>, DbError> {
        if !self.need("e2e_device_keys_json")? {
            return Ok(None);
        }
        let rows = self.q(
            "e2e_device_keys_json",
            "SELECT key_json FROM e2e_device_keys_json WHERE user_id = $1 AND device_id = $2",
            &[Param::Text(user), Param::Text(device)],
        )?;
        Ok(Some(rows.first().and_then(|c| c[0].text()).and_then(|t| serde_json::from_str(&t).ok())))
    }

    /// Devices of the user: (device_id, display_name, last_seen ms).
    pub(crate) fn devices(&mut self, user: &str) -> Result<Option<Vec<DeviceRow>>, DbError> {
        if !self.need("devices")? {
            return Ok(None);
        }
        let rows = self.q(
            "devices",
            "SELECT device_id, display_name, last_seen FROM devices WHERE user_id = $1 ORDER BY device_id",
            &[Param::Text(user)],
        )?;
        Ok(Some(rows.iter().map(|c| (s(c, 0), c[1].text(), c[2].int())).collect()))
    }

    /// Queued to-device messages for the device, counted by event type (encrypted ones show as
    /// `m.room.encrypted`: the server cannot see what is inside).
    pub(crate) fn inbox_types(&mut self, user: &str, device: &str) -> Result<Option<Vec<(String, u64)>>, DbError> {
        if !self.need("device_inbox")? {
            return Ok(None);
        }
        let rows = self.q(
            "device_inbox",
            "SELECT message_json FROM device_inbox WHERE user_id = $1 AND device_id = $2 ORDER BY stream_id LIMIT 100000",
            &[Param::Text(user), Param::Text(device)],
        )?;
        let mut counts: Vec<(String, u64)> = Vec::new();
        for c in rows {
            let t = c[0]
                .text()
                .and_then(|m| serde_json::from_str::<Value>(&m).ok())
                .and_then(|v| v.get("type").and_then(Value::as_str).map(String::from))
                .unwrap_or_else(|| "(unreadable)".into());
            match counts.iter_mut().find(|(k, _)| *k == t) {
                Some((_, n)) => *n += 1,
                None => counts.push((t, 1)),
            }
        }
        Ok(Some(counts))
    }

    pub(crate) fn event(&mut self, event_id: &str) -> Result<Option<Option<EventRow>>, DbError> {
        if !self.need("event_json")? {
            return Ok(None);
        }
        let sql = if self.backend.has_table("events")? {
            "SELECT e.type, e.sender, j.room_id, j.json FROM event_json j LEFT JOIN events e ON e.event_id = j.event_id WHERE j.event_id = $1"
        } else {
            "SELECT NULL, NULL, room_id, json FROM event_json WHERE event_id = $1"
        };
        let rows = self.q("event_json", sql, &[Param::Text(event_id)])?;
        Ok(Some(rows.first().map(|c| EventRow { event_type: c[0].text(), sender: c[1].text(), room_id: s(c, 2), json: s(c, 3) })))
    }

    /// Every device with published device keys whose `signed_curve25519` one-time keys are at or
    /// below `max_otks`, with its fallback key state. One grouped query, not one per device.
    pub(crate) fn low_otk_devices(&mut self, max_otks: i64) -> Result<Option<Vec<DeviceKeyState>>, DbError> {
        for t in ["e2e_device_keys_json", "e2e_one_time_keys_json", "e2e_fallback_keys_json"] {
            if !self.need(t)? {
                return Ok(None);
            }
        }
        let rows = self.q(
            "e2e_device_keys_json",
            "SELECT k.user_id, k.device_id, COALESCE(o.n, 0), f.used_any \
             FROM e2e_device_keys_json k \
             LEFT JOIN (SELECT user_id, device_id, COUNT(*) AS n FROM e2e_one_time_keys_json WHERE algorithm = 'signed_curve25519' GROUP BY user_id, device_id) o \
               ON o.user_id = k.user_id AND o.device_id = k.device_id \
             LEFT JOIN (SELECT user_id, device_id, MAX(CASE WHEN used THEN 1 ELSE 0 END) AS used_any FROM e2e_fallback_keys_json GROUP BY user_id, device_id) f \
               ON f.user_id = k.user_id AND f.device_id = k.device_id \
             WHERE COALESCE(o.n, 0) <= CAST($1 AS BIGINT) \
             ORDER BY k.user_id, k.device_id",
            &[Param::Int(max_otks)],
        )?;
        Ok(Some(
            rows.iter()
                .map(|c| DeviceKeyState {
                    user_id: s(c, 0),
                    device_id: s(c, 1),
                    signed_otks: c[2].int().unwrap_or(0),
                    fallback_used: c[3].bool(),
                })
                .collect(),
        ))
    }

    /// Devices holding more than `min` unclaimed `signed_curve25519` one-time keys (a correct
    /// client keeps 50: the one-time-key flood), most first, at most 1000: (user, device, count).
    pub(crate) fn otk_flood_devices(&mut self, min: i64) -> Result<Option<Vec<FloodRow>>, DbError> {
        if !self.need("e2e_one_time_keys_json")? {
            return Ok(None);
        }
        let rows = self.q(
            "e2e_one_time_keys_json",
            "SELECT user_id, device_id, COUNT(*) AS n FROM e2e_one_time_keys_json WHERE algorithm = 'signed_curve25519' \
             GROUP BY user_id, device_id HAVING COUNT(*) > CAST($1 AS BIGINT) ORDER BY n DESC, user_id, device_id LIMIT 1000",
            &[Param::Int(min)],
        )?;
        Ok(Some(rows.iter().map(|c| (s(c, 0), s(c, 1), c[2].int().unwrap_or(0))).collect()))
    }

    /// Devices with at least `min` queued to-device messages, with the device's last sighting.
    pub(crate) fn backlogs(&mut self, min: i64) -> Result<Option<Vec<Backlog>>, DbError> {
        if !self.need("device_inbox")? {
            return Ok(None);
        }
        let with_devices = self.backend.has_table("devices")?;
        let sql = if with_devices {
            "SELECT i.user_id, i.device_id, i.n, i.lo, i.hi, d.last_seen FROM \
             (SELECT user_id, device_id, COUNT(*) AS n, MIN(stream_id) AS lo, MAX(stream_id) AS hi FROM device_inbox GROUP BY user_id, device_id HAVING COUNT(*) >= CAST($1 AS BIGINT)) i \
             LEFT JOIN devices d ON d.user_id = i.user_id AND d.device_id = i.device_id ORDER BY i.n DESC, i.user_id, i.device_id"
        } else {
            "SELECT user_id, device_id, COUNT(*), MIN(stream_id), MAX(stream_id), NULL FROM device_inbox GROUP BY user_id, device_id HAVING COUNT(*) >= CAST($1 AS BIGINT) ORDER BY COUNT(*) DESC, user_id, device_id"
        };
        let rows = self.q("device_inbox", sql, &[Param::Int(min)])?;
        Ok(Some(
            rows.iter()
                .map(|c| Backlog {
                    user_id: s(c, 0),
                    device_id: s(c, 1),
                    queued: c[2].int().unwrap_or(0),
                    min_stream: c[3].int().unwrap_or(0),
                    max_stream: c[4].int().unwrap_or(0),
                    last_seen: c[5].int(),
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_both_backends_types() {
        assert_eq!(Cell::Int(1).bool(), Some(true));
        assert_eq!(Cell::Bool(false).bool(), Some(false));
        assert_eq!(Cell::Text("t".into()).bool(), Some(true));
        assert_eq!(Cell::Null.bool(), None);
        assert_eq!(Cell::Int(1_795_294_148_548).int(), Some(1_795_294_148_548));
        assert_eq!(Cell::Int(94).text().as_deref(), Some("94"));
    }

    #[test]
    fn postgres_specs_are_recognised() {
        for s in [
            "postgresql://synapse@db:5432/synapse",
            "postgres://u@h/d",
            "host=/var/run/postgresql dbname=synapse",
            "dbname=synapse user=ro",
        ] {
            assert!(is_postgres(s), "{s}");
        }
        for s in ["homeserver.db", "/srv/synapse/homeserver.db", "file:/x/homeserver.db?mode=ro", "dir with spaces/homeserver.db"] {
            assert!(!is_postgres(s), "{s}");
        }
    }
}
