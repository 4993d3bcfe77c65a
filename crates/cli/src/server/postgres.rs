//! The PostgreSQL backend: a Synapse database on a server, read only.
//!
//! Read only three times over: the session starts with `default_transaction_read_only = on`,
//! every query runs in its own `BEGIN READ ONLY` transaction with a `statement_timeout`, and the
//! transaction is rolled back, never committed. A role that could write still cannot write here.

use super::conninfo::{self, Verify};
use super::db::{Backend, Cell, Param};
use super::error::{DbError, QueryError};
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Row};

/// No triage question may hold the database for longer than this.
pub(crate) const STATEMENT_TIMEOUT_MS: u32 = 30_000;

pub(crate) struct Postgres {
    client: Client,
    label: String,
}

fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s = format!("{s}: {x}");
        src = x.source();
    }
    s
}

/// PostgreSQL's error by kind: SQLSTATE 42P01 (undefined table), 57014 (canceled: the
/// statement timeout), a closed connection, the rest.
fn kind(e: &postgres::Error) -> QueryError {
    let text = describe(e);
    match e.as_db_error().map(|d| d.code().code()) {
        Some(code) => kind_of_sqlstate(code, text),
        None if e.is_closed() => QueryError::Connection(text),
        None => QueryError::Failed(text),
    }
}

fn kind_of_sqlstate(code: &str, text: String) -> QueryError {
    match code {
        "42P01" => QueryError::MissingTable(text),
        "57014" => QueryError::Timeout(text),
        c if c.starts_with("08") => QueryError::Connection(text),
        _ => QueryError::Failed(text),
    }
}

pub(crate) fn open(spec: &str) -> Result<Postgres, DbError> {
    let info = conninfo::resolve(spec)?;
    let label = format!("db postgresql {}", info.label);
    // TLS only where it can happen: never on a unix socket (PostgreSQL does not offer it there),
    // never with sslmode=disable. Building the connector loads the system's CA store.
    let tcp = info.config.get_hosts().iter().any(|h| matches!(h, postgres::config::Host::Tcp(_)));
    let connected = if !tcp || info.config.get_ssl_mode() == postgres::config::SslMode::Disable {
        info.config.connect(NoTls)
    } else {
        info.config.connect(postgres_native_tls::MakeTlsConnector::new(tls_connector(&info)?))
    };
    let refused =
        |e: postgres::Error| DbError::Connect { db: info.label.clone(), password_from: info.password_from, message: describe(&e) };
    let mut client = connected.map_err(refused)?;
    client
        .batch_execute(&format!("SET default_transaction_read_only = on; SET statement_timeout = {STATEMENT_TIMEOUT_MS}"))
        .map_err(|e| DbError::Unreadable { db: info.label.clone(), sqlite: false, source: kind(&e) })?;
    Ok(Postgres { client, label })
}

fn tls_connector(info: &conninfo::ConnInfo) -> Result<native_tls::TlsConnector, DbError> {
    let mut tls = native_tls::TlsConnector::builder();
    match info.verify {
        Verify::None => {
            tls.danger_accept_invalid_certs(true).danger_accept_invalid_hostnames(true);
        }
        Verify::Ca => {
            tls.danger_accept_invalid_hostnames(true);
        }
        Verify::Full => {}
    }
    if let Some(p) = &info.root_cert {
        let pem = std::fs::read(p).map_err(|e| DbError::Config(format!("sslrootcert {}: {e}", p.display())))?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| DbError::Config(format!("sslrootcert {}: {e}", p.display())))?;
        tls.add_root_certificate(cert);
    }
    tls.build().map_err(|e| DbError::Config(format!("TLS setup: {e}")))
}

fn cell(row: &Row, i: usize) -> Cell {
    let ty = row.columns()[i].type_();
    let r = match *ty {
        Type::BOOL => row.try_get::<_, Option<bool>>(i).map(|v| v.map_or(Cell::Null, Cell::Bool)),
        Type::INT2 => row.try_get::<_, Option<i16>>(i).map(|v| v.map_or(Cell::Null, |n| Cell::Int(n.into()))),
        Type::INT4 => row.try_get::<_, Option<i32>>(i).map(|v| v.map_or(Cell::Null, |n| Cell::Int(n.into()))),
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map_or(Cell::Null, Cell::Int)),
        _ => row.try_get::<_, Option<String>>(i).map(|v| v.map_or(Cell::Null, Cell::Text)),
    };
    r.unwrap_or(Cell::Null)
}

impl Postgres {
    /// One statement in a fresh read-only transaction with the timeout, rolled back afterwards.
    fn read_only(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, postgres::Error> {
        let mut tx = self.client.build_transaction().read_only(true).start()?;
        tx.batch_execute(&format!("SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))?;
        let rows = tx.query(sql, params);
        tx.rollback()?;
        rows
    }
}

impl Backend for Postgres {
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Vec<Cell>>, QueryError> {
        let owned: Vec<Box<dyn ToSql + Sync>> = params
            .iter()
            .map(|p| match p {
                Param::Text(s) => Box::new(s.to_string()) as Box<dyn ToSql + Sync>,
                Param::Int(n) => Box::new(*n),
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        let rows = self.read_only(sql, &refs).map_err(|e| kind(&e))?;
        Ok(rows.iter().map(|r| (0..r.len()).map(|i| cell(r, i)).collect()).collect())
    }

    fn has_table(&mut self, t: &str) -> Result<bool, DbError> {
        let rows = self.read_only("SELECT to_regclass($1) IS NOT NULL", &[&t]).map_err(|e| DbError::Unreadable {
            db: self.label.clone(),
            sqlite: false,
            source: kind(&e),
        })?;
        Ok(rows.first().and_then(|r| r.try_get::<_, bool>(0).ok()).unwrap_or(false))
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}

#[cfg(test)]
mod tests {
    //! Against a real PostgreSQL: a private cluster under target/ (scripts/pg-cluster.sh, which
    //! scripts/setup.sh makes possible by installing Debian's `postgresql`).
    use super::super::db::{self, Backend, Cell, Param};
    use super::super::error::{DbError, QueryError};
    use std::path::PathBuf;
    use std::process::Command;

    #[test]
    fn sqlstates_are_sorted_by_kind() {
        let k = |c: &str| super::kind_of_sqlstate(c, c.to_string());
        assert_eq!(k("42P01"), QueryError::MissingTable("42P01".into()));
        assert_eq!(k("57014"), QueryError::Timeout("57014".into()));
        assert_eq!(k("08006"), QueryError::Connection("08006".into()));
        assert_eq!(k("25006"), QueryError::Failed("25006".into()));
        let timeout = DbError::query("db postgresql ro@h:5432/synapse", "device_inbox", k("57014")).to_string();
        assert_eq!(
            timeout,
            "--synapse-db db postgresql ro@h:5432/synapse: query on device_inbox timed out (the database is locked or overloaded): 57014"
        );
    }

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    struct Cluster {
        dir: PathBuf,
        host: String,
        port: String,
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            let _ = Command::new("bash").arg(root().join("scripts/pg-cluster.sh")).arg("stop").arg(&self.dir).status();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn cluster() -> Cluster {
        let dir = root().join("target").join(format!("pg-cli-unit-{}", std::process::id()));
        let o = Command::new("bash").arg(root().join("scripts/pg-cluster.sh")).arg("start").arg(&dir).output().expect("bash");
        assert!(
            o.status.success(),
            "pg-cluster.sh start failed (is PostgreSQL installed? scripts/setup.sh): {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let line = String::from_utf8(o.stdout).unwrap();
        let get = |k: &str| line.split_whitespace().find_map(|kv| kv.strip_prefix(k)).unwrap().to_string();
        Cluster { dir, host: get("PGHOST="), port: get("PGPORT=") }
    }

    fn psql(c: &Cluster, db: &str, sql: &str) {
        let o = Command::new("psql")
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-h", &c.host, "-p", &c.port, "-U", "postgres", "-d", db, "-c", sql])
            .output()
            .expect("psql");
        assert!(o.status.success(), "psql: {}", String::from_utf8_lossy(&o.stderr));
    }

    // Synapse's own column types (synapse/storage/schema/main/full_schemas/72/full.sql.postgres
    // and full.sql.sqlite): booleans, bigint timestamps, text JSON.
    const PG_SCHEMA: &str = "
        CREATE TABLE schema_version (lock character(1) DEFAULT 'X' NOT NULL, version integer NOT NULL, upgraded boolean NOT NULL);
        CREATE TABLE e2e_one_time_keys_json (user_id text NOT NULL, device_id text NOT NULL, algorithm text NOT NULL, key_id text NOT NULL, ts_added_ms bigint NOT NULL, key_json text NOT NULL);
        CREATE TABLE e2e_fallback_keys_json (user_id text NOT NULL, device_id text NOT NULL, algorithm text NOT NULL, key_id text NOT NULL, key_json text NOT NULL, used boolean DEFAULT false NOT NULL);
        CREATE TABLE e2e_device_keys_json (user_id text NOT NULL, device_id text NOT NULL, ts_added_ms bigint NOT NULL, key_json text NOT NULL);
        CREATE TABLE devices (user_id text NOT NULL, device_id text NOT NULL, display_name text, last_seen bigint, ip text, user_agent text, hidden boolean DEFAULT false);
        CREATE TABLE device_inbox (user_id text NOT NULL, device_id text NOT NULL, stream_id bigint NOT NULL, message_json text NOT NULL, instance_name text);
        CREATE TABLE event_json (event_id text NOT NULL, room_id text NOT NULL, internal_metadata text NOT NULL, json text NOT NULL, format_version integer);
        CREATE TABLE events (stream_ordering integer NOT NULL, topological_ordering bigint NOT NULL, event_id text NOT NULL, type text NOT NULL, room_id text NOT NULL, sender text);";
    const SQLITE_SCHEMA: &str = "
        CREATE TABLE schema_version (Lock CHAR(1) NOT NULL DEFAULT 'X' UNIQUE, version INTEGER NOT NULL, upgraded BOOL NOT NULL, CHECK (Lock='X'));
        CREATE TABLE e2e_one_time_keys_json (user_id TEXT NOT NULL, device_id TEXT NOT NULL, algorithm TEXT NOT NULL, key_id TEXT NOT NULL, ts_added_ms BIGINT NOT NULL, key_json TEXT NOT NULL);
        CREATE TABLE e2e_fallback_keys_json (user_id TEXT NOT NULL, device_id TEXT NOT NULL, algorithm TEXT NOT NULL, key_id TEXT NOT NULL, key_json TEXT NOT NULL, used BOOLEAN NOT NULL DEFAULT FALSE);
        CREATE TABLE e2e_device_keys_json (user_id TEXT NOT NULL, device_id TEXT NOT NULL, ts_added_ms BIGINT NOT NULL, key_json TEXT NOT NULL);
        CREATE TABLE devices (user_id TEXT NOT NULL, device_id TEXT NOT NULL, display_name TEXT, last_seen BIGINT, ip TEXT, user_agent TEXT, hidden BOOLEAN DEFAULT 0);
        CREATE TABLE device_inbox (user_id TEXT NOT NULL, device_id TEXT NOT NULL, stream_id BIGINT NOT NULL, message_json TEXT NOT NULL, instance_name TEXT);
        CREATE TABLE event_json (event_id TEXT NOT NULL, room_id TEXT NOT NULL, internal_metadata TEXT NOT NULL, json TEXT NOT NULL, format_version INTEGER);
        CREATE TABLE events (stream_ordering INTEGER NOT NULL, topological_ordering BIGINT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, room_id TEXT NOT NULL, sender TEXT);";
    // Booleans as each backend writes them: `true`/`false` on PostgreSQL, 1/0 on SQLite.
    fn data(t: &str, f: &str) -> String {
        format!(
            r#"INSERT INTO schema_version VALUES ('X', 92, {f});
            INSERT INTO e2e_one_time_keys_json VALUES ('@a:hs', 'DEV', 'signed_curve25519', 'AAAAAAAAAA0', 1795294148548, '{{"key":"OLD","signatures":{{"@a:hs":{{"ed25519:DEV":"s1"}}}}}}');
            INSERT INTO e2e_one_time_keys_json VALUES ('@a:hs', 'DEV', 'signed_curve25519', 'AAAAAAAAAA4', 1795294148549, '{{"key":"K4"}}');
            INSERT INTO e2e_fallback_keys_json VALUES ('@a:hs', 'DEV', 'signed_curve25519', 'AAAAAAAAAAE', '{{"key":"F"}}', {t});
            INSERT INTO e2e_fallback_keys_json VALUES ('@b:hs', 'DEV2', 'signed_curve25519', 'AAAAAAAAAAA', '{{"key":"F2"}}', {f});
            INSERT INTO e2e_device_keys_json VALUES ('@a:hs', 'DEV', 1, '{{"keys":{{"ed25519:DEV":"ED"}}}}');
            INSERT INTO e2e_device_keys_json VALUES ('@b:hs', 'DEV2', 1, '{{"keys":{{}}}}');
            INSERT INTO devices VALUES ('@a:hs', 'DEV', 'Firefox', 1795294148000, NULL, NULL, {f});
            INSERT INTO devices VALUES ('@b:hs', 'DEV2', NULL, NULL, NULL, NULL, {f});
            INSERT INTO device_inbox VALUES ('@a:hs', 'DEV', 5, '{{"type":"m.room.encrypted"}}', 'master');
            INSERT INTO device_inbox VALUES ('@a:hs', 'DEV', 6, '{{"type":"io.element.call.encryption_keys"}}', 'master');
            INSERT INTO device_inbox VALUES ('@b:hs', 'DEV2', 7, 'not json', NULL);
            INSERT INTO event_json VALUES ('$ev1', '!r:hs', '{{}}', '{{"type":"m.room.encrypted","content":{{}}}}', 3);
            INSERT INTO events VALUES (1, 1, '$ev1', 'm.room.encrypted', '!r:hs', '@b:hs');"#
        )
    }

    /// Every query of db.rs, on one database, as comparable text.
    fn answers(spec: &str) -> Vec<String> {
        let mut d = db::open(spec).unwrap();
        vec![
            format!("{:?}", d.schema_version),
            format!("{:?}", d.one_time_keys("@a:hs", "DEV").unwrap()),
            format!("{:?}", d.one_time_key("@a:hs", "DEV", "signed_curve25519", "AAAAAAAAAA0").unwrap()),
            format!("{:?}", d.one_time_key("@a:hs", "DEV", "signed_curve25519", "nope").unwrap()),
            format!("{:?}", d.fallback_keys("@a:hs", "DEV").unwrap()),
            format!("{:?}", d.device_keys("@a:hs", "DEV").unwrap()),
            format!("{:?}", d.devices("@a:hs").unwrap()),
            format!("{:?}", d.inbox_types("@a:hs", "DEV").unwrap()),
            format!("{:?}", d.inbox_types("@b:hs", "DEV2").unwrap()),
            format!("{:?}", d.event("$ev1").unwrap()),
            format!("{:?}", d.low_otk_devices(0).unwrap()),
            format!("{:?}", d.low_otk_devices(5).unwrap()),
            format!("{:?}", d.backlogs(1).unwrap()),
            format!("{:?}", d.missing),
        ]
    }

    #[test]
    fn postgres_answers_like_sqlite_and_never_writes() {
        let c = cluster();
        psql(&c, "postgres", "DROP DATABASE IF EXISTS unit");
        psql(&c, "postgres", "CREATE DATABASE unit ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0");
        psql(&c, "unit", PG_SCHEMA);
        psql(&c, "unit", &data("true", "false"));
        let lite = c.dir.join("unit.db");
        let _ = std::fs::remove_file(&lite);
        rusqlite::Connection::open(&lite).unwrap().execute_batch(&format!("{SQLITE_SCHEMA}{}", data("1", "0"))).unwrap();

        // The superuser can write anything: the connection still never does.
        let spec = format!("host={} port={} user=postgres dbname=unit", c.host, c.port);
        let pg = answers(&spec);
        assert_eq!(pg, answers(lite.to_str().unwrap()), "the two backends must answer alike");
        assert!(pg[1].contains("AAAAAAAAAA0") && pg[1].contains("Some(1795294148548)"), "{}", pg[1]);
        assert!(pg[4].contains("used: true"), "a PostgreSQL boolean: {}", pg[4]);
        assert!(
            pg[11].contains("@b:hs") && pg[11].contains("fallback_used: Some(false)") && !pg[10].contains("@a:hs"),
            "{} / {}",
            pg[10],
            pg[11]
        );

        let mut be = super::open(&spec).unwrap();
        for write in [
            "INSERT INTO e2e_one_time_keys_json VALUES ('@x:hs', 'X', 'a', 'b', 1, '{}')",
            "DELETE FROM e2e_one_time_keys_json",
            "CREATE TABLE t (x int)",
            "SELECT set_config('default_transaction_read_only', 'off', false), nextval('nope')",
        ] {
            let e = be.query(write, &[]).err().unwrap_or_else(|| panic!("a write went through: {write}")).to_string();
            assert!(e.contains("read-only transaction") || e.contains("does not exist"), "{write}: {e}");
        }
        // Even after a session-level switch, each query runs in its own READ ONLY transaction.
        let _ = be.query("SELECT set_config('default_transaction_read_only', 'off', false)", &[]);
        let e = be.query("INSERT INTO devices (user_id, device_id) VALUES ('@x:hs', 'X')", &[]).err().unwrap().to_string();
        assert!(e.contains("25006") && e.contains("read-only transaction"), "{e}");
        // Two statements in one query are refused by the protocol, not run.
        assert!(be.query("SELECT 1; DELETE FROM devices", &[]).is_err());
        assert_eq!(be.query("SELECT COUNT(*) FROM devices", &[]).unwrap(), vec![vec![Cell::Int(2)]]);
        assert_eq!(be.query("SHOW statement_timeout", &[]).unwrap(), vec![vec![Cell::Text("30s".into())]]);
        assert_eq!(be.query("SELECT current_setting('transaction_read_only')", &[]).unwrap(), vec![vec![Cell::Text("on".into())]]);
        assert_eq!(
            be.query("SELECT CAST($1 AS BIGINT) + 1, $2", &[Param::Int(41), Param::Text("t")]).unwrap(),
            vec![vec![Cell::Int(42), Cell::Text("t".into())]]
        );

        // Over 127.0.0.1 with a password (scram-sha-256): from the password file, never printed.
        psql(&c, "postgres", "ALTER ROLE synapse PASSWORD 'pw-from-pgpass'");
        psql(&c, "unit", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO synapse");
        let pgpass = c.dir.join("pgpass");
        std::fs::write(&pgpass, format!("127.0.0.1:{}:unit:synapse:pw-from-pgpass\n", c.port)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::env::set_var("PGPASSFILE", &pgpass);
        let url = format!("postgresql://synapse@127.0.0.1:{}/unit?sslmode=prefer", c.port);
        let d = db::open(&url).unwrap();
        assert_eq!(d.label, format!("db postgresql synapse@127.0.0.1:{}/unit", c.port));
        assert_eq!(d.schema_version, Some(92));
        // PGPASSWORD comes before the password file, as in libpq (a wrong one fails, a right one logs in).
        std::env::set_var("PGPASSWORD", "wrong-from-env");
        let e = db::open(&url).err().unwrap().to_string();
        assert!(e.contains("(password from PGPASSWORD)") && e.contains("28P01") && !e.contains("wrong-from-env"), "{e}");
        std::env::set_var("PGPASSWORD", "pw-from-pgpass");
        assert!(db::open(&url).is_ok());
        std::env::remove_var("PGPASSWORD");
        // A world-readable password file is ignored, as libpq does: the login then fails, clearly.
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = db::open(&url).err().unwrap().to_string();
        std::env::remove_var("PGPASSFILE");
        assert!(e.contains("cannot connect") && !e.contains("pw-from-pgpass"), "{e}");
        // A wrong password is named as such, and not echoed.
        let e = db::open(&format!("postgresql://synapse:wrong-pw@127.0.0.1:{}/unit", c.port)).err().unwrap().to_string();
        assert!(e.contains("28P01") && !e.contains("wrong-pw"), "{e}");
        // Error kinds: a missing table is told from a failed query, a refused login from both.
        assert!(matches!(be.query("SELECT * FROM no_such_table", &[]), Err(QueryError::MissingTable(_))));
        assert!(matches!(be.query("SELECT nope()", &[]), Err(QueryError::Failed(_))));
        let refused = db::open(&format!("postgresql://synapse:wrong-pw@127.0.0.1:{}/unit", c.port)).err().unwrap();
        assert!(matches!(refused, DbError::Connect { password_from: Some("the connection string"), .. }), "{refused}");
        drop(d);
        drop(be);
    }
}
