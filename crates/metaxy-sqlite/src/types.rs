//! How Arrow values are stored in SQLite, and the column-type catalog that lets scans hand
//! back exactly the Arrow types that were written.
//!
//! SQLite has five storage classes; metaxy keeps the real Arrow type of every column in a
//! catalog table (`metaxy$columns`, a name no feature table can have) and maps values:
//!
//! | Arrow | SQLite |
//! |---|---|
//! | integers (UInt64 as its two's-complement bit pattern), booleans (0/1) | INTEGER |
//! | floats | REAL |
//! | strings | TEXT |
//! | binary | BLOB |
//! | timestamps | INTEGER microseconds since the epoch |
//! | dates | INTEGER days since the epoch |
//! | structs, lists (e.g. `metaxy_provenance_by_field`) and anything else | TEXT (JSON) |

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use metaxy_core::{Error, Result};
use rusqlite::Connection;

use crate::sql::ident;

/// The catalog of Arrow column types.
pub(crate) const CATALOG: &str = "metaxy$columns";

/// How a column's values are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    Integer,
    Real,
    Text,
    Blob,
    /// INTEGER microseconds.
    Micros,
    /// INTEGER days.
    Days,
    /// TEXT holding JSON.
    Json,
}

/// The storage of an Arrow type.
pub(crate) fn storage(t: &DataType) -> Storage {
    match t {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Storage::Integer,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Storage::Real,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => Storage::Text,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Storage::Blob,
        DataType::Timestamp(..) => Storage::Micros,
        DataType::Date32 | DataType::Date64 => Storage::Days,
        _ => Storage::Json,
    }
}

/// The declared SQLite type of a column (informational: the catalog is authoritative).
pub(crate) fn declared(t: &DataType) -> &'static str {
    match storage(t) {
        Storage::Integer | Storage::Micros | Storage::Days => "INTEGER",
        Storage::Real => "REAL",
        Storage::Text | Storage::Json => "TEXT",
        Storage::Blob => "BLOB",
    }
}

/// Creates the catalog if it does not exist.
pub(crate) fn ensure_catalog(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {} (table_name TEXT NOT NULL, position INTEGER NOT NULL, \
         column_name TEXT NOT NULL, arrow_type TEXT NOT NULL, PRIMARY KEY (table_name, column_name))",
        ident(CATALOG)
    ))
}

/// The Arrow schema of a table from the catalog, or `None` when the table does not exist.
pub(crate) fn table_schema(conn: &Connection, table: &str) -> Result<Option<SchemaRef>> {
    let exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
        .map_err(crate::backend::sql_err)?;
    if exists == 0 {
        return Ok(None);
    }
    let catalog_exists: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [CATALOG],
            |r| r.get(0),
        )
        .map_err(crate::backend::sql_err)?;
    if catalog_exists == 0 {
        return Err(Error::InvalidArgument(format!(
            "table `{table}` was not written by metaxy (no column catalog); it cannot be read as a feature table"
        )));
    }
    let mut stmt = conn
        .prepare(&format!(
            "SELECT column_name, arrow_type FROM {} WHERE table_name = ?1 ORDER BY position",
            ident(CATALOG)
        ))
        .map_err(crate::backend::sql_err)?;
    let rows = stmt
        .query_map([table], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(crate::backend::sql_err)?;
    let mut fields = Vec::new();
    for row in rows {
        let (name, ty) = row.map_err(crate::backend::sql_err)?;
        let t: DataType = serde_json::from_str(&ty).map_err(|e| {
            Error::InvalidArgument(format!(
                "the catalog type of `{table}.{name}` is unreadable ({e}): {ty}"
            ))
        })?;
        fields.push(Field::new(name, t, true));
    }
    Ok(Some(std::sync::Arc::new(Schema::new(fields))))
}

/// Records (or updates) the Arrow type of every column of `schema`.
pub(crate) fn record_schema(conn: &Connection, table: &str, schema: &Schema) -> Result<()> {
    let mut stmt = conn
        .prepare(&format!(
            "INSERT INTO {} (table_name, position, column_name, arrow_type) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (table_name, column_name) DO UPDATE SET arrow_type = excluded.arrow_type",
            ident(CATALOG)
        ))
        .map_err(crate::backend::sql_err)?;
    for (i, f) in schema.fields().iter().enumerate() {
        let ty = serde_json::to_string(f.data_type()).map_err(|e| {
            Error::InvalidArgument(format!("cannot record the type of `{}`: {e}", f.name()))
        })?;
        stmt.execute(rusqlite::params![table, i as i64, f.name(), ty])
            .map_err(crate::backend::sql_err)?;
    }
    Ok(())
}
