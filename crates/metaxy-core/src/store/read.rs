//! `read`: the latest row of every sample of the current feature version (reference 4.4).

use std::future::Future;
use std::pin::Pin;

use arrow_array::RecordBatch;
use tracing::Instrument;

use super::{MetadataStore, ReadOptions, dedup};
use crate::backend::{AccessMode, ScanRequest};
use crate::batches;
use crate::columns::{DELETED_AT, FEATURE_VERSION, PROVENANCE, UPDATED_AT};
use crate::error::{Error, Result};
use crate::filter::{Expr, Scalar};
use crate::graph::FeatureGraph;
use crate::key::{FeatureKey, IntoFeatureKey};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl MetadataStore {
    /// Reads a feature's metadata: by default the latest row of every sample written under
    /// the current feature version, soft-deleted samples hidden, filters applied after that.
    /// Falls through to the fallback stores when this store has no table for the feature.
    pub async fn read(
        &self,
        key: impl IntoFeatureKey,
        options: ReadOptions,
    ) -> Result<RecordBatch> {
        self.require_open()?;
        let key = key.into_feature_key()?;
        self.read_key(&self.graph(), key, options).await
    }

    /// Reads under `graph` (the current graph, or a historical one for rebase), falling through
    /// to the fallback stores.
    pub(super) async fn read_key(
        &self,
        graph: &FeatureGraph,
        key: FeatureKey,
        options: ReadOptions,
    ) -> Result<RecordBatch> {
        batches::concat_parts(&self.read_key_pieces(graph, key, options).await?)
    }

    /// [`MetadataStore::read_key`] as the pieces of one schema the read kept (the backend's
    /// parts or slices of them, not concatenated: see [`dedup::latest_pieces`]).
    pub(super) fn read_key_pieces<'a>(
        &'a self,
        graph: &'a FeatureGraph,
        key: FeatureKey,
        options: ReadOptions,
    ) -> BoxFuture<'a, Result<Vec<RecordBatch>>> {
        Box::pin(async move {
            if let Some(pieces) = self.read_local_pieces(graph, &key, &options).await? {
                return Ok(pieces);
            }
            if options.allow_fallback {
                for fb in self.fallbacks() {
                    let _guard = fb.open(AccessMode::Read).await?;
                    match fb
                        .read_key_pieces(graph, key.clone(), options.clone())
                        .await
                    {
                        Ok(pieces) => return Ok(pieces),
                        Err(Error::FeatureNotFound { .. }) => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
            let fallbacks = if options.allow_fallback && !self.fallbacks().is_empty() {
                " or its fallback stores"
            } else {
                ""
            };
            Err(Error::FeatureNotFound {
                key: key.to_string(),
                location: format!(
                    "in store {}{fallbacks}; nothing has been written for it yet",
                    self.display()
                ),
            })
        })
    }

    /// Reads from this store only; `None` when it has no table for the feature.
    pub(super) async fn read_local(
        &self,
        graph: &FeatureGraph,
        key: &FeatureKey,
        options: &ReadOptions,
    ) -> Result<Option<RecordBatch>> {
        self.read_local_pieces(graph, key, options)
            .await?
            .map(|pieces| batches::concat_parts(&pieces))
            .transpose()
    }

    /// [`MetadataStore::read_local`] as pieces of one schema (at least one).
    pub(super) async fn read_local_pieces(
        &self,
        graph: &FeatureGraph,
        key: &FeatureKey,
        options: &ReadOptions,
    ) -> Result<Option<Vec<RecordBatch>>> {
        if key.is_system() {
            let filter = Expr::conjunction(options.filters.iter().cloned());
            let request = ScanRequest {
                columns: options.columns.clone(),
                filter,
                latest_of: None,
            };
            return Ok(self.backend().scan(key, &request).await?.map(|b| vec![b]));
        }
        if options.feature_version.is_some() && !options.with_feature_history {
            return Err(Error::InvalidArgument(
                "reading a specific feature_version requires with_feature_history".into(),
            ));
        }
        let spec = graph.spec(key)?;
        let id_columns = &spec.id_columns;

        // Pre-dedup filter: the feature version, plus user conjuncts on id columns only (a
        // sample's rows share their ids, so filtering them before dedup changes nothing).
        let mut scan_filters: Vec<Expr> = Vec::new();
        let version = match &options.feature_version {
            Some(v) => Some(v.clone()),
            None if !options.with_feature_history => Some(graph.feature_version(key)?.to_string()),
            None => None,
        };
        if let Some(v) = version {
            scan_filters.push(Expr::column_eq(FEATURE_VERSION, Scalar::Str(v)));
        }
        let mut post_filters: Vec<Expr> = Vec::new();
        for f in &options.filters {
            for conjunct in f.conjuncts() {
                if conjunct.columns().iter().all(|c| id_columns.contains(c)) {
                    scan_filters.push(conjunct.clone());
                } else {
                    post_filters.push(conjunct.clone());
                }
            }
        }
        // What keep-latest orders by; the provenance, which only breaks ties of timestamps,
        // is left out of the scan when the caller does not want it, and read in a second scan
        // only if a tie comes up.
        let with_columns = |tie_break: bool| {
            options.columns.as_ref().map(|requested| {
                let mut needed: Vec<String> = requested.clone();
                let extra = id_columns
                    .iter()
                    .cloned()
                    .chain([UPDATED_AT, DELETED_AT].map(str::to_string))
                    .chain(tie_break.then(|| PROVENANCE.to_string()))
                    .chain(post_filters.iter().flat_map(|f| f.columns()));
                for c in extra {
                    if !needed.contains(&c) {
                        needed.push(c);
                    }
                }
                needed
            })
        };
        let filter = Expr::conjunction(scan_filters);
        let scan = |columns: Option<Vec<String>>| {
            let request = ScanRequest {
                columns,
                filter: filter.clone(),
                latest_of: (!options.with_sample_history).then(|| id_columns.clone()),
            };
            async move {
                self.backend()
                    .scan_parts(key, &request)
                    .instrument(tracing::debug_span!("scan", feature = %key))
                    .await
            }
        };
        let what = format!("the stored metadata of `{key}`");
        let span = |parts: &[RecordBatch]| {
            let rows: usize = parts.iter().map(|p| p.num_rows()).sum();
            tracing::debug_span!("keep_latest", rows)
        };
        let lazy_tie_break = !options.with_sample_history
            && options
                .columns
                .as_ref()
                .is_some_and(|c| !c.iter().any(|c| c == PROVENANCE));
        let Some(parts) = scan(with_columns(!lazy_tie_break)).await? else {
            return Ok(None);
        };
        // the columns that outlive keep-latest: the requested ones, what the filters below
        // look at, and the tombstones when there are any to hide (keep-latest copies only
        // these, so a stamp it merely orders by is not copied for every kept row)
        let output = |parts: &[RecordBatch]| -> Option<Vec<String>> {
            let tombstones = !options.include_soft_deleted
                && parts.iter().any(|p| {
                    p.column_by_name(DELETED_AT)
                        .is_some_and(|c| c.null_count() < c.len())
                });
            let requested = options.columns.as_ref()?;
            let mut keep = requested.clone();
            let extra = post_filters
                .iter()
                .flat_map(|f| f.columns())
                .chain(tombstones.then(|| DELETED_AT.to_string()));
            for c in extra {
                if !keep.contains(&c) {
                    keep.push(c);
                }
            }
            Some(keep)
        };
        let pieces = if options.with_sample_history {
            vec![batches::concat_parts(&parts)?]
        } else if !lazy_tie_break {
            let output = output(&parts);
            span(&parts)
                .in_scope(|| dedup::latest_pieces(&parts, id_columns, output.as_deref(), &what))?
        } else if let Some(pieces) = span(&parts).in_scope(|| {
            let output = output(&parts);
            dedup::latest_pieces_unless_tied(&parts, id_columns, output.as_deref(), &what)
        })? {
            pieces
        } else {
            drop(parts);
            tracing::debug!(feature = %key, "a tie of timestamps: scanning again with the provenance");
            let Some(parts) = scan(with_columns(true)).await? else {
                return Ok(None);
            };
            let output = output(&parts);
            span(&parts)
                .in_scope(|| dedup::latest_pieces(&parts, id_columns, output.as_deref(), &what))?
        };
        let live = Expr::IsNull {
            expr: Box::new(Expr::Column(DELETED_AT.into())),
            negated: false,
        };
        let post_filter = Expr::conjunction(post_filters);
        // soft-deleted rows out, the filters on other columns than the ids, the requested
        // columns in their order: piece by piece, nothing concatenated
        let finish = |mut batch: RecordBatch| -> Result<RecordBatch> {
            if !options.include_soft_deleted
                && batch.num_rows() > 0
                && batch.column_by_name(DELETED_AT).is_some()
            {
                batch = live.filter(&batch)?;
            }
            if let Some(f) = &post_filter {
                batch = f.filter(&batch)?;
            }
            if let Some(requested) = &options.columns {
                batch = batches::project_exact(&batch, requested, &format!("feature `{key}`"))?;
            }
            Ok(batch)
        };
        let pieces = pieces.into_iter().map(finish).collect::<Result<Vec<_>>>()?;
        if pieces.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "internal error: keep-latest of {what} returned no batch"
            )));
        }
        Ok(Some(pieces))
    }
}
