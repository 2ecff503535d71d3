//! Nested Arrow columns as JSON text, for stores that keep structs and lists as JSON (SQLite
//! stores `*_by_field` as JSON text, PostgreSQL as JSONB) and must hand back Arrow structs.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use serde_json::Value;

use crate::error::{Error, Result};

/// Every value of `array` as JSON text (`None` for NULL). Struct fields that are NULL are
/// written explicitly (`{"audio": null}`).
pub fn encode(array: &ArrayRef) -> Result<Vec<Option<String>>> {
    let n = array.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(
            "v",
            array.data_type().clone(),
            true,
        )])),
        vec![array.clone()],
    )?;
    let mut buf = Vec::new();
    {
        let mut writer = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::LineDelimited>(&mut buf);
        writer.write(&batch)?;
        writer.finish()?;
    }
    let text = String::from_utf8(buf).map_err(|e| {
        Error::InvalidArgument(format!("JSON encoding produced invalid UTF-8: {e}"))
    })?;
    let mut out = Vec::with_capacity(n);
    for (i, line) in text.lines().enumerate() {
        if array.is_null(i) {
            out.push(None);
            continue;
        }
        let row: Value = serde_json::from_str(line)
            .map_err(|e| Error::InvalidArgument(format!("cannot re-read encoded JSON: {e}")))?;
        out.push(row.get("v").filter(|v| !v.is_null()).map(|v| v.to_string()));
    }
    Ok(out)
}

/// Parses JSON texts into an Arrow array of `data_type` (`None` → NULL). A text that is not
/// valid JSON for the type is an error naming the column.
pub fn decode(texts: &[Option<&str>], data_type: &DataType, column: &str) -> Result<ArrayRef> {
    let schema = Arc::new(Schema::new(vec![Field::new("v", data_type.clone(), true)]));
    let mut rows = Vec::with_capacity(texts.len());
    for t in texts {
        let v = match t {
            None => Value::Null,
            Some(s) => serde_json::from_str(s).map_err(|e| {
                Error::InvalidArgument(format!(
                    "column `{column}` holds text that is not JSON ({e}): {s:.80}"
                ))
            })?,
        };
        rows.push(serde_json::json!({ "v": v }));
    }
    let mut decoder = arrow_json::ReaderBuilder::new(schema.clone())
        .with_batch_size(rows.len().max(1))
        .build_decoder()?;
    decoder.serialize(&rows).map_err(|e| {
        Error::InvalidArgument(format!(
            "column `{column}` does not match its type {data_type}: {e}"
        ))
    })?;
    let batch = decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema));
    Ok(batch.column(0).clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{StringArray, StructArray};

    #[test]
    fn struct_round_trip_with_nulls() {
        let s: ArrayRef = Arc::new(StructArray::from(vec![
            (
                Arc::new(Field::new("audio", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("a\"1"), None])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("frames", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("f1"), Some("f2")])) as ArrayRef,
            ),
        ]));
        let texts = encode(&s).unwrap();
        assert_eq!(
            texts[0].as_deref(),
            Some(r#"{"audio":"a\"1","frames":"f1"}"#)
        );
        assert_eq!(texts[1].as_deref(), Some(r#"{"audio":null,"frames":"f2"}"#));
        let refs: Vec<Option<&str>> = texts.iter().map(|t| t.as_deref()).chain([None]).collect();
        let back = decode(&refs, s.data_type(), "pbf").unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back.slice(0, 2).as_ref(), s.as_ref());
        assert!(back.is_null(2));
        assert!(decode(&[Some("{not json")], s.data_type(), "pbf").is_err());
    }
}
