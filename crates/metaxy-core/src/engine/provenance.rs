//! Per-field provenance of downstream samples (reference 2.12) and their sample hash (2.13).
//!
//! For field `f` with parents `p1 < p2 < ...` (sorted by `"<feature>.<field>"`) the preimage is
//! `f | code_version | p1 | value(p1) | p2 | value(p2) ...`, where `value(p)` is the upstream's
//! data version of that field on the joined row. A missing optional upstream contributes the
//! empty string; a NULL value of a required upstream makes the hash NULL.

use arrow_array::{StringArray, StructArray};
use rayon::prelude::*;

use super::HashSettings;
use super::hashing::{
    FieldValues, HashColumnBuilder, arc, as_struct, build_struct, field_values, sample_hash,
};
use super::join::{Joined, NO_ROW};
use super::upstream::{dvbf_column, missing_field};
use crate::columns::PROVENANCE_BY_FIELD;
use crate::error::{Error, Result};
use crate::graph::FeaturePlan;
use crate::spec::FeatureSpec;

/// Rows per parallel chunk: large enough to amortise scheduling, small enough to balance.
const CHUNK: usize = 64 * 1024;

struct Parent<'a> {
    /// `|<feature>.<field>|` — the separator, the FQ key and the separator before the value.
    label: Vec<u8>,
    values: FieldValues,
    rows: &'a [u32],
    optional: bool,
}

/// Returns `(metaxy_provenance_by_field, metaxy_provenance)` for every joined row.
pub(super) fn compute(
    spec: &FeatureSpec,
    plan: &FeaturePlan,
    frames: &[arrow_array::RecordBatch],
    joined: &Joined,
    hash: HashSettings,
) -> Result<(StructArray, StringArray)> {
    let feature = spec.key.to_string();
    let mut children = Vec::with_capacity(spec.fields.len());
    for (field, parents) in spec.fields.iter().zip(&plan.field_parents) {
        let mut resolved = Vec::with_capacity(parents.len());
        for p in parents {
            let dep = &plan.deps[p.dep_index];
            let col = dvbf_column(dep);
            let dv = frames[p.dep_index]
                .column_by_name(&col)
                .ok_or_else(|| Error::schema(&feature, format!("missing `{col}`")))?;
            let dv = as_struct(dv, &col, &feature)?;
            let values = field_values(dv, &p.struct_key)?
                .ok_or_else(|| missing_field(dep, &p.struct_key, &feature))?;
            resolved.push(Parent {
                label: format!("|{}|", p.fq_string).into_bytes(),
                values,
                rows: &joined.rows[p.dep_index],
                optional: dep.dep.optional,
            });
        }
        let prefix = format!("{}|{}", field.key, field.code_version).into_bytes();
        let column = hash_field(&prefix, &resolved, joined.len, hash)?;
        children.push((field.key.to_struct_key(), arc(column)));
    }
    let by_field = build_struct(children)?;
    let sample = sample_hash(
        &by_field,
        &spec.sorted_struct_keys(),
        PROVENANCE_BY_FIELD,
        &feature,
        hash.algorithm,
        hash.truncation,
    )?;
    Ok((by_field, sample))
}

fn hash_field(
    prefix: &[u8],
    parents: &[Parent<'_>],
    len: usize,
    hash: HashSettings,
) -> Result<StringArray> {
    let chunks: Vec<(usize, usize)> = (0..len)
        .step_by(CHUNK)
        .map(|start| (start, (start + CHUNK).min(len)))
        .collect();
    let parts = chunks
        .par_iter()
        .map(|&(start, end)| {
            let mut out = HashColumnBuilder::new(end - start, hash.algorithm, hash.truncation);
            let mut buf = Vec::with_capacity(prefix.len() + 32 * parents.len());
            'rows: for row in start..end {
                buf.clear();
                buf.extend_from_slice(prefix);
                for p in parents {
                    buf.extend_from_slice(&p.label);
                    let r = p.rows[row];
                    let value = if r == NO_ROW {
                        None
                    } else {
                        p.values.get(r as usize)
                    };
                    match value {
                        Some(v) => buf.extend_from_slice(v.as_bytes()),
                        None if p.optional => {}
                        None => {
                            out.push_null();
                            continue 'rows;
                        }
                    }
                }
                out.push_hash(&buf);
            }
            out.finish()
        })
        .collect::<Result<Vec<_>>>()?;
    if parts.len() == 1 {
        return parts
            .into_iter()
            .next()
            .ok_or_else(|| Error::InvalidArgument("empty".into()));
    }
    if parts.is_empty() {
        return HashColumnBuilder::new(0, hash.algorithm, hash.truncation).finish();
    }
    let refs: Vec<&dyn arrow_array::Array> =
        parts.iter().map(|p| p as &dyn arrow_array::Array).collect();
    let merged = arrow_select::concat::concat(&refs)?;
    merged
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| Error::InvalidArgument("hash column is not a string array".into()))
}
