//! `resolve_update`: which samples of a feature need (re)computation (reference 4.6).

use std::sync::Arc;

use tracing::Instrument;

use arrow_array::{ArrayRef, RecordBatch, StructArray, UInt32Array, new_null_array};
use arrow_schema::{DataType, Field, Fields, Schema};

use super::{MetadataStore, ReadOptions, ResolveOptions};
use crate::columns::{
    self, DATA_VERSION, DATA_VERSION_BY_FIELD, PROVENANCE, PROVENANCE_BY_FIELD, STALE_FIELDS,
};
use crate::engine::{self, CompareInput, HashSettings};
use crate::error::{Error, Result};
use crate::filter::Expr;
use crate::graph::FeatureGraph;
use crate::graph::PlanDep;
use crate::increment::Increment;
use crate::key::{FeatureKey, IntoFeatureKey};
use crate::keys::{self, Grouping};
use crate::pushdown;

impl MetadataStore {
    /// Computes the increment of a feature: the samples that are `new` (never computed under
    /// the current feature version), `stale` (their upstream changed, or a staleness predicate
    /// matched) and `orphaned` (their upstream is gone).
    ///
    /// Upstream features are read from this store or its fallbacks; a missing *optional*
    /// upstream counts as empty. Root features need `options.samples`.
    pub async fn resolve_update(
        &self,
        key: impl IntoFeatureKey,
        options: ResolveOptions,
    ) -> Result<Increment> {
        self.require_open()?;
        let key = key.into_feature_key()?;
        self.resolve_with(&self.graph(), &key, options).await
    }

    /// `resolve_update` under an explicit graph (a historical one, for rebase).
    pub(super) async fn resolve_with(
        &self,
        graph: &FeatureGraph,
        key: &FeatureKey,
        options: ResolveOptions,
    ) -> Result<Increment> {
        let key = key.clone();
        if key.is_system() {
            return Err(Error::SystemTable {
                key: key.to_string(),
                operation: "resolve_update".into(),
            });
        }
        let spec = graph.spec(&key)?.clone();
        let plan = graph.plan(&key)?.clone();
        let hash = HashSettings {
            algorithm: self.hash_algorithm(),
            truncation: graph.truncation(),
        };

        let own: Vec<Expr> = options.filters.get(&key).cloned().unwrap_or_default();
        let target_side: Vec<Expr> = own
            .iter()
            .chain(&options.global_filters)
            .chain(&options.target_filters)
            .cloned()
            .collect();
        let predicate = Expr::disjunction(options.staleness_predicates.iter().cloned());

        // the stored side: ids, join columns, versions and whatever predicates look at
        let mut cur_columns: Vec<String> = Vec::new();
        let wanted = spec
            .id_columns
            .iter()
            .chain(&plan.join_columns)
            .cloned()
            .chain(columns::VERSIONING_COLUMNS.iter().map(|c| c.to_string()))
            .chain([columns::UPDATED_AT.to_string()])
            .chain(predicate.iter().flat_map(|p| p.columns()));
        for c in wanted {
            if !cur_columns.contains(&c) {
                cur_columns.push(c);
            }
        }
        if options.samples.is_none()
            && !options.skip_comparison
            && predicate.is_none()
            && options.target_filters.is_empty()
            && let Some(increment) = self
                .resolve_in_backend(graph, &spec, &plan, hash, &options, &cur_columns)
                .await?
        {
            return Ok(increment);
        }
        // The comparison needs the stored ids, provenance and timestamps; the stored data
        // versions appear only in `orphaned` (stored rows), so they are left out of the first
        // read and read, with the rest, only when there are orphans (below). On a SQL store
        // they are two of the four strings of every stored row.
        let predicate_columns: Vec<String> = predicate.iter().flat_map(|p| p.columns()).collect();
        let lean_columns: Vec<String> = cur_columns
            .iter()
            .filter(|c| {
                !matches!(c.as_str(), DATA_VERSION_BY_FIELD | DATA_VERSION)
                    || predicate_columns.contains(c)
            })
            .cloned()
            .collect();
        // The stored side and every upstream are read at once: a backend that runs its
        // queries on threads of its own (DuckDB, the remote stores) overlaps them.
        let current_options = ReadOptions {
            filters: target_side.clone(),
            columns: Some(lean_columns.clone()),
            allow_fallback: false,
            ..ReadOptions::default()
        };
        // the stored rows as the pieces the read kept: the comparison reads them where they lie
        let read_current = self
            .read_local_pieces(graph, &key, &current_options)
            .instrument(tracing::debug_span!("read_current", feature = %key));
        let read_upstreams = async {
            if options.samples.is_some() {
                return Ok(Vec::new());
            }
            if plan.deps.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "`{key}` is a root feature: resolve_update needs the samples \
                     (ResolveOptions::samples with `{PROVENANCE_BY_FIELD}`), because root \
                     provenance comes from the caller"
                )));
            }
            let reads = plan
                .deps
                .iter()
                .map(|dep| self.read_upstream(graph, &key, dep, &options));
            futures_util::future::join_all(reads)
                .await
                .into_iter()
                .collect::<Result<Vec<_>>>()
        };
        let (current, upstreams) = futures_util::future::join(read_current, read_upstreams).await;
        let current = current?;
        let upstreams = upstreams?;

        let expected = match &options.samples {
            Some(samples) => {
                let mut e = engine::samples_frame(&spec, samples, hash)?;
                for f in &target_side {
                    e = f.filter(&e)?;
                }
                e
            }
            None => {
                let e = tracing::debug_span!("expected_frame", feature = %key)
                    .in_scope(|| engine::expected_frame(&spec, &plan, upstreams, hash))?;
                restrict_to_target(
                    e,
                    &options.target_filters,
                    current.as_deref(),
                    &plan.join_columns,
                    &key.to_string(),
                )?
            }
        };

        if options.skip_comparison {
            let stale_schema = {
                let mut fields: Vec<Field> = expected
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                fields.push(Field::new(STALE_FIELDS, engine::stale_fields_type(), false));
                Arc::new(Schema::new(fields))
            };
            return Ok(Increment {
                stale: RecordBatch::new_empty(stale_schema),
                orphaned: RecordBatch::new_empty(expected.schema()),
                new: expected,
            });
        }
        let field_keys: Vec<String> = spec.fields.iter().map(|f| f.key.to_struct_key()).collect();
        let feature = key.to_string();
        let input = CompareInput {
            feature: &feature,
            join_columns: &plan.join_columns,
            collapse: plan.has_expansion(),
            predicate: predicate.as_ref(),
            field_keys: &field_keys,
        };
        let stored = current.is_some();
        let increment = tracing::debug_span!("compare", feature = %key)
            .in_scope(|| engine::compare(input, expected.clone(), current))?;
        if !stored || lean_columns.len() == cur_columns.len() {
            // nothing stored: nothing orphaned, in the frame the comparison builds for that
            return Ok(increment);
        }
        if increment.orphaned.num_rows() == 0 {
            // the orphaned frame keeps the stored columns' schema even when empty
            let orphaned = with_stored_schema(&increment.orphaned, &cur_columns, &expected);
            return Ok(Increment {
                orphaned,
                ..increment
            });
        }
        // Orphans: the stored rows, whole. Read again with every column and compare again
        // (rare: an upstream lost samples, or a filter moved them out).
        let full_options = ReadOptions {
            columns: Some(cur_columns),
            ..current_options
        };
        let current = self
            .read_local_pieces(graph, &key, &full_options)
            .instrument(tracing::debug_span!("read_current_for_orphans", feature = %key))
            .await?;
        tracing::debug_span!("compare", feature = %key)
            .in_scope(|| engine::compare(input, expected, current))
    }
}

impl MetadataStore {
    /// The versioning pushdown: the backend computes the increment in its own engine when it
    /// can (see [`pushdown`](crate::pushdown)); `None` when it cannot, and the core runs.
    async fn resolve_in_backend(
        &self,
        graph: &FeatureGraph,
        spec: &crate::spec::FeatureSpec,
        plan: &crate::graph::FeaturePlan,
        hash: HashSettings,
        options: &ResolveOptions,
        current_columns: &[String],
    ) -> Result<Option<Increment>> {
        let backend = self.backend();
        // the cheap checks first: no table is looked at for a plan the SQL cannot express
        if !backend
            .capabilities()
            .pushdown_hash_algorithms
            .contains(&hash.algorithm)
            || !pushdown::query::has_sql_form(spec, plan)
        {
            return Ok(None);
        }
        let Some(engine) = backend.sql_pushdown() else {
            return Ok(None);
        };
        let current_schema = backend.table_schema(&spec.key).await?;
        let mut upstream_schemas = Vec::with_capacity(plan.deps.len());
        let mut upstream_filters = Vec::with_capacity(plan.deps.len());
        for dep in &plan.deps {
            let upstream = &dep.dep.feature;
            // a table in a fallback store (or a missing optional one) is the core's to read
            let Some(schema) = backend.table_schema(upstream).await? else {
                return Ok(None);
            };
            upstream_schemas.push(schema);
            upstream_filters.push(options.upstream_filters(upstream));
        }
        let inputs = pushdown::query::ResolveInputs {
            graph,
            spec,
            plan,
            hash,
            upstream_filters,
            upstream_schemas,
            // the feature's own and the global filters (target filters keep the core path)
            target_filters: options.upstream_filters(&spec.key),
            current_schema,
            current_columns: current_columns.to_vec(),
        };
        let Some(compiled) = pushdown::compile(engine, &inputs)? else {
            tracing::debug!(feature = %spec.key, "resolve runs in the core engine: the plan has no SQL form");
            return Ok(None);
        };
        let rows = engine
            .query(
                &compiled.sql,
                compiled.params.clone(),
                compiled.schema.clone(),
            )
            .await?;
        tracing::debug!(
            feature = %spec.key,
            rows = rows.num_rows(),
            bytes = rows.get_array_memory_size(),
            "resolve pushed down to the backend"
        );
        let (expected, current) = compiled.split(&rows)?;
        let field_keys: Vec<String> = spec.fields.iter().map(|f| f.key.to_struct_key()).collect();
        let key = spec.key.to_string();
        engine::compare(
            CompareInput {
                feature: &key,
                join_columns: &plan.join_columns,
                collapse: false,
                predicate: None,
                field_keys: &field_keys,
            },
            expected,
            current.map(|c| vec![c]),
        )
        .map(Some)
    }

    /// Reads one upstream of `key` as its dependency declares (columns, filters), as the
    /// pieces the read kept (not concatenated: the engine reads them where they lie); a
    /// missing optional upstream is one empty frame.
    async fn read_upstream(
        &self,
        graph: &FeatureGraph,
        key: &FeatureKey,
        dep: &PlanDep,
        options: &ResolveOptions,
    ) -> Result<Vec<RecordBatch>> {
        let upstream = &dep.dep.feature;
        let filters = options.upstream_filters(upstream);
        let columns = match upstream_columns(dep) {
            Some(c) => Some(c),
            None => self.upstream_columns_in_store(upstream).await?,
        };
        let read = ReadOptions {
            filters,
            columns,
            ..ReadOptions::default()
        };
        let span = tracing::debug_span!("read_upstream", feature = %upstream);
        match self
            .read_key_pieces(graph, upstream.clone(), read)
            .instrument(span)
            .await
        {
            Ok(pieces) => Ok(pieces),
            Err(Error::FeatureNotFound { .. }) if dep.dep.optional => Ok(vec![empty_upstream(dep)]),
            Err(Error::FeatureNotFound {
                key: missing,
                location,
            }) => Err(Error::FeatureNotFound {
                key: missing,
                location: format!(
                    "{location} (it is an upstream of `{key}`: write it first, or mark the \
                     dependency optional)"
                ),
            }),
            Err(e) => Err(e),
        }
    }

    /// For a dependency that selects nothing: every column of the upstream's local table
    /// except the system columns the engine drops anyway (`None` when the table is not in
    /// this store, so a fallback store is read whole). Reading a table's lifecycle and
    /// versioning strings only to drop them dominated resolves on the SQL backends.
    async fn upstream_columns_in_store(
        &self,
        upstream: &FeatureKey,
    ) -> Result<Option<Vec<String>>> {
        let Some(schema) = self.backend().table_schema(upstream).await? else {
            return Ok(None);
        };
        Ok(Some(
            schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|name| !columns::UPSTREAM_UNREAD_COLUMNS.contains(&name.as_str()))
                .collect(),
        ))
    }
}

/// An empty `orphaned` frame read without the stored data versions, as if read with them:
/// `columns` in their order, the missing ones typed as in the expected frame (which has all
/// four versioning columns).
fn with_stored_schema(
    orphaned: &RecordBatch,
    columns: &[String],
    expected: &RecordBatch,
) -> RecordBatch {
    let fields: Vec<Field> = columns
        .iter()
        .filter_map(|c| {
            orphaned
                .schema_ref()
                .field_with_name(c)
                .or_else(|_| expected.schema_ref().field_with_name(c))
                .ok()
                .map(|f| f.clone().with_nullable(true))
        })
        .collect();
    RecordBatch::new_empty(Arc::new(Schema::new(fields)))
}

/// The upstream columns a dependency needs (`None`: all, when it selects nothing).
fn upstream_columns(dep: &PlanDep) -> Option<Vec<String>> {
    let select = dep.dep.select.as_ref()?;
    let back = |post: &String| -> String {
        dep.dep
            .rename
            .iter()
            .flatten()
            .find(|(_, new)| new == post)
            .map(|(old, _)| old.clone())
            .unwrap_or_else(|| post.clone())
    };
    let filter_columns: Vec<String> = dep
        .dep
        .filters
        .iter()
        .flatten()
        .filter_map(|f| Expr::parse(f).ok())
        .flat_map(|e| e.columns())
        .collect();
    let mut cols: Vec<String> = Vec::new();
    let all = select
        .iter()
        .map(back)
        .chain(dep.upstream_id_columns.iter().cloned())
        .chain(dep.input_id_columns.iter().map(back))
        .chain(filter_columns.iter().map(back))
        .chain(dep.dep.rename.iter().flatten().map(|(old, _)| old.clone()))
        .chain([DATA_VERSION_BY_FIELD.to_string()]);
    for c in all {
        if !cols.contains(&c) {
            cols.push(c);
        }
    }
    Some(cols)
}

/// An empty frame standing in for a missing optional upstream table.
fn empty_upstream(dep: &PlanDep) -> RecordBatch {
    let mut names: Vec<String> = Vec::new();
    let back = |post: &String| -> String {
        dep.dep
            .rename
            .iter()
            .flatten()
            .find(|(_, new)| new == post)
            .map(|(old, _)| old.clone())
            .unwrap_or_else(|| post.clone())
    };
    let candidates = dep
        .upstream_id_columns
        .iter()
        .cloned()
        .chain(dep.input_id_columns.iter().map(back))
        .chain(dep.dep.select.iter().flatten().map(back))
        .chain(dep.dep.rename.iter().flatten().map(|(old, _)| old.clone()))
        .chain(
            dep.dep
                .filters
                .iter()
                .flatten()
                .filter_map(|f| Expr::parse(f).ok())
                .flat_map(|e| e.columns())
                .map(|c| back(&c)),
        );
    for c in candidates {
        if !names.contains(&c) {
            names.push(c);
        }
    }
    let mut fields: Vec<Field> = names
        .iter()
        .map(|n| Field::new(n, DataType::Null, true))
        .collect();
    let mut arrays: Vec<ArrayRef> = names
        .iter()
        .map(|_| new_null_array(&DataType::Null, 0))
        .collect();
    let struct_fields: Fields = dep
        .upstream_fields
        .iter()
        .map(|f| Field::new(f.to_struct_key(), DataType::Utf8, true))
        .collect();
    let dv = StructArray::new_empty_fields(0, None);
    let dv: ArrayRef = if struct_fields.is_empty() {
        Arc::new(dv)
    } else {
        new_null_array(&DataType::Struct(struct_fields), 0)
    };
    for name in [DATA_VERSION_BY_FIELD, PROVENANCE_BY_FIELD] {
        fields.push(Field::new(name, dv.data_type().clone(), true));
        arrays.push(dv.clone());
    }
    for name in [PROVENANCE, DATA_VERSION] {
        fields.push(Field::new(name, DataType::Utf8, true));
        arrays.push(new_null_array(&DataType::Utf8, 0));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .unwrap_or_else(|_| RecordBatch::new_empty(Arc::new(Schema::empty())))
}

/// Our deviation from Metaxy: target filters restrict the expected side too. A filter whose
/// columns all exist in the expected frame is evaluated there; otherwise expected samples
/// are kept only where the (filtered) stored side has them.
fn restrict_to_target(
    expected: RecordBatch,
    target_filters: &[Expr],
    current: Option<&[RecordBatch]>,
    join_columns: &[String],
    feature: &str,
) -> Result<RecordBatch> {
    if target_filters.is_empty() {
        return Ok(expected);
    }
    let (local, stored_only): (Vec<&Expr>, Vec<&Expr>) = target_filters.iter().partition(|f| {
        f.columns()
            .iter()
            .all(|c| expected.column_by_name(c).is_some())
    });
    let mut expected = expected;
    if let Some(f) = Expr::conjunction(local.into_iter().cloned()) {
        expected = f.filter(&expected)?;
    }
    if stored_only.is_empty() {
        return Ok(expected);
    }
    let Some(current) = current else {
        return Ok(RecordBatch::new_empty(expected.schema()));
    };
    let current = &crate::batches::concat_parts(current)?;
    let exp_keys = keys::key_arrays(
        &expected,
        join_columns,
        &format!("the expected frame of `{feature}`"),
    )?;
    let cur_keys = keys::key_arrays(
        current,
        join_columns,
        &format!("the stored metadata of `{feature}`"),
    )?;
    let (e, c) = keys::encode_pair(&exp_keys, &cur_keys)?;
    let grouping = Grouping::new(&c);
    let keep: UInt32Array = (0..expected.num_rows())
        .filter(|i| grouping.probe(&e, *i).is_some())
        .map(|i| i as u32)
        .collect();
    Ok(arrow_select::take::take_record_batch(&expected, &keep)?)
}
