//! Arrow types in and out of Lance, and the schema additions an append needs.
//!
//! Lance stores almost every Arrow type as is. Writes make every field nullable (a later
//! append may leave a column out, which reads back as NULL) and give `Null`-typed columns a
//! string type (a column written only with NULLs so far); reads come back in metaxy's
//! canonical Arrow types through [`batches::normalize_batch`].

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema};
use metaxy_core::{Result, batches};

fn lance_type(t: &DataType) -> DataType {
    match t {
        DataType::Null => DataType::Utf8,
        DataType::Struct(fields) => DataType::Struct(lance_fields(fields)),
        DataType::List(f) => DataType::List(Arc::new(lance_field(f))),
        DataType::LargeList(f) => DataType::LargeList(Arc::new(lance_field(f))),
        other => other.clone(),
    }
}

fn lance_field(f: &Field) -> Field {
    Field::new(f.name(), lance_type(f.data_type()), true).with_metadata(f.metadata().clone())
}

fn lance_fields(fields: &Fields) -> Fields {
    fields.iter().map(|f| lance_field(f)).collect()
}

/// `batch` in the types it is stored as in Lance.
pub(crate) fn to_lance(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = Arc::new(Schema::new(lance_fields(batch.schema().fields())));
    batches::align_batch(batch, &schema)
}

/// The fields of `incoming` that `current` lacks, as Lance's `add_columns` takes them: whole
/// new columns, and for a struct column present in both, a struct holding only its new
/// fields (recursively). Every returned field is nullable.
pub(crate) fn missing_fields(current: &Schema, incoming: &Schema) -> Vec<Field> {
    missing_in(current.fields(), incoming.fields())
}

fn missing_in(current: &Fields, incoming: &Fields) -> Vec<Field> {
    let mut out = Vec::new();
    for field in incoming {
        match current.iter().find(|c| c.name() == field.name()) {
            None => out.push(lance_field(field)),
            Some(existing) => {
                if let Some(sub) = missing_struct_fields(existing, field) {
                    out.push(Field::new(field.name(), DataType::Struct(sub.into()), true));
                }
            }
        }
    }
    out
}

fn missing_struct_fields(existing: &FieldRef, incoming: &FieldRef) -> Option<Vec<Field>> {
    match (existing.data_type(), incoming.data_type()) {
        (DataType::Struct(have), DataType::Struct(want)) => {
            let sub = missing_in(have, want);
            (!sub.is_empty()).then_some(sub)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn strukt(names: &[&str]) -> DataType {
        DataType::Struct(
            names
                .iter()
                .map(|n| Field::new(*n, DataType::Utf8, true))
                .collect(),
        )
    }

    #[test]
    fn new_columns_and_new_struct_fields_are_added_alone() {
        let current = Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("by_field", strukt(&["audio"]), true),
        ]);
        let incoming = Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("by_field", strukt(&["audio", "frames"]), false),
            Field::new("extra", DataType::Null, false),
        ]);
        let added = missing_fields(&current, &incoming);
        assert_eq!(
            added,
            vec![
                Field::new("by_field", strukt(&["frames"]), true),
                Field::new("extra", DataType::Utf8, true),
            ]
        );
        assert!(missing_fields(&incoming, &current).is_empty());
    }

    #[test]
    fn null_columns_are_stored_as_nullable_strings() {
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("x", DataType::Null, false)])),
            vec![Arc::new(arrow_array::NullArray::new(2))],
        )
        .unwrap();
        let stored = to_lance(&batch).unwrap();
        let field = stored.schema().field(0).clone();
        assert_eq!(field.data_type(), &DataType::Utf8);
        assert!(field.is_nullable());
        assert_eq!(stored.column(0).null_count(), 2);
    }
}
