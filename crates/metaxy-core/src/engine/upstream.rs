//! Preparing one upstream frame for the join (reference 1.10 and 2.15): drop lifecycle
//! columns, rename, filter, select, and aggregate versions for N:1 dependencies.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow_row::{RowConverter, SortField};

use super::HashSettings;
use super::hashing::{FieldValues, HashColumnBuilder, as_struct, build_struct, field_values};
use super::pieces::Pieces;
use crate::batches;
use crate::columns::{self, DATA_VERSION, DATA_VERSION_BY_FIELD, PROVENANCE, PROVENANCE_BY_FIELD};
use crate::error::{Error, Result};
use crate::filter::Expr;
use crate::graph::PlanDep;
use crate::keys::{self, Grouping};
use crate::spec::{FeatureSpec, Lineage};

/// The name of an upstream's data-version column in the joined frame.
pub(crate) fn dvbf_column(dep: &PlanDep) -> String {
    columns::upstream_column(DATA_VERSION_BY_FIELD, &dep.suffix)
}

/// A frame in more pieces than this is concatenated: hashing finds the piece of every row by
/// a binary search over the pieces, a few well-predicted steps over a few dozen pieces
/// (DuckDB's runs of up to a million rows, a feature's appends) but a dozen over the thousands
/// of small record batches some backends return, whose concatenation is the cheaper way.
const MAX_PIECES: usize = 256;

/// Transforms a (deduplicated, filtered) upstream frame, read as `pieces`, as the dependency
/// declares. With `keep_pieces` (a feature of one dependency: no join that needs the frame
/// as one batch) large pieces are transformed where they lie; otherwise, and for an N:1
/// dependency (whose groups may span pieces), they are concatenated first.
pub(crate) fn prepare(
    mut pieces: Vec<RecordBatch>,
    dep: &PlanDep,
    downstream: &FeatureSpec,
    hash: HashSettings,
    keep_pieces: bool,
) -> Result<Pieces> {
    let what = format!("upstream `{}`", dep.dep.feature);
    let few = (2..=MAX_PIECES).contains(&pieces.len());
    if keep_pieces && few && !dep.dep.lineage.is_aggregation() {
        let prepared = pieces
            .into_iter()
            .map(|piece| prepare_batch(piece, dep, downstream, hash))
            .collect::<Result<Vec<_>>>()?;
        return Pieces::new(prepared, &what);
    }
    let batch = match pieces.len() {
        0 => None,
        1 => pieces.pop(),
        _ => Some(batches::concat_parts(&pieces)?),
    };
    match batch {
        Some(batch) => Ok(Pieces::one(prepare_batch(batch, dep, downstream, hash)?)),
        None => Pieces::new(pieces, &what),
    }
}

/// [`prepare`] of one batch.
fn prepare_batch(
    upstream: RecordBatch,
    dep: &PlanDep,
    downstream: &FeatureSpec,
    hash: HashSettings,
) -> Result<RecordBatch> {
    let feature = downstream.key.to_string();
    let d = &dep.dep;
    // 1. lifecycle and unused versioning columns out; only the data version feeds downstream.
    let mut drop: Vec<&str> = columns::UPSTREAM_DROPPED_COLUMNS.to_vec();
    drop.extend([
        PROVENANCE_BY_FIELD,
        PROVENANCE,
        DATA_VERSION,
        columns::STALE_FIELDS,
    ]);
    let batch = batches::without_columns(&upstream, &drop);
    if batch.column_by_name(DATA_VERSION_BY_FIELD).is_none() {
        return Err(Error::schema(
            &feature,
            format!(
                "upstream `{}` has no `{DATA_VERSION_BY_FIELD}` column",
                d.feature
            ),
        ));
    }
    // 2. renames: the user's, then the data version column gets the upstream suffix.
    let mut renames: Vec<(String, String)> = Vec::new();
    if let Some(r) = &d.rename {
        for (old, new) in r {
            if batch.column_by_name(old).is_none() {
                return Err(Error::schema(
                    &feature,
                    format!(
                        "dependency on `{}` renames `{old}`, but the upstream has no such column",
                        d.feature
                    ),
                ));
            }
            renames.push((old.clone(), new.clone()));
        }
    }
    let dv_col = dvbf_column(dep);
    renames.push((DATA_VERSION_BY_FIELD.to_string(), dv_col.clone()));
    let mut batch = batches::rename_columns(&batch, &renames)?;
    // 3. dependency filters, on post-rename names.
    if let Some(filters) = &d.filters
        && let Some(f) = Expr::parse_all(filters)?
    {
        batch = f.filter(&batch).map_err(|e| {
            Error::schema(
                &feature,
                format!("filter of the dependency on `{}`: {e}", d.feature),
            )
        })?;
    }
    // 4. select: user columns, lineage / id columns, the data version.
    if let Some(select) = &d.select {
        let mut keep: Vec<String> = select.clone();
        let id_like: &[String] = match &d.lineage {
            Lineage::Identity => &dep.renamed_id_columns,
            _ => &dep.input_id_columns,
        };
        for c in id_like {
            if !keep.contains(c) {
                keep.push(c.clone());
            }
        }
        keep.push(dv_col.clone());
        batch = batches::project_exact(&batch, &keep, &format!("upstream `{}`", d.feature))
            .map_err(|e| {
                Error::schema(
                    &feature,
                    format!("select of the dependency on `{}`: {e}", d.feature),
                )
            })?;
    }
    // 5. N:1: every row of a group gets the group's aggregated data version.
    if d.lineage.is_aggregation() {
        batch = aggregate(batch, dep, &dv_col, &feature, hash)?;
    }
    Ok(batch)
}

/// Aggregated versioning for an N:1 dependency (reference 2.15). Rows within a group are
/// ordered by every upstream id column still present, then by value, so the result is
/// deterministic even when `select` dropped the ids.
fn aggregate(
    batch: RecordBatch,
    dep: &PlanDep,
    dv_col: &str,
    feature: &str,
    hash: HashSettings,
) -> Result<RecordBatch> {
    let group_cols = &dep.input_id_columns;
    let group_arrays = keys::key_arrays(
        &batch,
        group_cols,
        &format!("upstream `{}`", dep.dep.feature),
    )?;
    let encoded = keys::encode(&group_arrays)?;
    let grouping = Grouping::new(&encoded);
    let (offsets, mut members) = grouping.members();

    // order within groups: upstream ids present in the frame, else the group columns
    let mut order_cols: Vec<&String> = dep
        .renamed_id_columns
        .iter()
        .filter(|c| batch.column_by_name(c).is_some())
        .collect();
    if order_cols.is_empty() {
        order_cols = group_cols.iter().collect();
    }
    let order_arrays: Vec<ArrayRef> = order_cols
        .iter()
        .filter_map(|c| batch.column_by_name(c).cloned())
        .collect();
    let converter = RowConverter::new(
        order_arrays
            .iter()
            .map(|a| SortField::new(a.data_type().clone()))
            .collect(),
    )?;
    let order_rows = converter.convert_columns(&order_arrays)?;
    for g in 0..grouping.num_groups() {
        let slice = &mut members[offsets[g] as usize..offsets[g + 1] as usize];
        slice.sort_by(|a, b| {
            order_rows
                .row(*a as usize)
                .cmp(&order_rows.row(*b as usize))
                .then(a.cmp(b))
        });
    }

    let dv = batch
        .column_by_name(dv_col)
        .ok_or_else(|| Error::schema(feature, format!("missing `{dv_col}`")))?;
    let dv = as_struct(dv, dv_col, feature)?;
    let mut children: Vec<(String, ArrayRef)> = Vec::new();
    let take_idx = UInt32Array::from(grouping.group_of_row.clone());
    for field in &dep.upstream_fields {
        let key = field.to_struct_key();
        let values = field_values(dv, &key)?.ok_or_else(|| missing_field(dep, &key, feature))?;
        let per_group = aggregate_field(&values, &offsets, &members, &order_rows, hash)?;
        let per_row = arrow_select::take::take(&per_group, &take_idx, None)?;
        children.push((key, per_row));
    }
    let agg = build_struct(children)?;
    batches::with_column(&batch, dv_col, Arc::new(agg))
}

fn aggregate_field(
    values: &FieldValues,
    offsets: &[u32],
    members: &[u32],
    order_rows: &arrow_row::Rows,
    hash: HashSettings,
) -> Result<StringArray> {
    let groups = offsets.len() - 1;
    let mut out = HashColumnBuilder::new(groups, hash.algorithm, hash.truncation);
    let mut buf = Vec::with_capacity(64);
    let mut run: Vec<Option<&str>> = Vec::new();
    for g in 0..groups {
        buf.clear();
        let rows = &members[offsets[g] as usize..offsets[g + 1] as usize];
        let mut first = true;
        let mut i = 0;
        while i < rows.len() {
            // a run of rows with equal order keys is ordered by value (nulls first)
            let mut j = i + 1;
            while j < rows.len()
                && order_rows.row(rows[j] as usize) == order_rows.row(rows[i] as usize)
            {
                j += 1;
            }
            run.clear();
            run.extend(rows[i..j].iter().map(|r| values.get(*r as usize)));
            if run.len() > 1 {
                run.sort();
            }
            for v in run.iter().flatten() {
                if !first {
                    buf.push(b'|');
                }
                buf.extend_from_slice(v.as_bytes());
                first = false;
            }
            i = j;
        }
        out.push_hash(&buf);
    }
    out.finish()
}

pub(crate) fn missing_field(dep: &PlanDep, key: &str, feature: &str) -> Error {
    Error::schema(
        feature,
        format!(
            "upstream `{}` rows have no data version for its field `{key}`; rewrite the upstream \
             rows with every declared field in `{PROVENANCE_BY_FIELD}`",
            dep.dep.feature
        ),
    )
}
