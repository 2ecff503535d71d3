//! [`SqliteBackend`]: metaxy's storage verbs on a SQLite database.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{Field, Schema, SchemaRef};
use async_trait::async_trait;
use metaxy_core::backend::{AccessMode, Backend, Capabilities, ScanRequest};
use metaxy_core::{Error, Expr, FeatureKey, Result, batches};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::config::SqliteConfig;
use crate::convert::{Bind, Collect, param};
use crate::sql::{dialect, ident, split};
use crate::types::{self, CATALOG, declared};

/// A metaxy backend on a SQLite database file (WAL mode, so readers never block the writer
/// and several processes can write one file, each waiting up to the busy timeout for the
/// others). Every call runs on a blocking thread, never on the async runtime.
#[derive(Debug)]
pub struct SqliteBackend {
    config: SqliteConfig,
    state: Arc<Mutex<State>>,
    _temp: Option<Arc<tempfile::TempDir>>,
}

#[derive(Debug, Default)]
struct State {
    conn: Option<Connection>,
    mode: Option<AccessMode>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Wraps a SQLite error; "database is locked" gets a hint about the busy timeout.
pub(crate) fn sql_err(e: rusqlite::Error) -> Error {
    let msg = e.to_string();
    if msg.contains("database is locked") || msg.contains("database is busy") {
        return Error::backend(
            "SQLite",
            format!(
                "{msg}: another process held the write lock longer than busy_timeout_ms; raise it in the store's config"
            ),
        );
    }
    Error::backend("SQLite", e)
}

impl SqliteBackend {
    /// A backend for the given configuration (nothing is opened until the store opens).
    pub fn new(config: SqliteConfig) -> Self {
        SqliteBackend {
            config,
            state: Arc::new(Mutex::new(State::default())),
            _temp: None,
        }
    }

    /// A backend on a database file.
    pub fn file(path: impl AsRef<std::path::Path>) -> Self {
        Self::new(SqliteConfig::file(path))
    }

    /// A backend on a private in-memory database.
    pub fn in_memory() -> Self {
        Self::new(SqliteConfig::in_memory())
    }

    /// A backend on a database file in a fresh temporary directory, deleted on drop (tests).
    pub fn temporary() -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|e| Error::backend("SQLite", e))?;
        let mut b = Self::file(dir.path().join("metadata.sqlite"));
        b._temp = Some(Arc::new(dir));
        Ok(b)
    }

    fn path(&self) -> PathBuf {
        let p = PathBuf::from(&self.config.database);
        std::path::absolute(&p).unwrap_or(p)
    }

    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let state = self.state.clone();
        let name = self.display();
        let job = move || {
            let mut guard = lock(&state);
            let conn = guard
                .conn
                .as_mut()
                .ok_or(Error::StoreNotOpen { store: name })?;
            f(conn)
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(job)
                .await
                .map_err(|e| Error::backend("SQLite", format!("worker thread failed: {e}")))?,
            Err(_) => job(),
        }
    }
}

/// Runs `f` until it does not fail with SQLITE_BUSY / SQLITE_LOCKED, for at most the busy
/// timeout. SQLite's own busy handler waits on locks, but returns "busy" at once where
/// waiting could deadlock (two connections upgrading to the write lock, switching the
/// journal mode): those attempts are re-run from scratch after a short, jittered pause.
fn retry_busy<T>(config: &SqliteConfig, mut f: impl FnMut() -> rusqlite::Result<T>) -> Result<T> {
    let deadline = std::time::Instant::now() + Duration::from_millis(config.busy_timeout_ms);
    let mut attempt: u64 = 0;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                attempt += 1;
                let jitter = u64::from(std::process::id()).wrapping_mul(attempt) % 20;
                std::thread::sleep(Duration::from_millis(5 + attempt.min(10) * 5 + jitter));
            }
            other => return other.map_err(sql_err),
        }
    }
}

fn open_connection(
    config: &SqliteConfig,
    path: &std::path::Path,
    mode: AccessMode,
) -> Result<Connection> {
    let conn = if config.is_memory() || (mode == AccessMode::Read && !path.exists()) {
        // a file that does not exist yet reads as an empty database
        Connection::open_in_memory().map_err(sql_err)?
    } else if mode == AccessMode::Read {
        Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_err)?
    } else {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::backend("SQLite", format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        // Several processes opening a fresh file at once race for the lock that switches it
        // to WAL; SQLite answers "busy" without waiting (deadlock avoidance), so retry.
        let (conn, mode) = retry_busy(config, || {
            let conn = Connection::open(path)?;
            conn.busy_timeout(Duration::from_millis(config.busy_timeout_ms))?;
            let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            Ok((conn, mode))
        })?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::backend(
                "SQLite",
                format!("cannot switch {} to WAL mode (got {mode})", path.display()),
            ));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL")
            .map_err(sql_err)?;
        conn
    };
    conn.busy_timeout(Duration::from_millis(config.busy_timeout_ms))
        .map_err(sql_err)?;
    Ok(conn)
}

fn create_or_evolve(
    conn: &Connection,
    table: &str,
    batch: &Schema,
    create: bool,
) -> Result<SchemaRef> {
    types::ensure_catalog(conn).map_err(sql_err)?;
    match types::table_schema(conn, table)? {
        None if !create => Err(Error::InvalidArgument(format!(
            "table `{table}` does not exist and auto_create_tables is off; create it first or enable auto_create_tables"
        ))),
        None => {
            let cols = batch
                .fields()
                .iter()
                .map(|f| format!("{} {}", ident(f.name()), declared(f.data_type())))
                .collect::<Vec<_>>();
            conn.execute_batch(&format!(
                "CREATE TABLE {} ({})",
                ident(table),
                cols.join(", ")
            ))
            .map_err(sql_err)?;
            types::record_schema(conn, table, batch)?;
            Ok(Arc::new(batch.clone()))
        }
        Some(existing) => {
            let merged = batches::merge_schemas([&existing, &Arc::new(batch.clone())])?;
            for f in merged.fields() {
                if existing.column_with_name(f.name()).is_none() {
                    conn.execute_batch(&format!(
                        "ALTER TABLE {} ADD COLUMN {} {}",
                        ident(table),
                        ident(f.name()),
                        declared(f.data_type())
                    ))
                    .map_err(sql_err)?;
                }
            }
            if merged.as_ref() != existing.as_ref() {
                types::record_schema(conn, table, &merged)?;
            }
            Ok(merged)
        }
    }
}

fn append(conn: &mut Connection, table: &str, batch: RecordBatch, create: bool) -> Result<()> {
    let batch = batches::normalize_batch(&batch)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_err)?;
    let target = create_or_evolve(&tx, table, batch.schema_ref(), create)?;
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
        let binds = batch
            .columns()
            .iter()
            .map(Bind::new)
            .collect::<Result<Vec<_>>>()?;
        let names: Vec<String> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| ident(f.name()))
            .collect();
        let placeholders = vec!["?"; names.len()].join(", ");
        let mut stmt = tx
            .prepare(&format!(
                "INSERT INTO {} ({}) VALUES ({placeholders})",
                ident(table),
                names.join(", ")
            ))
            .map_err(sql_err)?;
        for row in 0..batch.num_rows() {
            stmt.execute(rusqlite::params_from_iter(
                binds
                    .iter()
                    .map(|b| rusqlite::types::ToSqlOutput::Borrowed(b.value(row))),
            ))
            .map_err(sql_err)?;
        }
    }
    tx.commit().map_err(sql_err)
}

/// Runs `SELECT <columns> FROM table WHERE <pushed>` and builds Arrow columns of `schema`.
fn select(
    conn: &Connection,
    table: &str,
    schema: &Schema,
    columns: &[String],
    pushed: Option<&Expr>,
    with_rowid: bool,
) -> Result<(RecordBatch, Vec<i64>)> {
    let mut params = Vec::new();
    let where_sql = pushed
        .map(|p| format!(" WHERE {}", p.to_sql(&dialect(), &mut params)))
        .unwrap_or_default();
    let mut list: Vec<String> = columns.iter().map(|c| ident(c)).collect();
    list.push("rowid".into());
    let sql = format!(
        "SELECT {} FROM {}{where_sql}",
        list.join(", "),
        ident(table)
    );
    let mut stmt = conn.prepare(&sql).map_err(sql_err)?;
    let types: Vec<&arrow_schema::DataType> = columns
        .iter()
        .map(|c| {
            schema
                .field_with_name(c)
                .map(|f| f.data_type())
                .map_err(Error::from)
        })
        .collect::<Result<_>>()?;
    let mut collectors: Vec<Collect> = types.iter().map(|t| Collect::new(t)).collect();
    let mut rowids = Vec::new();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter().map(param)))
        .map_err(sql_err)?;
    let mut n = 0usize;
    while let Some(row) = rows.next().map_err(sql_err)? {
        for (i, c) in collectors.iter_mut().enumerate() {
            c.push(row.get_ref(i).map_err(sql_err)?, &columns[i])?;
        }
        if with_rowid {
            rowids.push(row.get::<_, i64>(columns.len()).map_err(sql_err)?);
        }
        n += 1;
    }
    let arrays: Vec<ArrayRef> = collectors
        .into_iter()
        .zip(&types)
        .zip(columns)
        .map(|((c, t), name)| c.finish(t, name))
        .collect::<Result<_>>()?;
    let fields: Vec<Field> = columns
        .iter()
        .zip(&arrays)
        .map(|(c, a)| Field::new(c, a.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )?;
    Ok((batch, rowids))
}

fn scan(conn: &Connection, table: &str, request: &ScanRequest) -> Result<Option<RecordBatch>> {
    let Some(schema) = types::table_schema(conn, table)? else {
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
            if schema.column_with_name(&c).is_some() && !needed.contains(&c) {
                needed.push(c);
            } else if schema.column_with_name(&c).is_none() {
                // a struct field reference `a.b` needs its struct column `a`
                if let Some((head, _)) = c.split_once('.')
                    && schema.column_with_name(head).is_some()
                    && !needed.iter().any(|n| n == head)
                {
                    needed.push(head.to_string());
                }
            }
        }
    }
    let (mut batch, _) = select(conn, table, &schema, &needed, pushed.as_ref(), false)?;
    if let Some(r) = rest {
        batch = r.filter(&batch)?;
    }
    Ok(Some(batches::project_existing(&batch, &requested)?))
}

fn delete(conn: &mut Connection, table: &str, filter: Option<&Expr>) -> Result<u64> {
    let Some(schema) = types::table_schema(conn, table)? else {
        return Ok(0);
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_err)?;
    let n = match filter {
        None => tx
            .execute(&format!("DELETE FROM {}", ident(table)), [])
            .map_err(sql_err)?,
        Some(f) => match split(f, &schema) {
            (pushed, None) => {
                let mut params = Vec::new();
                let where_sql = pushed
                    .map(|p| format!(" WHERE {}", p.to_sql(&dialect(), &mut params)))
                    .unwrap_or_default();
                tx.execute(
                    &format!("DELETE FROM {}{where_sql}", ident(table)),
                    rusqlite::params_from_iter(params.iter().map(param)),
                )
                .map_err(sql_err)?
            }
            (pushed, Some(rest)) => {
                // evaluate the rest in the core, then delete the matching rows by rowid
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
                let (batch, rowids) = select(&tx, table, &schema, &cols, pushed.as_ref(), true)?;
                let mask = rest.evaluate(&batch)?;
                let hits: Vec<i64> = (0..mask.len())
                    .filter(|i| mask.is_valid(*i) && mask.value(*i))
                    .map(|i| rowids[i])
                    .collect();
                let mut stmt = tx
                    .prepare(&format!("DELETE FROM {} WHERE rowid = ?", ident(table)))
                    .map_err(sql_err)?;
                for id in &hits {
                    stmt.execute([id]).map_err(sql_err)?;
                }
                hits.len()
            }
        },
    };
    tx.commit().map_err(sql_err)?;
    Ok(n as u64)
}

#[async_trait]
impl Backend for SqliteBackend {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn display(&self) -> String {
        if self.config.is_memory() {
            "SqliteBackend(database=:memory:)".into()
        } else {
            format!("SqliteBackend(database={})", self.path().display())
        }
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            filter_pushdown: true,
            projection_pushdown: true,
            concurrent_writers: true,
            pushdown_hash_algorithms: Vec::new(),
        }
    }

    async fn open(&self, mode: AccessMode) -> Result<()> {
        let state = self.state.clone();
        let config = self.config.clone();
        let path = self.path();
        let job = move || -> Result<()> {
            let mut guard = lock(&state);
            let reopen = match (guard.conn.is_some(), guard.mode, mode) {
                (false, _, _) => true,
                (true, Some(AccessMode::Read), AccessMode::Write) => !config.is_memory(),
                _ => false,
            };
            if reopen {
                guard.conn = None;
                let conn = open_connection(&config, &path, mode)?;
                if mode == AccessMode::Write || config.is_memory() {
                    retry_busy(&config, || types::ensure_catalog(&conn))?;
                }
                guard.conn = Some(conn);
                guard.mode = Some(mode);
            }
            Ok(())
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(job)
                .await
                .map_err(|e| Error::backend("SQLite", format!("worker thread failed: {e}")))?,
            Err(_) => job(),
        }
    }

    fn close(&self) {
        if self.config.is_memory() {
            return;
        }
        let mut guard = lock(&self.state);
        guard.conn = None;
        guard.mode = None;
    }

    async fn table_exists(&self, key: &FeatureKey) -> Result<bool> {
        let table = key.table_name();
        self.run(move |conn| Ok(types::table_schema(conn, &table)?.is_some()))
            .await
    }

    async fn list_tables(&self) -> Result<Vec<String>> {
        self.run(|conn| {
            let mut stmt = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name <> ?1 AND name NOT LIKE 'sqlite_%' ORDER BY name")
                .map_err(sql_err)?;
            let rows = stmt.query_map([CATALOG], |r| r.get::<_, String>(0)).map_err(sql_err)?;
            rows.collect::<std::result::Result<Vec<_>, _>>().map_err(sql_err)
        })
        .await
    }

    async fn table_schema(&self, key: &FeatureKey) -> Result<Option<SchemaRef>> {
        let table = key.table_name();
        self.run(move |conn| types::table_schema(conn, &table))
            .await
    }

    async fn append(&self, key: &FeatureKey, batch: RecordBatch, create: bool) -> Result<()> {
        let table = key.table_name();
        self.run(move |conn| append(conn, &table, batch, create))
            .await
    }

    async fn scan(&self, key: &FeatureKey, request: &ScanRequest) -> Result<Option<RecordBatch>> {
        let table = key.table_name();
        let request = request.clone();
        self.run(move |conn| scan(conn, &table, &request)).await
    }

    async fn delete(&self, key: &FeatureKey, filter: Option<&Expr>) -> Result<u64> {
        let table = key.table_name();
        let filter = filter.cloned();
        self.run(move |conn| delete(conn, &table, filter.as_ref()))
            .await
    }

    async fn drop_table(&self, key: &FeatureKey) -> Result<()> {
        let table = key.table_name();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", ident(&table)))
                .map_err(sql_err)?;
            types::ensure_catalog(&tx).map_err(sql_err)?;
            tx.execute(
                &format!("DELETE FROM {} WHERE table_name = ?1", ident(CATALOG)),
                [&table],
            )
            .map_err(sql_err)?;
            tx.commit().map_err(sql_err)
        })
        .await
    }
}
