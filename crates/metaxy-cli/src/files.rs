//! Reading and writing Arrow data as Parquet, Arrow IPC, JSON lines and CSV files.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek};
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields};
use metaxy::{batches, json_columns};

use crate::cli::FileFormat;
use crate::error::{CliError, CliResult};

/// The format of a path from its extension.
pub fn format_of(path: &Path) -> CliResult<FileFormat> {
    match path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .as_deref()
    {
        Some("parquet" | "pq") => Ok(FileFormat::Parquet),
        Some("arrow" | "ipc" | "feather") => Ok(FileFormat::Arrow),
        Some("jsonl" | "ndjson" | "json") => Ok(FileFormat::Jsonl),
        Some("csv") => Ok(FileFormat::Csv),
        _ => Err(CliError::usage(
            "MISSING_REQUIRED_FLAG",
            format!(
                "cannot tell the format of {} from its extension; pass --as parquet|arrow|jsonl|csv",
                path.display()
            ),
        )),
    }
}

/// The file extension of a format.
pub fn extension(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Parquet => "parquet",
        FileFormat::Arrow => "arrow",
        FileFormat::Jsonl => "jsonl",
        FileFormat::Csv => "csv",
    }
}

/// Writes `batch` to `path`.
pub fn write(path: &Path, batch: &RecordBatch, format: FileFormat) -> CliResult {
    let file = BufWriter::new(File::create(path)?);
    match format {
        FileFormat::Parquet => {
            let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
            w.write(batch)?;
            w.close()?;
        }
        FileFormat::Arrow => {
            let mut w = arrow_ipc::writer::FileWriter::try_new(file, batch.schema_ref())?;
            w.write(batch)?;
            w.finish()?;
        }
        FileFormat::Jsonl => {
            let mut w = arrow_json::LineDelimitedWriter::new(file);
            w.write(batch)?;
            w.finish()?;
        }
        FileFormat::Csv => {
            let flat = flatten_nested(batch)?;
            let mut w = arrow_csv::Writer::new(file);
            w.write(&flat)?;
        }
    }
    Ok(())
}

/// Nested columns as JSON text (for CSV).
fn flatten_nested(batch: &RecordBatch) -> CliResult<RecordBatch> {
    let mut out = batch.clone();
    for f in batch.schema().fields() {
        if f.data_type().is_nested() {
            let col = batch
                .column_by_name(f.name())
                .cloned()
                .unwrap_or_else(|| arrow_array::new_null_array(f.data_type(), batch.num_rows()));
            let texts = json_columns::encode(&col)?;
            out = batches::with_column(
                &out,
                f.name(),
                Arc::new(arrow_array::StringArray::from(texts)),
            )?;
        }
    }
    Ok(out)
}

/// Reads a whole file into one batch.
pub fn read(path: &Path, format: FileFormat) -> CliResult<RecordBatch> {
    let open = || {
        File::open(path).map_err(|e| {
            CliError::usage("IO_ERROR", format!("cannot open {}: {e}", path.display()))
        })
    };
    let parts: Vec<RecordBatch> = match format {
        FileFormat::Parquet => {
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open()?)?
                .build()?
                .collect::<Result<_, _>>()?
        }
        FileFormat::Arrow => {
            arrow_ipc::reader::FileReader::try_new(open()?, None)?.collect::<Result<_, _>>()?
        }
        FileFormat::Jsonl => {
            let mut reader = BufReader::new(open()?);
            let (schema, _) =
                arrow_json::reader::infer_json_schema_from_seekable(&mut reader, None)?;
            reader.rewind()?;
            arrow_json::ReaderBuilder::new(Arc::new(schema))
                .build(reader)?
                .collect::<Result<_, _>>()?
        }
        FileFormat::Csv => {
            let mut reader = BufReader::new(open()?);
            let (schema, _) = arrow_csv::reader::Format::default()
                .with_header(true)
                .infer_schema(&mut reader, None)?;
            reader.rewind()?;
            arrow_csv::ReaderBuilder::new(Arc::new(schema))
                .with_header(true)
                .build(reader)?
                .collect::<Result<_, _>>()?
        }
    };
    if parts.is_empty() {
        return Err(CliError::usage(
            "DATA_ERROR",
            format!("{} holds no rows", path.display()),
        ));
    }
    Ok(batches::concat_merged(&parts)?)
}

/// Text columns holding JSON objects (e.g. `metaxy_provenance_by_field` from a CSV file)
/// become structs of strings.
pub fn decode_json_struct(batch: &RecordBatch, column: &str) -> CliResult<RecordBatch> {
    let Some(col) = batch.column_by_name(column) else {
        return Ok(batch.clone());
    };
    if !matches!(
        col.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        return Ok(batch.clone());
    }
    let text = arrow_cast::cast(col, &DataType::Utf8)?;
    let text = text
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .ok_or_else(|| CliError::failed("DATA_ERROR", format!("`{column}` is not text")))?;
    let mut keys: Vec<String> = Vec::new();
    for i in 0..text.len() {
        if text.is_null(i) {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(text.value(i)).map_err(|e| {
            CliError::usage(
                "DATA_ERROR",
                format!("`{column}` row {i} is not a JSON object: {e}"),
            )
        })?;
        let obj = v.as_object().ok_or_else(|| {
            CliError::usage(
                "DATA_ERROR",
                format!("`{column}` row {i} is not a JSON object"),
            )
        })?;
        for k in obj.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let t = DataType::Struct(Fields::from(
        keys.iter()
            .map(|k| Field::new(k, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let refs: Vec<Option<&str>> = (0..text.len())
        .map(|i| (!text.is_null(i)).then(|| text.value(i)))
        .collect();
    let decoded: ArrayRef = json_columns::decode(&refs, &t, column)?;
    Ok(batches::with_column(batch, column, decoded)?)
}
