//! The in-memory backend: the reference every other backend is compared with.

mod part;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use async_trait::async_trait;

use super::{AccessMode, Backend, Capabilities, ScanRequest};
use crate::batches;
use crate::error::{Error, Result};
use crate::filter::Expr;
use crate::key::FeatureKey;
use part::{Part, restrict};

/// Keeps every table as Arrow batches in process memory, one per append, with columns that
/// hold one value on every row of an append (versions, timestamps) stored once. Data lives as
/// long as the backend value (share it with `Arc` to reopen the same data). Useful for tests,
/// notebooks and as the reference implementation of the [`Backend`] contract.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    tables: Mutex<HashMap<String, Vec<Part>>>,
}

impl MemoryBackend {
    /// An empty in-memory backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> MutexGuard<'_, HashMap<String, Vec<Part>>> {
        // A poisoned lock only means another thread panicked mid-operation; the map itself is
        // always in a consistent state (every mutation is a single insert/replace).
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Compacts a table's batches into one (once), so that repeated scans do not concatenate.
    fn compacted(&self, table: &str) -> Result<Option<RecordBatch>> {
        let mut tables = self.tables();
        let Some(parts) = tables.get_mut(table) else {
            return Ok(None);
        };
        if parts.len() != 1 {
            let all = parts.iter().map(Part::batch).collect::<Result<Vec<_>>>()?;
            let merged = batches::concat_merged(&all)?;
            *parts = vec![Part::compact(&merged)?];
        }
        parts.first().map(Part::batch).transpose()
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn display(&self) -> String {
        "MemoryBackend".to_string()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            filter_pushdown: false,
            projection_pushdown: true,
            concurrent_writers: true,
            pushdown_hash_algorithms: Vec::new(),
        }
    }

    async fn open(&self, _mode: AccessMode) -> Result<()> {
        Ok(())
    }

    fn close(&self) {}

    async fn table_exists(&self, key: &FeatureKey) -> Result<bool> {
        Ok(self.tables().contains_key(&key.table_name()))
    }

    async fn list_tables(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.tables().keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    async fn table_schema(&self, key: &FeatureKey) -> Result<Option<SchemaRef>> {
        let tables = self.tables();
        let Some(parts) = tables.get(&key.table_name()) else {
            return Ok(None);
        };
        Ok(Some(batches::merge_schemas(
            parts.iter().map(Part::schema),
        )?))
    }

    async fn append(&self, key: &FeatureKey, batch: RecordBatch, create: bool) -> Result<()> {
        let table = key.table_name();
        let mut tables = self.tables();
        match tables.get_mut(&table) {
            Some(parts) => {
                // Check the schema merges now, so a bad write fails here and not on a later read.
                let mut schemas: Vec<SchemaRef> =
                    parts.iter().map(|p| p.schema().clone()).collect();
                schemas.push(batch.schema());
                batches::merge_schemas(schemas.iter())?;
                parts.push(Part::compact(&batch)?);
            }
            None if create => {
                tables.insert(table, vec![Part::compact(&batch)?]);
            }
            None => {
                return Err(Error::InvalidArgument(format!(
                    "table `{table}` does not exist and table creation is disabled \
                     (auto_create_tables = false); create it first or enable auto_create_tables"
                )));
            }
        }
        Ok(())
    }

    async fn scan(&self, key: &FeatureKey, request: &ScanRequest) -> Result<Option<RecordBatch>> {
        let parts = self.scan_parts(key, request).await?;
        parts.map(|p| batches::concat_parts(&p)).transpose()
    }

    async fn scan_parts(
        &self,
        key: &FeatureKey,
        request: &ScanRequest,
    ) -> Result<Option<Vec<RecordBatch>>> {
        let Some(mut cols) = request.columns_with_filter() else {
            let Some(batch) = self.compacted(&key.table_name())? else {
                return Ok(None);
            };
            return Ok(Some(vec![match &request.filter {
                Some(f) => f.filter(&batch)?,
                None => batch,
            }]));
        };
        // A filter on `s.f` (a field of struct column `s`) needs the column `s`.
        for c in cols.clone() {
            if let Some((head, _)) = c.split_once('.')
                && !cols.iter().any(|x| x == head)
            {
                cols.push(head.to_string());
            }
        }
        // Each append is read on its own, so only the requested columns of the matching rows
        // are ever copied, and appends are never concatenated here: the store keeps the latest
        // rows across them. A filter on columns that are constant in an append (the feature
        // version) is decided once for the whole append, and those columns are not repeated.
        let tables = self.tables();
        let Some(parts) = tables.get(&key.table_name()) else {
            return Ok(None);
        };
        let schema = batches::merge_schemas(
            parts
                .iter()
                .map(|p| restrict(p.schema(), &cols))
                .collect::<Vec<_>>()
                .iter(),
        )?;
        let wanted = request.columns.clone().unwrap_or_default();
        let out_schema = restrict(&schema, &wanted);
        let selected = parts
            .iter()
            .map(|p| {
                let all = || batches::align_batch(&p.project(&wanted)?, &out_schema);
                let Some(f) = &request.filter else {
                    return all();
                };
                match p.keeps_all(f, &schema)? {
                    Some(true) => all(),
                    Some(false) => Ok(batches::empty(out_schema.clone())),
                    None => {
                        let b = batches::align_batch(&p.project(&cols)?, &schema)?;
                        batches::project_existing(&f.filter(&b)?, &wanted)
                    }
                }
            })
            .collect::<Result<Vec<_>>>()?;
        // parts that matched nothing are dropped, keeping one so the schema is known
        let (nonempty, empty): (Vec<_>, Vec<_>) =
            selected.into_iter().partition(|p| p.num_rows() > 0);
        Ok(Some(if nonempty.is_empty() {
            empty.into_iter().take(1).collect()
        } else {
            nonempty
        }))
    }

    async fn delete(&self, key: &FeatureKey, filter: Option<&Expr>) -> Result<u64> {
        let table = key.table_name();
        let Some(batch) = self.compacted(&table)? else {
            return Ok(0);
        };
        let kept = match filter {
            Some(f) => {
                let mask = f.evaluate(&batch)?;
                // keep rows where the filter is not true (false or NULL)
                let keep = arrow_arith::boolean::not(&arrow_array::BooleanArray::from(
                    mask.iter()
                        .map(|v| Some(v == Some(true)))
                        .collect::<Vec<_>>(),
                ))?;
                arrow_select::filter::filter_record_batch(&batch, &keep)?
            }
            None => RecordBatch::new_empty(batch.schema()),
        };
        let deleted = (batch.num_rows() - kept.num_rows()) as u64;
        self.tables().insert(table, vec![Part::compact(&kept)?]);
        Ok(deleted)
    }

    async fn drop_table(&self, key: &FeatureKey) -> Result<()> {
        self.tables().remove(&key.table_name());
        Ok(())
    }
}
