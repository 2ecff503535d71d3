//! How Arrow columns are stored in PostgreSQL, and the column-type catalog that lets scans
//! return exactly the Arrow types that were written.
//!
//! | Arrow | PostgreSQL |
//! |---|---|
//! | Int8/16, UInt8 | SMALLINT |
//! | Int32, UInt16 | INTEGER |
//! | Int64, UInt32, UInt64 (as its two's-complement bit pattern) | BIGINT |
//! | Float32 / Float64 | REAL / DOUBLE PRECISION |
//! | Boolean | BOOLEAN |
//! | Utf8 | TEXT |
//! | Binary | BYTEA |
//! | Timestamp with / without zone | TIMESTAMPTZ / TIMESTAMP (microseconds) |
//! | Date | DATE |
//! | structs (`*_by_field`), lists and anything else | JSONB |

use arrow_schema::DataType;

/// The catalog of Arrow column types in the store's schema (a name no feature table has).
pub(crate) const CATALOG: &str = "metaxy$columns";

/// How values of a column travel between Arrow and PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    /// Read back as BIGINT.
    Int,
    Bool,
    Float,
    Text,
    Bytea,
    /// Read back as BIGINT microseconds since the epoch.
    Micros,
    /// Read back as INTEGER days since the epoch.
    Days,
    /// Read back as text.
    Json,
}

/// The storage of an Arrow type.
pub(crate) fn storage(t: &DataType) -> Storage {
    match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Storage::Int,
        DataType::Boolean => Storage::Bool,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Storage::Float,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => Storage::Text,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Storage::Bytea,
        DataType::Timestamp(..) => Storage::Micros,
        DataType::Date32 | DataType::Date64 => Storage::Days,
        _ => Storage::Json,
    }
}

/// The column type in PostgreSQL DDL.
pub(crate) fn pg_type(t: &DataType) -> &'static str {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "SMALLINT",
        DataType::Int32 | DataType::UInt16 => "INTEGER",
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "BIGINT",
        DataType::Float16 | DataType::Float32 => "REAL",
        DataType::Float64 => "DOUBLE PRECISION",
        DataType::Boolean => "BOOLEAN",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => "TEXT",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTEA",
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ",
        DataType::Timestamp(_, None) => "TIMESTAMP",
        DataType::Date32 | DataType::Date64 => "DATE",
        _ => "JSONB",
    }
}

/// The select expression that reads a column back in its storage form.
pub(crate) fn read_expr(quoted: &str, t: &DataType) -> String {
    match storage(t) {
        Storage::Int => format!("{quoted}::BIGINT"),
        Storage::Float => format!("{quoted}::DOUBLE PRECISION"),
        Storage::Micros => format!("(EXTRACT(EPOCH FROM {quoted}) * 1000000)::BIGINT"),
        Storage::Days => format!("({quoted} - DATE '1970-01-01')::INTEGER"),
        Storage::Json => format!("{quoted}::TEXT"),
        Storage::Bool | Storage::Text | Storage::Bytea => quoted.to_string(),
    }
}
