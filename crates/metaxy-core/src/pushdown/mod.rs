//! Running a resolve inside a backend's SQL engine (the *versioning pushdown*).
//!
//! A backend with a query engine (DuckDB, PostgreSQL) can compute the expected provenance of
//! every sample, compare it with the stored provenance and send back **only the increment**:
//! the new and stale samples with the columns the increment carries, and the stored rows of
//! the stale and orphaned ones. The core then runs its ordinary comparison over these few rows,
//! so the increment is built by the same code on both paths and only the hashing, the joins and
//! the "unchanged" filter move into the database.
//!
//! The store compiles the resolve to SQL ([`query`]) through the backend's [`SqlPushdown`]
//! dialect and only when the plan has a shape the SQL covers (see [`query::compile`]): 1:1
//! dependencies, every table present in this store, no staleness predicates or target
//! filters, and a hash algorithm the backend lists in
//! [`Capabilities::pushdown_hash_algorithms`](crate::Capabilities). Anything else runs in the
//! core engine, with identical results; the conformance suite runs pushdown backends both ways.

pub mod query;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Schema, SchemaRef};
use async_trait::async_trait;

use crate::error::Result;
use crate::filter::{Expr, Scalar};
use crate::hash::HashAlgorithm;
use crate::key::FeatureKey;

pub use query::{CompiledResolve, compile};

/// The SQL dialect and query runner of a backend that can run a resolve itself.
///
/// Every method that renders SQL receives the parameter list and must bind values through it
/// (never splice a value into the text); identifiers are quoted by [`SqlPushdown::quote`].
#[async_trait]
pub trait SqlPushdown: Send + Sync {
    /// Quotes an identifier (embedded quote characters doubled).
    fn quote(&self, ident: &str) -> String;

    /// The (quoted, possibly schema-qualified) table of a feature.
    fn table(&self, key: &FeatureKey) -> String;

    /// A text parameter: appends `value` to `params` and returns its typed placeholder
    /// (e.g. `CAST(? AS VARCHAR)`, `$3::text`).
    fn text_param(&self, value: &str, params: &mut Vec<Scalar>) -> String;

    /// Field `key` of a `*_by_field` column, as text (`NULL` when absent).
    fn struct_field(&self, column: &str, key: &str, params: &mut Vec<Scalar>) -> String;

    /// The rendered hash of a text expression (`NULL` in, `NULL` out), untruncated, exactly as
    /// [`HashAlgorithm::hash_str`] renders it.
    fn hash(&self, algorithm: HashAlgorithm, preimage: &str) -> String;

    /// A descending sort key on a text column that compares bytes, NULLs last.
    fn text_desc(&self, column: &str) -> String {
        format!("{column} DESC NULLS LAST")
    }

    /// A filter over a relation with `schema`'s columns as SQL, or `None` when this dialect
    /// cannot express it exactly (the resolve then runs in the core engine).
    fn filter(&self, expr: &Expr, schema: &Schema, params: &mut Vec<Scalar>) -> Option<String>;

    /// The select expression that returns a column of Arrow type `t` in the form
    /// [`SqlPushdown::query`] decodes (the identity by default).
    fn output(&self, column: &str, t: &DataType) -> String {
        let _ = t;
        column.to_string()
    }

    /// Runs a compiled query and returns its rows with columns converted to `schema`'s types
    /// (the types a scan of the same columns would return).
    async fn query(&self, sql: &str, params: Vec<Scalar>, schema: SchemaRef)
    -> Result<RecordBatch>;
}

/// Counters a pushdown backend keeps: how many resolves ran in its engine and how many rows
/// they sent back (diagnostics for tests and benchmarks: proof that a resolve was pushed down
/// and that only the increment crossed the boundary).
#[derive(Debug, Default)]
pub struct PushdownStats {
    queries: std::sync::atomic::AtomicU64,
    rows: std::sync::atomic::AtomicU64,
}

impl PushdownStats {
    /// Records one pushed-down resolve that returned `rows` rows.
    pub fn record(&self, rows: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.queries.fetch_add(1, Relaxed);
        self.rows.fetch_add(rows as u64, Relaxed);
    }

    /// Resolves run in the backend's engine so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Rows those resolves returned so far.
    pub fn rows(&self) -> u64 {
        self.rows.load(std::sync::atomic::Ordering::Relaxed)
    }
}
