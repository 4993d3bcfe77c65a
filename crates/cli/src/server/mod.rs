//! What the homeserver holds, read only: its database (SQLite or PostgreSQL), its log (streamed,
//! rotated, several files) and a browser's HAR capture of the client's requests.

pub(crate) mod conninfo;
pub(crate) mod db;
pub(crate) mod error;
pub(crate) mod har;
pub(crate) mod log;
pub(crate) mod postgres;
pub(crate) mod sqlite;
