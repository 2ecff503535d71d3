//! Arrow batch plumbing shared by the store and the backends: schema merging for append-only
//! tables whose schema evolves, concatenation, projection and column replacement.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, StructArray, new_null_array};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Merges two field types by name: structs merge their fields, `Null` yields to anything,
/// identical types stay; anything else is a conflict.
fn merge_type(name: &str, a: &DataType, b: &DataType) -> Result<DataType> {
    match (a, b) {
        (x, y) if x == y => Ok(x.clone()),
        (DataType::Null, y) => Ok(y.clone()),
        (x, DataType::Null) => Ok(x.clone()),
        (DataType::Struct(fa), DataType::Struct(fb)) => {
            Ok(DataType::Struct(merge_fields(fa.iter().chain(fb.iter()))?))
        }
        (DataType::Utf8, DataType::LargeUtf8 | DataType::Utf8View)
        | (DataType::LargeUtf8 | DataType::Utf8View, DataType::Utf8) => Ok(DataType::Utf8),
        (DataType::Timestamp(ua, ta), DataType::Timestamp(ub, tb)) if ta == tb && ua != ub => Ok(
            DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, ta.clone()),
        ),
        _ => Err(Error::InvalidArgument(format!(
            "column `{name}` has type {a} in one batch and {b} in another; write it with one type"
        ))),
    }
}

/// Merges fields by name, keeping first-appearance order; every merged field is nullable.
pub fn merge_fields<'a>(fields: impl IntoIterator<Item = &'a FieldRef>) -> Result<Fields> {
    let mut out: Vec<Field> = Vec::new();
    for f in fields {
        match out.iter_mut().find(|o| o.name() == f.name()) {
            Some(existing) => {
                let t = merge_type(f.name(), existing.data_type(), f.data_type())?;
                *existing = Field::new(f.name(), t, true);
            }
            None => out.push(Field::new(f.name(), f.data_type().clone(), true)),
        }
    }
    Ok(out.into())
}

/// The merged schema of several schemas (see [`merge_fields`]).
pub fn merge_schemas<'a>(schemas: impl IntoIterator<Item = &'a SchemaRef>) -> Result<SchemaRef> {
    let all: Vec<FieldRef> = schemas
        .into_iter()
        .flat_map(|s| s.fields().iter().cloned())
        .collect();
    Ok(Arc::new(Schema::new(merge_fields(all.iter())?)))
}

/// Reshapes `array` to `target`: missing struct fields become NULL, `Null` arrays take the
/// target type, other types are cast.
pub fn align_array(array: &ArrayRef, target: &DataType) -> Result<ArrayRef> {
    if array.data_type() == target {
        return Ok(array.clone());
    }
    match (array.data_type(), target) {
        (DataType::Null, t) => Ok(new_null_array(t, array.len())),
        (DataType::Struct(_), DataType::Struct(target_fields)) => {
            let s = array
                .as_any()
                .downcast_ref::<StructArray>()
                .ok_or_else(|| Error::InvalidArgument("malformed struct array".into()))?;
            let children = target_fields
                .iter()
                .map(|tf| match s.column_by_name(tf.name()) {
                    Some(c) => align_array(c, tf.data_type()),
                    None => Ok(new_null_array(tf.data_type(), s.len())),
                })
                .collect::<Result<Vec<_>>>()?;
            let fields: Fields = target_fields
                .iter()
                .map(|f| Field::new(f.name(), f.data_type().clone(), true))
                .collect();
            Ok(Arc::new(StructArray::try_new(
                fields,
                children,
                s.nulls().cloned(),
            )?))
        }
        _ => Ok(arrow_cast::cast(array, target)?),
    }
}

/// Reshapes `batch` to `schema`: columns by name, missing columns NULL.
pub fn align_batch(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|f| match batch.column_by_name(f.name()) {
            Some(c) => align_array(c, f.data_type()),
            None => Ok(new_null_array(f.data_type(), batch.num_rows())),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// Concatenates batches whose schemas may differ (merged by name).
pub fn concat_merged(batches: &[RecordBatch]) -> Result<RecordBatch> {
    let schema = merge_schemas(batches.iter().map(|b| b.schema_ref()))?;
    concat_to(&schema, batches)
}

/// The parts of a scan ([`Backend::scan_parts`](crate::Backend::scan_parts)) as one batch:
/// the part itself when there is one, else the parts concatenated under their merged schema.
pub fn concat_parts(parts: &[RecordBatch]) -> Result<RecordBatch> {
    match parts {
        [one] => Ok(one.clone()),
        _ => concat_merged(parts),
    }
}

/// Concatenates batches after aligning each to `schema`, the columns on every core (a scan
/// of thousands of chunks is concatenated column by column, each independent of the others).
pub fn concat_to(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let aligned = batches
        .iter()
        .map(|b| align_batch(b, schema))
        .collect::<Result<Vec<_>>>()?;
    let rows = aligned.iter().map(|b| b.num_rows()).sum();
    let columns = (0..schema.fields().len())
        .into_par_iter()
        .map(|c| {
            let arrays: Vec<&dyn Array> = aligned.iter().map(|b| b.column(c).as_ref()).collect();
            if arrays.is_empty() {
                return Ok(new_null_array(schema.field(c).data_type(), 0));
            }
            Ok(arrow_select::concat::concat(&arrays)?)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

/// The requested columns of `batch` that exist, in the requested order.
pub fn project_existing(batch: &RecordBatch, columns: &[String]) -> Result<RecordBatch> {
    let schema = batch.schema();
    let indices: Vec<usize> = columns
        .iter()
        .filter_map(|c| schema.index_of(c).ok())
        .collect();
    Ok(batch.project(&indices)?)
}

/// Exactly `columns` of `batch`, failing with the list of available columns otherwise.
pub fn project_exact(batch: &RecordBatch, columns: &[String], what: &str) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut indices = Vec::with_capacity(columns.len());
    for c in columns {
        match schema.index_of(c) {
            Ok(i) => indices.push(i),
            Err(_) => {
                let available: Vec<&str> =
                    schema.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(Error::InvalidArgument(format!(
                    "{what} has no column `{c}` (available: {})",
                    available.join(", ")
                )));
            }
        }
    }
    Ok(batch.project(&indices)?)
}

/// Returns `batch` with `name` set to `array` (replaced in place, or appended).
pub fn with_column(batch: &RecordBatch, name: &str, array: ArrayRef) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let field = Arc::new(Field::new(name, array.data_type().clone(), true));
    match schema.index_of(name) {
        Ok(i) => {
            fields[i] = field;
            columns[i] = array;
        }
        Err(_) => {
            fields.push(field);
            columns.push(array);
        }
    }
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// Returns `batch` without the named columns (names that do not exist are ignored).
pub fn without_columns(batch: &RecordBatch, names: &[&str]) -> RecordBatch {
    let schema = batch.schema();
    let keep: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| !names.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    // Projection with valid indices cannot fail.
    batch.project(&keep).unwrap_or_else(|_| batch.clone())
}

/// Renames columns `old -> new`; other columns keep their names.
pub fn rename_columns(batch: &RecordBatch, renames: &[(String, String)]) -> Result<RecordBatch> {
    if renames.is_empty() {
        return Ok(batch.clone());
    }
    let schema = batch.schema();
    let fields: Vec<FieldRef> = schema
        .fields()
        .iter()
        .map(|f| match renames.iter().find(|(o, _)| o == f.name()) {
            Some((_, new)) => Arc::new(f.as_ref().clone().with_name(new)),
            None => f.clone(),
        })
        .collect();
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        batch.columns().to_vec(),
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// Brings an array to metaxy's canonical Arrow types: `LargeUtf8` / `Utf8View` → `Utf8`,
/// `LargeBinary` / `BinaryView` → `Binary`, timestamps → microseconds (keeping the zone),
/// recursively inside structs and lists. Backends call this on what their driver returns.
pub fn normalize_array(array: &ArrayRef) -> Result<ArrayRef> {
    let target = normalize_type(array.data_type());
    if &target == array.data_type() {
        return Ok(array.clone());
    }
    align_array(array, &target)
}

/// The canonical form of a type (see [`normalize_array`]).
pub fn normalize_type(t: &DataType) -> DataType {
    use arrow_schema::TimeUnit;
    match t {
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| Field::new(f.name(), normalize_type(f.data_type()), true))
                .collect(),
        ),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f) => DataType::List(Arc::new(Field::new(
            f.name(),
            normalize_type(f.data_type()),
            true,
        ))),
        other => other.clone(),
    }
}

/// Normalises every column of a batch (see [`normalize_array`]).
pub fn normalize_batch(batch: &RecordBatch) -> Result<RecordBatch> {
    if batch
        .schema_ref()
        .fields()
        .iter()
        .all(|f| &normalize_type(f.data_type()) == f.data_type())
    {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .map(normalize_array)
        .collect::<Result<Vec<_>>>()?;
    let fields: Vec<Field> = batch
        .schema_ref()
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| Field::new(f.name(), c.data_type().clone(), true))
        .collect();
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// An empty batch of the given schema.
pub fn empty(schema: SchemaRef) -> RecordBatch {
    RecordBatch::new_empty(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};

    fn struct_array(names: &[&str], values: &[&str]) -> ArrayRef {
        Arc::new(StructArray::from(
            names
                .iter()
                .map(|n| {
                    (
                        Arc::new(Field::new(*n, DataType::Utf8, true)),
                        Arc::new(StringArray::from(values.to_vec())) as ArrayRef,
                    )
                })
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn evolving_schemas_merge_by_name() {
        let a = RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("pbf", struct_array(&["audio"], &["a1"])),
        ])
        .unwrap();
        let b = RecordBatch::try_from_iter(vec![
            ("pbf", struct_array(&["audio", "frames"], &["a2"])),
            ("id", Arc::new(Int64Array::from(vec![2])) as ArrayRef),
            ("extra", Arc::new(StringArray::from(vec!["x"])) as ArrayRef),
        ])
        .unwrap();
        let merged = concat_merged(&[a, b]).unwrap();
        assert_eq!(merged.num_rows(), 2);
        let names: Vec<&str> = merged
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(names, vec!["id", "pbf", "extra"]);
        let pbf = merged
            .column(1)
            .as_any()
            .downcast_ref::<StructArray>()
            .unwrap();
        assert_eq!(pbf.num_columns(), 2);
        assert!(pbf.column_by_name("frames").unwrap().is_null(0));
        assert!(merged.column(2).is_null(0));
    }

    #[test]
    fn conflicting_types_are_reported() {
        let a = RecordBatch::try_from_iter(vec![(
            "x",
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
        )])
        .unwrap();
        let b = RecordBatch::try_from_iter(vec![(
            "x",
            Arc::new(StringArray::from(vec!["1"])) as ArrayRef,
        )])
        .unwrap();
        let err = concat_merged(&[a, b]).unwrap_err().to_string();
        assert!(err.contains("column `x` has type Int64"), "{err}");
    }
}
