//! `rebase` and `copy_metadata`: carrying metadata across a definition change without
//! recomputation, and between stores (reference 4.9 and 4.10).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array, new_null_array};
use arrow_schema::DataType;
use serde::Serialize;

use super::write::WriteKind;
use super::{MetadataStore, ReadOptions, ResolveOptions, WriteOptions};
use crate::batches;
use crate::columns::*;
use crate::error::{Error, Result};
use crate::filter::Expr;
use crate::key::{FeatureKey, IntoFeatureKey};
use crate::keys::{self, Grouping};

/// What `copy_metadata` copied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CopyResult {
    /// Features with at least one row copied.
    pub features_copied: usize,
    /// Rows copied.
    pub rows_copied: usize,
}

/// Options of [`MetadataStore::copy_metadata`].
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Filters per feature.
    pub filters: HashMap<FeatureKey, Vec<Expr>>,
    /// Filters applied to every feature.
    pub global_filters: Vec<Expr>,
    /// Copy rows of every feature version (default true).
    pub with_feature_history: bool,
    /// Copy every historical row, not only the latest per sample (default false).
    pub with_sample_history: bool,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            filters: HashMap::new(),
            global_filters: Vec::new(),
            with_feature_history: true,
            with_sample_history: false,
        }
    }
}

impl MetadataStore {
    /// Carries rows of an older feature version onto the current version (or
    /// `to_feature_version`, looked up among pushed definitions) without recomputing them.
    ///
    /// `rows` are typically read with `ReadOptions::new().feature_version(old)`. They get the
    /// target version's provenance (computed from the current upstream data); data versions
    /// the user overrode are kept, the others follow the new provenance. Write the result with
    /// `WriteOptions { preserve_feature_version: true, .. }`.
    pub async fn rebase(
        &self,
        key: impl IntoFeatureKey,
        rows: RecordBatch,
        to_feature_version: Option<&str>,
    ) -> Result<RecordBatch> {
        self.require_open()?;
        let key = key.into_feature_key()?;
        let current = self.graph();
        let spec = current.spec(&key)?;
        if spec.is_root() {
            return Err(Error::InvalidArgument(format!(
                "Cannot rebase root feature `{key}`: its provenance comes from the caller, not from upstream \
                 features; write the rows again with their provenance instead"
            )));
        }
        let graph = match to_feature_version {
            None => current.clone(),
            Some(v) if v == current.feature_version(&key)? => current.clone(),
            Some(v) => {
                let pushed = self.pushed_version_of(&key, v).await?.ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "feature version {v} of `{key}` not found in system storage. Run metaxy push first."
                    ))
                })?;
                Arc::new(
                    self.load_graph(Some(&pushed.project), &pushed.project_version)
                        .await?,
                )
            }
        };
        let target_spec = graph.spec(&key)?;
        let target_fv = graph.feature_version(&key)?.to_string();
        let target_pv = graph.project_version();

        // user-overridden data versions survive; the others will follow the new provenance
        let rows = batches::without_columns(&rows, &[STALE_FIELDS]);
        let overridden = overridden_rows(&rows)?;
        let mut rows = rows;
        for (col, nulled) in [(DATA_VERSION_BY_FIELD, true), (DATA_VERSION, true)] {
            if let (true, Some(c)) = (nulled, rows.column_by_name(col).cloned()) {
                let keep =
                    arrow_select::nullif::nullif(&c, &arrow_arith::boolean::not(&overridden)?)?;
                rows = batches::with_column(&rows, col, keep)?;
            }
        }
        let rows = batches::without_columns(
            &rows,
            &[
                PROVENANCE,
                PROVENANCE_BY_FIELD,
                FEATURE_VERSION,
                PROJECT_VERSION,
            ],
        );

        let expected = self
            .resolve_with(&graph, &key, ResolveOptions::new().skip_comparison(true))
            .await?
            .new;
        // inner join the new provenance onto the rows by the feature's id columns
        let what = format!("the rows to rebase onto `{key}`");
        let row_keys = keys::key_arrays(&rows, &target_spec.id_columns, &what)?;
        let exp_keys = keys::key_arrays(
            &expected,
            &target_spec.id_columns,
            &format!("the expected frame of `{key}`"),
        )?;
        let (r_enc, e_enc) = keys::encode_pair(&row_keys, &exp_keys)?;
        let grouping = Grouping::new(&e_enc);
        let mut take_rows = Vec::new();
        let mut take_exp = Vec::new();
        for i in 0..rows.num_rows() {
            if let Some(g) = grouping.probe(&r_enc, i) {
                take_rows.push(i as u32);
                take_exp.push(grouping.first_row[g as usize]);
            }
        }
        let mut out = arrow_select::take::take_record_batch(&rows, &UInt32Array::from(take_rows))?;
        let exp_idx = UInt32Array::from(take_exp);
        for col in [PROVENANCE_BY_FIELD, PROVENANCE] {
            let c = expected
                .column_by_name(col)
                .ok_or_else(|| Error::schema(&key, format!("expected frame lacks `{col}`")))?;
            out = batches::with_column(
                &out,
                col,
                arrow_select::take::take(c.as_ref(), &exp_idx, None)?,
            )?;
        }
        let n = out.num_rows();
        let constant = |v: &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(v, n)))
        };
        out = batches::with_column(&out, FEATURE_VERSION, constant(&target_fv))?;
        out = batches::with_column(&out, PROJECT_VERSION, constant(&target_pv))?;
        Ok(out)
    }

    /// Copies the metadata of `features` (default: every feature of the graph) from `source`
    /// into this store (requires write mode here). Rows keep their feature versions,
    /// timestamps, tombstones and run ids; features missing or empty in the source are
    /// skipped.
    pub async fn copy_metadata(
        &self,
        source: &MetadataStore,
        features: Option<Vec<FeatureKey>>,
        options: CopyOptions,
    ) -> Result<CopyResult> {
        self.require_write()?;
        source.require_open()?;
        let graph = self.graph();
        let keys = match features {
            Some(k) => k,
            None => graph.topological_order().to_vec(),
        };
        let mut result = CopyResult::default();
        for key in keys {
            let spec = graph.spec(&key)?;
            let read = ReadOptions {
                filters: options
                    .filters
                    .get(&key)
                    .into_iter()
                    .flatten()
                    .chain(&options.global_filters)
                    .cloned()
                    .collect(),
                allow_fallback: false,
                with_feature_history: options.with_feature_history,
                with_sample_history: options.with_sample_history,
                include_soft_deleted: true,
                ..ReadOptions::default()
            };
            let rows = match source.read_local(&source.graph(), &key, &read).await? {
                Some(b) if b.num_rows() > 0 => b,
                _ => continue,
            };
            let write = WriteOptions {
                materialization_id: None,
                preserve_feature_version: true,
            };
            let prepared = self.prepare_write(
                &graph,
                spec,
                rows,
                &write,
                super::clock::transaction_timestamp(),
                WriteKind::Copy,
            )?;
            result.rows_copied += prepared.num_rows();
            result.features_copied += 1;
            self.backend()
                .append(&key, prepared, self.settings().auto_create_tables)
                .await?;
        }
        Ok(result)
    }
}

/// Rows whose data version differs from their provenance (the user overrode it).
fn overridden_rows(rows: &RecordBatch) -> Result<arrow_array::BooleanArray> {
    let n = rows.num_rows();
    let text = |name: &str| -> Result<ArrayRef> {
        match rows.column_by_name(name) {
            Some(c) => Ok(arrow_cast::cast(c, &DataType::Utf8)?),
            None => Ok(new_null_array(&DataType::Utf8, n)),
        }
    };
    let dv = text(DATA_VERSION)?;
    let prov = text(PROVENANCE)?;
    let dv = dv
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .unwrap_or_else(|| StringArray::new_null(n));
    let prov = prov
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .unwrap_or_else(|| StringArray::new_null(n));
    Ok((0..n)
        .map(|i| Some(dv.is_valid(i) && (prov.is_null(i) || dv.value(i) != prov.value(i))))
        .collect())
}
