//! [`PostgresBackend`]: metaxy's storage verbs on a PostgreSQL schema.

use std::sync::{Arc, Mutex};

use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch,
    RecordBatchOptions, StringArray, TimestampMicrosecondArray, UInt64Array, new_null_array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use metaxy_core::backend::{AccessMode, Backend, Capabilities, ScanRequest};
use metaxy_core::pushdown::{PushdownStats, SqlPushdown};
use metaxy_core::{Error, Expr, FeatureKey, Result, batches, json_columns};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};

use crate::config::PostgresConfig;
use crate::copy::to_csv_chunks;
use crate::sql::{audited, bind_all, dialect, ident, qualified, split};

/// `format!` for SQL text (see [`audited`]).
macro_rules! sql {
    ($($t:tt)*) => {
        audited(format!($($t)*))
    };
}
use crate::types::{CATALOG, Storage, pg_type, read_expr, storage};

/// A metaxy backend on a PostgreSQL schema, through a connection pool.
///
/// Appends stream CSV through `COPY ... FROM STDIN` in one transaction; filters run in
/// PostgreSQL with bound parameters; schema changes and appends of one table are serialised
/// with a transaction-scoped advisory lock, so concurrent writers from any number of
/// processes or pool connections lose nothing.
#[derive(Debug)]
pub struct PostgresBackend {
    config: PostgresConfig,
    pool: Mutex<Option<PgPool>>,
    /// Resolves run inside PostgreSQL, and the rows they returned.
    stats: PushdownStats,
}

impl PostgresBackend {
    /// A backend for the given configuration (connects when the store opens).
    pub fn new(config: PostgresConfig) -> Self {
        PostgresBackend {
            config,
            pool: Mutex::new(None),
            stats: PushdownStats::default(),
        }
    }

    /// The same backend with the versioning pushdown on or off (see
    /// [`PostgresConfig::pushdown`]).
    pub fn with_pushdown(mut self, pushdown: bool) -> Self {
        self.config.pushdown = pushdown;
        self
    }

    /// How many resolves ran inside PostgreSQL and how many rows they sent back.
    pub fn pushdown_stats(&self) -> &PushdownStats {
        &self.stats
    }

    pub(crate) fn stats(&self) -> &PushdownStats {
        &self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &PostgresConfig {
        &self.config
    }

    pub(crate) fn pool(&self) -> Result<PgPool> {
        self.pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::StoreNotOpen {
                store: self.display(),
            })
    }

    pub(crate) fn err(&self, e: sqlx::Error) -> Error {
        pg_error(&self.config, e)
    }

    fn table(&self, table: &str) -> String {
        qualified(&self.config.schema, table)
    }
}

/// Turns driver errors into messages that say what to check.
pub(crate) fn pg_error(config: &PostgresConfig, e: sqlx::Error) -> Error {
    let target = config.display();
    let message = match &e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01") | Some("28000") => format!(
                "authentication failed for {target}: {}; check the user and password",
                db.message()
            ),
            Some("3D000") => format!(
                "{}; create the database or fix the URL ({target})",
                db.message()
            ),
            Some("3F000") => format!(
                "{}; create the schema or set `create_schema = true` ({target})",
                db.message()
            ),
            _ => format!("{} ({target})", db.message()),
        },
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => {
            format!("cannot connect to {target}: {e}; is the server running and reachable?")
        }
        _ => format!("{e} ({target})"),
    };
    Error::backend("PostgreSQL", message)
}

async fn lock_table(
    conn: &mut sqlx::PgConnection,
    schema: &str,
    table: &str,
    config: &PostgresConfig,
) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("metaxy:{schema}.{table}"))
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error(config, e))?;
    Ok(())
}

async fn table_schema(
    conn: &mut sqlx::PgConnection,
    config: &PostgresConfig,
    table: &str,
) -> Result<Option<SchemaRef>> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2)",
    )
    .bind(&config.schema)
    .bind(table)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| pg_error(config, e))?;
    if !exists {
        return Ok(None);
    }
    let rows: Vec<(String, String)> = sqlx::query_as(sql!(
        "SELECT column_name, arrow_type FROM {} WHERE table_name = $1 ORDER BY position",
        qualified(&config.schema, CATALOG)
    ))
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| pg_error(config, e))?;
    if rows.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "table `{}.{table}` was not written by metaxy (no column catalog entries); it cannot be read as a feature table",
            config.schema
        )));
    }
    let fields = rows
        .into_iter()
        .map(|(name, ty)| {
            let t: DataType = serde_json::from_str(&ty).map_err(|e| {
                Error::InvalidArgument(format!(
                    "the catalog type of `{table}.{name}` is unreadable ({e}): {ty}"
                ))
            })?;
            Ok(Field::new(name, t, true))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(Arc::new(Schema::new(fields))))
}

async fn record_schema(
    conn: &mut sqlx::PgConnection,
    config: &PostgresConfig,
    table: &str,
    schema: &Schema,
) -> Result<()> {
    for (i, f) in schema.fields().iter().enumerate() {
        let ty = serde_json::to_string(f.data_type()).map_err(|e| {
            Error::InvalidArgument(format!("cannot record the type of `{}`: {e}", f.name()))
        })?;
        sqlx::query(sql!(
            "INSERT INTO {} (table_name, position, column_name, arrow_type) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (table_name, column_name) DO UPDATE SET arrow_type = EXCLUDED.arrow_type",
            qualified(&config.schema, CATALOG)
        ))
        .bind(table)
        .bind(i as i32)
        .bind(f.name())
        .bind(ty)
        .execute(&mut *conn)
        .await
        .map_err(|e| pg_error(config, e))?;
    }
    Ok(())
}

/// Builds an Arrow column of `t` from the storage-form values of `rows`.
pub(crate) fn decode_column(
    rows: &[PgRow],
    i: usize,
    t: &DataType,
    name: &str,
    config: &PostgresConfig,
) -> Result<ArrayRef> {
    let get_err = |e: sqlx::Error| pg_error(config, e);
    if t == &DataType::Null {
        return Ok(new_null_array(t, rows.len()));
    }
    let array: ArrayRef = match storage(t) {
        Storage::Int => {
            let v = rows
                .iter()
                .map(|r| r.try_get::<Option<i64>, _>(i))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(get_err)?;
            if t == &DataType::UInt64 {
                Arc::new(UInt64Array::from(
                    v.into_iter()
                        .map(|x| x.map(|i| i as u64))
                        .collect::<Vec<_>>(),
                ))
            } else {
                arrow_cast::cast(&(Arc::new(Int64Array::from(v)) as ArrayRef), t)?
            }
        }
        Storage::Bool => Arc::new(BooleanArray::from(
            rows.iter()
                .map(|r| r.try_get::<Option<bool>, _>(i))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(get_err)?,
        )),
        Storage::Float => {
            let v = rows
                .iter()
                .map(|r| r.try_get::<Option<f64>, _>(i))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(get_err)?;
            arrow_cast::cast(&(Arc::new(Float64Array::from(v)) as ArrayRef), t)?
        }
        Storage::Text => {
            let v = rows
                .iter()
                .map(|r| r.try_get::<Option<String>, _>(i))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(get_err)?;
            arrow_cast::cast(&(Arc::new(StringArray::from(v)) as ArrayRef), t)?
        }
        Storage::Bytea => {
            let v = rows
                .iter()
                .map(|r| r.try_get::<Option<Vec<u8>>, _>(i))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(get_err)?;
            let b = BinaryArray::from(v.iter().map(|x| x.as_deref()).collect::<Vec<_>>());
            arrow_cast::cast(&(Arc::new(b) as ArrayRef), t)?
        }
        Storage::Micros => {
            let v = rows
                .iter()
                .map(|r| r.try_get::<Option<i64>, _>(i))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(get_err)?;
            let tz = match t {
                DataType::Timestamp(_, tz) => tz.clone(),
                _ => None,
            };
            let a: ArrayRef = Arc::new(TimestampMicrosecondArray::from(v).with_timezone_opt(tz));
            arrow_cast::cast(&a, t)?
        }
        Storage::Days => {
            let v = rows
                .iter()
                .map(|r| r.try_get::<Option<i32>, _>(i))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(get_err)?;
            arrow_cast::cast(&(Arc::new(Date32Array::from(v)) as ArrayRef), t)?
        }
        Storage::Json => {
            let v = rows
                .iter()
                .map(|r| r.try_get::<Option<String>, _>(i))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(get_err)?;
            let refs: Vec<Option<&str>> = v.iter().map(|x| x.as_deref()).collect();
            json_columns::decode(&refs, t, name)?
        }
    };
    Ok(array)
}

async fn select(
    conn: &mut sqlx::PgConnection,
    config: &PostgresConfig,
    table: &str,
    schema: &Schema,
    columns: &[String],
    pushed: Option<&Expr>,
    extra: &str,
) -> Result<(RecordBatch, Vec<PgRow>)> {
    let mut params = Vec::new();
    let where_sql = pushed
        .map(|p| format!(" WHERE {}", p.to_sql(&dialect(), &mut params)))
        .unwrap_or_default();
    let types: Vec<&DataType> = columns
        .iter()
        .map(|c| {
            schema
                .field_with_name(c)
                .map(|f| f.data_type())
                .map_err(Error::from)
        })
        .collect::<Result<_>>()?;
    let mut list: Vec<String> = columns
        .iter()
        .zip(&types)
        .map(|(c, t)| read_expr(&ident(c), t))
        .collect();
    if !extra.is_empty() {
        list.push(extra.to_string());
    }
    if list.is_empty() {
        list.push("1".into());
    }
    let sql = format!(
        "SELECT {} FROM {}{where_sql}",
        list.join(", "),
        qualified(&config.schema, table)
    );
    let rows = bind_all(sqlx::query(audited(sql)), &params)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| pg_error(config, e))?;
    let arrays = columns
        .iter()
        .zip(&types)
        .enumerate()
        .map(|(i, (c, t))| decode_column(&rows, i, t, c, config))
        .collect::<Result<Vec<_>>>()?;
    let fields: Vec<Field> = columns
        .iter()
        .zip(&arrays)
        .map(|(c, a)| Field::new(c, a.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(rows.len())),
    )?;
    Ok((batch, rows))
}

#[async_trait]
impl Backend for PostgresBackend {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn display(&self) -> String {
        format!("PostgresBackend({})", self.config.display())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            filter_pushdown: true,
            projection_pushdown: true,
            concurrent_writers: true,
            pushdown_hash_algorithms: if self.config.pushdown {
                crate::pushdown::IN_DATABASE.to_vec()
            } else {
                Vec::new()
            },
        }
    }

    fn sql_pushdown(&self) -> Option<&dyn SqlPushdown> {
        self.config.pushdown.then_some(self as &dyn SqlPushdown)
    }

    async fn open(&self, mode: AccessMode) -> Result<()> {
        if self
            .pool
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            if mode == AccessMode::Write {
                self.prepare_write_mode().await?;
            }
            return Ok(());
        }
        let opts = self.config.connect_options()?;
        // connect once first: a clear error for a wrong password or an unreachable server
        let probe = tokio::time::timeout(
            self.config.connect_timeout(),
            sqlx::PgConnection::connect_with(&opts),
        )
        .await
        .map_err(|_| {
            Error::backend(
                "PostgreSQL",
                format!(
                    "cannot connect to {} within {}s; is the server running and reachable?",
                    self.config.display(),
                    self.config.connect_timeout_secs
                ),
            )
        })?
        .map_err(|e| self.err(e))?;
        probe.close().await.map_err(|e| self.err(e))?;
        let pool = PgPoolOptions::new()
            .max_connections(self.config.max_connections.max(1))
            .acquire_timeout(self.config.connect_timeout())
            .connect_with(opts)
            .await
            .map_err(|e| self.err(e))?;
        *self.pool.lock().unwrap_or_else(|p| p.into_inner()) = Some(pool);
        let schema_exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)",
        )
        .bind(&self.config.schema)
        .fetch_one(&self.pool()?)
        .await
        .map_err(|e| self.err(e))?;
        if !schema_exists {
            if mode == AccessMode::Write && self.config.create_schema {
                sqlx::query(sql!(
                    "CREATE SCHEMA IF NOT EXISTS {}",
                    ident(&self.config.schema)
                ))
                .execute(&self.pool()?)
                .await
                .map_err(|e| self.err(e))?;
            } else {
                self.close();
                return Err(Error::backend(
                    "PostgreSQL",
                    format!(
                        "schema `{}` does not exist in {}; create it (CREATE SCHEMA ...) or set `create_schema = true`",
                        self.config.schema,
                        self.config.display()
                    ),
                ));
            }
        }
        if mode == AccessMode::Write {
            self.prepare_write_mode().await?;
        }
        Ok(())
    }

    fn close(&self) {
        // dropping the pool closes its connections
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    async fn table_exists(&self, key: &FeatureKey) -> Result<bool> {
        let table_name = key.table_name();
        let table = table_name.as_str();
        let pool = self.pool()?;
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2)")
            .bind(&self.config.schema)
            .bind(table)
            .fetch_one(&pool)
            .await
            .map_err(|e| self.err(e))
    }

    async fn list_tables(&self) -> Result<Vec<String>> {
        let pool = self.pool()?;
        sqlx::query_scalar(
            "SELECT table_name::TEXT FROM information_schema.tables WHERE table_schema = $1 AND table_name <> $2 ORDER BY 1",
        )
        .bind(&self.config.schema)
        .bind(CATALOG)
        .fetch_all(&pool)
        .await
        .map_err(|e| self.err(e))
    }

    async fn table_schema(&self, key: &FeatureKey) -> Result<Option<SchemaRef>> {
        let table_name = key.table_name();
        let table = table_name.as_str();
        let pool = self.pool()?;
        let mut conn = pool.acquire().await.map_err(|e| self.err(e))?;
        table_schema(&mut conn, &self.config, table).await
    }

    async fn append(&self, key: &FeatureKey, batch: RecordBatch, create: bool) -> Result<()> {
        let table_name = key.table_name();
        let table = table_name.as_str();
        let batch = batches::normalize_batch(&batch)?;
        let pool = self.pool()?;
        let mut tx = pool.begin().await.map_err(|e| self.err(e))?;
        lock_table(&mut tx, &self.config.schema, table, &self.config).await?;
        let target: SchemaRef = match table_schema(&mut tx, &self.config, table).await? {
            None if !create => {
                return Err(Error::InvalidArgument(format!(
                    "table `{table}` does not exist and auto_create_tables is off; create it first or enable auto_create_tables"
                )));
            }
            None => {
                let cols: Vec<String> = batch
                    .schema_ref()
                    .fields()
                    .iter()
                    .map(|f| format!("{} {}", ident(f.name()), pg_type(f.data_type())))
                    .collect();
                sqlx::query(sql!(
                    "CREATE TABLE {} ({})",
                    self.table(table),
                    cols.join(", ")
                ))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?;
                record_schema(&mut tx, &self.config, table, batch.schema_ref()).await?;
                batch.schema()
            }
            Some(existing) => {
                let merged = batches::merge_schemas([&existing, batch.schema_ref()])?;
                for f in merged.fields() {
                    if existing.column_with_name(f.name()).is_none() {
                        sqlx::query(sql!(
                            "ALTER TABLE {} ADD COLUMN {} {}",
                            self.table(table),
                            ident(f.name()),
                            pg_type(f.data_type())
                        ))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| self.err(e))?;
                    }
                }
                if merged.as_ref() != existing.as_ref() {
                    record_schema(&mut tx, &self.config, table, &merged).await?;
                }
                merged
            }
        };
        let fields: Vec<Field> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| {
                let t = target
                    .field_with_name(f.name())
                    .map(|t| t.data_type().clone())
                    .unwrap_or_else(|_| f.data_type().clone());
                Field::new(f.name(), t, true)
            })
            .collect();
        let batch = batches::align_batch(&batch, &Arc::new(Schema::new(fields)))?;
        if batch.num_rows() > 0 && batch.num_columns() > 0 {
            let cols: Vec<String> = batch
                .schema_ref()
                .fields()
                .iter()
                .map(|f| ident(f.name()))
                .collect();
            let sql = format!(
                "COPY {} ({}) FROM STDIN WITH (FORMAT csv)",
                self.table(table),
                cols.join(", ")
            );
            let mut chunks = Vec::new();
            to_csv_chunks(&batch, 1 << 20, |c| {
                chunks.push(c);
                Ok(())
            })?;
            let mut copy = tx.copy_in_raw(&sql).await.map_err(|e| self.err(e))?;
            for c in chunks {
                copy.send(c.into_bytes()).await.map_err(|e| self.err(e))?;
            }
            copy.finish().await.map_err(|e| self.err(e))?;
        }
        tx.commit().await.map_err(|e| self.err(e))
    }

    async fn scan(&self, key: &FeatureKey, request: &ScanRequest) -> Result<Option<RecordBatch>> {
        let table_name = key.table_name();
        let table = table_name.as_str();
        let pool = self.pool()?;
        let mut conn = pool.acquire().await.map_err(|e| self.err(e))?;
        let Some(schema) = table_schema(&mut conn, &self.config, table).await? else {
            return Ok(None);
        };
        let requested: Vec<String> = match &request.columns {
            Some(cols) => cols
                .iter()
                .filter(|c| schema.column_with_name(c).is_some())
                .cloned()
                .collect(),
            None => schema.fields().iter().map(|f| f.name().clone()).collect(),
        };
        let (pushed, rest) = match &request.filter {
            Some(f) => split(f, &schema),
            None => (None, None),
        };
        let mut needed = requested.clone();
        if let Some(r) = &rest {
            for c in r.columns() {
                let col = if schema.column_with_name(&c).is_none() {
                    c.split_once('.').map(|(h, _)| h.to_string()).unwrap_or(c)
                } else {
                    c
                };
                if schema.column_with_name(&col).is_some() && !needed.contains(&col) {
                    needed.push(col);
                }
            }
        }
        let (mut batch, _) = select(
            &mut conn,
            &self.config,
            table,
            &schema,
            &needed,
            pushed.as_ref(),
            "",
        )
        .await?;
        if let Some(r) = rest {
            batch = r.filter(&batch)?;
        }
        Ok(Some(batches::project_existing(&batch, &requested)?))
    }

    async fn delete(&self, key: &FeatureKey, filter: Option<&Expr>) -> Result<u64> {
        let table_name = key.table_name();
        let table = table_name.as_str();
        let pool = self.pool()?;
        let mut tx = pool.begin().await.map_err(|e| self.err(e))?;
        lock_table(&mut tx, &self.config.schema, table, &self.config).await?;
        let Some(schema) = table_schema(&mut tx, &self.config, table).await? else {
            return Ok(0);
        };
        let n = match filter.map(|f| split(f, &schema)) {
            None => sqlx::query(sql!("DELETE FROM {}", self.table(table)))
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
                .rows_affected(),
            Some((pushed, None)) => {
                let mut params = Vec::new();
                let where_sql = pushed
                    .map(|p| format!(" WHERE {}", p.to_sql(&dialect(), &mut params)))
                    .unwrap_or_default();
                bind_all(
                    sqlx::query(sql!("DELETE FROM {}{where_sql}", self.table(table))),
                    &params,
                )
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err(e))?
                .rows_affected()
            }
            Some((pushed, Some(rest))) => {
                let cols: Vec<String> = rest
                    .columns()
                    .into_iter()
                    .map(|c| match c.split_once('.') {
                        Some((head, _)) if schema.column_with_name(&c).is_none() => {
                            head.to_string()
                        }
                        _ => c,
                    })
                    .filter(|c| schema.column_with_name(c).is_some())
                    .collect();
                let (batch, rows) = select(
                    &mut tx,
                    &self.config,
                    table,
                    &schema,
                    &cols,
                    pushed.as_ref(),
                    "ctid::TEXT",
                )
                .await?;
                let mask = rest.evaluate(&batch)?;
                let ctids: Vec<String> = rows
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask.is_valid(*i) && mask.value(*i))
                    .map(|(_, r)| r.try_get::<String, _>(cols.len()))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| self.err(e))?;
                if ctids.is_empty() {
                    0
                } else {
                    sqlx::query(sql!(
                        "DELETE FROM {} WHERE ctid = ANY($1::TID[])",
                        self.table(table)
                    ))
                    .bind(ctids)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| self.err(e))?
                    .rows_affected()
                }
            }
        };
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(n)
    }

    async fn drop_table(&self, key: &FeatureKey) -> Result<()> {
        let table_name = key.table_name();
        let table = table_name.as_str();
        let pool = self.pool()?;
        let mut tx = pool.begin().await.map_err(|e| self.err(e))?;
        lock_table(&mut tx, &self.config.schema, table, &self.config).await?;
        sqlx::query(sql!("DROP TABLE IF EXISTS {}", self.table(table)))
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
        sqlx::query(sql!(
            "DELETE FROM {} WHERE table_name = $1",
            qualified(&self.config.schema, CATALOG)
        ))
        .bind(table)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }
}

impl PostgresBackend {
    /// Creates the column catalog (once per schema; concurrent creators wait for each other).
    async fn prepare_write_mode(&self) -> Result<()> {
        let pool = self.pool()?;
        let mut tx = pool.begin().await.map_err(|e| self.err(e))?;
        lock_table(&mut tx, &self.config.schema, CATALOG, &self.config).await?;
        sqlx::query(sql!(
            "CREATE TABLE IF NOT EXISTS {} (table_name TEXT NOT NULL, position INTEGER NOT NULL, \
             column_name TEXT NOT NULL, arrow_type TEXT NOT NULL, PRIMARY KEY (table_name, column_name))",
            qualified(&self.config.schema, CATALOG)
        ))
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))
    }
}
