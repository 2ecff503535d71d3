//! The versioning pushdown on DuckDB: metaxy's hash functions registered from Rust as DuckDB
//! scalar functions, and the [`SqlPushdown`] dialect the core compiles a resolve into.
//!
//! The hash functions call the core's own kernel ([`metaxy_core::engine::hash_strings`]), so a
//! resolve inside DuckDB hashes bit for bit like the core engine, for every algorithm; nothing
//! is installed or downloaded.

use std::error::Error as StdError;
use std::sync::Arc;

use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Schema, SchemaRef};
use async_trait::async_trait;
use duckdb::Connection;
use duckdb::vscalar::{ArrowFunctionSignature, VArrowScalar};
use metaxy_core::filter::Scalar;
use metaxy_core::pushdown::SqlPushdown;
use metaxy_core::{Expr, FeatureKey, HashAlgorithm, Result, batches};

use crate::backend::{DuckDbBackend, db_err, query};
use crate::sql;

/// The SQL name of the hash function for `algorithm`.
pub(crate) fn function_name(algorithm: HashAlgorithm) -> String {
    format!("metaxy_hash_{}", algorithm.as_str())
}

/// `metaxy_hash_<algorithm>(VARCHAR) -> VARCHAR`.
struct MetaxyHash;

/// The algorithm a registered function computes.
#[derive(Clone)]
struct Algorithm(HashAlgorithm);

impl Default for Algorithm {
    fn default() -> Self {
        Algorithm(HashAlgorithm::Xxhash64)
    }
}

impl VArrowScalar for MetaxyHash {
    type State = Algorithm;

    fn invoke(
        state: &Self::State,
        input: RecordBatch,
    ) -> std::result::Result<Arc<dyn Array>, Box<dyn StdError>> {
        let column = input
            .columns()
            .first()
            .ok_or("metaxy hash functions take one argument")?;
        let text = batches::align_array(column, &DataType::Utf8)?;
        let text = text
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("metaxy hash functions take text")?;
        Ok(Arc::new(metaxy_core::engine::hash_strings(state.0, text)?))
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        vec![ArrowFunctionSignature::exact(
            vec![DataType::Utf8],
            DataType::Utf8,
        )]
    }
}

/// Registers one hash function per algorithm on a connection (functions live with it).
pub(crate) fn register_hash_functions(conn: &Connection, name: &str) -> Result<()> {
    for algorithm in HashAlgorithm::ALL {
        conn.register_scalar_function_with_state::<MetaxyHash>(
            &function_name(algorithm),
            &Algorithm(algorithm),
        )
        .map_err(|e| db_err(name, e))?;
    }
    Ok(())
}

#[async_trait]
impl SqlPushdown for DuckDbBackend {
    fn quote(&self, ident: &str) -> String {
        sql::ident(ident)
    }

    fn table(&self, key: &FeatureKey) -> String {
        sql::ident(&key.table_name())
    }

    fn text_param(&self, value: &str, params: &mut Vec<Scalar>) -> String {
        params.push(Scalar::Str(value.to_string()));
        "CAST(? AS VARCHAR)".to_string()
    }

    fn struct_field(&self, column: &str, key: &str, _params: &mut Vec<Scalar>) -> String {
        // DuckDB needs a constant key; struct keys are validated field keys (lowercase
        // letters, digits, `_`, `-`), escaped all the same.
        format!("struct_extract({column}, '{}')", key.replace('\'', "''"))
    }

    fn hash(&self, algorithm: HashAlgorithm, preimage: &str) -> String {
        format!("{}({preimage})", function_name(algorithm))
    }

    fn filter(&self, expr: &Expr, _schema: &Schema, params: &mut Vec<Scalar>) -> Option<String> {
        Some(expr.to_sql(&sql::dialect(), params))
    }

    async fn query(
        &self,
        sql_text: &str,
        params: Vec<Scalar>,
        _schema: SchemaRef,
    ) -> Result<RecordBatch> {
        let sql_text = sql_text.to_string();
        let values = params.iter().map(sql::value).collect();
        let batch = self
            .run(move |conn, name| query(conn, &sql_text, values, name))
            .await?;
        self.count_pushdown(batch.num_rows());
        Ok(batch)
    }
}
