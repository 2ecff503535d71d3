//! The versioning pushdown on PostgreSQL: the [`SqlPushdown`] dialect the core compiles a
//! resolve into, for the hash algorithms PostgreSQL has built in.
//!
//! `md5` and `sha256` run in the database (`md5(text)`, `encode(sha256(convert_to(text,
//! 'UTF8')), 'hex')`), so a resolve sends back only the increment. xxhash32, xxhash64 and
//! wyhash have no server-side implementation and no server-side code is installed for them:
//! those resolves scan the id and version columns and hash in the core engine.

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use metaxy_core::filter::Scalar;
use metaxy_core::pushdown::SqlPushdown;
use metaxy_core::{Expr, FeatureKey, HashAlgorithm, Result};
use std::sync::Arc;

use crate::backend::{PostgresBackend, decode_column};
use crate::sql::{audited, bind_all, dialect, ident, qualified, split};
use crate::types::read_expr;

/// The algorithms PostgreSQL computes itself.
pub(crate) const IN_DATABASE: [HashAlgorithm; 2] = [HashAlgorithm::Md5, HashAlgorithm::Sha256];

fn placeholder(value: Scalar, params: &mut Vec<Scalar>) -> String {
    params.push(value);
    format!("${}", params.len())
}

#[async_trait]
impl SqlPushdown for PostgresBackend {
    fn quote(&self, name: &str) -> String {
        ident(name)
    }

    fn table(&self, key: &FeatureKey) -> String {
        qualified(&self.config().schema, &key.table_name())
    }

    fn text_param(&self, value: &str, params: &mut Vec<Scalar>) -> String {
        format!(
            "{}::text",
            placeholder(Scalar::Str(value.to_string()), params)
        )
    }

    fn struct_field(&self, column: &str, key: &str, params: &mut Vec<Scalar>) -> String {
        format!(
            "({column} ->> {}::text)",
            placeholder(Scalar::Str(key.to_string()), params)
        )
    }

    fn hash(&self, algorithm: HashAlgorithm, preimage: &str) -> String {
        match algorithm {
            HashAlgorithm::Sha256 => {
                format!("encode(sha256(convert_to({preimage}, 'UTF8')), 'hex')")
            }
            // only the algorithms in IN_DATABASE are ever asked for; the UTF-8 bytes are hashed
            // whatever the database's encoding, as the core does
            _ => format!("md5(convert_to({preimage}, 'UTF8'))"),
        }
    }

    fn text_desc(&self, column: &str) -> String {
        // byte order, as the core compares, whatever the database's collation
        format!("{column} COLLATE \"C\" DESC NULLS LAST")
    }

    fn filter(&self, expr: &Expr, schema: &Schema, params: &mut Vec<Scalar>) -> Option<String> {
        // exactly what a scan would push down; anything the scan leaves to the core engine
        // keeps the whole resolve in the core
        match split(expr, schema) {
            (Some(pushed), None) => Some(pushed.to_sql(&dialect(), params)),
            _ => None,
        }
    }

    fn output(&self, column: &str, t: &DataType) -> String {
        read_expr(column, t)
    }

    async fn query(
        &self,
        sql: &str,
        params: Vec<Scalar>,
        schema: SchemaRef,
    ) -> Result<RecordBatch> {
        let pool = self.pool()?;
        let mut conn = pool.acquire().await.map_err(|e| self.err(e))?;
        let rows = bind_all(sqlx::query(audited(sql.to_string())), &params)
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| self.err(e))?;
        let arrays = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| decode_column(&rows, i, f.data_type(), f.name(), self.config()))
            .collect::<Result<Vec<_>>>()?;
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .zip(&arrays)
            .map(|(f, a)| Field::new(f.name(), a.data_type().clone(), true))
            .collect();
        self.stats().record(rows.len());
        Ok(RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows.len())),
        )?)
    }
}
