//! The storage trait a backend implements, and the in-memory reference backend.
//!
//! A [`Backend`] knows nothing about versioning: it stores Arrow batches in named tables and
//! reads them back. Everything Metaxy-specific (system columns, latest-row dedup, soft
//! deletes, the increment) lives once in [`MetadataStore`](crate::store::MetadataStore).
//!
//! ## Contract
//!
//! * **Tables** hold one feature each. Methods receive the feature's key; SQL backends name
//!   the table [`FeatureKey::table_name`] (`example/video` → `example__video`), a lakehouse
//!   backend may lay keys out as paths (`example/video.delta`). A table exists from its first
//!   append until it is dropped, even when it holds no rows.
//! * **Appends** never rewrite existing rows. Schemas merge by column name: a column missing
//!   from a batch reads back as NULL, a new column is added (NULL for older rows), and a
//!   struct column may gain fields.
//! * **Scans** return exactly the rows matching the request's filter (a backend that cannot
//!   push a filter down evaluates it with [`Expr::filter`](crate::filter::Expr::filter)) and
//!   exactly the requested columns that the table has, in the requested order.
//!   [`Backend::scan_parts`] returns the same rows as the pieces the backend holds them in.
//! * Struct columns (`*_by_field`) come back as Arrow `Struct` of `Utf8`, whatever the storage
//!   representation (JSON text in SQLite, JSONB in PostgreSQL).
//! * Timestamps come back as `Timestamp(Microsecond, "UTC")`.

mod memory;

use std::fmt::Debug;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use async_trait::async_trait;

pub use crate::store::latest_rows;
pub use memory::MemoryBackend;

use crate::error::Result;
use crate::filter::Expr;
use crate::hash::HashAlgorithm;
use crate::key::FeatureKey;
use crate::pushdown::SqlPushdown;

/// How a store is opened: shared reading or exclusive writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessMode {
    /// Reads only; backends that can open read-only do (several readers at once).
    Read,
    /// Reads and writes; backends with a single-writer lock take it.
    Write,
}

/// What a backend can do beyond the required verbs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Whether `scan` evaluates filters inside the storage engine (else it filters in memory).
    pub filter_pushdown: bool,
    /// Whether `scan` reads only the requested columns from storage.
    pub projection_pushdown: bool,
    /// Whether several processes may write at once.
    pub concurrent_writers: bool,
    /// Hash algorithms the backend's resolve pushdown ([`Backend::sql_pushdown`]) can compute
    /// (empty: every resolve runs in the core engine).
    pub pushdown_hash_algorithms: Vec<HashAlgorithm>,
}

/// What to read from a table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScanRequest {
    /// Columns to return, in order (`None`: all). Requested columns the table lacks are
    /// skipped.
    pub columns: Option<Vec<String>>,
    /// Only rows for which this is true.
    pub filter: Option<Expr>,
    /// A hint: the caller keeps only the latest row of each sample identified by these
    /// columns (keep-latest by `coalesce(metaxy_deleted_at, metaxy_updated_at)`), so a
    /// backend may leave out rows that another row of their sample certainly supersedes.
    /// Ignoring it is always correct. A backend that reads wide columns expensively can read
    /// the narrow ones first, find the winners with [`latest_rows`], and read the wide
    /// columns of those rows only (DuckDB does, for a table rewritten by later appends).
    pub latest_of: Option<Vec<String>>,
}

impl ScanRequest {
    /// Every column of every row.
    pub fn all() -> Self {
        Self::default()
    }

    /// The columns a backend must read to evaluate the filter itself and then project.
    pub fn columns_with_filter(&self) -> Option<Vec<String>> {
        let mut cols = self.columns.clone()?;
        if let Some(f) = &self.filter {
            for c in f.columns() {
                if !cols.contains(&c) {
                    cols.push(c);
                }
            }
        }
        Some(cols)
    }
}

/// The storage verbs a metaxy backend implements (object safe: stores hold
/// `Arc<dyn Backend>`). See the module docs for the contract every method follows.
#[async_trait]
pub trait Backend: Send + Sync + Debug {
    /// The backend's type name as used in config (`memory`, `duckdb`, ...).
    fn kind(&self) -> &'static str;

    /// A human-readable description for messages, e.g. `DuckDB(path=/data/meta.duckdb)`.
    /// Never contains credentials.
    fn display(&self) -> String;

    /// What the backend supports.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// Opens connections. Called once when a store is first opened; `mode` is the outermost
    /// mode. A backend that takes a writer lock reports a held lock as a clear error.
    async fn open(&self, mode: AccessMode) -> Result<()>;

    /// Releases connections and locks. Called when the last open of a store ends.
    fn close(&self);

    /// Whether the feature's table exists.
    async fn table_exists(&self, key: &FeatureKey) -> Result<bool>;

    /// The [`FeatureKey::table_name`] of every table.
    async fn list_tables(&self) -> Result<Vec<String>>;

    /// The table's Arrow schema (after conversion to metaxy's types), or `None` if missing.
    async fn table_schema(&self, key: &FeatureKey) -> Result<Option<SchemaRef>>;

    /// Appends the rows of `batch`, creating the table from the batch's schema when it does
    /// not exist (or failing with a clear error when `create` is false).
    async fn append(&self, key: &FeatureKey, batch: RecordBatch, create: bool) -> Result<()>;

    /// Reads rows, or `None` when the table does not exist.
    async fn scan(&self, key: &FeatureKey, request: &ScanRequest) -> Result<Option<RecordBatch>>;

    /// Reads rows like [`scan`](Backend::scan), as the pieces the backend holds or produces
    /// them in (appends, result chunks) instead of one concatenated batch: the store
    /// deduplicates across the pieces and copies only the rows it keeps. Every part has the
    /// same schema, and there is at least one (an empty batch when no row matches). The
    /// default returns `scan`'s batch as the only part.
    async fn scan_parts(
        &self,
        key: &FeatureKey,
        request: &ScanRequest,
    ) -> Result<Option<Vec<RecordBatch>>> {
        Ok(self.scan(key, request).await?.map(|b| vec![b]))
    }

    /// The backend's SQL engine, when it can run a whole resolve itself (see
    /// [`pushdown`](crate::pushdown)); `None` (the default) keeps every resolve in the core
    /// engine. Only consulted for the algorithms in
    /// [`Capabilities::pushdown_hash_algorithms`].
    fn sql_pushdown(&self) -> Option<&dyn SqlPushdown> {
        None
    }

    /// Physically deletes the rows matching `filter` (every row when `None`) and returns how
    /// many were deleted. A missing table deletes nothing.
    async fn delete(&self, key: &FeatureKey, filter: Option<&Expr>) -> Result<u64>;

    /// Drops the table and its data. A missing table is not an error.
    async fn drop_table(&self, key: &FeatureKey) -> Result<()>;
}
