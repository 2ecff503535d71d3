//! # metaxy-duckdb
//!
//! The DuckDB backend of metaxy-rs: the embedded store a user gets without configuring
//! anything — one file next to the project, Arrow in and out, and no network access ever
//! (DuckDB's `parquet` and `json` extensions are compiled in and extension autoloading is off).
//!
//! * One table per feature, named as Metaxy names it (`example/video` → `example__video`);
//!   `*_by_field` columns are native `STRUCT` columns; timestamps are `TIMESTAMPTZ`.
//! * Appends go through DuckDB's Arrow appender in one transaction per write (a failed write
//!   leaves nothing behind); new columns and new struct fields are added on the fly.
//! * Scans push filters (with bound parameters) and projections into DuckDB and run on a
//!   connection of their own (so a resolve's reads overlap). Rows are copied straight out of
//!   DuckDB's vectors on its own worker threads by a registered Rust function (`collect`), not
//!   through DuckDB's Arrow export; tables with column types it does not copy are read
//!   through Arrow, streamed, a large one as several row-id ranges at once.
//! * A read that keeps the latest row per sample of a large table rewritten by later appends
//!   reads it in two passes (`latest`): ids and timestamps of every row, then the other
//!   columns of the winners' row-id ranges only, in one transaction; when the newest write
//!   rewrote every sample, its row-id range alone, checked as it is read.
//! * With `pushdown = true` resolves run inside DuckDB when their plan allows (the versioning
//!   pushdown): metaxy's hash functions are registered from Rust on every connection
//!   (`metaxy_hash_xxhash64(text)`, ...), nothing is installed or downloaded, and only the
//!   increment leaves the database. Off by default: the core engine is faster on the
//!   benchmark; the pushdown uses less memory.
//! * Read mode opens the file read-only (many readers); write mode takes DuckDB's exclusive
//!   lock, and a second writer gets a clear error naming the file and the lock holder.
//!
//! ```
//! use std::sync::Arc;
//! use metaxy_core::{FeatureGraph, MetadataStore};
//! use metaxy_duckdb::DuckDbBackend;
//!
//! let store = MetadataStore::new(Arc::new(DuckDbBackend::file(".metaxy/metadata.duckdb")), FeatureGraph::new([])?);
//! # Ok::<(), metaxy_core::Error>(())
//! ```

mod backend;
mod collect;
mod config;
mod latest;
mod pushdown;
mod registry;
mod sql;

pub use backend::DuckDbBackend;
pub use config::DuckDbConfig;
pub use registry::{TYPE_NAMES, register};
