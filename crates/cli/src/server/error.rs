//! What can go wrong reading the server's evidence, typed: the caller (and a test) can tell a
//! refused connection from a missing table, a failed query from a timeout, and every message
//! names the input (`--synapse-db …`, `--synapse-log …`, `--har …`) and never a password.

use thiserror::Error;

/// What a database backend says about one statement, by kind, with its own words.
#[derive(Debug, Error, PartialEq)]
pub(crate) enum QueryError {
    /// The statement names a table or view the database does not have.
    #[error("{0}")]
    MissingTable(String),
    /// The statement ran out of time (PostgreSQL's statement_timeout, SQLite's busy timeout).
    #[error("{0}")]
    Timeout(String),
    /// The connection broke while the statement ran.
    #[error("{0}")]
    Connection(String),
    /// Any other failure (syntax, types, a write refused by the read-only transaction).
    #[error("{0}")]
    Failed(String),
}

/// Opening or querying Synapse's database (`--synapse-db`).
#[derive(Debug, Error)]
pub(crate) enum DbError {
    /// The spec asks SQLite for a mode that could write.
    #[error("--synapse-db: refusing `{spec}`: triage only ever opens the database read-only")]
    WriteMode {
        /// The spec as given.
        spec: String,
    },
    /// The connection string, the environment or the TLS setup is unusable.
    #[error("--synapse-db: {0}")]
    Config(String),
    /// The SQLite file cannot be opened (missing, not a file, empty, not SQLite).
    #[error("--synapse-db {path}: {reason}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The server refused or could not be reached.
    #[error("--synapse-db {db}: cannot connect{}: {message}", password_from.map(|f| format!(" (password from {f})")).unwrap_or_default())]
    Connect {
        /// `user@host:port/dbname`.
        db: String,
        /// Where the password came from, when one was used (never the password).
        password_from: Option<&'static str>,
        /// The server's or driver's words.
        message: String,
    },
    /// The database answers, but is not Synapse's.
    #[error("--synapse-db {db}: not a Synapse database (no `schema_version` or `e2e_one_time_keys_json` table)")]
    NotSynapse {
        /// How the database is named.
        db: String,
    },
    /// Asking whether a table exists failed: the file or server cannot be read.
    #[error("--synapse-db {db}: {}{source}", if *sqlite { "not a readable SQLite database: " } else { "" })]
    Unreadable {
        /// How the database is named.
        db: String,
        /// Whether it is a SQLite file (the message says so).
        sqlite: bool,
        /// The backend's words.
        source: QueryError,
    },
    /// A query needed a table this database does not have (found missing only when it ran).
    #[error(
        "--synapse-db {db}: query on {table} needs a table this database does not have (schema differs from Synapse 1.16x?): {source}"
    )]
    MissingTable {
        /// How the database is named.
        db: String,
        /// The table the query reads.
        table: String,
        /// The backend's words.
        source: QueryError,
    },
    /// A query ran out of time.
    #[error("--synapse-db {db}: query on {table} timed out (the database is locked or overloaded): {source}")]
    Timeout {
        /// How the database is named.
        db: String,
        /// The table the query reads.
        table: String,
        /// The backend's words.
        source: QueryError,
    },
    /// A query failed otherwise.
    #[error("--synapse-db {db}: query on {table} failed (schema differs from Synapse 1.16x?): {source}")]
    Query {
        /// How the database is named.
        db: String,
        /// The table the query reads.
        table: String,
        /// The backend's words.
        source: QueryError,
    },
}

impl DbError {
    /// A failed query on `table`, by the kind the backend gave.
    pub(crate) fn query(db: &str, table: &str, source: QueryError) -> Self {
        let (db, table) = (db.to_string(), table.to_string());
        match source {
            QueryError::MissingTable(_) => DbError::MissingTable { db, table, source },
            QueryError::Timeout(_) => DbError::Timeout { db, table, source },
            QueryError::Connection(_) | QueryError::Failed(_) => DbError::Query { db, table, source },
        }
    }
}

/// Reading Synapse's log files (`--synapse-log`).
#[derive(Debug, Error)]
pub(crate) enum LogError {
    /// The file cannot be opened or read.
    #[error("--synapse-log {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The system's words.
        source: std::io::Error,
    },
    /// The file has lines, but none in Synapse's format.
    #[error("--synapse-log {path}: no Synapse log line in {lines} lines (expected `YYYY-MM-DD HH:MM:SS,mmm - logger - line - LEVEL - request - message`)")]
    NotSynapse {
        /// The file.
        path: String,
        /// Lines read.
        lines: usize,
    },
}

/// Reading a HAR capture (`--har`).
#[derive(Debug, Error)]
pub(crate) enum HarError {
    /// The file cannot be opened.
    #[error("--har {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The system's words.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("--har {path}: not JSON ({source})")]
    NotJson {
        /// The file.
        path: String,
        /// The parser's words.
        source: serde_json::Error,
    },
    /// JSON, but not a HAR.
    #[error("--har {path}: not a HAR file (no log.entries)")]
    NotHar {
        /// The file.
        path: String,
    },
}
