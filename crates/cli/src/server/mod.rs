//! What the homeserver holds, read only: its database (SQLite or PostgreSQL), its log (streamed,
//! rotated, several files) and a browser's HAR capture of the client's requests.

pub mod conninfo;
pub mod db;
pub mod error;
pub mod har;
pub mod log;
pub mod postgres;
pub mod sqlite;
