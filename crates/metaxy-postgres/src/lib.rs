//! # metaxy-postgres
//!
//! The PostgreSQL backend of metaxy-rs: the shared, remote store every worker and every
//! orchestrator run can reach.
//!
//! * One table per feature in a configurable schema, with Metaxy's names; `*_by_field` structs
//!   (and any nested column) are `JSONB`; the exact Arrow type of every column is kept in a
//!   catalog table, so a scan returns what was written (including `UInt64` ids).
//! * Appends stream CSV through `COPY ... FROM STDIN` inside one transaction per write.
//! * Filters are rendered with bound parameters (`$1`, `$2`, ...), never spliced values;
//!   every identifier is quoted.
//! * Concurrent writers (processes or pool connections) are serialised per table by a
//!   transaction-scoped advisory lock while they change the schema and append.
//! * The password is never printed: displays mask it.
//! * Versioning pushdown: with `md5` or `sha256` hashing, a resolve runs inside PostgreSQL and
//!   sends back only the increment (`pushdown = false` turns it off); xxhash32, xxhash64 and
//!   wyhash, which PostgreSQL lacks, run in the core engine over the scanned id and version
//!   columns. Both paths give identical results.

mod backend;
mod config;
mod copy;
mod pushdown;
mod registry;
mod sql;
mod testing;
mod types;

pub use backend::PostgresBackend;
pub use config::{PostgresConfig, mask};
pub use registry::{TYPE_NAMES, register};
pub use testing::TemporarySchemas;
