//! Arrow types in and out of Delta Lake.
//!
//! Delta has a smaller type system than Arrow: no unsigned integers, no `Null` type, no
//! half floats, no dictionaries, timestamps only in microseconds. Writes convert to the
//! nearest Delta type that loses no value (and fail, naming the column, where none exists);
//! reads come back in metaxy's canonical Arrow types ([`batches::normalize_batch`]).

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_cast::{CastOptions, cast_with_options};
use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};
use metaxy_core::{Error, Result, batches};

/// The Delta-compatible type for an Arrow type, or why there is none.
fn delta_type(t: &DataType) -> std::result::Result<DataType, String> {
    use DataType as D;
    Ok(match t {
        D::Null | D::Utf8 | D::LargeUtf8 | D::Utf8View => D::Utf8,
        D::Boolean
        | D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::Float32
        | D::Float64
        | D::Date32
        | D::Decimal128(_, _) => t.clone(),
        D::UInt8 => D::Int16,
        D::UInt16 => D::Int32,
        D::UInt32 => D::Int64,
        // Values above i64::MAX fail the (checked) cast with an error naming the column.
        D::UInt64 => D::Int64,
        D::Float16 => D::Float32,
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => D::Binary,
        D::Date64 => D::Timestamp(TimeUnit::Microsecond, None),
        D::Timestamp(_, None) => D::Timestamp(TimeUnit::Microsecond, None),
        // Delta timestamps are instants stored in UTC; the zone name is not kept.
        D::Timestamp(_, Some(_)) => D::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        D::Decimal256(p, s) if *p <= 38 => D::Decimal128(*p, *s),
        D::Dictionary(_, value) => delta_type(value)?,
        D::Struct(fields) => D::Struct(delta_fields(fields)?),
        D::List(f)
        | D::LargeList(f)
        | D::ListView(f)
        | D::LargeListView(f)
        | D::FixedSizeList(f, _) => D::List(Arc::new(delta_field(f)?)),
        D::Map(entries, sorted) => D::Map(Arc::new(delta_field(entries)?), *sorted),
        other => {
            return Err(format!(
                "Delta Lake has no type for {other}; cast the column to a string, integer or \
                 timestamp before writing"
            ));
        }
    })
}

fn delta_field(f: &Field) -> std::result::Result<Field, String> {
    // Map entries must keep their non-null key; everything else is nullable so that later
    // writes (ours or Python's) may leave the column out.
    let nullable = f.is_nullable() || f.name() != "key";
    Ok(Field::new(f.name(), delta_type(f.data_type())?, nullable))
}

fn delta_fields(fields: &Fields) -> std::result::Result<Fields, String> {
    fields
        .iter()
        .map(|f| delta_field(f))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Fields::from)
}

/// Converts a batch to Delta-compatible types with every column nullable.
pub(crate) fn to_delta(batch: &RecordBatch, feature: &str) -> Result<RecordBatch> {
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema_ref().fields().iter().zip(batch.columns()) {
        let target = delta_type(field.data_type()).map_err(|m| {
            Error::schema(
                feature,
                format!("column `{}` ({}): {m}", field.name(), field.data_type()),
            )
        })?;
        let converted = if &target == column.data_type() {
            column.clone()
        } else {
            cast_with_options(column, &target, &options).map_err(|e| {
                Error::schema(
                    feature,
                    format!(
                        "column `{}` cannot be stored in Delta Lake as {target}: {e}",
                        field.name()
                    ),
                )
            })?
        };
        fields.push(Field::new(field.name(), target, true));
        columns.push(converted);
    }
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// Brings a scanned batch to metaxy's canonical types.
pub(crate) fn from_delta(batch: &RecordBatch) -> Result<RecordBatch> {
    batches::normalize_batch(batch)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_array::{Array, Int64Array, NullArray, UInt8Array, UInt64Array};

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn unsigned_and_null_columns_become_delta_types() {
        let b = batch(vec![
            ("small", Arc::new(UInt8Array::from(vec![255u8])) as ArrayRef),
            ("big", Arc::new(UInt64Array::from(vec![42u64]))),
            ("nothing", Arc::new(NullArray::new(1))),
        ]);
        let out = to_delta(&b, "f").unwrap();
        assert_eq!(out.column(0).data_type(), &DataType::Int16);
        let big = out.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(big.value(0), 42);
        assert_eq!(out.column(2).data_type(), &DataType::Utf8);
        assert!(out.column(2).is_null(0));
        assert!(out.schema().fields().iter().all(|f| f.is_nullable()));
    }

    #[test]
    fn values_that_do_not_fit_are_errors_naming_the_column() {
        let b = batch(vec![(
            "counter",
            Arc::new(UInt64Array::from(vec![u64::MAX])) as ArrayRef,
        )]);
        let e = to_delta(&b, "f").unwrap_err().to_string();
        assert!(e.contains("counter"), "{e}");
    }

    #[test]
    fn types_without_a_delta_equivalent_are_rejected() {
        let b = batch(vec![(
            "t",
            Arc::new(arrow_array::Time64MicrosecondArray::from(vec![1])) as ArrayRef,
        )]);
        let e = to_delta(&b, "f").unwrap_err().to_string();
        assert!(e.contains("column `t`") && e.contains("no type"), "{e}");
    }
}
