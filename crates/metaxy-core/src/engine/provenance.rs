//! Per-field provenance of downstream samples (reference 2.12) and their sample hash (2.13).
//!
//! For field `f` with parents `p1 < p2 < ...` (sorted by `"<feature>.<field>"`) the preimage is
//! `f | code_version | p1 | value(p1) | p2 | value(p2) ...`, where `value(p)` is the upstream's
//! data version of that field on the joined row. A missing optional upstream contributes the
//! empty string; a NULL value of a required upstream makes the hash NULL.

use arrow_array::{StringArray, StructArray};

use super::HashSettings;
use super::hashing::{FieldValues, arc, as_struct, build_struct, field_values, hash_columns};
use super::join::{Joined, NO_ROW, Rows};
use super::pieces::Pieces;
use super::preimage::{Padded, Preimage};
use super::upstream::{dvbf_column, missing_field};
use crate::error::{Error, Result};
use crate::graph::FeaturePlan;
use crate::spec::FeatureSpec;

struct Parent<'a> {
    /// `|<feature>.<field>|` — the separator, the FQ key and the separator before the value.
    label: Padded,
    /// The field's values in each piece of the upstream frame.
    values: Vec<FieldValues>,
    /// The upstream frame (where its rows lie).
    frame: &'a Pieces,
    rows: &'a Rows,
    optional: bool,
}

/// Returns `(metaxy_provenance_by_field, metaxy_provenance)` for every joined row.
///
/// One pass over the rows computes every field's hash and, from those, the sample hash.
pub(super) fn compute(
    spec: &FeatureSpec,
    plan: &FeaturePlan,
    frames: &[Pieces],
    joined: &Joined,
    hash: HashSettings,
) -> Result<(StructArray, StringArray)> {
    let feature = spec.key.to_string();
    let mut fields = Vec::with_capacity(spec.fields.len());
    for (field, parents) in spec.fields.iter().zip(&plan.field_parents) {
        let mut resolved = Vec::with_capacity(parents.len());
        for p in parents {
            let dep = &plan.deps[p.dep_index];
            let col = dvbf_column(dep);
            let frame = &frames[p.dep_index];
            let values = frame
                .batches()
                .iter()
                .map(|piece| {
                    let dv = piece
                        .column_by_name(&col)
                        .ok_or_else(|| Error::schema(&feature, format!("missing `{col}`")))?;
                    let dv = as_struct(dv, &col, &feature)?;
                    field_values(dv, &p.struct_key)?
                        .ok_or_else(|| missing_field(dep, &p.struct_key, &feature))
                })
                .collect::<Result<Vec<_>>>()?;
            resolved.push(Parent {
                label: Padded::new(format!("|{}|", p.fq_string).as_bytes()),
                values,
                frame,
                rows: &joined.rows[p.dep_index],
                optional: dep.dep.optional,
            });
        }
        let prefix = Padded::new(format!("{}|{}", field.key, field.code_version).as_bytes());
        fields.push((prefix, resolved));
    }
    // Fields with the parents of the field before them (every field of a feature without
    // field-level deps) copy that field's parent section of the preimage instead of assembling
    // it again from a dozen pieces.
    let same_as_previous: Vec<bool> = (0..plan.field_parents.len())
        .map(|i| i > 0 && plan.field_parents[i] == plan.field_parents[i - 1])
        .collect();
    // the sample hash joins the field hashes in the order of their struct keys
    let keys: Vec<String> = spec.fields.iter().map(|f| f.key.to_struct_key()).collect();
    let sorted: Vec<usize> = spec
        .sorted_struct_keys()
        .iter()
        .map(|k| {
            keys.iter().position(|x| x == k).ok_or_else(|| {
                Error::schema(&feature, format!("field `{k}` has no provenance column"))
            })
        })
        .collect::<Result<_>>()?;
    let sample_col = fields.len();
    let mut columns = hash_columns(
        joined.len,
        fields.len() + 1,
        hash.algorithm,
        hash.truncation,
        |row, out| {
            // the previous field's parent section: where it lies in the preimage buffer, and
            // whether its hash is NULL
            let mut section = (0, 0, false);
            for (col, (prefix, parents)) in fields.iter().enumerate() {
                let pre = out.preimage();
                pre.push_padded(prefix);
                let present = if same_as_previous[col] {
                    pre.copy_within(section.0, section.1);
                    section.2
                } else {
                    let start = pre.len();
                    let present = parents_preimage(parents, row, pre);
                    section = (start, pre.len(), present);
                    present
                };
                if present {
                    out.hash_preimage(col);
                } else {
                    out.push_null(col);
                }
            }
            out.hash_joined(sample_col, &sorted);
        },
    )?;
    let sample = columns
        .pop()
        .ok_or_else(|| Error::InvalidArgument("no sample hash column was built".into()))?;
    let children = keys.into_iter().zip(columns.into_iter().map(arc)).collect();
    Ok((build_struct(children)?, sample))
}

/// Appends the parent section of one field's preimage of row `row` to `pre` (everything after
/// `field|code_version`); `false` when the field's hash is NULL (a required upstream value is
/// NULL).
#[inline]
fn parents_preimage(parents: &[Parent<'_>], row: usize, pre: &mut Preimage) -> bool {
    for p in parents {
        pre.push_padded(&p.label);
        let r = p.rows.get(row);
        let present = r != NO_ROW && {
            let (piece, local) = p.frame.locate(r as usize);
            p.values[piece].push_value(local, pre)
        };
        if !present && !p.optional {
            return false;
        }
    }
    true
}
