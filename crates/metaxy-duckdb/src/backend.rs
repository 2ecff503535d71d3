//! [`DuckDbBackend`]: metaxy's storage verbs on a DuckDB database.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, FieldRef, Schema, SchemaRef};
use async_trait::async_trait;
use duckdb::{Config, Connection};
use metaxy_core::HashAlgorithm;
use metaxy_core::backend::{AccessMode, Backend, Capabilities, ScanRequest};
use metaxy_core::pushdown::{PushdownStats, SqlPushdown};
use metaxy_core::{Error, Expr, FeatureKey, Result, batches};

use crate::config::DuckDbConfig;
use crate::sql;

/// A metaxy backend on a DuckDB database file (or an in-memory database).
///
/// Read mode opens the file read-only, so several processes can read at once; write mode takes
/// DuckDB's exclusive file lock, and a second writer gets an error naming the file and the
/// holder instead of waiting. Every call runs on a blocking thread, never on the async runtime.
#[derive(Debug)]
pub struct DuckDbBackend {
    config: DuckDbConfig,
    state: Arc<Mutex<State>>,
    /// Keeps a temporary directory alive for [`DuckDbBackend::temporary`].
    _temp: Option<Arc<tempfile::TempDir>>,
    /// Resolves run inside DuckDB, and the rows they returned.
    stats: Arc<PushdownStats>,
}

#[derive(Debug, Default)]
struct State {
    conn: Option<Connection>,
    mode: Option<AccessMode>,
}

impl State {
    /// The open connection, or the error a closed store gets.
    fn open(&self, name: &str) -> Result<&Connection> {
        self.conn.as_ref().ok_or_else(|| Error::StoreNotOpen {
            store: name.to_string(),
        })
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl DuckDbBackend {
    /// A backend for the given configuration (nothing is opened until the store opens).
    pub fn new(config: DuckDbConfig) -> Self {
        DuckDbBackend {
            config,
            state: Arc::new(Mutex::new(State::default())),
            _temp: None,
            stats: Arc::default(),
        }
    }

    /// The same backend with the versioning pushdown on or off (see
    /// [`DuckDbConfig::pushdown`]).
    pub fn with_pushdown(mut self, pushdown: bool) -> Self {
        self.config.pushdown = pushdown;
        self
    }

    /// How many resolves ran inside DuckDB and how many rows they returned.
    pub fn pushdown_stats(&self) -> &PushdownStats {
        &self.stats
    }

    pub(crate) fn count_pushdown(&self, rows: usize) {
        self.stats.record(rows);
    }

    /// A backend on a database file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::new(DuckDbConfig::file(path))
    }

    /// A backend on a private in-memory database.
    pub fn in_memory() -> Self {
        Self::new(DuckDbConfig::in_memory())
    }

    /// A backend on a database file in a fresh temporary directory, deleted when the backend
    /// is dropped (for tests).
    pub fn temporary() -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|e| Error::backend("DuckDB", e))?;
        let mut b = Self::file(dir.path().join("metadata.duckdb"));
        b._temp = Some(Arc::new(dir));
        Ok(b)
    }

    /// The configuration.
    pub fn config(&self) -> &DuckDbConfig {
        &self.config
    }

    fn path(&self) -> PathBuf {
        let p = PathBuf::from(&self.config.database);
        std::path::absolute(&p).unwrap_or(p)
    }

    fn name(&self) -> String {
        self.display()
    }

    /// Runs `f` with the open connection on a blocking thread.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T> + Send + 'static,
    {
        let state = self.state.clone();
        self.on_worker(move |name| f(lock(&state).open(name)?, name))
            .await
    }

    /// Runs the read `f` on a connection of its own — a clone of the open one, on the same
    /// database — so that the reads of one resolve (the stored rows and every upstream) run
    /// at once on their own threads instead of queueing for the connection: DuckDB hands
    /// results out one chunk at a time on the calling thread.
    pub(crate) async fn run_read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T> + Send + 'static,
    {
        let state = self.state.clone();
        self.on_worker(move |name| {
            // the lock is held only while cloning
            let conn = lock(&state)
                .open(name)?
                .try_clone()
                .map_err(|e| db_err(name, e))?;
            f(&conn, name)
        })
        .await
    }

    /// Runs `job` on a blocking thread of the runtime (inline without one).
    async fn on_worker<T, F>(&self, job: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&str) -> Result<T> + Send + 'static,
    {
        let name = self.name();
        let job = move || job(&name);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.spawn_blocking(job).await.map_err(|e| {
                Error::backend(self.name(), format!("DuckDB worker thread failed: {e}"))
            })?,
            Err(_) => job(),
        }
    }
}

/// Wraps a DuckDB error.
pub(crate) fn db_err(name: &str, e: duckdb::Error) -> Error {
    Error::backend(name.to_string(), e)
}

fn open_connection(
    config: &DuckDbConfig,
    path: &Path,
    mode: AccessMode,
    name: &str,
) -> Result<Connection> {
    let mut flags = Config::default()
        .enable_autoload_extension(false)
        .map_err(|e| db_err(name, e))?;
    for (k, v) in &config.settings {
        flags = flags.with(k, v).map_err(|e| db_err(name, e))?;
    }
    if config.is_memory() {
        return Connection::open_in_memory_with_flags(flags).map_err(|e| db_err(name, e));
    }
    match mode {
        AccessMode::Read if !path.exists() => {
            // Nothing has been written yet: an empty database, so every feature is missing.
            Connection::open_in_memory_with_flags(flags).map_err(|e| db_err(name, e))
        }
        AccessMode::Read => {
            let flags = flags
                .access_mode(duckdb::AccessMode::ReadOnly)
                .map_err(|e| db_err(name, e))?;
            Connection::open_with_flags(path, flags)
                .map_err(|e| lock_error(e, path, "reading", name))
        }
        AccessMode::Write => {
            if let Some(parent) = path.parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    Error::backend(
                        name.to_string(),
                        format!("cannot create {}: {e}", parent.display()),
                    )
                })?;
            }
            Connection::open_with_flags(path, flags)
                .map_err(|e| lock_error(e, path, "writing", name))
        }
    }
}

/// Turns DuckDB's lock conflict into a message that names the file and the holder.
fn lock_error(e: duckdb::Error, path: &Path, purpose: &str, name: &str) -> Error {
    let msg = e.to_string();
    if msg.contains("lock") {
        let holder = msg
            .split("Conflicting lock is held in")
            .nth(1)
            .map(|h| h.trim().trim_end_matches('.').to_string())
            .unwrap_or_else(|| "another process".to_string());
        Error::backend(
            name.to_string(),
            format!(
                "cannot open {} for {purpose}: the DuckDB file is locked by {holder}. DuckDB allows \
                 one writer, or any number of readers, at a time; stop that process or open the \
                 store in read mode",
                path.display()
            ),
        )
    } else {
        db_err(name, e)
    }
}

fn table_exists(conn: &Connection, table: &str, name: &str) -> Result<bool> {
    let mut stmt = conn
        .prepare("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?")
        .map_err(|e| db_err(name, e))?;
    let n: i64 = stmt
        .query_row([table], |r| r.get(0))
        .map_err(|e| db_err(name, e))?;
    Ok(n > 0)
}

pub(crate) fn table_schema(
    conn: &Connection,
    table: &str,
    name: &str,
) -> Result<Option<SchemaRef>> {
    if !table_exists(conn, table, name)? {
        return Ok(None);
    }
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {} LIMIT 0", sql::ident(table)))
        .map_err(|e| db_err(name, e))?;
    let arrow = stmt.query_arrow([]).map_err(|e| db_err(name, e))?;
    let schema = arrow.get_schema();
    let fields: Vec<arrow_schema::Field> = schema
        .fields()
        .iter()
        .map(|f| arrow_schema::Field::new(f.name(), batches::normalize_type(f.data_type()), true))
        .collect();
    Ok(Some(Arc::new(Schema::new(fields))))
}

pub(crate) fn query(
    conn: &Connection,
    sql: &str,
    params: Vec<duckdb::types::Value>,
    name: &str,
) -> Result<RecordBatch> {
    let parts = query_parts(conn, sql, params, name)?;
    match parts.as_slice() {
        [one] => Ok(one.clone()),
        _ => {
            let schema = parts
                .first()
                .map(|p| p.schema())
                .ok_or_else(|| Error::backend(name.to_string(), "a query returned no schema"))?;
            Ok(arrow_select::concat::concat_batches(&schema, &parts)?)
        }
    }
}

/// Runs a query and returns its result as DuckDB hands it out (one batch per chunk of
/// rows), each converted to metaxy's types; at least one batch (empty when no row matched).
///
/// The result is streamed: DuckDB produces chunks while they are converted, instead of first
/// materialising the whole result and then converting it. A failure while fetching is an
/// error (the `duckdb` crate's batch iterator would panic on it).
pub(crate) fn query_parts(
    conn: &Connection,
    sql: &str,
    params: Vec<duckdb::types::Value>,
    name: &str,
) -> Result<Vec<RecordBatch>> {
    let mut stmt = conn.prepare(sql).map_err(|e| db_err(name, e))?;
    let schema = stmt
        .stream_arrow(duckdb::params_from_iter(params))
        .map_err(|e| db_err(name, e))?
        .get_schema();
    let mut parts = Vec::new();
    while let Some(chunk) = stmt.step().map_err(|e| db_err(name, e))? {
        parts.push(batches::normalize_batch(&RecordBatch::from(&chunk))?);
    }
    if parts.is_empty() {
        parts.push(batches::normalize_batch(&RecordBatch::new_empty(schema))?);
    }
    Ok(parts)
}

/// The error a missing filter column gets, phrased like the core evaluator's.
fn missing_column(filter: &Expr, schema: &SchemaRef) -> Option<Error> {
    let missing: Vec<String> = filter
        .columns()
        .into_iter()
        .filter(|c| schema.column_with_name(c).is_none())
        .collect();
    let first = missing.first()?;
    let mut available: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    available.sort();
    Some(Error::FilterEval {
        filter: filter.to_string(),
        message: format!("no column `{first}` (available: {})", available.join(", ")),
    })
}

fn append(
    conn: &Connection,
    table: &str,
    batch: RecordBatch,
    create: bool,
    name: &str,
) -> Result<()> {
    let batch = batches::normalize_batch(&batch)?;
    let existing = table_schema(conn, table, name)?;
    conn.execute_batch("BEGIN TRANSACTION")
        .map_err(|e| db_err(name, e))?;
    let result = (|| -> Result<()> {
        let target: SchemaRef = match existing {
            None if !create => {
                return Err(Error::InvalidArgument(format!(
                    "table `{table}` does not exist and auto_create_tables is off; create it first \
                     or enable auto_create_tables"
                )));
            }
            None => {
                let columns = batch
                    .schema_ref()
                    .fields()
                    .iter()
                    .map(|f| Ok(format!("{} {}", sql::ident(f.name()), sql::sql_type(f)?)))
                    .collect::<Result<Vec<_>>>()?;
                conn.execute_batch(&format!(
                    "CREATE TABLE {} ({})",
                    sql::ident(table),
                    columns.join(", ")
                ))
                .map_err(|e| db_err(name, e))?;
                table_schema(conn, table, name)?.ok_or_else(|| {
                    Error::backend(
                        name.to_string(),
                        format!("table {table} vanished after CREATE"),
                    )
                })?
            }
            Some(existing) => {
                let merged = batches::merge_schemas([&existing, batch.schema_ref()])?;
                evolve(conn, table, &existing, &merged, name)?;
                table_schema(conn, table, name)?.ok_or_else(|| {
                    Error::backend(
                        name.to_string(),
                        format!("table {table} vanished after ALTER"),
                    )
                })?
            }
        };
        // the batch's columns, in its order, with the table's types
        let names: Vec<String> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let fields: Vec<arrow_schema::Field> = names
            .iter()
            .map(|n| {
                target
                    .field_with_name(n)
                    .map(|f| arrow_schema::Field::new(n, f.data_type().clone(), true))
                    .map_err(Error::from)
            })
            .collect::<Result<_>>()?;
        let aligned = batches::align_batch(&batch, &Arc::new(Schema::new(fields)))?;
        if aligned.num_rows() == 0 {
            return Ok(());
        }
        let cols: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut appender = conn
            .appender_with_columns(table, &cols)
            .map_err(|e| db_err(name, e))?;
        appender
            .append_record_batch(aligned)
            .map_err(|e| db_err(name, e))?;
        appender.flush().map_err(|e| db_err(name, e))?;
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(|e| db_err(name, e)),
        Err(e) => {
            // the write failed: leave nothing behind
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Adds new columns and widens struct columns so the table can hold `merged`.
fn evolve(
    conn: &Connection,
    table: &str,
    existing: &SchemaRef,
    merged: &SchemaRef,
    name: &str,
) -> Result<()> {
    for f in merged.fields() {
        match existing.field_with_name(f.name()) {
            Err(_) => {
                conn.execute_batch(&format!(
                    "ALTER TABLE {} ADD COLUMN {} {}",
                    sql::ident(table),
                    sql::ident(f.name()),
                    sql::sql_type(f)?
                ))
                .map_err(|e| db_err(name, e))?;
            }
            Ok(old) if old.data_type() != f.data_type() => {
                let using = match (old.data_type(), f.data_type()) {
                    (DataType::Struct(old_fields), DataType::Struct(new_fields)) => {
                        let parts: Vec<String> = new_fields
                            .iter()
                            .map(|nf| {
                                let value = if old_fields.iter().any(|of| of.name() == nf.name()) {
                                    format!("{}.{}", sql::ident(f.name()), sql::ident(nf.name()))
                                } else {
                                    format!("CAST(NULL AS {})", sql::sql_type(nf)?)
                                };
                                Ok(format!("'{}': {value}", nf.name().replace('\'', "''")))
                            })
                            .collect::<Result<_>>()?;
                        format!(" USING {{{}}}", parts.join(", "))
                    }
                    _ => String::new(),
                };
                conn.execute_batch(&format!(
                    "ALTER TABLE {} ALTER COLUMN {} TYPE {}{using}",
                    sql::ident(table),
                    sql::ident(f.name()),
                    sql::sql_type(f)?
                ))
                .map_err(|e| db_err(name, e))?;
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

pub(crate) fn scan_parts(
    conn: &Connection,
    table: &str,
    request: &ScanRequest,
    name: &str,
) -> Result<Option<Vec<RecordBatch>>> {
    let Some(schema) = table_schema(conn, table, name)? else {
        return Ok(None);
    };
    let requested: Option<Vec<String>> = request.columns.as_ref().map(|cols| {
        cols.iter()
            .filter(|c| schema.column_with_name(c).is_some())
            .cloned()
            .collect()
    });
    let select = |cols: &Option<Vec<String>>| match cols {
        None => "*".to_string(),
        Some(c) if c.is_empty() => "1 AS \"__metaxy_no_columns\"".to_string(),
        Some(c) => c
            .iter()
            .map(|c| sql::ident(c))
            .collect::<Vec<_>>()
            .join(", "),
    };
    match &request.filter {
        Some(f) if missing_column(f, &schema).is_some() => {
            // evaluate in the core so the error (or a struct field reference) is handled there
            let mut needed = requested.clone();
            if let Some(cols) = &mut needed {
                for c in f.columns() {
                    if schema.column_with_name(&c).is_some() && !cols.contains(&c) {
                        cols.push(c);
                    }
                }
            }
            let all = query(
                conn,
                &format!("SELECT {} FROM {}", select(&needed), sql::ident(table)),
                vec![],
                name,
            )?;
            let filtered = f.filter(&all)?;
            Ok(Some(vec![match &requested {
                Some(cols) => batches::project_existing(&filtered, cols)?,
                None => filtered,
            }]))
        }
        filter => {
            if !has_rowid_column(&schema) {
                let fields: Vec<FieldRef> = match &requested {
                    None => schema.fields().iter().cloned().collect(),
                    Some(cols) => cols
                        .iter()
                        .filter_map(|c| schema.field_with_name(c).ok())
                        .map(|f| Arc::new(f.clone()))
                        .collect(),
                };
                let filter = filter.as_ref().map(sql::filter_sql);
                let filter = filter.as_ref().map(|(s, p)| (s.as_str(), p.as_slice()));
                if let Some(ids) = &request.latest_of
                    && let Some((parts, _plan)) =
                        crate::latest::scan(conn, table, &schema, &fields, filter, ids, name)?
                {
                    return Ok(Some(parts));
                }
                if let Some(parts) = crate::collect::scan(conn, table, &fields, filter, name)? {
                    return Ok(Some(parts));
                }
            }
            let select_sql = format!("SELECT {} FROM {}", select(&requested), sql::ident(table));
            let parts = scan_ranges(
                conn,
                table,
                &schema,
                &select_sql,
                filter.as_ref(),
                name,
                Split::for_this_machine(),
            )?;
            Ok(Some(match &requested {
                Some(cols) if cols.is_empty() => parts
                    .iter()
                    .map(|p| batches::project_existing(p, cols))
                    .collect::<Result<_>>()?,
                _ => parts,
            }))
        }
    }
}

/// Whether a column named `rowid` hides DuckDB's row ids.
fn has_rowid_column(schema: &Schema) -> bool {
    schema
        .fields()
        .iter()
        .any(|f| f.name().eq_ignore_ascii_case("rowid"))
}

/// How [`scan_ranges`] splits a scan.
#[derive(Clone, Copy, Debug)]
struct Split {
    /// Tables with fewer rows are read by one query.
    min_rows: i64,
    /// At most this many ranges (and threads).
    ranges: usize,
}

impl Split {
    /// Tables of a million rows and more, one range per core (at most eight).
    fn for_this_machine() -> Split {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Split {
            min_rows: 1 << 20,
            ranges: cores.min(8),
        }
    }
}

/// Runs `select_sql` (`SELECT ... FROM table`) with `filter`: on a large table, as one query
/// per range of row ids, each on its own connection and thread, results in row-id order.
///
/// DuckDB converts a result to Arrow on the thread that fetches it, one 2,048-row chunk at a
/// time; for a scan of millions of rows that conversion, not the scan, is most of the time,
/// and one query keeps it on one core. Ranges are cut by the table's row count; the first is
/// open below and the last open above, so every row is read exactly once whatever row ids
/// deletions left. A table with a column named `rowid` (which hides DuckDB's) is read whole.
fn scan_ranges(
    conn: &Connection,
    table: &str,
    schema: &SchemaRef,
    select_sql: &str,
    filter: Option<&Expr>,
    name: &str,
    split: Split,
) -> Result<Vec<RecordBatch>> {
    let (filter_sql, filter_params) = match filter.map(sql::filter_sql) {
        Some((sql, params)) => (Some(sql), params),
        None => (None, Vec::new()),
    };
    let shadowed = has_rowid_column(schema);
    let rows = if split.ranges < 2 || shadowed {
        0
    } else {
        conn.query_row(
            &format!("SELECT count(*) FROM {}", sql::ident(table)),
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(|e| db_err(name, e))?
    };
    let ranges = if rows < split.min_rows.max(1) {
        1
    } else {
        split.ranges
    };
    let range_query = |k: usize| {
        let mut conds: Vec<String> = filter_sql.iter().map(|f| format!("({f})")).collect();
        let mut params = filter_params.clone();
        let bound = |k: usize| rows / ranges as i64 * k as i64;
        if k > 0 {
            conds.push("rowid >= ?".into());
            params.push(duckdb::types::Value::BigInt(bound(k)));
        }
        if k + 1 < ranges {
            conds.push("rowid < ?".into());
            params.push(duckdb::types::Value::BigInt(bound(k + 1)));
        }
        let where_sql = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        (format!("{select_sql}{where_sql}"), params)
    };
    if ranges == 1 {
        let (sql, params) = range_query(0);
        return query_parts(conn, &sql, params, name);
    }
    let others = (1..ranges)
        .map(|k| {
            let conn = conn.try_clone().map_err(|e| db_err(name, e))?;
            Ok((conn, range_query(k)))
        })
        .collect::<Result<Vec<_>>>()?;
    let results: Vec<Result<Vec<RecordBatch>>> = std::thread::scope(|s| {
        let handles: Vec<_> = others
            .into_iter()
            .map(|(conn, (sql, params))| s.spawn(move || query_parts(&conn, &sql, params, name)))
            .collect();
        let (sql, params) = range_query(0);
        let mut results = vec![query_parts(conn, &sql, params, name)];
        results.extend(handles.into_iter().map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::backend(name.to_string(), "a scan thread panicked")))
        }));
        results
    });
    let mut parts = Vec::new();
    for r in results {
        parts.extend(r?);
    }
    // empty batches are dropped, keeping one when all are (it carries the schema)
    let (nonempty, empty): (Vec<_>, Vec<_>) = parts.into_iter().partition(|p| p.num_rows() > 0);
    Ok(if nonempty.is_empty() {
        empty.into_iter().take(1).collect()
    } else {
        nonempty
    })
}

#[async_trait]
impl Backend for DuckDbBackend {
    fn kind(&self) -> &'static str {
        "duckdb"
    }

    fn display(&self) -> String {
        if self.config.is_memory() {
            "DuckDbBackend(database=:memory:)".to_string()
        } else {
            format!("DuckDbBackend(database={})", self.path().display())
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            filter_pushdown: true,
            projection_pushdown: true,
            concurrent_writers: false,
            pushdown_hash_algorithms: if self.config.pushdown {
                HashAlgorithm::ALL.to_vec()
            } else {
                Vec::new()
            },
        }
    }

    fn sql_pushdown(&self) -> Option<&dyn SqlPushdown> {
        self.config.pushdown.then_some(self as &dyn SqlPushdown)
    }

    async fn open(&self, mode: AccessMode) -> Result<()> {
        let state = self.state.clone();
        let config = self.config.clone();
        let path = self.path();
        let name = self.name();
        let job = move || -> Result<()> {
            let mut guard = lock(&state);
            let reopen = match (guard.conn.is_some(), guard.mode, mode) {
                (false, _, _) => true,
                (true, Some(AccessMode::Read), AccessMode::Write) => !config.is_memory(),
                _ => false,
            };
            if reopen {
                guard.conn = None; // release a read-only handle before taking the write lock
                let conn = open_connection(&config, &path, mode, &name)?;
                crate::pushdown::register_hash_functions(&conn, &name)?;
                crate::collect::register(&conn, &name)?;
                guard.conn = Some(conn);
                guard.mode = Some(mode);
            }
            Ok(())
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.spawn_blocking(job).await.map_err(|e| {
                Error::backend(self.name(), format!("DuckDB worker thread failed: {e}"))
            })?,
            Err(_) => job(),
        }
    }

    fn close(&self) {
        if self.config.is_memory() {
            return; // the in-memory database lives as long as the backend
        }
        let mut guard = lock(&self.state);
        guard.conn = None;
        guard.mode = None;
    }

    async fn table_exists(&self, key: &FeatureKey) -> Result<bool> {
        let table = key.table_name();
        self.run(move |conn, name| table_exists(conn, &table, name))
            .await
    }

    async fn list_tables(&self) -> Result<Vec<String>> {
        self.run(|conn, name| {
            let mut stmt = conn
                .prepare("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")
                .map_err(|e| db_err(name, e))?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| db_err(name, e))?;
            rows.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| db_err(name, e))
        })
        .await
    }

    async fn table_schema(&self, key: &FeatureKey) -> Result<Option<SchemaRef>> {
        let table = key.table_name();
        self.run(move |conn, name| table_schema(conn, &table, name))
            .await
    }

    async fn append(&self, key: &FeatureKey, batch: RecordBatch, create: bool) -> Result<()> {
        let table = key.table_name();
        self.run(move |conn, name| append(conn, &table, batch, create, name))
            .await
    }

    async fn scan(&self, key: &FeatureKey, request: &ScanRequest) -> Result<Option<RecordBatch>> {
        let parts = self.scan_parts(key, request).await?;
        parts.map(|p| batches::concat_parts(&p)).transpose()
    }

    /// DuckDB's result chunks as they come: the store deduplicates across them and copies
    /// only the rows it keeps, instead of concatenating every scanned row first.
    async fn scan_parts(
        &self,
        key: &FeatureKey,
        request: &ScanRequest,
    ) -> Result<Option<Vec<RecordBatch>>> {
        let table = key.table_name();
        let request = request.clone();
        self.run_read(move |conn, name| scan_parts(conn, &table, &request, name))
            .await
    }

    async fn delete(&self, key: &FeatureKey, filter: Option<&Expr>) -> Result<u64> {
        let table = key.table_name();
        let filter = filter.cloned();
        self.run(move |conn, name| {
            let Some(schema) = table_schema(conn, &table, name)? else {
                return Ok(0);
            };
            if let Some(e) = filter.as_ref().and_then(|f| missing_column(f, &schema)) {
                return Err(e);
            }
            let (where_sql, params) = sql::where_clause(filter.as_ref());
            let n = conn
                .execute(
                    &format!("DELETE FROM {}{where_sql}", sql::ident(&table)),
                    duckdb::params_from_iter(params),
                )
                .map_err(|e| db_err(name, e))?;
            Ok(n as u64)
        })
        .await
    }

    async fn drop_table(&self, key: &FeatureKey) -> Result<()> {
        let table = key.table_name();
        self.run(move |conn, name| {
            conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", sql::ident(&table)))
                .map_err(|e| db_err(name, e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;

    use super::*;

    /// `(id, value)` of every row of `parts`, in order.
    fn rows(parts: &[RecordBatch]) -> Vec<(i64, String)> {
        parts
            .iter()
            .flat_map(|p| {
                let ids = p.column(0).as_primitive::<Int64Type>().clone();
                let vs = p.column(1).as_string::<i32>().clone();
                (0..p.num_rows())
                    .map(move |i| (ids.value(i), vs.value(i).to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn scan(
        conn: &Connection,
        table: &str,
        filter: Option<&str>,
        split: Split,
    ) -> Vec<RecordBatch> {
        let schema = table_schema(conn, table, "test").unwrap().unwrap();
        let filter = filter.map(|f| Expr::parse(f).unwrap());
        let select = format!("SELECT * FROM {}", sql::ident(table));
        scan_ranges(
            conn,
            table,
            &schema,
            &select,
            filter.as_ref(),
            "test",
            split,
        )
        .unwrap()
    }

    /// Ranges read every row exactly once and in row-id order, with a filter, after deletions
    /// left gaps in the row ids, and with more ranges than rows.
    #[test]
    fn ranges_read_every_row_once_in_order() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id BIGINT, v VARCHAR);
             INSERT INTO t SELECT i, 'v' || i FROM range(10000) r(i);
             DELETE FROM t WHERE id % 5 = 0 OR id > 9000;",
        )
        .unwrap();
        let one = Split {
            min_rows: 1,
            ranges: 1,
        };
        for filter in [None, Some("id > 100 AND v != 'v7'")] {
            let whole = rows(&scan(&conn, "t", filter, one));
            assert!(whole.len() > 6000, "{}", whole.len());
            for ranges in [2, 3, 7] {
                let split = Split {
                    min_rows: 1,
                    ranges,
                };
                let parts = scan(&conn, "t", filter, split);
                assert_eq!(rows(&parts), whole, "{ranges} ranges, filter {filter:?}");
            }
        }
        let tiny = Split {
            min_rows: 1,
            ranges: 8,
        };
        conn.execute_batch("CREATE TABLE s AS SELECT * FROM t WHERE id < 3")
            .unwrap();
        assert_eq!(rows(&scan(&conn, "s", None, tiny)).len(), 2);
    }

    /// A filter nothing matches gives one empty batch that still carries the columns.
    #[test]
    fn ranges_matching_nothing_keep_the_schema() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t AS SELECT i AS id, 'v' AS v FROM range(100) r(i)")
            .unwrap();
        let split = Split {
            min_rows: 1,
            ranges: 3,
        };
        let parts = scan(&conn, "t", Some("id < 0"), split);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].num_rows(), 0);
        assert_eq!(parts[0].num_columns(), 2);
    }

    /// Tables with a column the collector does not copy are still read whole, through Arrow:
    /// a list column (declined before querying) and nanosecond timestamps (whose Arrow type
    /// the schema normalises to microseconds, declined by the collecting function itself).
    #[test]
    fn columns_the_collector_declines_are_read_through_arrow() {
        let conn = Connection::open_in_memory().unwrap();
        crate::collect::register(&conn, "test").unwrap();
        conn.execute_batch(
            "CREATE TABLE l AS SELECT i AS id, [i, i + 1] AS v FROM range(5000) r(i);
             CREATE TABLE n AS SELECT i AS id, TIMESTAMP_NS '2026-01-01 00:00:00' AS v
                 FROM range(5000) r(i);",
        )
        .unwrap();
        for table in ["l", "n"] {
            let parts = scan_parts(&conn, table, &ScanRequest::all(), "test")
                .unwrap()
                .unwrap();
            let ids: Vec<i64> = parts
                .iter()
                .flat_map(|p| p.column(0).as_primitive::<Int64Type>().values().to_vec())
                .collect();
            assert_eq!(ids, (0..5000).collect::<Vec<_>>(), "table {table}");
        }
    }

    /// A column named `rowid` hides DuckDB's row ids: such a table is read whole, so rows
    /// with any value there (negative, NULL) are still read.
    #[test]
    fn a_rowid_column_is_not_mistaken_for_row_ids() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (rowid BIGINT, v VARCHAR);
             INSERT INTO t SELECT -i, 'v' || i FROM range(50) r(i);
             INSERT INTO t VALUES (NULL, 'null');",
        )
        .unwrap();
        let split = Split {
            min_rows: 1,
            ranges: 3,
        };
        let parts = scan(&conn, "t", None, split);
        assert_eq!(parts.iter().map(|p| p.num_rows()).sum::<usize>(), 51);
    }
}
