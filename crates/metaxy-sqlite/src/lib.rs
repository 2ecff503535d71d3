//! # metaxy-sqlite
//!
//! The SQLite backend of metaxy-rs: a single-file store with no server, safe with several
//! processes, for small pipelines and test suites.
//!
//! * One table per feature with Metaxy's names; `*_by_field` structs (and any nested column)
//!   are stored as JSON text and come back as Arrow structs. The exact Arrow type of every
//!   column is kept in a catalog table, so a scan returns what was written.
//! * Each write is one `BEGIN IMMEDIATE` transaction: a failed write leaves nothing behind.
//! * WAL mode and a busy timeout (`busy_timeout_ms`, default 30 s): readers never block the
//!   writer, and concurrent writers from several processes wait for each other instead of
//!   failing with "database is locked".
//! * Filters run inside SQLite with bound parameters, rewritten onto the stored values
//!   (timestamps as microseconds, booleans as 0/1); what SQLite cannot evaluate exactly
//!   (struct fields, JSON columns, UInt64 above `i64::MAX`) is evaluated by the core.
//! * Every call runs on a blocking thread, never on the async runtime.
//! * Versioning runs in the core engine over the scanned id and version columns.

mod backend;
mod config;
mod convert;
mod registry;
mod sql;
mod types;

pub use backend::SqliteBackend;
pub use config::SqliteConfig;
pub use registry::{TYPE_NAMES, register};
