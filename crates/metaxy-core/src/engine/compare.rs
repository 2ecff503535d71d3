//! Comparing expected with current metadata (reference 4.6.3) into new / stale / orphaned,
//! and explaining each stale sample with the fields whose provenance changed.

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{
    Array, ArrayRef, BooleanArray, RecordBatch, StringArray, StructArray, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use rayon::prelude::*;

use super::hashing::{FieldValues, as_struct, field_values};
use super::pieces::Pieces;
use crate::batches;
use crate::columns::{PROVENANCE, PROVENANCE_BY_FIELD, STALE_FIELDS, UPDATED_AT};
use crate::error::{Error, Result};
use crate::filter::Expr;
use crate::increment::Increment;
use crate::keys::{self, Grouping};

/// What the comparison needs besides the two frames.
#[derive(Clone, Copy)]
pub(crate) struct CompareInput<'a> {
    /// The feature (for messages).
    pub feature: &'a str,
    /// Columns expected and current are matched on.
    pub join_columns: &'a [String],
    /// Collapse current rows per join key first (1:N features store children per parent).
    pub collapse: bool,
    /// OR of the staleness predicates, evaluated on current rows.
    pub predicate: Option<&'a Expr>,
    /// Struct keys of the feature's fields (for the stale-fields annotation).
    pub field_keys: &'a [String],
}

/// The data type of the stale-fields annotation column.
pub fn stale_fields_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

fn stale_schema(expected: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<Field> = expected
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(STALE_FIELDS, stale_fields_type(), false));
    Arc::new(Schema::new_with_metadata(
        fields,
        expected.metadata().clone(),
    ))
}

/// Compares; `current` is `None` when the feature has no table (everything is new), else the
/// stored rows as the pieces the read kept (one schema, at least one piece).
///
/// Pieces holding the expected frame's ids in the same order (the usual re-run of a feature
/// read from DuckDB's runs) are compared where they lie; others are concatenated first.
pub(crate) fn compare(
    input: CompareInput<'_>,
    expected: RecordBatch,
    current: Option<Vec<RecordBatch>>,
) -> Result<Increment> {
    let stale_schema = stale_schema(expected.schema_ref());
    let Some(pieces) = current else {
        let orphan_cols: Vec<String> = input
            .join_columns
            .iter()
            .cloned()
            .chain([PROVENANCE_BY_FIELD.to_string(), PROVENANCE.to_string()])
            .collect();
        let orphaned =
            batches::project_existing(&RecordBatch::new_empty(expected.schema()), &orphan_cols)?;
        return Ok(Increment {
            new: expected,
            stale: RecordBatch::new_empty(stale_schema),
            orphaned,
        });
    };
    if pieces.len() > 1
        && !input.collapse
        && pieces.iter().all(|p| p.schema() == pieces[0].schema())
    {
        // under the schema the pieces concatenated would have
        let none: Vec<RecordBatch> = pieces.iter().map(|p| p.slice(0, 0)).collect();
        let stored = Pieces::new(
            pieces,
            &format!("the stored metadata of `{}`", input.feature),
        )?;
        if let Some(stale_idx) = aligned_stale_rows(&input, &expected, &stored)? {
            // no new and no orphaned rows: the pieces hold exactly the expected ids
            let stale = stale_frame(
                &input,
                &expected,
                &stored,
                stale_schema,
                &stale_idx,
                &stale_idx,
            )?;
            return Ok(Increment {
                new: expected.slice(0, 0),
                stale,
                orphaned: batches::concat_parts(&none)?,
            });
        }
        return compare_one(
            input,
            expected,
            batches::concat_parts(stored.batches())?,
            stale_schema,
        );
    }
    compare_one(
        input,
        expected,
        batches::concat_parts(&pieces)?,
        stale_schema,
    )
}

/// [`compare`] of the stored rows as one batch.
fn compare_one(
    input: CompareInput<'_>,
    expected: RecordBatch,
    current: RecordBatch,
    stale_schema: SchemaRef,
) -> Result<Increment> {
    let current = if input.collapse {
        collapse(&current, input.join_columns, input.feature)?
    } else {
        current
    };

    let what_exp = format!("the expected frame of `{}`", input.feature);
    let what_cur = format!("the stored metadata of `{}`", input.feature);
    let exp_keys = keys::key_arrays(&expected, input.join_columns, &what_exp)?;
    let cur_keys = keys::key_arrays(&current, input.join_columns, &what_cur)?;
    let (exp_enc, cur_enc) = keys::encode_pair(&exp_keys, &cur_keys)?;

    let predicate_hits: Option<BooleanArray> = match input.predicate {
        Some(p) => Some(p.evaluate(&current)?),
        None => None,
    };
    let exp_prov = string_column(&expected, PROVENANCE, input.feature)?;
    let cur_prov = string_column(&current, PROVENANCE, input.feature)?;

    let is_stale =
        |i: usize, c: usize| is_stale_row(&exp_prov, i, &cur_prov, c, predicate_hits.as_ref());
    let mut new_idx: Vec<u32> = Vec::new();
    let mut stale_idx: Vec<u32> = Vec::new();
    let mut stale_cur: Vec<u32> = Vec::new();
    let orphan_idx: Vec<u32> = match (
        exp_enc.strictly_increasing_ints(),
        cur_enc.strictly_increasing_ints(),
    ) {
        (Some(exp_ids), Some(cur_ids)) if exp_ids == cur_ids => {
            // the same samples in the same order (the usual re-run): row i against row i,
            // on both cores
            stale_idx = (0..exp_ids.len())
                .into_par_iter()
                .with_min_len(1 << 16)
                .filter(|&i| is_stale(i, i))
                .map(|i| i as u32)
                .collect();
            stale_cur = stale_idx.clone();
            Vec::new()
        }
        (Some(exp_ids), Some(cur_ids)) => {
            // both sides in id order (the common case): one merge pass, no hash tables
            keys::merge_ids(exp_ids, cur_ids, |i, c| match c {
                Some(c) if is_stale(i, c) => {
                    stale_idx.push(i as u32);
                    stale_cur.push(c as u32);
                }
                Some(_) => {}
                None => new_idx.push(i as u32),
            })
        }
        _ => {
            let cur_grouping = Grouping::new(&cur_enc);
            for i in 0..expected.num_rows() {
                match cur_grouping.probe(&exp_enc, i) {
                    None => new_idx.push(i as u32),
                    Some(g) => {
                        let c = cur_grouping.first_row[g as usize] as usize;
                        if is_stale(i, c) {
                            stale_idx.push(i as u32);
                            stale_cur.push(c as u32);
                        }
                    }
                }
            }
            let exp_grouping = Grouping::new(&exp_enc);
            (0..current.num_rows())
                .filter(|&c| exp_grouping.probe(&cur_enc, c).is_none())
                .map(|c| c as u32)
                .collect()
        }
    };

    let new = take_rows(&expected, new_idx)?;
    let stale = stale_frame(
        &input,
        &expected,
        &Pieces::one(current.clone()),
        stale_schema,
        &stale_idx,
        &stale_cur,
    )?;
    let orphaned = take_rows(&current, orphan_idx)?;
    Ok(Increment {
        new,
        stale,
        orphaned,
    })
}

/// The `stale` frame: expected rows `stale_idx` with the fields whose provenance differs from
/// stored rows `stale_cur` (rows of the frame `current`'s pieces make).
fn stale_frame(
    input: &CompareInput<'_>,
    expected: &RecordBatch,
    current: &Pieces,
    schema: SchemaRef,
    stale_idx: &[u32],
    stale_cur: &[u32],
) -> Result<RecordBatch> {
    let rows = take_rows(expected, stale_idx.to_vec())?;
    let fields = stale_fields(input, expected, current, stale_idx, stale_cur)?;
    let mut columns = rows.columns().to_vec();
    columns.push(fields);
    Ok(RecordBatch::try_new_with_options(
        schema,
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(stale_idx.len())),
    )?)
}

/// Whether expected row `i` is stale against stored row `c`: the stored provenance is NULL or
/// differs from an expected one, or a staleness predicate matched the stored row.
#[inline]
fn is_stale_row(
    exp_prov: &StringArray,
    i: usize,
    cur_prov: &StringArray,
    c: usize,
    predicate_hits: Option<&BooleanArray>,
) -> bool {
    let by_predicate = predicate_hits.is_some_and(|p| p.is_valid(c) && p.value(c));
    let changed = cur_prov.is_null(c)
        || (!exp_prov.is_null(i) && !same_bytes(exp_prov.value(i), cur_prov.value(c)));
    changed || by_predicate
}

/// The stale rows of `expected` when the stored `pieces` hold exactly its ids, in the same
/// strictly increasing order (one integer id column of one type on both sides): row `i` of
/// the expected frame is row `i` of the pieces taken one after the other, and each piece is
/// compared where it lies, on both cores. `None` when they do not line up (the caller
/// concatenates the pieces and matches ids).
fn aligned_stale_rows(
    input: &CompareInput<'_>,
    expected: &RecordBatch,
    pieces: &Pieces,
) -> Result<Option<Vec<u32>>> {
    let [join] = input.join_columns else {
        return Ok(None);
    };
    let what_exp = format!("the expected frame of `{}`", input.feature);
    let what_cur = format!("the stored metadata of `{}`", input.feature);
    let [exp_key] = keys::key_arrays(expected, input.join_columns, &what_exp)?
        .try_into()
        .map_err(|_| Error::InvalidArgument(format!("internal error: `{join}` is one column")))?;
    let Some(exp_ids) = keys::int_values(&exp_key) else {
        return Ok(None);
    };
    if !exp_ids.windows(2).all(|w| w[0] < w[1]) {
        return Ok(None);
    }
    let exp_prov = string_column(expected, PROVENANCE, input.feature)?;
    let mut start = 0;
    let mut aligned = Vec::with_capacity(pieces.batches().len());
    for piece in pieces.batches() {
        let [cur_key] = keys::key_arrays(piece, input.join_columns, &what_cur)?
            .try_into()
            .map_err(|_| {
                Error::InvalidArgument(format!("internal error: `{join}` is one column"))
            })?;
        let end = start + piece.num_rows();
        let lined_up = cur_key.data_type() == exp_key.data_type()
            && keys::int_values(&cur_key)
                .is_some_and(|ids| exp_ids.get(start..end) == Some(ids.as_ref()));
        if !lined_up {
            return Ok(None);
        }
        let hits = match input.predicate {
            Some(p) => Some(p.evaluate(piece)?),
            None => None,
        };
        aligned.push((
            start,
            string_column(piece, PROVENANCE, input.feature)?,
            hits,
        ));
        start = end;
    }
    if start != exp_ids.len() {
        return Ok(None);
    }
    let stale = aligned
        .par_iter()
        .flat_map_iter(|(start, cur_prov, hits)| {
            let exp_prov = &exp_prov;
            (0..cur_prov.len())
                .filter(move |&c| is_stale_row(exp_prov, start + c, cur_prov, c, hits.as_ref()))
                .map(move |c| (start + c) as u32)
        })
        .collect();
    Ok(Some(stale))
}

/// Whether two provenance strings are equal; hashes truncated to 8 or 16 characters (the
/// usual lengths) are compared as one integer instead of through `memcmp`.
#[inline]
fn same_bytes(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    match (
        a.len() == b.len(),
        <[u8; 8]>::try_from(a),
        <[u8; 8]>::try_from(b),
    ) {
        (false, _, _) => false,
        (true, Ok(x), Ok(y)) => u64::from_ne_bytes(x) == u64::from_ne_bytes(y),
        _ => match (<[u8; 16]>::try_from(a), <[u8; 16]>::try_from(b)) {
            (Ok(x), Ok(y)) => u128::from_ne_bytes(x) == u128::from_ne_bytes(y),
            _ => a == b,
        },
    }
}

fn take_rows(batch: &RecordBatch, idx: Vec<u32>) -> Result<RecordBatch> {
    if idx.len() == batch.num_rows() && idx.iter().enumerate().all(|(i, v)| *v as usize == i) {
        return Ok(batch.clone());
    }
    // the expected frame holds the provenance columns twice (the data versions default to
    // them, the same arrays): gather each distinct array once
    let idx = UInt32Array::from(idx);
    let mut taken: Vec<(ArrayRef, ArrayRef)> = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for col in batch.columns() {
        let out = match taken.iter().find(|(src, _)| Arc::ptr_eq(src, col)) {
            Some((_, out)) => out.clone(),
            None => {
                let out = arrow_select::take::take(col.as_ref(), &idx, None)?;
                taken.push((col.clone(), out.clone()));
                out
            }
        };
        columns.push(out);
    }
    Ok(RecordBatch::try_new_with_options(
        batch.schema(),
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(idx.len())),
    )?)
}

fn string_column(batch: &RecordBatch, name: &str, feature: &str) -> Result<StringArray> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| Error::schema(feature, format!("stored metadata has no `{name}` column")))?;
    let col = if col.data_type() == &DataType::Utf8 {
        col.clone()
    } else {
        arrow_cast::cast(col, &DataType::Utf8)?
    };
    col.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| Error::schema(feature, format!("`{name}` is not a string column")))
}

/// For every stale row, the struct keys whose provenance differs from the stored one.
/// `stale_cur` numbers the rows of the frame `current`'s pieces make.
fn stale_fields(
    input: &CompareInput<'_>,
    expected: &RecordBatch,
    current: &Pieces,
    stale_idx: &[u32],
    stale_cur: &[u32],
) -> Result<ArrayRef> {
    let mut builder = ListBuilder::with_capacity(StringBuilder::new(), stale_idx.len())
        .with_field(Arc::new(Field::new_list_field(DataType::Utf8, true)));
    let by_field = |batch: &RecordBatch| -> Result<Option<StructArray>> {
        match batch.column_by_name(PROVENANCE_BY_FIELD) {
            Some(c) => Ok(Some(
                as_struct(c, PROVENANCE_BY_FIELD, input.feature)?.clone(),
            )),
            None => Ok(None),
        }
    };
    let exp = by_field(expected)?;
    let cur = current
        .batches()
        .iter()
        .map(by_field)
        .collect::<Result<Vec<_>>>()?;
    type Values = Option<FieldValues>;
    let pairs: Vec<(String, Values, Vec<Values>)> = input
        .field_keys
        .iter()
        .map(|k| {
            let e = match &exp {
                Some(s) => field_values(s, k)?,
                None => None,
            };
            let c = cur
                .iter()
                .map(|piece| match piece {
                    Some(s) => field_values(s, k),
                    None => Ok(None),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((k.clone(), e, c))
        })
        .collect::<Result<_>>()?;
    for (&i, &c) in stale_idx.iter().zip(stale_cur) {
        let (piece, local) = current.locate(c as usize);
        for (key, e, cv) in &pairs {
            let ev = e.as_ref().and_then(|v| v.get(i as usize));
            let now = cv
                .get(piece)
                .and_then(Option::as_ref)
                .and_then(|v| v.get(local));
            if ev != now || now.is_none() {
                builder.values().append_value(key);
            }
        }
        builder.append(true);
    }
    Ok(Arc::new(builder.finish()))
}

/// Collapses child rows to one row per join key (reference: `any_value(ignore_nulls)` per
/// parent for 1:N features). Deterministically, each column takes its value from the parent's
/// most recently written child (greatest `metaxy_updated_at`), falling back to the first
/// non-null value when that child has none: after a re-expansion with fewer children, the
/// leftover children of the previous run do not make the parent look stale.
fn collapse(current: &RecordBatch, join_columns: &[String], feature: &str) -> Result<RecordBatch> {
    let arrays = keys::key_arrays(
        current,
        join_columns,
        &format!("the stored metadata of `{feature}`"),
    )?;
    let enc = keys::encode(&arrays)?;
    let grouping = Grouping::new(&enc);
    if grouping.num_groups() == current.num_rows() {
        return Ok(current.clone());
    }
    let (offsets, members) = grouping.members();
    let updated = match current.column_by_name(UPDATED_AT) {
        Some(c) => Some(arrow_cast::cast(
            c,
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?),
        None => None,
    };
    let updated = updated
        .as_ref()
        .map(|a| a.as_primitive::<TimestampMicrosecondType>());
    let latest: Vec<u32> = (0..grouping.num_groups())
        .map(|g| {
            let rows = &members[offsets[g] as usize..offsets[g + 1] as usize];
            let stamp = |r: u32| {
                updated
                    .filter(|u| u.is_valid(r as usize))
                    .map(|u| u.value(r as usize))
            };
            rows.iter().copied().fold(
                rows[0],
                |best, r| if stamp(r) > stamp(best) { r } else { best },
            )
        })
        .collect();
    let columns = current
        .columns()
        .iter()
        .map(|col| {
            let idx: UInt32Array = (0..grouping.num_groups())
                .map(|g| {
                    let rows = &members[offsets[g] as usize..offsets[g + 1] as usize];
                    if col.is_valid(latest[g] as usize) {
                        Some(latest[g])
                    } else {
                        rows.iter()
                            .copied()
                            .find(|r| col.is_valid(*r as usize))
                            .or(Some(latest[g]))
                    }
                })
                .collect();
            Ok(arrow_select::take::take(col.as_ref(), &idx, None)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(current.schema(), columns)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use arrow_array::UInt64Array;
    use proptest::prelude::*;

    use super::*;

    /// A frame of `sample_uid` and `metaxy_provenance` (`None`: NULL) for ids `0..`.
    fn frame(provenance: &[Option<String>], order: impl Iterator<Item = usize>) -> RecordBatch {
        let rows: Vec<usize> = order.collect();
        let ids = UInt64Array::from_iter_values(rows.iter().map(|&r| r as u64));
        let prov = StringArray::from_iter(rows.iter().map(|&r| provenance[r].clone()));
        RecordBatch::try_from_iter(vec![
            ("sample_uid", Arc::new(ids) as ArrayRef),
            (PROVENANCE, Arc::new(prov) as ArrayRef),
        ])
        .unwrap()
    }

    /// The ids of the stale rows.
    fn stale_ids(expected: RecordBatch, current: RecordBatch) -> Vec<u64> {
        let join = ["sample_uid".to_string()];
        let input = CompareInput {
            feature: "f",
            join_columns: &join,
            collapse: false,
            predicate: None,
            field_keys: &[],
        };
        let inc = compare(input, expected, Some(vec![current])).unwrap();
        assert_eq!(inc.new.num_rows() + inc.orphaned.num_rows(), 0);
        let mut ids: Vec<u64> = inc
            .stale
            .column_by_name("sample_uid")
            .unwrap()
            .as_primitive::<arrow_array::types::UInt64Type>()
            .values()
            .to_vec();
        ids.sort_unstable();
        ids
    }

    /// Provenance strings of the lengths the comparison treats apart (8 and 16 bytes as one
    /// integer, others byte by byte), or NULL.
    fn provenance() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            "[ab]{8}".prop_map(Some),
            "[ab]{16}".prop_map(Some),
            "[ab]{0,20}".prop_map(Some),
        ]
    }

    /// A frame of `sample_uid`, `metaxy_provenance` and a one-field `metaxy_provenance_by_field`
    /// for the rows `(id, provenance, field a)`.
    fn frame_by_field(rows: &[(u64, Option<String>, Option<String>)]) -> RecordBatch {
        let by_field = StructArray::from(vec![(
            Arc::new(Field::new("a", DataType::Utf8, true)),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.2.clone()))) as ArrayRef,
        )]);
        RecordBatch::try_from_iter(vec![
            (
                "sample_uid",
                Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            ),
            (
                PROVENANCE,
                Arc::new(StringArray::from_iter(rows.iter().map(|r| r.1.clone()))) as ArrayRef,
            ),
            (PROVENANCE_BY_FIELD, Arc::new(by_field) as ArrayRef),
        ])
        .unwrap()
    }

    /// `batch` cut at `cuts` (positions, in any order; repeated cuts make empty pieces).
    fn cut(batch: &RecordBatch, cuts: &[usize]) -> Vec<RecordBatch> {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (batch.num_rows() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for end in at.into_iter().chain([batch.num_rows()]) {
            pieces.push(batch.slice(start, end - start));
            start = end;
        }
        pieces
    }

    proptest! {
        /// Stored rows in pieces give the increment of the same rows concatenated: compared
        /// where they lie when they hold the expected ids in order, with the fields of each
        /// stale row read from the piece that holds it; concatenated first when a stored row
        /// is missing or extra.
        #[test]
        fn stored_rows_in_pieces_give_the_increment_of_one_batch(
            rows in proptest::collection::vec(
                (provenance(), provenance(), provenance(), provenance()), 1..200),
            cuts in proptest::collection::vec(0usize..1000, 1..6),
            drop_row in proptest::option::of(0usize..1000),
        ) {
            let n = rows.len();
            let expected = frame_by_field(
                &rows.iter().enumerate().map(|(i, r)| (i as u64, r.0.clone(), r.2.clone())).collect::<Vec<_>>(),
            );
            let stored: Vec<_> = rows
                .iter()
                .enumerate()
                .filter(|(i, _)| drop_row.map(|d| d % n) != Some(*i))
                .map(|(i, r)| (i as u64, r.1.clone(), r.3.clone()))
                .collect();
            let current = frame_by_field(&stored);
            let join = ["sample_uid".to_string()];
            let keys = ["a".to_string()];
            let input = CompareInput {
                feature: "f",
                join_columns: &join,
                collapse: false,
                predicate: None,
                field_keys: &keys,
            };
            let pieces = cut(&current, &cuts);
            // the stored rows as one batch, concatenated as a read would (its schema too)
            let one = batches::concat_parts(&pieces).unwrap();
            let whole = compare(input, expected.clone(), Some(vec![one])).unwrap();
            let pieces = compare(input, expected, Some(pieces)).unwrap();
            prop_assert_eq!(&pieces.stale, &whole.stale);
            prop_assert_eq!(&pieces.new, &whole.new);
            prop_assert_eq!(&pieces.orphaned, &whole.orphaned);
            prop_assert_eq!(whole.new.num_rows(), usize::from(drop_row.is_some()));
        }

        /// Rows in the same order are compared row by row; the stale rows are the ones a
        /// comparison of the same frames in another order finds (matching ids by hashing), and the
        /// ones whose provenance differs or is NULL on the stored side.
        #[test]
        fn comparing_in_place_finds_what_matching_by_id_finds(
            rows in proptest::collection::vec((provenance(), provenance()), 1..300),
        ) {
            let (exp, cur): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
            let n = exp.len();
            let in_place = stale_ids(frame(&exp, 0..n), frame(&cur, 0..n));
            // every other row first: the ids no longer line up and are matched by a hash table
            let shuffled = (0..n).step_by(2).chain((1..n).step_by(2));
            let merged = stale_ids(frame(&exp, 0..n), frame(&cur, shuffled));
            let want: Vec<u64> = (0..n)
                .filter(|&i| cur[i].is_none() || (exp[i].is_some() && exp[i] != cur[i]))
                .map(|i| i as u64)
                .collect();
            prop_assert_eq!(&in_place, &want);
            prop_assert_eq!(&merged, &want);
        }
    }
}
