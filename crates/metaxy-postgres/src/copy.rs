//! Arrow batches as CSV for `COPY ... FROM STDIN`: the fast path for appends.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use metaxy_core::{Result, json_columns};

use crate::types::{Storage, storage};

/// One column prepared for CSV rendering.
enum Column {
    Int(arrow_array::Int64Array),
    UInt64(arrow_array::UInt64Array),
    Bool(arrow_array::BooleanArray),
    Float(arrow_array::Float64Array),
    Text(arrow_array::StringArray),
    Bytea(arrow_array::BinaryArray),
    /// Microseconds; `true` when the column has a zone.
    Micros(arrow_array::Int64Array, bool),
    Days(arrow_array::Date32Array),
    Json(Vec<Option<String>>),
}

impl Column {
    fn new(a: &ArrayRef) -> Result<Self> {
        let t = a.data_type();
        Ok(match (t, storage(t)) {
            (DataType::UInt64, _) => Column::UInt64(a.as_primitive::<UInt64Type>().clone()),
            (_, Storage::Int) => Column::Int(
                arrow_cast::cast(a, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .clone(),
            ),
            (_, Storage::Bool) => Column::Bool(a.as_boolean().clone()),
            (_, Storage::Float) => Column::Float(
                arrow_cast::cast(a, &DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .clone(),
            ),
            (_, Storage::Text) => Column::Text(
                arrow_cast::cast(a, &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone(),
            ),
            (_, Storage::Bytea) => Column::Bytea(
                arrow_cast::cast(a, &DataType::Binary)?
                    .as_binary::<i32>()
                    .clone(),
            ),
            (DataType::Timestamp(_, tz), Storage::Micros) => {
                let us = arrow_cast::cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
                let ints = arrow_cast::cast(&us, &DataType::Int64)?;
                Column::Micros(ints.as_primitive::<Int64Type>().clone(), tz.is_some())
            }
            (_, Storage::Micros) => unreachable_micros(a)?,
            (_, Storage::Days) => Column::Days(
                arrow_cast::cast(a, &DataType::Date32)?
                    .as_primitive::<arrow_array::types::Date32Type>()
                    .clone(),
            ),
            (_, Storage::Json) => Column::Json(json_columns::encode(a)?),
        })
    }

    /// Appends the CSV field of row `i` (nothing for NULL).
    fn write(&self, i: usize, out: &mut String) {
        match self {
            Column::Int(a) if a.is_valid(i) => {
                let _ = write!(out, "{}", a.value(i));
            }
            Column::UInt64(a) if a.is_valid(i) => {
                let _ = write!(out, "{}", a.value(i) as i64);
            }
            Column::Bool(a) if a.is_valid(i) => out.push(if a.value(i) { 't' } else { 'f' }),
            Column::Float(a) if a.is_valid(i) => {
                let v = a.value(i);
                if v.is_nan() {
                    out.push_str("NaN");
                } else if v.is_infinite() {
                    out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
                } else {
                    let _ = write!(out, "{v:?}");
                }
            }
            Column::Text(a) if a.is_valid(i) => quote(a.value(i), out),
            Column::Bytea(a) if a.is_valid(i) => {
                out.push_str("\\x");
                for b in a.value(i) {
                    let _ = write!(out, "{b:02x}");
                }
            }
            Column::Micros(a, tz) if a.is_valid(i) => {
                if let Some(dt) = chrono::DateTime::from_timestamp_micros(a.value(i)) {
                    let _ = write!(out, "{}", dt.format("%Y-%m-%d %H:%M:%S%.6f"));
                    if *tz {
                        out.push_str("+00");
                    }
                }
            }
            Column::Days(a) if a.is_valid(i) => {
                if let Some(d) = chrono::DateTime::from_timestamp(i64::from(a.value(i)) * 86_400, 0)
                {
                    let _ = write!(out, "{}", d.format("%Y-%m-%d"));
                }
            }
            Column::Json(v) => {
                if let Some(s) = &v[i] {
                    quote(s, out);
                }
            }
            _ => {}
        }
    }
}

fn unreachable_micros(a: &ArrayRef) -> Result<Column> {
    Err(metaxy_core::Error::InvalidArgument(format!(
        "cannot store a {} column as a timestamp",
        a.data_type()
    )))
}

/// A quoted CSV field: always quoted (an empty string is not NULL), quotes doubled.
fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

/// Renders `batch` as CSV lines, calling `sink` with chunks of about `chunk` bytes.
pub(crate) fn to_csv_chunks(
    batch: &RecordBatch,
    chunk: usize,
    mut sink: impl FnMut(String) -> Result<()>,
) -> Result<()> {
    let columns = batch
        .columns()
        .iter()
        .map(Column::new)
        .collect::<Result<Vec<_>>>()?;
    let mut out = String::with_capacity(chunk + 1024);
    for row in 0..batch.num_rows() {
        for (j, c) in columns.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            c.write(row, &mut out);
        }
        out.push('\n');
        if out.len() >= chunk {
            sink(std::mem::take(&mut out))?;
            out.reserve(chunk + 1024);
        }
    }
    if !out.is_empty() {
        sink(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray, TimestampMicrosecondArray};
    use std::sync::Arc;

    #[test]
    fn csv_quotes_and_nulls() {
        let batch = RecordBatch::try_from_iter(vec![
            (
                "id",
                Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("a\"b,\nc"), Some("")])) as ArrayRef,
            ),
            (
                "t",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(1_704_412_800_000_001), None])
                        .with_timezone("UTC"),
                ) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut all = String::new();
        to_csv_chunks(&batch, 1 << 20, |s| {
            all.push_str(&s);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            all,
            "1,\"a\"\"b,\nc\",2024-01-05 00:00:00.000001+00\n,\"\",\n"
        );
    }
}
