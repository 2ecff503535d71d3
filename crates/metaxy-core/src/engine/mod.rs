//! The sample-level versioning engine over Arrow (reference 2.11–2.17 and 4.6).
//!
//! Given the upstream frames of a feature, the engine computes the *expected* frame — the
//! provenance every sample of the feature should have — and compares it with the *current*
//! frame stored for the feature, producing an [`Increment`](crate::Increment) of `new`,
//! `stale` and `orphaned` samples.
//!
//! Everything is columnar: joins produce row indices, hashes are written straight into
//! pre-sized string buffers, and only the columns the result needs are gathered.

mod compare;
pub(crate) mod hashing;
mod join;
mod pieces;
mod preimage;
mod provenance;
pub(crate) mod upstream;

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};

pub use compare::stale_fields_type;
pub(crate) use compare::{CompareInput, compare};
pub use hashing::hash_strings;
pub(crate) use hashing::sample_hash;

use crate::batches;
use crate::columns::{self, DATA_VERSION, DATA_VERSION_BY_FIELD, PROVENANCE, PROVENANCE_BY_FIELD};
use crate::error::{Error, Result};
use crate::graph::FeaturePlan;
use crate::hash::HashAlgorithm;
use crate::spec::FeatureSpec;

/// The sample-level hash settings of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashSettings {
    /// The algorithm.
    pub algorithm: HashAlgorithm,
    /// The truncation length (`None`: full hashes).
    pub truncation: Option<usize>,
}

/// Computes the expected frame of a non-root feature from its upstream frames (one per
/// dependency, in declaration order, each already deduplicated and filtered as read, and each
/// as the pieces its read kept: see [`pieces`]).
///
/// The frame has the join columns, the upstream user columns, and the four versioning
/// columns (data version = provenance).
pub(crate) fn expected_frame(
    spec: &FeatureSpec,
    plan: &FeaturePlan,
    upstreams: Vec<Vec<RecordBatch>>,
    hash: HashSettings,
) -> Result<RecordBatch> {
    let feature = spec.key.to_string();
    if plan.deps.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "`{feature}` is a root feature: resolve_update needs the samples (pass \
             `ResolveOptions::samples`), because root provenance comes from the caller"
        )));
    }
    // one dependency: its pieces are read where they lie (nothing to join them with); more:
    // each upstream as one batch, for the join
    let keep_pieces = plan.deps.len() == 1;
    let prepared = upstreams
        .into_iter()
        .zip(&plan.deps)
        .map(|(pieces, dep)| upstream::prepare(pieces, dep, spec, hash, keep_pieces))
        .collect::<Result<Vec<_>>>()?;
    let optional: Vec<bool> = plan.deps.iter().map(|d| d.dep.optional).collect();
    let names: Vec<String> = plan
        .deps
        .iter()
        .map(|d| d.dep.feature.to_string())
        .collect();
    let single: Option<Vec<RecordBatch>> = prepared.iter().map(|p| p.single().cloned()).collect();
    let (joined, key_columns) = match &single {
        Some(frames) => {
            let joined = join::join(frames, &optional, &plan.join_columns, &names)?;
            let keys = joined.key_columns(frames, &plan.join_columns)?;
            (joined, keys)
        }
        None => {
            // one dependency in several pieces: every row as it is, its keys concatenated
            let [frame] = prepared.as_slice() else {
                return Err(Error::InvalidArgument(format!(
                    "internal error: `{feature}` has {} dependencies read in pieces",
                    prepared.len()
                )));
            };
            let what = format!("upstream `{}`", names[0]);
            let keys = frame.key_columns(&plan.join_columns, &what)?;
            (join::single(frame.num_rows()), keys)
        }
    };

    let mut fields: Vec<Field> = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    let mut owner: Vec<String> = Vec::new();
    for (c, a) in plan.join_columns.iter().zip(key_columns) {
        fields.push(Field::new(c, a.data_type().clone(), true));
        arrays.push(a);
        owner.push(String::new());
    }
    for (d, frame) in prepared.iter().enumerate() {
        let dv_col = upstream::dvbf_column(&plan.deps[d]);
        let indices = joined.gather_indices(d);
        for (i, f) in frame.schema().fields().iter().enumerate() {
            let name = f.name();
            if plan.join_columns.contains(name) || *name == dv_col {
                continue;
            }
            if let Some(pos) = fields.iter().position(|x| x.name() == name) {
                return Err(Error::schema(
                    &feature,
                    format!(
                        "Found column collisions: `{name}` comes from both `{}` and `{}`; rename it or \
                         drop it with `select` on one of the dependencies",
                        owner[pos], names[d]
                    ),
                ));
            }
            let col = frame.column(i)?;
            let taken = match &indices {
                Some(idx) => arrow_select::take::take(col.as_ref(), idx, None)?,
                None => col,
            };
            fields.push(Field::new(name, taken.data_type().clone(), true));
            arrays.push(taken);
            owner.push(names[d].clone());
        }
    }
    let (by_field, sample) = provenance::compute(spec, plan, &prepared, &joined, hash)?;
    let by_field: ArrayRef = Arc::new(by_field);
    let sample: ArrayRef = Arc::new(sample);
    for (name, a) in versioning_columns(by_field, sample) {
        fields.push(Field::new(name, a.data_type().clone(), true));
        arrays.push(a);
    }
    let schema = Arc::new(Schema::new(fields));
    Ok(RecordBatch::try_new_with_options(
        schema,
        arrays,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(joined.len)),
    )?)
}

/// The four versioning columns of a computed expected frame: the provenance, and the data
/// version defaulting to it.
pub(crate) fn versioning_columns(
    by_field: ArrayRef,
    sample: ArrayRef,
) -> [(&'static str, ArrayRef); 4] {
    [
        (PROVENANCE_BY_FIELD, by_field.clone()),
        (PROVENANCE, sample.clone()),
        (DATA_VERSION_BY_FIELD, by_field),
        (DATA_VERSION, sample),
    ]
}

/// Turns caller-supplied samples into an expected frame (reference 2.14): the sample hash is
/// recomputed from `metaxy_provenance_by_field`; data versions default to the provenance.
pub(crate) fn samples_frame(
    spec: &FeatureSpec,
    samples: &RecordBatch,
    hash: HashSettings,
) -> Result<RecordBatch> {
    let feature = spec.key.to_string();
    let sorted = spec.sorted_struct_keys();
    let pbf = samples.column_by_name(PROVENANCE_BY_FIELD).ok_or_else(|| {
        Error::schema(
            &feature,
            format!(
                "samples need a `{PROVENANCE_BY_FIELD}` column (a struct with one string per field)"
            ),
        )
    })?;
    let pbf_struct = hashing::as_struct(pbf, PROVENANCE_BY_FIELD, &feature)?;
    let prov = sample_hash(
        pbf_struct,
        &sorted,
        PROVENANCE_BY_FIELD,
        &feature,
        hash.algorithm,
        hash.truncation,
    )?;
    let mut batch = batches::without_columns(samples, &columns::UPSTREAM_DROPPED_COLUMNS);
    batch = batches::without_columns(&batch, &[columns::STALE_FIELDS]);
    batch = batches::with_column(&batch, PROVENANCE, Arc::new(prov.clone()))?;
    match batch.column_by_name(DATA_VERSION_BY_FIELD).cloned() {
        None => {
            batch = batches::with_column(&batch, DATA_VERSION_BY_FIELD, pbf.clone())?;
            batch = batches::with_column(&batch, DATA_VERSION, Arc::new(prov))?;
        }
        Some(dvbf) if batch.column_by_name(DATA_VERSION).is_none() => {
            let s = hashing::as_struct(&dvbf, DATA_VERSION_BY_FIELD, &feature)?;
            let dv = sample_hash(
                s,
                &sorted,
                DATA_VERSION_BY_FIELD,
                &feature,
                hash.algorithm,
                hash.truncation,
            )?;
            batch = batches::with_column(&batch, DATA_VERSION, Arc::new(dv))?;
        }
        Some(_) => {}
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use arrow_array::{StringArray, StructArray, UInt64Array};

    use super::*;
    use crate::spec::{Dep, Field as SpecField};
    use crate::{FeatureGraph, FeatureKey};

    /// Rows `ids` of an upstream as the engine reads it: ids, a note, and the data versions.
    fn upstream(ids: std::ops::Range<u64>) -> RecordBatch {
        let field = |prefix: &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(
                ids.clone().map(|i| format!("{prefix}{}", i * 7 % 13)),
            ))
        };
        let by_field = StructArray::from(vec![
            (
                Arc::new(Field::new("audio", arrow_schema::DataType::Utf8, true)),
                field("a"),
            ),
            (
                Arc::new(Field::new("frames", arrow_schema::DataType::Utf8, true)),
                field("f"),
            ),
        ]);
        RecordBatch::try_from_iter(vec![
            (
                "sample_uid",
                Arc::new(UInt64Array::from_iter_values(ids.clone())) as ArrayRef,
            ),
            ("note", field("n")),
            (DATA_VERSION_BY_FIELD, Arc::new(by_field) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn an_upstream_in_pieces_gives_the_frame_of_the_upstream_in_one_batch() {
        let root = FeatureSpec::builder("t/root")
            .id_columns(["sample_uid"])
            .field(SpecField::new("audio").code_version("1"))
            .field(SpecField::new("frames").code_version("1"))
            .build()
            .unwrap();
        let leaf = FeatureSpec::builder("t/leaf")
            .id_columns(["sample_uid"])
            .dep(Dep::on("t/root"))
            .field(SpecField::new("audio").code_version("2"))
            .field(SpecField::new("caption").code_version("1"))
            .build()
            .unwrap();
        let graph = FeatureGraph::new([root, leaf]).unwrap();
        let key: FeatureKey = "t/leaf".parse().unwrap();
        let (spec, plan) = (graph.spec(&key).unwrap(), graph.plan(&key).unwrap());
        let hash = HashSettings {
            algorithm: HashAlgorithm::Xxhash64,
            truncation: Some(8),
        };
        let whole = expected_frame(spec, plan, vec![vec![upstream(0..600)]], hash).unwrap();
        // a few pieces (read where they lie), one empty among them
        let few = vec![
            upstream(0..250),
            upstream(250..250),
            upstream(250..251),
            upstream(251..600),
        ];
        let prepared = upstream::prepare(few.clone(), &plan.deps[0], spec, hash, true).unwrap();
        assert_eq!(
            prepared.batches().len(),
            4,
            "a few pieces are kept as they lie"
        );
        assert_eq!(expected_frame(spec, plan, vec![few], hash).unwrap(), whole);
        // more pieces than are worth searching: concatenated first, the same frame
        let many: Vec<RecordBatch> = (0..600).map(|i| upstream(i..i + 1)).collect();
        let prepared = upstream::prepare(many.clone(), &plan.deps[0], spec, hash, true).unwrap();
        assert!(prepared.single().is_some(), "600 pieces are concatenated");
        assert_eq!(expected_frame(spec, plan, vec![many], hash).unwrap(), whole);
    }
}
