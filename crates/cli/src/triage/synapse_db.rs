//! Read-only access to Synapse's SQLite database for the runbook's §1 queries.
//!
//! Opened with `mode=ro` and `PRAGMA query_only`: nothing here can write, whatever the SQL.
//! Tables differ between Synapse versions, so every query first checks its table and a missing
//! one becomes a note, not a failure. PostgreSQL URLs are refused with a clear message.

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::Value;

pub struct SynapseDb {
    conn: Connection,
    pub path: String,
    pub schema_version: Option<i64>,
    /// Tables a query needed but the database does not have.
    pub missing: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct OtkRow {
    pub algorithm: String,
    pub key_id: String,
    pub ts_added_ms: Option<i64>,
    pub key_json: String,
}

#[derive(Clone, Debug)]
pub struct FallbackRow {
    pub algorithm: String,
    pub key_id: String,
    pub used: bool,
}

#[derive(Clone, Debug)]
pub struct EventRow {
    pub event_type: Option<String>,
    pub sender: Option<String>,
    pub room_id: String,
    pub json: String,
}

/// Why the database could not be used at all (exit code 1).
pub fn open(spec: &str) -> Result<SynapseDb, String> {
    let lower = spec.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") || lower.contains("host=") {
        return Err("--synapse-db: PostgreSQL is not supported by this build; give the path of a SQLite database, \
             or run the runbook's §1 SQL with psql in a read-only transaction (`SET default_transaction_read_only = on`)"
            .into());
    }
    let path = spec.strip_prefix("file:").unwrap_or(spec);
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    if query.split('&').any(|kv| kv == "mode=rw" || kv == "mode=rwc" || kv == "mode=memory") {
        return Err(format!("--synapse-db: refusing `{spec}`: triage only ever opens the database read-only"));
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("--synapse-db {path}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("--synapse-db {path}: not a file"));
    }
    if meta.len() == 0 {
        return Err(format!("--synapse-db {path}: empty file, not a SQLite database"));
    }
    let uri = format!("file:{}?mode=ro", percent_path(path));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&uri, flags).map_err(|e| format!("--synapse-db {path}: cannot open read-only: {e}"))?;
    conn.pragma_update(None, "query_only", "ON").map_err(|e| format!("--synapse-db {path}: {e}"))?;
    let mut db = SynapseDb { conn, path: path.to_string(), schema_version: None, missing: Vec::new() };
    let has = |t: &str| db.has_table(t);
    match (has("schema_version")?, has("e2e_one_time_keys_json")?) {
        (false, false) => return Err(format!("--synapse-db {path}: not a Synapse database (no `schema_version` or `e2e_one_time_keys_json` table)")),
        (true, _) => {
            db.schema_version = db.conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).optional().ok().flatten();
        }
        _ => {}
    }
    Ok(db)
}

/// SQLite URIs need `?` and `#` escaped in the path (and `%` itself).
fn percent_path(p: &str) -> String {
    p.replace('%', "%25").replace('?', "%3f").replace('#', "%23")
}

impl SynapseDb {
    fn has_table(&self, t: &str) -> Result<bool, String> {
        self.conn
            .query_row("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?1", [t], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| format!("--synapse-db {}: not a readable SQLite database: {e}", self.path))
    }

    /// `Ok(false)` and a note when the table is missing.
    fn need(&mut self, t: &str) -> Result<bool, String> {
        let ok = self.has_table(t)?;
        if !ok && !self.missing.iter().any(|m| m == t) {
            self.missing.push(t.to_string());
        }
        Ok(ok)
    }

    fn err(&self, what: &str, e: rusqlite::Error) -> String {
        format!("--synapse-db {}: query on {what} failed (schema differs from Synapse 1.16x?): {e}", self.path)
    }

    pub fn one_time_keys(&mut self, user: &str, device: &str) -> Result<Option<Vec<OtkRow>>, String> {
        if !self.need("e2e_one_time_keys_json")? {
            return Ok(None);
        }
        let mut st = self
            .conn
            .prepare("SELECT algorithm, key_id, ts_added_ms, key_json FROM e2e_one_time_keys_json WHERE user_id = ?1 AND device_id = ?2 ORDER BY algorithm, key_id")
            .map_err(|e| self.err("e2e_one_time_keys_json", e))?;
        let rows = st
            .query_map([user, device], |r| Ok(OtkRow { algorithm: r.get(0)?, key_id: r.get(1)?, ts_added_ms: r.get(2)?, key_json: r.get(3)? }))
            .and_then(|it| it.collect::<Result<Vec<_>, _>>());
        drop(st);
        rows.map(Some).map_err(|e| self.err("e2e_one_time_keys_json", e))
    }

    pub fn fallback_keys(&mut self, user: &str, device: &str) -> Result<Option<Vec<FallbackRow>>, String> {
        if !self.need("e2e_fallback_keys_json")? {
            return Ok(None);
        }
        let mut st = self
            .conn
            .prepare("SELECT algorithm, key_id, used FROM e2e_fallback_keys_json WHERE user_id = ?1 AND device_id = ?2")
            .map_err(|e| self.err("e2e_fallback_keys_json", e))?;
        let rows = st
            .query_map([user, device], |r| Ok(FallbackRow { algorithm: r.get(0)?, key_id: r.get(1)?, used: r.get::<_, Option<bool>>(2)?.unwrap_or(false) }))
            .and_then(|it| it.collect::<Result<Vec<_>, _>>());
        drop(st);
        rows.map(Some).map_err(|e| self.err("e2e_fallback_keys_json", e))
    }

    /// The device keys the server advertises for the device (`key_json`), if any.
    pub fn device_keys(&mut self, user: &str, device: &str) -> Result<Option<Option<Value>>, String> {
        if !self.need("e2e_device_keys_json")? {
            return Ok(None);
        }
        let r: Option<String> = self
            .conn
            .query_row("SELECT key_json FROM e2e_device_keys_json WHERE user_id = ?1 AND device_id = ?2", [user, device], |r| r.get(0))
            .optional()
            .map_err(|e| self.err("e2e_device_keys_json", e))?;
        Ok(Some(r.and_then(|s| serde_json::from_str(&s).ok())))
    }

    /// Devices of the user: (device_id, display_name, last_seen ms).
    pub fn devices(&mut self, user: &str) -> Result<Option<Vec<(String, Option<String>, Option<i64>)>>, String> {
        if !self.need("devices")? {
            return Ok(None);
        }
        let mut st = self
            .conn
            .prepare("SELECT device_id, display_name, last_seen FROM devices WHERE user_id = ?1 ORDER BY device_id")
            .map_err(|e| self.err("devices", e))?;
        let rows = st.query_map([user], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).and_then(|it| it.collect::<Result<Vec<_>, _>>());
        drop(st);
        rows.map(Some).map_err(|e| self.err("devices", e))
    }

    /// Queued to-device messages for the device, counted by event type (encrypted ones show as
    /// `m.room.encrypted`: the server cannot see what is inside).
    pub fn inbox_types(&mut self, user: &str, device: &str) -> Result<Option<Vec<(String, u64)>>, String> {
        if !self.need("device_inbox")? {
            return Ok(None);
        }
        let mut st = self
            .conn
            .prepare("SELECT message_json FROM device_inbox WHERE user_id = ?1 AND device_id = ?2 LIMIT 100000")
            .map_err(|e| self.err("device_inbox", e))?;
        let rows = st.query_map([user, device], |r| r.get::<_, String>(0)).and_then(|it| it.collect::<Result<Vec<_>, _>>());
        drop(st);
        let rows = rows.map_err(|e| self.err("device_inbox", e))?;
        let mut counts: Vec<(String, u64)> = Vec::new();
        for m in rows {
            let t = serde_json::from_str::<Value>(&m).ok().and_then(|v| v.get("type").and_then(Value::as_str).map(String::from)).unwrap_or_else(|| "(unreadable)".into());
            match counts.iter_mut().find(|(k, _)| *k == t) {
                Some((_, n)) => *n += 1,
                None => counts.push((t, 1)),
            }
        }
        Ok(Some(counts))
    }

    pub fn event(&mut self, event_id: &str) -> Result<Option<Option<EventRow>>, String> {
        if !self.need("event_json")? {
            return Ok(None);
        }
        let with_events = self.has_table("events")?;
        let sql = if with_events {
            "SELECT e.type, e.sender, j.room_id, j.json FROM event_json j LEFT JOIN events e USING (event_id) WHERE j.event_id = ?1"
        } else {
            "SELECT NULL, NULL, room_id, json FROM event_json WHERE event_id = ?1"
        };
        self.conn
            .query_row(sql, [event_id], |r| Ok(EventRow { event_type: r.get(0)?, sender: r.get(1)?, room_id: r.get(2)?, json: r.get(3)? }))
            .optional()
            .map(Some)
            .map_err(|e| self.err("event_json", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("crypto-health-db-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&d);
        d
    }

    #[test]
    fn refuses_postgres_and_write_modes() {
        assert!(open("postgres://synapse@10.0.0.1/synapse").err().unwrap().contains("PostgreSQL is not supported"));
        assert!(open("file:/x/homeserver.db?mode=rw").err().unwrap().contains("read-only"));
    }

    #[test]
    fn not_synapse_and_missing_tables() {
        let p = tmp("other.db");
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch("CREATE TABLE foo (x INTEGER); INSERT INTO foo VALUES (1);").unwrap();
        }
        let e = open(p.to_str().unwrap()).err().unwrap();
        assert!(e.contains("not a Synapse database"), "{e}");

        // A Synapse-like database lacking some tables: queries report them missing.
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch("CREATE TABLE schema_version (version INTEGER); INSERT INTO schema_version VALUES (94);").unwrap();
        }
        let mut db = open(p.to_str().unwrap()).unwrap();
        assert_eq!(db.schema_version, Some(94));
        assert!(db.one_time_keys("@a:hs", "D").unwrap().is_none());
        assert_eq!(db.missing, vec!["e2e_one_time_keys_json".to_string()]);
        // Read-only for real: a write through the same connection fails.
        assert!(db.conn.execute("INSERT INTO foo VALUES (2)", []).is_err());
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        let p = tmp("garbage.db");
        std::fs::write(&p, b"this is not sqlite at all, just text that is long enough to look like a header").unwrap();
        let e = open(p.to_str().unwrap()).err().unwrap();
        assert!(e.contains("not a readable SQLite database") || e.contains("cannot open"), "{e}");
        std::fs::write(&p, b"").unwrap();
        assert!(open(p.to_str().unwrap()).err().unwrap().contains("empty file"));
        let _ = std::fs::remove_file(&p);
    }
}
