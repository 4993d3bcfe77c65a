//! The SQLite backend: Synapse's `homeserver.db`, opened with `mode=ro` and `PRAGMA query_only`,
//! so nothing can write, whatever the SQL.

use super::db::{Backend, Cell, Param};
use super::error::{DbError, QueryError};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

pub(crate) struct Sqlite {
    conn: Connection,
    path: String,
}

pub(crate) fn open(spec: &str) -> Result<Sqlite, DbError> {
    let path = spec.strip_prefix("file:").unwrap_or(spec);
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    if query.split('&').any(|kv| kv == "mode=rw" || kv == "mode=rwc" || kv == "mode=memory") {
        return Err(DbError::WriteMode { spec: spec.to_string() });
    }
    let failed = |reason: String| DbError::Open { path: path.to_string(), reason };
    let meta = std::fs::metadata(path).map_err(|e| failed(e.to_string()))?;
    if !meta.is_file() {
        return Err(failed("not a file".into()));
    }
    if meta.len() == 0 {
        return Err(failed("empty file, not a SQLite database".into()));
    }
    let uri = format!("file:{}?mode=ro", percent_path(path));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&uri, flags).map_err(|e| failed(format!("cannot open read-only: {e}")))?;
    conn.pragma_update(None, "query_only", "ON").map_err(|e| failed(e.to_string()))?;
    // A query never waits forever on a locked database.
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(|e| failed(e.to_string()))?;
    Ok(Sqlite { conn, path: path.to_string() })
}

/// SQLite URIs need `?` and `#` escaped in the path (and `%` itself).
fn percent_path(p: &str) -> String {
    p.replace('%', "%25").replace('?', "%3f").replace('#', "%23")
}

fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(f) => Cell::Int(f as i64),
        ValueRef::Text(t) | ValueRef::Blob(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
    }
}

/// SQLite's error by kind: `no such table`, a lock held past the busy timeout, the rest.
fn kind(e: rusqlite::Error) -> QueryError {
    let busy = matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked));
    let text = e.to_string();
    if busy {
        QueryError::Timeout(text)
    } else if text.contains("no such table") {
        QueryError::MissingTable(text)
    } else {
        QueryError::Failed(text)
    }
}

impl Backend for Sqlite {
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Vec<Cell>>, QueryError> {
        let mut st = self.conn.prepare(sql).map_err(kind)?;
        for (i, p) in params.iter().enumerate() {
            match p {
                Param::Text(s) => st.raw_bind_parameter(i + 1, s),
                Param::Int(n) => st.raw_bind_parameter(i + 1, n),
            }
            .map_err(kind)?;
        }
        let n = st.column_count();
        let mut rows = st.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(kind)? {
            out.push((0..n).map(|i| r.get_ref(i).map(cell).unwrap_or(Cell::Null)).collect());
        }
        Ok(out)
    }

    fn has_table(&mut self, t: &str) -> Result<bool, DbError> {
        self.conn
            .query_row("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?1", [t], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| DbError::Unreadable { db: self.path.clone(), sqlite: true, source: kind(e) })
    }

    fn label(&self) -> String {
        let name =
            std::path::Path::new(&self.path).file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| self.path.clone());
        format!("db {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::db;
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("crypto-health-db-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&d);
        d
    }

    #[test]
    fn refuses_write_modes() {
        assert!(db::open("file:/x/homeserver.db?mode=rw").err().unwrap().to_string().contains("read-only"));
    }

    #[test]
    fn not_synapse_and_missing_tables() {
        let p = tmp("other.db");
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch("CREATE TABLE foo (x INTEGER); INSERT INTO foo VALUES (1);").unwrap();
        }
        let e = db::open(p.to_str().unwrap()).err().unwrap().to_string();
        assert!(e.contains("not a Synapse database"), "{e}");

        // A Synapse-like database lacking some tables: queries report them missing.
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch("CREATE TABLE schema_version (version INTEGER); INSERT INTO schema_version VALUES (94);").unwrap();
        }
        let mut db = db::open(p.to_str().unwrap()).unwrap();
        assert_eq!(db.schema_version, Some(94));
        assert!(db.one_time_keys("@a:hs", "D").unwrap().is_none());
        assert_eq!(db.missing, vec!["e2e_one_time_keys_json".to_string()]);
        // Read-only for real: a write through the same connection fails.
        assert!(db.backend().query("INSERT INTO foo VALUES (2)", &[]).is_err());
        assert_eq!(db.backend().query("SELECT COUNT(*) FROM foo", &[]).unwrap(), vec![vec![Cell::Int(1)]]);
        // A missing table is told from a failed query, and named in the message.
        assert!(matches!(db.backend().query("SELECT * FROM e2e_one_time_keys_json", &[]), Err(QueryError::MissingTable(_))));
        assert!(matches!(db.backend().query("SELEC 1", &[]), Err(QueryError::Failed(_))));
        let e = DbError::query(&db.label, "e2e_one_time_keys_json", QueryError::MissingTable("no such table: x".into())).to_string();
        assert!(e.contains("query on e2e_one_time_keys_json needs a table this database does not have"), "{e}");
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        let p = tmp("garbage.db");
        std::fs::write(&p, b"this is not sqlite at all, just text that is long enough to look like a header").unwrap();
        let e = db::open(p.to_str().unwrap()).err().unwrap().to_string();
        assert!(e.contains("not a readable SQLite database") || e.contains("cannot open"), "{e}");
        std::fs::write(&p, b"").unwrap();
        assert!(db::open(p.to_str().unwrap()).err().unwrap().to_string().contains("empty file"));
        let _ = std::fs::remove_file(&p);
    }
}
