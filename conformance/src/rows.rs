//! JSON rows ↔ Arrow batches, for fixtures and golden cases.
//!
//! JSON integers become `Int64`, strings `Utf8`, objects `Struct` (so a
//! `metaxy_provenance_by_field` object becomes the struct metaxy expects).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_json::reader::{ReaderBuilder, infer_json_schema_from_iterator};
use arrow_schema::Schema;
use serde_json::{Map, Value};

/// Builds a batch from JSON objects (one per row). An empty list gives an empty batch.
pub fn rows_to_batch(rows: &[Value]) -> Result<RecordBatch, String> {
    if rows.is_empty() {
        return Ok(RecordBatch::new_empty(Arc::new(Schema::empty())));
    }
    let schema = infer_json_schema_from_iterator(rows.iter().map(|r| Ok(r.clone())))
        .map_err(|e| format!("cannot infer a schema from the rows: {e}"))?;
    let schema = Arc::new(schema);
    let mut decoder = ReaderBuilder::new(schema.clone())
        .with_batch_size(rows.len().max(1))
        .build_decoder()
        .map_err(|e| e.to_string())?;
    decoder
        .serialize(rows)
        .map_err(|e| format!("cannot convert the rows: {e}"))?;
    decoder
        .flush()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "no rows decoded".to_string())
}

/// Renders every row of `batch` as a JSON object (NULLs explicit).
pub fn batch_to_rows(batch: &RecordBatch) -> Result<Vec<Map<String, Value>>, String> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let mut buf = Vec::new();
    {
        let mut writer = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::JsonArray>(&mut buf);
        writer.write(batch).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    let value: Value = serde_json::from_slice(&buf).map_err(|e| e.to_string())?;
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::Object(m) => Ok(m),
                other => Err(format!("expected a JSON object per row, got {other}")),
            })
            .collect(),
        other => Err(format!("expected a JSON array, got {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip() {
        let rows = vec![
            json!({"id": 1, "name": "a", "metaxy_provenance_by_field": {"audio": "a1"}}),
            json!({"id": 2, "name": null, "metaxy_provenance_by_field": {"audio": "a2"}}),
        ];
        let batch = rows_to_batch(&rows).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let back = batch_to_rows(&batch).unwrap();
        assert_eq!(Value::Object(back[0].clone()), rows[0]);
        assert_eq!(Value::Object(back[1].clone()), rows[1]);
    }
}
