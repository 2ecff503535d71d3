//! [`DeltaBackend`]: the [`Backend`] verbs as Delta Lake operations.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchOptions};
use arrow_schema::{Schema, SchemaRef};
use async_trait::async_trait;
use deltalake::datafusion::execution::SessionStateBuilder;
use deltalake::datafusion::execution::context::SessionState;
use deltalake::datafusion::logical_expr::ident;
use deltalake::datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder};
use futures::{StreamExt, TryStreamExt};
use metaxy_core::backend::{AccessMode, Backend, Capabilities, ScanRequest};
use metaxy_core::filter::Expr;
use metaxy_core::{Error, FeatureKey, Result, batches};

use crate::config::DeltaConfig;
use crate::location::Root;
use crate::{retry, types};
use metaxy_datafusion as predicate;

use deltalake::{ObjectStore, Path as ObjectPath};

/// Feature metadata as Delta tables, one per feature, under a root directory or bucket.
///
/// * Layout as Python Metaxy's `DeltaMetadataStore`: `<root>/<part1>/<part2>.delta` (nested,
///   the default) or `<root>/<table_name>.delta` (flat), so either implementation reads the
///   other's tables.
/// * Every append is one Delta commit (`schema_mode = merge`): new columns and struct fields
///   are added to the table schema; concurrent appends from several processes all land
///   (a commit that loses the race is retried, blind appends never conflict).
/// * Scans push projections and filters into DataFusion over the Delta log: files and row
///   groups are skipped by their statistics, and rows are selected with the core's own filter
///   evaluator (see `metaxy-datafusion`), so results equal every other backend's.
/// * Hard deletes are Delta `DELETE`s; dropping a feature removes its table directory.
pub struct DeltaBackend {
    config: DeltaConfig,
    root: Root,
    storage_options: HashMap<String, String>,
    /// Keeps a temporary root alive (see [`DeltaBackend::temporary`]).
    _temp: Option<tempfile::TempDir>,
}

impl fmt::Debug for DeltaBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeltaBackend")
            .field("config", &self.config)
            .finish()
    }
}

/// Registers the object-store handlers of the compiled-in cloud features (idempotent).
fn register_cloud_handlers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(feature = "s3")]
        deltalake::aws::register_handlers(None);
        #[cfg(feature = "azure")]
        deltalake::azure::register_handlers(None);
        #[cfg(feature = "gcs")]
        deltalake::gcp::register_handlers(None);
    });
}

impl DeltaBackend {
    /// A backend for the configured root. Nothing is touched until the store is opened.
    pub fn new(config: DeltaConfig) -> Result<Self> {
        register_cloud_handlers();
        if let Err((key, message)) = config.check_write_options() {
            return Err(Error::config(None, Some(&key), message));
        }
        let root = Root::parse(&config.root_path, config.layout)?;
        let storage_options = config
            .storage_options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(DeltaBackend {
            config,
            root,
            storage_options,
            _temp: None,
        })
    }

    /// A store in a fresh temporary directory, removed when the backend is dropped.
    pub fn temporary() -> Result<Self> {
        let dir = tempfile::tempdir().map_err(|e| Error::backend("Delta", e))?;
        let mut backend = DeltaBackend::new(DeltaConfig::new(dir.path().to_string_lossy()))?;
        backend._temp = Some(dir);
        Ok(backend)
    }

    /// The configuration this backend was built from.
    pub fn config(&self) -> &DeltaConfig {
        &self.config
    }

    /// The URL of a feature's Delta table (for tools that read the tables directly).
    pub fn table_url(&self, key: &FeatureKey) -> Result<url::Url> {
        self.root.table_url(key)
    }

    fn err(&self, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        Error::backend(self.display(), e)
    }

    fn local_table_dir(&self, key: &FeatureKey) -> Option<PathBuf> {
        self.root
            .local
            .as_ref()
            .map(|root| root.join(self.root.table_path(key)))
    }

    /// The feature's table handle, loaded to its latest version when it exists (an
    /// uninitialised handle, `version() == None`, when it does not).
    async fn load(&self, key: &FeatureKey) -> Result<DeltaTable> {
        if let Some(dir) = self.local_table_dir(key) {
            // delta-rs needs the directory of a local table to exist.
            std::fs::create_dir_all(&dir).map_err(|e| {
                self.err(format!(
                    "cannot create table directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let url = self.root.table_url(key)?;
        DeltaTable::try_from_url_with_storage_options(url, self.storage_options.clone())
            .await
            .map_err(|e| self.err(e))
    }

    /// The feature's table, or `None` when it has never been written.
    async fn existing(&self, key: &FeatureKey) -> Result<Option<DeltaTable>> {
        if let Some(dir) = self.local_table_dir(key)
            && !dir.join("_delta_log").is_dir()
        {
            return Ok(None);
        }
        let table = self.load(key).await?;
        Ok(table.version().is_some().then_some(table))
    }

    fn commit_properties(&self) -> CommitProperties {
        CommitProperties::default().with_max_retries(self.config.max_commit_retries)
    }

    /// A DataFusion session that reads strings as `Utf8` (not views), as metaxy's engine
    /// consumes them.
    fn session_state(&self) -> SessionState {
        let mut config = SessionConfig::new();
        config
            .options_mut()
            .execution
            .parquet
            .schema_force_view_types = false;
        SessionStateBuilder::new()
            .with_default_features()
            .with_config(config)
            .build()
    }

    /// Rows of `table` matching `filter`, projected to `columns` (all when `None`).
    async fn query(
        &self,
        table: &DeltaTable,
        columns: Option<&[String]>,
        filter: Option<&Expr>,
    ) -> Result<RecordBatch> {
        let state = self.session_state();
        table
            .update_datafusion_session(&state)
            .map_err(|e| self.err(e))?;
        let provider = table
            .table_provider()
            .with_session(Arc::new(state.clone()))
            .await
            .map_err(|e| self.err(e))?;
        let table_schema = provider.schema();
        let ctx = SessionContext::new_with_state(state);
        let mut df = ctx.read_table(provider).map_err(|e| self.err(e))?;
        if let Some(f) = filter {
            let predicate = predicate::to_datafusion(f, &table_schema)?;
            df = df.filter(predicate).map_err(|e| self.err(e))?;
        }
        let selected: Vec<String> = match columns {
            Some(cols) => cols
                .iter()
                .filter(|c| table_schema.column_with_name(c).is_some())
                .cloned()
                .collect(),
            None => table_schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        };
        if selected.is_empty() {
            let n = df.count().await.map_err(|e| self.err(e))?;
            return Ok(RecordBatch::try_new_with_options(
                Arc::new(Schema::empty()),
                vec![],
                &RecordBatchOptions::new().with_row_count(Some(n)),
            )?);
        }
        df = df
            .select(selected.iter().map(ident).collect::<Vec<_>>())
            .map_err(|e| self.err(e))?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let parts = df.collect().await.map_err(|e| self.err(e))?;
        let batch = batches::concat_to(&schema, &parts)?;
        types::from_delta(&batch)
    }

    /// The object store at the root (paths relative to the root).
    fn root_store(&self) -> Result<Arc<dyn ObjectStore>> {
        let log_store = DeltaTableBuilder::from_url(self.root.url.clone())
            .map_err(|e| self.err(e))?
            .with_storage_options(self.storage_options.clone())
            .build_storage()
            .map_err(|e| self.err(e))?;
        Ok(log_store.object_store(None))
    }

    /// Whether the root itself exists (a local root that was never written has no tables).
    fn root_missing(&self) -> bool {
        self.root.local.as_ref().is_some_and(|p| !p.is_dir())
    }
}

#[async_trait]
impl Backend for DeltaBackend {
    fn kind(&self) -> &'static str {
        "delta"
    }

    fn display(&self) -> String {
        format!("Delta(root={})", self.root.display())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            filter_pushdown: true,
            projection_pushdown: true,
            concurrent_writers: true,
            pushdown_hash_algorithms: vec![],
        }
    }

    async fn open(&self, mode: AccessMode) -> Result<()> {
        if let Some(root) = &self.root.local {
            if mode == AccessMode::Write {
                std::fs::create_dir_all(root).map_err(|e| {
                    self.err(format!(
                        "cannot create root directory {}: {e}",
                        root.display()
                    ))
                })?;
            }
            return Ok(());
        }
        // Object storage: one listing surfaces a wrong endpoint, bucket or credentials now,
        // with the store named, instead of in the middle of a pipeline run.
        let store = self.root_store()?;
        store
            .list_with_delimiter(None)
            .await
            .map_err(|e| self.err(format!("cannot list the root: {e}")))?;
        Ok(())
    }

    fn close(&self) {}

    async fn table_exists(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.existing(key).await?.is_some())
    }

    async fn list_tables(&self) -> Result<Vec<String>> {
        if self.root_missing() {
            return Ok(vec![]);
        }
        let store = self.root_store()?;
        let mut tables = Vec::new();
        // Depth-first over directories; a `.delta` directory with a `_delta_log` is a table.
        let mut pending: Vec<(Option<ObjectPath>, usize)> = vec![(None, 0)];
        while let Some((prefix, depth)) = pending.pop() {
            let listing = store
                .list_with_delimiter(prefix.as_ref())
                .await
                .map_err(|e| self.err(e))?;
            for dir in listing.common_prefixes {
                let relative = dir.as_ref().to_string();
                if relative.ends_with(crate::location::TABLE_SUFFIX) {
                    let log = store
                        .list_with_delimiter(Some(&dir))
                        .await
                        .map_err(|e| self.err(e))?;
                    let is_table = log
                        .common_prefixes
                        .iter()
                        .any(|p| p.filename() == Some("_delta_log"));
                    if is_table && let Some(name) = self.root.table_name_of(&relative) {
                        tables.push(name);
                    }
                } else if depth < 32 && self.root.layout == crate::config::Layout::Nested {
                    pending.push((Some(dir), depth + 1));
                }
            }
        }
        tables.sort();
        tables.dedup();
        Ok(tables)
    }

    async fn table_schema(&self, key: &FeatureKey) -> Result<Option<SchemaRef>> {
        let Some(table) = self.existing(key).await? else {
            return Ok(None);
        };
        let schema = table
            .snapshot()
            .map_err(|e| self.err(e))?
            .snapshot()
            .arrow_schema();
        let empty = RecordBatch::new_empty(schema);
        Ok(Some(types::from_delta(&empty)?.schema()))
    }

    async fn append(&self, key: &FeatureKey, batch: RecordBatch, create: bool) -> Result<()> {
        let batch = types::to_delta(&batch, key.as_str())?;
        let mut attempt = 0;
        loop {
            let table = if create {
                self.load(key).await?
            } else {
                self.existing(key).await?.ok_or_else(|| {
                    Error::schema(
                        key,
                        "the feature has no Delta table yet and table creation is disabled; \
                         write with table creation enabled or create the table first",
                    )
                })?
            };
            let result = table
                .write(vec![batch.clone()])
                .with_save_mode(SaveMode::Append)
                .with_schema_mode(SchemaMode::Merge)
                .with_commit_properties(self.commit_properties())
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(e) if retry::is_conflict(&e) && attempt < self.config.max_commit_retries => {
                    // Another writer created the table or changed its schema first: reload
                    // and write again (the lost attempt's data files are never referenced).
                    attempt += 1;
                    tracing::debug!(feature = %key, attempt, "Delta append conflicted; retrying");
                    retry::backoff(attempt).await;
                }
                Err(e) => return Err(self.err(e)),
            }
        }
    }

    async fn scan(&self, key: &FeatureKey, request: &ScanRequest) -> Result<Option<RecordBatch>> {
        let Some(table) = self.existing(key).await? else {
            return Ok(None);
        };
        let batch = self
            .query(&table, request.columns.as_deref(), request.filter.as_ref())
            .await?;
        Ok(Some(batch))
    }

    async fn delete(&self, key: &FeatureKey, filter: Option<&Expr>) -> Result<u64> {
        let mut attempt = 0;
        loop {
            let Some(table) = self.existing(key).await? else {
                return Ok(0);
            };
            let before = table.clone();
            let mut builder = table
                .delete()
                .with_commit_properties(self.commit_properties());
            if let Some(f) = filter {
                let schema = before
                    .snapshot()
                    .map_err(|e| self.err(e))?
                    .snapshot()
                    .arrow_schema();
                builder = builder.with_predicate(predicate::to_datafusion(f, &schema)?);
            }
            let metrics = match builder.await {
                Ok((_, metrics)) => metrics,
                Err(e) if retry::is_conflict(&e) && attempt < self.config.max_commit_retries => {
                    attempt += 1;
                    retry::backoff(attempt).await;
                    continue;
                }
                Err(e) => return Err(self.err(e)),
            };
            return match metrics.num_deleted_rows {
                Some(n) => Ok(n as u64),
                // Whole files were removed from the log without reading them: count the rows
                // they held in the snapshot the delete started from.
                None => Ok(self.query(&before, Some(&[]), filter).await?.num_rows() as u64),
            };
        }
    }

    async fn drop_table(&self, key: &FeatureKey) -> Result<()> {
        if let Some(dir) = self.local_table_dir(key) {
            return match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(self.err(format!("cannot remove {}: {e}", dir.display()))),
            };
        }
        let url = self.root.table_url(key)?;
        let store = DeltaTableBuilder::from_url(url)
            .map_err(|e| self.err(e))?
            .with_storage_options(self.storage_options.clone())
            .build_storage()
            .map_err(|e| self.err(e))?
            .object_store(None);
        let locations = store.list(None).map_ok(|meta| meta.location).boxed();
        store
            .delete_stream(locations)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
