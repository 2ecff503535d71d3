//! One append as the memory backend holds it: columns whose value is the same on every row —
//! the feature and project versions, the write's timestamps, a NULL `deleted_at` or
//! materialization id, which make up about half of a written row — are kept once instead of
//! once per row, and repeated only when a scan asks for them.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{
    Array, ArrayRef, PrimitiveArray, RecordBatch, RecordBatchOptions, StringArray, UInt32Array,
    new_null_array,
};
use arrow_schema::{DataType, Schema, SchemaRef, TimeUnit};

use crate::batches;
use crate::error::Result;
use crate::filter::Expr;

/// A column as stored.
#[derive(Debug, Clone)]
enum Stored {
    /// One value per row.
    Rows(ArrayRef),
    /// The value of every row, as a one-row array.
    Constant(ArrayRef),
}

/// One append: its schema as written, its row count and its columns.
#[derive(Debug, Clone)]
pub(super) struct Part {
    schema: SchemaRef,
    rows: usize,
    columns: Vec<Stored>,
}

impl Part {
    /// Stores `batch`, keeping each constant column once.
    pub(super) fn compact(batch: &RecordBatch) -> Result<Part> {
        let rows = batch.num_rows();
        let columns = batch
            .columns()
            .iter()
            .map(|c| {
                Ok(if rows >= 2 && is_constant(c) {
                    // a copy of the first row, so the full column's buffers are released
                    let first = arrow_select::take::take(c, &UInt32Array::from(vec![0u32]), None)?;
                    Stored::Constant(first)
                } else {
                    Stored::Rows(c.clone())
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Part {
            schema: batch.schema(),
            rows,
            columns,
        })
    }

    /// The schema the part was written with.
    pub(super) fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The columns of `names` the part has, in that order (names it lacks are skipped),
    /// constants repeated to the part's length.
    pub(super) fn project(&self, names: &[String]) -> Result<RecordBatch> {
        let indices: Vec<usize> = names
            .iter()
            .filter_map(|n| self.schema.index_of(n).ok())
            .collect();
        self.batch_of(&indices)
    }

    /// Every column.
    pub(super) fn batch(&self) -> Result<RecordBatch> {
        self.batch_of(&(0..self.columns.len()).collect::<Vec<_>>())
    }

    fn batch_of(&self, indices: &[usize]) -> Result<RecordBatch> {
        let schema = Arc::new(self.schema.project(indices)?);
        let columns = indices
            .iter()
            .map(|&i| match &self.columns[i] {
                Stored::Rows(a) => Ok(a.clone()),
                Stored::Constant(v) => repeat(v, self.rows),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new_with_options(
            schema,
            columns,
            &RecordBatchOptions::new().with_row_count(Some(self.rows)),
        )?)
    }

    /// Whether `filter` keeps every row (`Some(true)`) or none (`Some(false)`), decided from
    /// one row because every column it reads is constant in this part or absent from it
    /// (absent columns read as NULL, as after aligning to `schema`, the scan's merged
    /// schema); `None` when it has to be evaluated row by row.
    pub(super) fn keeps_all(&self, filter: &Expr, schema: &SchemaRef) -> Result<Option<bool>> {
        let mut heads: Vec<String> = Vec::new();
        for c in filter.columns() {
            let head = c.split_once('.').map_or(c.as_str(), |(h, _)| h).to_string();
            if !heads.contains(&head) {
                heads.push(head);
            }
        }
        let mut indices = Vec::new();
        for h in &heads {
            match self.schema.index_of(h) {
                Ok(i) if matches!(self.columns[i], Stored::Constant(_)) => indices.push(i),
                Ok(_) => return Ok(None),
                Err(_) => {}
            }
        }
        let row = RecordBatch::try_new_with_options(
            Arc::new(self.schema.project(&indices)?),
            indices
                .iter()
                .map(|&i| match &self.columns[i] {
                    Stored::Constant(v) | Stored::Rows(v) => v.clone(),
                })
                .collect(),
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        let row = batches::align_batch(&row, &restrict(schema, &heads))?;
        let mask = filter.evaluate(&row)?;
        Ok(Some(mask.is_valid(0) && mask.value(0)))
    }
}

/// The fields of `schema` named in `names`, in that order (names it lacks are skipped).
pub(super) fn restrict(schema: &SchemaRef, names: &[String]) -> SchemaRef {
    Arc::new(Schema::new(
        names
            .iter()
            .filter_map(|n| schema.field_with_name(n).ok().cloned())
            .collect::<Vec<_>>(),
    ))
}

/// Whether every row of `a` holds the same value (all NULL counts). Checked for the types
/// the store writes constant columns in: text and timestamps.
fn is_constant(a: &ArrayRef) -> bool {
    if a.is_empty() {
        return false;
    }
    if a.null_count() == a.len() {
        return true;
    }
    if a.null_count() > 0 {
        return false;
    }
    match a.data_type() {
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            let offsets = s.value_offsets();
            let width = offsets[1] - offsets[0];
            // the first two rows reject most columns at once (hashes, ids); then equal lengths
            // (one pass over the offsets), then equal bytes
            s.value(1) == s.value(0) && offsets.windows(2).all(|w| w[1] - w[0] == width) && {
                let first = s.value(0).as_bytes();
                let start = offsets[0] as usize;
                let end = offsets[s.len()] as usize;
                first.is_empty()
                    || s.value_data()[start..end]
                        .chunks_exact(first.len())
                        .all(|c| c == first)
            }
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let t = a.as_primitive::<TimestampMicrosecondType>();
            let first = t.value(0);
            t.values().iter().all(|v| *v == first)
        }
        _ => false,
    }
}

/// `value` (one row) repeated `n` times.
fn repeat(value: &ArrayRef, n: usize) -> Result<ArrayRef> {
    if value.is_null(0) {
        return Ok(new_null_array(value.data_type(), n));
    }
    Ok(match value.data_type() {
        DataType::Utf8 => Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
            value.as_string::<i32>().value(0),
            n,
        ))),
        DataType::Timestamp(TimeUnit::Microsecond, tz) => Arc::new(
            PrimitiveArray::<TimestampMicrosecondType>::from_value(
                value.as_primitive::<TimestampMicrosecondType>().value(0),
                n,
            )
            .with_timezone_opt(tz.clone()),
        ),
        _ => arrow_select::take::take(value, &UInt32Array::from(vec![0u32; n]), None)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use arrow_array::{Int64Array, TimestampMicrosecondArray};

    use super::*;

    fn sample() -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
            (
                "version",
                Arc::new(StringArray::from(vec!["abc", "abc", "abc"])) as ArrayRef,
            ),
            (
                "near",
                Arc::new(StringArray::from(vec!["abc", "abd", "abc"])) as ArrayRef,
            ),
            (
                "late",
                Arc::new(StringArray::from(vec!["abc", "abc", "abd"])) as ArrayRef,
            ),
            (
                "uneven",
                Arc::new(StringArray::from(vec!["ab", "abab", "ab"])) as ArrayRef,
            ),
            (
                "at",
                Arc::new(TimestampMicrosecondArray::from(vec![7, 7, 7]).with_timezone("UTC"))
                    as ArrayRef,
            ),
            (
                "gone",
                Arc::new(TimestampMicrosecondArray::new_null(3).with_timezone("UTC")) as ArrayRef,
            ),
            (
                "some_null",
                Arc::new(StringArray::from(vec![Some("x"), None, Some("x")])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    #[test]
    fn constants_are_kept_once_and_read_back_as_written() {
        let batch = sample();
        let part = Part::compact(&batch).unwrap();
        let constant: Vec<&str> = part
            .schema
            .fields()
            .iter()
            .zip(&part.columns)
            .filter(|(_, c)| matches!(c, Stored::Constant(_)))
            .map(|(f, _)| f.name().as_str())
            .collect();
        assert_eq!(constant, ["version", "at", "gone"]);
        assert_eq!(part.batch().unwrap(), batch);
        let names = ["at".to_string(), "missing".into(), "near".into()];
        assert_eq!(
            part.project(&names).unwrap(),
            batch.project(&[5, 2]).unwrap()
        );
    }

    #[test]
    fn a_filter_on_constants_is_decided_once_per_part() {
        let part = Part::compact(&sample()).unwrap();
        let schema = part.schema().clone();
        let keeps = |f: Expr| part.keeps_all(&f, &schema).unwrap();
        use crate::filter::Scalar;
        assert_eq!(
            keeps(Expr::column_eq("version", Scalar::Str("abc".into()))),
            Some(true)
        );
        assert_eq!(
            keeps(Expr::column_eq("version", Scalar::Str("zzz".into()))),
            Some(false)
        );
        // a NULL comparison keeps nothing
        assert_eq!(
            keeps(Expr::column_eq("gone", Scalar::Timestamp(7))),
            Some(false)
        );
        // a column that varies needs the rows
        assert_eq!(
            keeps(Expr::column_eq("near", Scalar::Str("abc".into()))),
            None
        );
    }
}
