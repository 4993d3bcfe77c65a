//! The PostgreSQL backend: a Synapse database on a server, read only.
//!
//! Read only three times over: the session starts with `default_transaction_read_only = on`,
//! every query runs in its own `BEGIN READ ONLY` transaction with a `statement_timeout`, and the
//! transaction is rolled back, never committed. A role that could write still cannot write here.

use super::conninfo::{self, Verify};
use super::db::{Backend, Cell, Param};
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Row};

/// No triage question may hold the database for longer than this.
pub const STATEMENT_TIMEOUT_MS: u32 = 30_000;

pub struct Postgres {
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

pub fn open(spec: &str) -> Result<Postgres, String> {
    let info = conninfo::resolve(spec)?;
    let label = format!("db postgresql {}", info.label);
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
        let pem = std::fs::read(p).map_err(|e| format!("--synapse-db: sslrootcert {}: {e}", p.display()))?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| format!("--synapse-db: sslrootcert {}: {e}", p.display()))?;
        tls.add_root_certificate(cert);
    }
    let tls = tls.build().map_err(|e| format!("--synapse-db: TLS setup: {e}"))?;
    let connected = match info.config.get_ssl_mode() {
        postgres::config::SslMode::Disable => info.config.connect(NoTls),
        _ => info.config.connect(postgres_native_tls::MakeTlsConnector::new(tls)),
    };
    let mut client = connected.map_err(|e| {
        let pw = info.password_from.map(|f| format!(" (password from {f})")).unwrap_or_default();
        format!("--synapse-db {}: cannot connect{pw}: {}", info.label, describe(&e))
    })?;
    client
        .batch_execute(&format!("SET default_transaction_read_only = on; SET statement_timeout = {STATEMENT_TIMEOUT_MS}"))
        .map_err(|e| format!("--synapse-db {}: {}", info.label, describe(&e)))?;
    Ok(Postgres { client, label })
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
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Vec<Cell>>, String> {
        let owned: Vec<Box<dyn ToSql + Sync>> = params
            .iter()
            .map(|p| match p {
                Param::Text(s) => Box::new(s.to_string()) as Box<dyn ToSql + Sync>,
                Param::Int(n) => Box::new(*n),
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        let rows = self.read_only(sql, &refs).map_err(|e| describe(&e))?;
        Ok(rows.iter().map(|r| (0..r.len()).map(|i| cell(r, i)).collect()).collect())
    }

    fn has_table(&mut self, t: &str) -> Result<bool, String> {
        let rows = self.read_only("SELECT to_regclass($1) IS NOT NULL", &[&t]).map_err(|e| format!("--synapse-db {}: {}", self.label, describe(&e)))?;
        Ok(rows.first().and_then(|r| r.try_get::<_, bool>(0).ok()).unwrap_or(false))
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}
