//! [`LanceDbBackend`]: the [`Backend`] verbs as LanceDB table operations.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion_expr::lit;
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::table::NewColumnTransform;
use lancedb::{Connection, Table};
use metaxy_core::backend::{AccessMode, Backend, Capabilities, ScanRequest};
use metaxy_core::filter::Expr;
use metaxy_core::{Error, FeatureKey, Result, batches};

use crate::config::{LanceDbConfig, redact};
use crate::types;

/// Feature metadata as LanceDB tables, one per feature, in one LanceDB database.
///
/// * Tables are named [`FeatureKey::table_name`] (`example/video` → `example__video`), as
///   Python Metaxy's `LanceDBMetadataStore` names them, so either implementation reads the
///   other's tables.
/// * Appends are Lance appends. A batch with new columns, or new fields in a struct column,
///   first adds them to the table as all-NULL columns (a metadata-only Lance schema change);
///   existing rows are never rewritten.
/// * Scans push the projection and the filter into Lance's scanner: its statistics and
///   scalar indexes prune with the plain comparisons, and rows are selected by the core's
///   own filter evaluator (see `metaxy-datafusion`), so results equal every other backend's.
/// * Hard deletes are Lance deletes (deletion vectors); dropping a feature drops its table.
pub struct LanceDbBackend {
    config: LanceDbConfig,
    storage_options: BTreeMap<String, String>,
    /// The database directory when `uri` is a local path.
    local: Option<PathBuf>,
    connection: Mutex<Option<Connection>>,
    /// Keeps a temporary database alive (see [`LanceDbBackend::temporary`]).
    _temp: Option<tempfile::TempDir>,
}

impl fmt::Debug for LanceDbBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LanceDbBackend")
            .field("config", &self.config)
            .finish()
    }
}

/// The URI schemes that need a cargo feature, and that feature.
const CLOUD_SCHEMES: [(&str, &str, bool); 6] = [
    ("s3", "aws", cfg!(feature = "aws")),
    ("s3+ddb", "aws", cfg!(feature = "aws")),
    ("gs", "gcs", cfg!(feature = "gcs")),
    ("az", "azure", cfg!(feature = "azure")),
    ("abfss", "azure", cfg!(feature = "azure")),
    ("memory", "", true),
];

impl LanceDbBackend {
    /// A backend for the configured database. Nothing is touched until the store is opened.
    pub fn new(config: LanceDbConfig) -> Result<Self> {
        let storage_options = config
            .effective_storage_options()
            .map_err(|(key, message)| Error::config(None, Some(&key), message))?;
        let uri = config.uri.trim();
        if uri.is_empty() {
            return Err(Error::InvalidArgument(
                "the LanceDB uri is empty: give a directory or an object-store URI".into(),
            ));
        }
        let local = match uri.split_once("://") {
            None => Some(PathBuf::from(uri)),
            Some(("file", path)) => Some(PathBuf::from(path)),
            Some((scheme, _)) => {
                match CLOUD_SCHEMES.iter().find(|(s, _, _)| *s == scheme) {
                    Some((_, _, true)) => {}
                    Some((_, feature, false)) => {
                        return Err(Error::InvalidArgument(format!(
                            "{scheme}:// needs metaxy-lancedb built with the `{feature}` feature \
                             (metaxy-lancedb = {{ features = [\"{feature}\"] }})"
                        )));
                    }
                    None => {
                        return Err(Error::InvalidArgument(format!(
                            "unsupported LanceDB uri scheme `{scheme}://`: use a local \
                             directory, s3://, gs:// or az:// (LanceDB Cloud db:// is not \
                             supported)"
                        )));
                    }
                }
                None
            }
        };
        Ok(LanceDbBackend {
            config,
            storage_options,
            local,
            connection: Mutex::new(None),
            _temp: None,
        })
    }

    /// A database in a fresh temporary directory, removed when the backend is dropped.
    pub fn temporary() -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|e| Error::backend("LanceDB", e))?;
        let mut backend = LanceDbBackend::new(LanceDbConfig::new(dir.path().to_string_lossy()))?;
        backend._temp = Some(dir);
        Ok(backend)
    }

    /// The configuration this backend was built from.
    pub fn config(&self) -> &LanceDbConfig {
        &self.config
    }

    fn err(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        Error::backend(self.display(), e)
    }

    /// The URI handed to LanceDB.
    fn uri(&self) -> String {
        match &self.local {
            Some(path) => path.to_string_lossy().into_owned(),
            None => self.config.uri.trim().to_string(),
        }
    }

    /// A local database directory that does not exist holds no tables.
    fn missing_locally(&self) -> bool {
        self.local.as_ref().is_some_and(|p| !p.is_dir())
    }

    /// The open connection, connecting on first use.
    async fn connection(&self) -> Result<Connection> {
        if let Some(c) = self.lock().as_ref() {
            return Ok(c.clone());
        }
        let connection = lancedb::connect(&self.uri())
            .storage_options(self.storage_options.clone())
            .execute()
            .await
            .map_err(|e| self.err(e))?;
        Ok(self.lock().get_or_insert(connection).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Connection>> {
        // A panic while holding the lock cannot leave the Option half-written.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The feature's table, or `None` when it does not exist.
    async fn table(&self, key: &FeatureKey) -> Result<Option<Table>> {
        if self.missing_locally() {
            return Ok(None);
        }
        let connection = self.connection().await?;
        match connection.open_table(key.table_name()).execute().await {
            Ok(t) => Ok(Some(t)),
            Err(lancedb::Error::TableNotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn raw_schema(&self, table: &Table) -> Result<SchemaRef> {
        table.schema().await.map_err(|e| self.err(e))
    }

    /// Adds the columns and struct fields of `incoming` that `table` lacks, as all-NULL
    /// columns, and returns the table's schema afterwards.
    async fn evolve(
        &self,
        key: &FeatureKey,
        table: &Table,
        incoming: &Schema,
    ) -> Result<SchemaRef> {
        let current = self.raw_schema(table).await?;
        // The same conflict rules (and messages) as every other backend.
        let normalized = batches::normalize_batch(&RecordBatch::new_empty(current.clone()))?;
        batches::merge_schemas([&normalized.schema(), &Arc::new(incoming.clone())])
            .map_err(|e| Error::schema(key, e.to_string()))?;
        let additions = types::missing_fields(&current, incoming);
        if additions.is_empty() {
            return Ok(current);
        }
        tracing::debug!(feature = %key, columns = additions.len(), "adding columns to Lance table");
        table
            .add_columns(
                NewColumnTransform::AllNulls(Arc::new(Schema::new(additions))),
                None,
            )
            .await
            .map_err(|e| self.err(e))?;
        self.raw_schema(table).await
    }

    /// Rows of `table` matching `filter`, projected to `columns` (all when `None`).
    async fn query(
        &self,
        table: &Table,
        columns: Option<&[String]>,
        filter: Option<&Expr>,
    ) -> Result<RecordBatch> {
        let schema = self.raw_schema(table).await?;
        let selected: Vec<String> = match columns {
            Some(cols) => cols
                .iter()
                .filter(|c| schema.column_with_name(c).is_some())
                .cloned()
                .collect(),
            None => schema.fields().iter().map(|f| f.name().clone()).collect(),
        };
        let mut query = table.query();
        if let Some(f) = filter {
            query = query.only_if_expr(metaxy_datafusion::to_datafusion(f, &schema)?);
        }
        // A count still reads one column: Lance needs a projection to produce rows.
        let read: Vec<String> = match (selected.is_empty(), schema.fields().first()) {
            (true, Some(first)) => vec![first.name().clone()],
            (true, None) => vec![],
            (false, _) => selected.clone(),
        };
        let stream = query
            .select(Select::Columns(read))
            .execute()
            .await
            .map_err(|e| self.err(e))?;
        let stream_schema = stream.schema();
        let parts: Vec<RecordBatch> = stream.try_collect().await.map_err(|e| self.err(e))?;
        let batch = batches::concat_to(&stream_schema, &parts)?;
        if selected.is_empty() {
            return Ok(RecordBatch::try_new_with_options(
                Arc::new(Schema::empty()),
                vec![],
                &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
            )?);
        }
        let batch = batches::project_existing(&batch, &selected)?;
        batches::normalize_batch(&batch)
    }
}

#[async_trait]
impl Backend for LanceDbBackend {
    fn kind(&self) -> &'static str {
        "lancedb"
    }

    fn display(&self) -> String {
        format!("LanceDB(uri={})", redact(&self.uri()))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            filter_pushdown: true,
            projection_pushdown: true,
            concurrent_writers: false,
            pushdown_hash_algorithms: vec![],
        }
    }

    async fn open(&self, mode: AccessMode) -> Result<()> {
        if let Some(dir) = &self.local {
            if mode == AccessMode::Write {
                std::fs::create_dir_all(dir).map_err(|e| {
                    self.err(format!("cannot create directory {}: {e}", dir.display()))
                })?;
            } else if !dir.is_dir() {
                // Nothing to read yet; connecting would create the directory.
                return Ok(());
            }
        }
        // Listing surfaces a wrong path, bucket or credentials now, with the store named.
        let connection = self.connection().await?;
        connection
            .table_names()
            .execute()
            .await
            .map_err(|e| self.err(format!("cannot list tables: {e}")))?;
        Ok(())
    }

    fn close(&self) {
        self.lock().take();
    }

    async fn table_exists(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.table(key).await?.is_some())
    }

    async fn list_tables(&self) -> Result<Vec<String>> {
        if self.missing_locally() {
            return Ok(vec![]);
        }
        let mut names = self
            .connection()
            .await?
            .table_names()
            .execute()
            .await
            .map_err(|e| self.err(e))?;
        names.sort();
        Ok(names)
    }

    async fn table_schema(&self, key: &FeatureKey) -> Result<Option<SchemaRef>> {
        let Some(table) = self.table(key).await? else {
            return Ok(None);
        };
        let schema = self.raw_schema(&table).await?;
        Ok(Some(
            batches::normalize_batch(&RecordBatch::new_empty(schema))?.schema(),
        ))
    }

    async fn append(&self, key: &FeatureKey, batch: RecordBatch, create: bool) -> Result<()> {
        let batch = types::to_lance(&batch)?;
        let table = match self.table(key).await? {
            Some(t) => t,
            None if !create => {
                return Err(Error::schema(
                    key,
                    "the feature has no LanceDB table yet and table creation is disabled; \
                     write with table creation enabled or create the table first",
                ));
            }
            None => {
                let connection = self.connection().await?;
                match connection
                    .create_table(key.table_name(), batch.clone())
                    .execute()
                    .await
                {
                    Ok(_) => return Ok(()),
                    // Another writer created it first: append to theirs.
                    Err(lancedb::Error::TableAlreadyExists { .. }) => self
                        .table(key)
                        .await?
                        .ok_or_else(|| self.err("the table vanished while being created"))?,
                    Err(e) => return Err(self.err(e)),
                }
            }
        };
        let schema = self.evolve(key, &table, &batch.schema()).await?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let aligned = batches::align_batch(&batch, &schema)?;
        table
            .add(aligned)
            .execute()
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn scan(&self, key: &FeatureKey, request: &ScanRequest) -> Result<Option<RecordBatch>> {
        let Some(table) = self.table(key).await? else {
            return Ok(None);
        };
        let batch = self
            .query(&table, request.columns.as_deref(), request.filter.as_ref())
            .await?;
        Ok(Some(batch))
    }

    async fn delete(&self, key: &FeatureKey, filter: Option<&Expr>) -> Result<u64> {
        let Some(table) = self.table(key).await? else {
            return Ok(0);
        };
        let predicate = match filter {
            Some(f) => metaxy_datafusion::to_datafusion(f, &*self.raw_schema(&table).await?)?,
            None => lit(true),
        };
        let result = table.delete(&predicate).await.map_err(|e| self.err(e))?;
        Ok(result.num_deleted_rows)
    }

    async fn drop_table(&self, key: &FeatureKey) -> Result<()> {
        if self.missing_locally() {
            return Ok(());
        }
        let connection = self.connection().await?;
        match connection.drop_table(key.table_name(), &[]).await {
            Ok(()) | Err(lancedb::Error::TableNotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }
}
