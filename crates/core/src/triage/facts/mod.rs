//! The facts triage decides on, one type per source. The CLI gathers them (files, the database);
//! the decisions in [`super`] only read them.

pub mod db;
pub mod har;
pub mod log;
pub mod report;

pub use db::{DbFacts, DeviceRow, EventRow, FallbackRow, OtkRow, PeerDevice};
pub use har::{Call, Har, Upload};
pub use log::{Access, Conflict, Loc, SynapseLog, Uploads};
pub use report::{ReportFacts, Sighting, Undecryptable, UndecryptablePeer, UnreachablePeer};
