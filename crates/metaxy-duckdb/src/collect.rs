//! Scans that take rows straight out of DuckDB's vectors instead of its Arrow export.
//!
//! Handing a result out as Arrow costs DuckDB four to five times what scanning it does (the
//! benchmark page measures it: 10M strings summed in 0.08 s, fetched as Arrow in 0.39 s), and
//! the result is produced on the one thread that fetches it. A collected scan instead runs
//!
//! ```sql
//! SELECT CAST(sum(__metaxy_collect(CAST(? AS BIGINT), rowid, "a", "b")) AS BIGINT) FROM "t" WHERE ...
//! ```
//!
//! DuckDB evaluates the function on its own worker threads, once per chunk of scanned rows,
//! and the function copies the chunk's vectors into Arrow buffers of the scan it belongs to
//! (found by the id in its first argument). Each thread extends its own run of rows while the
//! row ids it sees continue the run, so a scan comes back as a few large batches; the runs are
//! put in row-id order at the end and checked not to interleave. The sum counts the rows the
//! function saw, and must equal the rows collected.
//!
//! Only the column types it knows are collected (integers, floats, booleans, dates,
//! microsecond timestamps, text, blobs and structs of those); a scan with any other column,
//! or one whose runs would interleave, is read through Arrow instead ([`scan`] returns `None`).
//! Text is checked to be UTF-8 when its Arrow array is built.
//!
//! This is the crate's one module with `unsafe` code: reading DuckDB's vectors through its C
//! API. The `duckdb` crate's vector wrappers would not avoid it (their typed slices are
//! `unsafe` too, and DuckDB's 16-byte string headers are a C union), and they expose a
//! validity mask only row by row, not as the 64-row words copied here.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::thread::ThreadId;

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, RecordBatch, RecordBatchOptions, StringArray, StructArray,
    make_array,
};
use arrow_buffer::{
    BooleanBufferBuilder, Buffer, MutableBuffer, NullBufferBuilder, OffsetBuffer, ScalarBuffer,
};
use arrow_data::ArrayData;
use arrow_schema::{DataType, FieldRef, Fields, Schema, SchemaRef, TimeUnit};
use duckdb::core::{DataChunkHandle, LogicalTypeHandle, LogicalTypeId};
use duckdb::ffi;
use duckdb::vscalar::{ScalarFunctionSignature, VScalar};
use duckdb::vtab::arrow::WritableVector;
use duckdb::{Connection, types::Value};
use metaxy_core::{Error, Result};

use crate::backend::db_err;
use crate::sql;

/// The SQL name of the collecting function (registered on every opened database).
pub(crate) const FUNCTION: &str = "__metaxy_collect";

/// A run is closed at this many rows, so that its text stays far below Arrow's 2 GiB offsets.
const MAX_RUN_ROWS: usize = 1 << 20;
/// ... or at this many bytes of text in one column.
const MAX_RUN_TEXT: usize = 1 << 30;
/// A new run reserves room for this many chunks like its first: a DuckDB row group (which one
/// thread scans as one run) is 60 vectors. Growing the buffers instead copies them repeatedly
/// and faults their pages in twice.
const RESERVE_CHUNKS: usize = 60;

/// Registers [`FUNCTION`] on a connection's database.
pub(crate) fn register(conn: &Connection, name: &str) -> Result<()> {
    conn.register_scalar_function::<Collect>(FUNCTION)
        .map_err(|e| db_err(name, e))
}

/// Whether [`scan`] can collect a column of this (normalised) type.
fn collectable(data_type: &DataType) -> bool {
    match data_type {
        DataType::Struct(fields) => {
            !fields.is_empty() && fields.iter().all(|f| collectable(f.data_type()))
        }
        other => expected_type(other).is_some(),
    }
}

/// The DuckDB type a column of this Arrow type holds, and its byte width when fixed.
fn expected_type(data_type: &DataType) -> Option<(ffi::DUCKDB_TYPE, usize)> {
    Some(match data_type {
        DataType::Int8 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_TINYINT, 1),
        DataType::Int16 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_SMALLINT, 2),
        DataType::Int32 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_INTEGER, 4),
        DataType::Int64 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT, 8),
        DataType::UInt8 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_UTINYINT, 1),
        DataType::UInt16 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_USMALLINT, 2),
        DataType::UInt32 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_UINTEGER, 4),
        DataType::UInt64 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_UBIGINT, 8),
        DataType::Float32 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_FLOAT, 4),
        DataType::Float64 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_DOUBLE, 8),
        DataType::Date32 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_DATE, 4),
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            (ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP, 8)
        }
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => {
            (ffi::DUCKDB_TYPE_DUCKDB_TYPE_TIMESTAMP_TZ, 8)
        }
        DataType::Boolean => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN, 0),
        DataType::Utf8 => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR, 0),
        DataType::Binary => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_BLOB, 0),
        DataType::Struct(_) => (ffi::DUCKDB_TYPE_DUCKDB_TYPE_STRUCT, 0),
        _ => return None,
    })
}

/// Reads `fields` (columns of `table`, with the normalised types the table's schema has) of
/// the rows matching `filter` through the collecting function, in row-id order.
///
/// `Ok(None)` means the scan could not be collected — a column type the collector does not
/// copy, or runs that interleave — and should be read through Arrow; nothing was returned
/// yet, so that read loses nothing.
pub(crate) fn scan(
    conn: &Connection,
    table: &str,
    fields: &[FieldRef],
    filter: Option<(&str, &[Value])>,
    name: &str,
) -> Result<Option<Vec<RecordBatch>>> {
    if fields.is_empty() || !fields.iter().all(|f| collectable(f.data_type())) {
        return Ok(None);
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields.to_vec()));
    let registration = Registration::new(Arc::new(Sink::new(schema.clone())));
    let columns: Vec<String> = fields.iter().map(|f| sql::ident(f.name())).collect();
    let mut sql_text = format!(
        "SELECT CAST(sum({FUNCTION}(CAST(? AS BIGINT), rowid, {})) AS BIGINT) FROM {}",
        columns.join(", "),
        sql::ident(table)
    );
    let mut params = vec![Value::BigInt(registration.id)];
    if let Some((filter_sql, filter_params)) = filter {
        sql_text.push_str(&format!(" WHERE ({filter_sql})"));
        params.extend(filter_params.iter().cloned());
    }
    tracing::debug!(table, sql = %sql_text, "collected scan");
    let counted = conn
        .prepare(&sql_text)
        .and_then(|mut stmt| {
            stmt.query_row(duckdb::params_from_iter(params), |r| {
                r.get::<_, Option<i64>>(0)
            })
        })
        .map_err(|e| db_err(name, e));
    let sink = &registration.sink;
    if sink.unsupported.load(Ordering::Relaxed) {
        tracing::debug!(
            table,
            "a column DuckDB returned is not collectable; reading through Arrow"
        );
        return Ok(None);
    }
    let counted = counted?.unwrap_or(0);
    let mut runs = sink.take_runs();
    runs.sort_by_key(|r| r.first);
    let collected: usize = runs.iter().map(|r| r.rows).sum();
    let ordered = runs.windows(2).all(|w| w[0].last < w[1].first);
    if usize::try_from(counted).ok() != Some(collected) || !ordered {
        tracing::warn!(
            table,
            counted,
            collected,
            ordered,
            "a collected DuckDB scan came back incomplete or out of order; reading through Arrow"
        );
        return Ok(None);
    }
    let mut batches = runs
        .into_iter()
        .map(|r| r.finish(&schema))
        .collect::<Result<Vec<_>>>()?;
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(Some(batches))
}

/// Where the collecting function finds the sink of the scan named by its first argument.
static SINKS: LazyLock<Mutex<HashMap<i64, Arc<Sink>>>> = LazyLock::new(Mutex::default);
/// The id of the next collected scan (unique in the process).
static NEXT_SCAN: AtomicI64 = AtomicI64::new(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A scan's sink, registered under a fresh id for as long as the scan runs.
struct Registration {
    id: i64,
    sink: Arc<Sink>,
}

impl Registration {
    fn new(sink: Arc<Sink>) -> Registration {
        let id = NEXT_SCAN.fetch_add(1, Ordering::Relaxed);
        lock(&SINKS).insert(id, sink.clone());
        Registration { id, sink }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&SINKS).remove(&self.id);
    }
}

/// What one collected scan has gathered so far.
struct Sink {
    schema: SchemaRef,
    /// The run each DuckDB thread is extending.
    open: Mutex<HashMap<ThreadId, Run>>,
    /// Runs no thread extends any more.
    closed: Mutex<Vec<Run>>,
    /// Set when a chunk could not be copied: a DuckDB type the column's Arrow type does not
    /// match (nanosecond timestamps, say), or text beyond Arrow's 32-bit offsets.
    unsupported: AtomicBool,
}

impl Sink {
    fn new(schema: SchemaRef) -> Sink {
        Sink {
            schema,
            open: Mutex::default(),
            closed: Mutex::default(),
            unsupported: AtomicBool::new(false),
        }
    }

    fn take_runs(&self) -> Vec<Run> {
        let mut runs = std::mem::take(&mut *lock(&self.closed));
        runs.extend(lock(&self.open).drain().map(|(_, r)| r));
        runs
    }

    /// Copies one chunk (`columns`, the data columns, with their `rowids`) into the calling
    /// thread's run, or into a new run when the chunk does not continue it.
    fn collect(&self, columns: &[ffi::duckdb_vector], rowids: &[i64], rows: usize) -> Result<()> {
        let (Some(&first), Some(&last)) = (rowids.first(), rowids.last()) else {
            return Ok(());
        };
        let thread = std::thread::current().id();
        let taken = lock(&self.open).remove(&thread);
        let mut run = match taken {
            Some(run) if run.continues(first, rows) => run,
            other => {
                if let Some(done) = other {
                    lock(&self.closed).push(done);
                }
                Run::new(&self.schema, first, rows)
            }
        };
        for (builder, &vector) in run.columns.iter_mut().zip(columns) {
            // SAFETY: `vector` is a flat vector of `rows` rows of the chunk DuckDB passed to
            // the function being invoked (the C API flattens its input), alive for this call.
            unsafe { builder.append(vector, rows) }?;
        }
        run.rows += rows;
        run.last = last;
        lock(&self.open).insert(thread, run);
        Ok(())
    }
}

/// Rows one thread collected from consecutive row ids, column by column.
struct Run {
    first: i64,
    last: i64,
    rows: usize,
    /// The rows its buffers were sized for ([`RESERVE_CHUNKS`] chunks like its first): a
    /// chunk that would not fit starts a new run instead of moving every buffer.
    capacity: usize,
    columns: Vec<Builder>,
}

impl Run {
    fn new(schema: &Schema, first: i64, chunk_rows: usize) -> Run {
        Run {
            first,
            last: first - 1,
            rows: 0,
            capacity: chunk_rows.saturating_mul(RESERVE_CHUNKS),
            columns: schema
                .fields()
                .iter()
                .map(|f| Builder::new(f.data_type()))
                .collect(),
        }
    }

    /// Whether a chunk of `rows` rows starting at row id `first` extends this run.
    fn continues(&self, first: i64, rows: usize) -> bool {
        self.last.checked_add(1) == Some(first)
            && self.rows < MAX_RUN_ROWS
            && self.rows + rows <= self.capacity
            && self.columns.iter().all(|c| c.text_bytes() < MAX_RUN_TEXT)
    }

    fn finish(self, schema: &SchemaRef) -> Result<RecordBatch> {
        let columns = self
            .columns
            .into_iter()
            .map(Builder::finish)
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            columns,
            &options,
        )?)
    }
}

/// Arrow buffers being filled from DuckDB vectors of one column.
enum Builder {
    /// Fixed-width values, copied as they lie.
    Fixed {
        data_type: DataType,
        width: usize,
        duckdb_type: ffi::DUCKDB_TYPE,
        values: MutableBuffer,
        nulls: NullBufferBuilder,
    },
    Boolean {
        values: BooleanBufferBuilder,
        nulls: NullBufferBuilder,
    },
    /// `VARCHAR` (`utf8`) or `BLOB`.
    Bytes {
        utf8: bool,
        offsets: Vec<i32>,
        values: Vec<u8>,
        nulls: NullBufferBuilder,
    },
    Struct {
        fields: Fields,
        children: Vec<Builder>,
        nulls: NullBufferBuilder,
    },
}

impl Builder {
    /// A builder for a [`collectable`] type.
    fn new(data_type: &DataType) -> Builder {
        let nulls = NullBufferBuilder::new(0);
        match data_type {
            DataType::Boolean => Builder::Boolean {
                values: BooleanBufferBuilder::new(0),
                nulls,
            },
            DataType::Utf8 | DataType::Binary => Builder::Bytes {
                utf8: data_type == &DataType::Utf8,
                offsets: vec![0],
                values: Vec::new(),
                nulls,
            },
            DataType::Struct(fields) => Builder::Struct {
                fields: fields.clone(),
                children: fields.iter().map(|f| Builder::new(f.data_type())).collect(),
                nulls,
            },
            other => {
                let (duckdb_type, width) =
                    expected_type(other).unwrap_or((ffi::DUCKDB_TYPE_DUCKDB_TYPE_INVALID, 0));
                Builder::Fixed {
                    data_type: other.clone(),
                    width,
                    duckdb_type,
                    values: MutableBuffer::new(0),
                    nulls,
                }
            }
        }
    }

    fn text_bytes(&self) -> usize {
        match self {
            Builder::Bytes { values, .. } => values.len(),
            Builder::Struct { children, .. } => {
                children.iter().map(Builder::text_bytes).max().unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// Whether a DuckDB vector of type `logical` can be copied by this builder.
    ///
    /// # Safety
    /// `logical` must be a live logical type.
    unsafe fn accepts(&self, logical: ffi::duckdb_logical_type) -> bool {
        let id = unsafe { ffi::duckdb_get_type_id(logical) };
        match self {
            Builder::Fixed {
                duckdb_type, width, ..
            } => *width > 0 && id == *duckdb_type,
            Builder::Boolean { .. } => id == ffi::DUCKDB_TYPE_DUCKDB_TYPE_BOOLEAN,
            Builder::Bytes { utf8: true, .. } => id == ffi::DUCKDB_TYPE_DUCKDB_TYPE_VARCHAR,
            Builder::Bytes { utf8: false, .. } => id == ffi::DUCKDB_TYPE_DUCKDB_TYPE_BLOB,
            Builder::Struct { children, .. } => {
                id == ffi::DUCKDB_TYPE_DUCKDB_TYPE_STRUCT
                    && unsafe { ffi::duckdb_struct_type_child_count(logical) }
                        == children.len() as u64
                    && children.iter().enumerate().all(|(i, child)| {
                        let t = LogicalType(unsafe {
                            ffi::duckdb_struct_type_child_type(logical, i as u64)
                        });
                        unsafe { child.accepts(t.0) }
                    })
            }
        }
    }

    /// Appends the first `rows` rows of `vector`.
    ///
    /// # Safety
    /// `vector` must be a live flat vector (its struct children flat too) of at least `rows`
    /// rows.
    unsafe fn append(&mut self, vector: ffi::duckdb_vector, rows: usize) -> Result<()> {
        let logical = LogicalType(unsafe { ffi::duckdb_vector_get_column_type(vector) });
        if !unsafe { self.accepts(logical.0) } {
            return Err(Error::backend(
                "duckdb".to_string(),
                "a collected column has a DuckDB type its Arrow type does not match",
            ));
        }
        let validity = unsafe { ffi::duckdb_vector_get_validity(vector) };
        let validity = (!validity.is_null()).then(|| unsafe {
            std::slice::from_raw_parts(validity.cast_const(), rows.div_ceil(64))
        });
        let data = unsafe { ffi::duckdb_vector_get_data(vector) }
            .cast::<u8>()
            .cast_const();
        match self {
            Builder::Fixed {
                width,
                values,
                nulls,
                ..
            } => {
                append_validity(nulls, validity, rows);
                let bytes = unsafe { std::slice::from_raw_parts(data, rows * *width) };
                if values.is_empty() {
                    values.reserve(bytes.len() * RESERVE_CHUNKS);
                }
                values.extend_from_slice(bytes);
            }
            Builder::Boolean { values, nulls } => {
                append_validity(nulls, validity, rows);
                if values.is_empty() {
                    values.reserve(rows * RESERVE_CHUNKS);
                }
                let bytes = unsafe { std::slice::from_raw_parts(data, rows) };
                for &b in bytes {
                    values.append(b != 0);
                }
            }
            Builder::Bytes {
                offsets,
                values,
                nulls,
                ..
            } => {
                append_validity(nulls, validity, rows);
                let strings = unsafe {
                    std::slice::from_raw_parts(data.cast::<ffi::duckdb_string_t>(), rows)
                };
                let first_chunk = offsets.len() == 1;
                if first_chunk {
                    offsets.reserve(rows * RESERVE_CHUNKS);
                }
                for (row, s) in strings.iter().enumerate() {
                    if is_valid(validity, row) {
                        // SAFETY: a valid row's string is initialised; a string of at most 12
                        // bytes is inlined, a longer one points at `length` bytes DuckDB keeps
                        // alive for the chunk.
                        unsafe {
                            let length = s.value.inlined.length as usize;
                            if length <= 12 {
                                // all 12 inline bytes in one fixed-size copy, then cut
                                let start = values.len();
                                let inlined: &[u8; 12] =
                                    &*s.value.inlined.inlined.as_ptr().cast::<[u8; 12]>();
                                values.extend_from_slice(inlined);
                                values.truncate(start + length);
                            } else {
                                values.extend_from_slice(std::slice::from_raw_parts(
                                    s.value.pointer.ptr.cast::<u8>(),
                                    length,
                                ));
                            }
                        }
                    }
                    let end = i32::try_from(values.len()).map_err(|_| {
                        Error::backend("duckdb".to_string(), "a collected text column passed 2 GiB")
                    })?;
                    offsets.push(end);
                }
                if first_chunk {
                    values.reserve(values.len() * RESERVE_CHUNKS);
                }
            }
            Builder::Struct {
                children, nulls, ..
            } => {
                append_validity(nulls, validity, rows);
                for (i, child) in children.iter_mut().enumerate() {
                    let vector = unsafe { ffi::duckdb_struct_vector_get_child(vector, i as u64) };
                    unsafe { child.append(vector, rows) }?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<ArrayRef> {
        Ok(match self {
            Builder::Fixed {
                data_type,
                width,
                values,
                mut nulls,
                ..
            } => {
                let len = values.len().checked_div(width).unwrap_or(0);
                let data = ArrayData::builder(data_type)
                    .len(len)
                    .add_buffer(values.into())
                    .nulls(nulls.finish())
                    .build()?;
                make_array(data)
            }
            Builder::Boolean {
                mut values,
                mut nulls,
            } => Arc::new(BooleanArray::new(values.finish(), nulls.finish())),
            Builder::Bytes {
                utf8,
                offsets,
                values,
                mut nulls,
            } => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
                let values = Buffer::from_vec(values);
                if utf8 {
                    Arc::new(StringArray::try_new(offsets, values, nulls.finish())?)
                } else {
                    Arc::new(BinaryArray::try_new(offsets, values, nulls.finish())?)
                }
            }
            Builder::Struct {
                fields,
                children,
                mut nulls,
            } => {
                let children = children
                    .into_iter()
                    .map(Builder::finish)
                    .collect::<Result<Vec<_>>>()?;
                Arc::new(StructArray::try_new(fields, children, nulls.finish())?)
            }
        })
    }
}

/// Whether `row` is valid under a DuckDB validity mask (absent: every row is).
fn is_valid(validity: Option<&[u64]>, row: usize) -> bool {
    validity.is_none_or(|words| words[row / 64] >> (row % 64) & 1 == 1)
}

/// Appends `rows` rows of a DuckDB validity mask (bit set = valid, least significant first —
/// Arrow's layout) to `nulls`, a whole 64-row word at a time where it is uniform.
fn append_validity(nulls: &mut NullBufferBuilder, validity: Option<&[u64]>, rows: usize) {
    let Some(words) = validity else {
        nulls.append_n_non_nulls(rows);
        return;
    };
    let mut row = 0;
    for &word in words {
        let n = (rows - row).min(64);
        match word {
            u64::MAX => nulls.append_n_non_nulls(n),
            0 => nulls.append_n_nulls(n),
            _ => (0..n).for_each(|bit| nulls.append(word >> bit & 1 == 1)),
        }
        row += n;
        if row == rows {
            break;
        }
    }
}

/// A logical type DuckDB handed out, destroyed when dropped.
struct LogicalType(ffi::duckdb_logical_type);

impl Drop for LogicalType {
    fn drop(&mut self) {
        // SAFETY: the type was created by DuckDB for this wrapper and is destroyed once.
        unsafe { ffi::duckdb_destroy_logical_type(&mut self.0) };
    }
}

/// `__metaxy_collect(scan BIGINT, rowid BIGINT, column ANY...) -> BIGINT`: copies the chunk
/// into the scan's sink and returns 1 per row.
struct Collect;

impl VScalar for Collect {
    type State = ();

    fn invoke(
        _: &Self::State,
        input: &mut DataChunkHandle,
        output: &mut dyn WritableVector,
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let rows = input.len();
        if rows == 0 {
            return Ok(());
        }
        let chunk = input.get_ptr();
        let columns = input.num_columns();
        if columns < 2 {
            return Err(format!("{FUNCTION} takes a scan id, a row id and the columns").into());
        }
        // SAFETY: the chunk is the function's live input; its vectors are flat (the C API
        // flattens a scalar function's input) and hold `rows` rows.
        let vectors: Vec<ffi::duckdb_vector> = (0..columns)
            .map(|i| unsafe { ffi::duckdb_data_chunk_get_vector(chunk, i as u64) })
            .collect();
        let id = unsafe { bigints(vectors[0], rows) }?
            .first()
            .copied()
            .ok_or("no scan id")?;
        let rowids = unsafe { bigints(vectors[1], rows) }?;
        let sink = lock(&SINKS).get(&id).cloned().ok_or_else(|| {
            format!("{FUNCTION}: no scan {id} is collecting (it is internal to metaxy)")
        })?;
        if let Err(e) = sink.collect(&vectors[2..], rowids, rows) {
            sink.unsupported.store(true, Ordering::Relaxed);
            return Err(e.to_string().into());
        }
        let mut out = output.flat_vector();
        // SAFETY: the result vector is this call's BIGINT output of at least `rows` rows.
        unsafe { out.as_mut_slice_with_len::<i64>(rows) }.fill(1);
        Ok(())
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        vec![ScalarFunctionSignature::variadic(
            LogicalTypeHandle::from(LogicalTypeId::Any),
            LogicalTypeHandle::from(LogicalTypeId::Bigint),
        )]
    }

    fn volatile() -> bool {
        true
    }
}

/// The `rows` values of a BIGINT vector with no NULLs.
///
/// # Safety
/// `vector` must be a live flat vector of at least `rows` rows.
unsafe fn bigints<'a>(
    vector: ffi::duckdb_vector,
    rows: usize,
) -> std::result::Result<&'a [i64], Box<dyn std::error::Error>> {
    let logical = LogicalType(unsafe { ffi::duckdb_vector_get_column_type(vector) });
    let validity = unsafe { ffi::duckdb_vector_get_validity(vector) };
    let validity = (!validity.is_null())
        .then(|| unsafe { std::slice::from_raw_parts(validity.cast_const(), rows.div_ceil(64)) });
    if unsafe { ffi::duckdb_get_type_id(logical.0) } != ffi::DUCKDB_TYPE_DUCKDB_TYPE_BIGINT
        || (0..rows).any(|row| !is_valid(validity, row))
    {
        return Err(format!("{FUNCTION} takes a BIGINT scan id and row id, never NULL").into());
    }
    let data = unsafe { ffi::duckdb_vector_get_data(vector) }
        .cast::<i64>()
        .cast_const();
    Ok(unsafe { std::slice::from_raw_parts(data, rows) })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use arrow_select::concat::concat_batches;

    use super::*;
    use crate::backend::{query, table_schema};

    fn database(setup: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn, "test").unwrap();
        conn.execute_batch("SET threads = 2").unwrap();
        conn.execute_batch(setup).unwrap();
        conn
    }

    /// The table's rows matching `filter` through the collector, or `None` when it declined.
    fn collected(conn: &Connection, filter: Option<&str>) -> Option<Vec<RecordBatch>> {
        let schema = table_schema(conn, "t", "test").unwrap().unwrap();
        let fields: Vec<FieldRef> = schema.fields().iter().cloned().collect();
        scan(conn, "t", &fields, filter.map(|f| (f, &[][..])), "test").unwrap()
    }

    /// The same rows through DuckDB's Arrow export, in row-id order.
    fn exported(conn: &Connection, filter: Option<&str>) -> RecordBatch {
        let filter = filter.map(|f| format!(" WHERE {f}")).unwrap_or_default();
        query(
            conn,
            &format!("SELECT * FROM t{filter} ORDER BY rowid"),
            vec![],
            "test",
        )
        .unwrap()
    }

    /// Every column type the collector copies reads exactly as DuckDB's Arrow export does —
    /// NULLs at every level, inlined and out-of-line text, non-ASCII text, struct rows and
    /// struct fields — in row-id order, with a filter and after deletions left gaps.
    #[test]
    fn every_collectable_type_reads_like_the_arrow_export() {
        let conn = database(
            "CREATE TABLE t AS SELECT
                 (i % 100)::TINYINT AS i8, (i % 30000 - 15000)::SMALLINT AS i16, i::INTEGER AS i32,
                 CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1000003 END AS i64,
                 (i % 200)::UTINYINT AS u8, (i % 60000)::USMALLINT AS u16, i::UINTEGER AS u32,
                 (i * 7)::UBIGINT AS u64, (i / 3)::FLOAT AS f32, (i / 7)::DOUBLE AS f64,
                 DATE '2020-01-01' + (i % 1000)::INTEGER AS d,
                 TIMESTAMP '2026-11-27 10:00:00' + to_microseconds(i) AS ts,
                 CASE WHEN i % 5 = 0 THEN NULL ELSE to_timestamp(1795000000 + i / 1000) END AS tz,
                 CASE WHEN i % 3 = 0 THEN NULL ELSE i % 2 = 0 END AS b,
                 CASE WHEN i % 13 = 0 THEN NULL WHEN i % 2 = 0 THEN 'short' || i
                      ELSE 'a value of more than twelve bytes, é ü 🎞 ' || i END AS s,
                 CASE WHEN i % 17 = 0 THEN NULL ELSE ('blob' || i)::BLOB END AS bl,
                 CASE WHEN i % 11 = 0 THEN NULL
                      ELSE {'audio': CASE WHEN i % 3 = 0 THEN NULL ELSE 'hash-of-audio-' || i END,
                            'n': i} END AS st
             FROM range(300000) r(i);
             DELETE FROM t WHERE i32 % 1000 BETWEEN 10 AND 20;",
        );
        for filter in [None, Some("i32 % 3 <> 1"), Some("i32 < 0")] {
            let parts = collected(&conn, filter).expect("every column is collectable");
            let whole = concat_batches(&parts[0].schema(), &parts).unwrap();
            let expected = exported(&conn, filter);
            assert_eq!(whole.num_rows(), expected.num_rows(), "filter {filter:?}");
            for (i, field) in expected.schema().fields().iter().enumerate() {
                assert_eq!(
                    whole.column(i).as_ref(),
                    expected.column(i).as_ref(),
                    "column {} with filter {filter:?}",
                    field.name()
                );
            }
            if filter.is_none() {
                // runs span whole row groups: far fewer batches than 2,048-row chunks
                assert!(parts.len() <= 16, "{} batches", parts.len());
            }
            if filter == Some("i32 < 0") {
                assert_eq!(parts.len(), 1);
                assert_eq!(parts[0].num_columns(), expected.num_columns());
            }
        }
    }

    /// A column the collector does not copy (a list; nanosecond timestamps, whose Arrow type
    /// the store normalises to microseconds) sends the scan through Arrow.
    #[test]
    fn other_column_types_are_declined() {
        let conn =
            database("CREATE TABLE t AS SELECT i AS id, [i, i + 1] AS l FROM range(5000) r(i)");
        assert!(collected(&conn, None).is_none());
        let conn = database(
            "CREATE TABLE t AS SELECT i AS id, TIMESTAMP_NS '2026-01-01 00:00:00' AS ns FROM range(5000) r(i)",
        );
        assert!(collected(&conn, None).is_none());
    }
}
