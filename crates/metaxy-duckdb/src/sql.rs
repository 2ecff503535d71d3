//! SQL for DuckDB: Arrow → DuckDB types, quoted identifiers, filter rendering and parameters.

use arrow_schema::{DataType, Field};
use duckdb::types::{TimeUnit, Value};
use metaxy_core::filter::{Scalar, SqlDialect};
use metaxy_core::{Error, Expr, Result};

/// The dialect filters are rendered in: double-quoted identifiers, `?` parameters.
pub(crate) fn dialect() -> SqlDialect {
    SqlDialect::question()
}

/// Quotes an identifier (embedded quotes doubled).
pub(crate) fn ident(name: &str) -> String {
    dialect().quote_ident(name)
}

/// The DuckDB column type for an Arrow type.
pub(crate) fn sql_type(field: &Field) -> Result<String> {
    let t = match field.data_type() {
        DataType::Boolean => "BOOLEAN".to_string(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INTEGER".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "UTINYINT".into(),
        DataType::UInt16 => "USMALLINT".into(),
        DataType::UInt32 => "UINTEGER".into(),
        DataType::UInt64 => "UBIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            "VARCHAR".into()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BLOB".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Struct(fields) => {
            let inner = fields
                .iter()
                .map(|f| Ok(format!("{} {}", ident(f.name()), sql_type(f)?)))
                .collect::<Result<Vec<_>>>()?;
            format!("STRUCT({})", inner.join(", "))
        }
        DataType::List(f) | DataType::LargeList(f) => format!("{}[]", sql_type(f)?),
        other => {
            return Err(Error::InvalidArgument(format!(
                "column `{}` has type {other}, which the DuckDB store cannot hold; convert it to a \
                 string, number, boolean, timestamp, struct or list",
                field.name()
            )));
        }
    };
    Ok(t)
}

/// A filter parameter as a DuckDB value.
pub(crate) fn value(s: &Scalar) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Boolean(*b),
        Scalar::Int(i) => Value::BigInt(*i),
        Scalar::Float(f) => Value::Double(*f),
        Scalar::Str(s) => Value::Text(s.clone()),
        Scalar::Timestamp(us) => Value::Timestamp(TimeUnit::Microsecond, *us),
    }
}

/// ` WHERE <filter>` (or nothing) and its parameters.
pub(crate) fn where_clause(filter: Option<&Expr>) -> (String, Vec<Value>) {
    match filter {
        None => (String::new(), Vec::new()),
        Some(f) => {
            let (sql, params) = filter_sql(f);
            (format!(" WHERE {sql}"), params)
        }
    }
}

/// A filter as a SQL condition with its bound parameters (`?` placeholders).
pub(crate) fn filter_sql(filter: &Expr) -> (String, Vec<Value>) {
    let mut params = Vec::new();
    let sql = filter.to_sql(&dialect(), &mut params);
    (sql, params.iter().map(value).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_quoting() {
        let f = Field::new(
            "pbf",
            DataType::Struct(vec![Field::new("a\"b", DataType::Utf8, true)].into()),
            true,
        );
        assert_eq!(sql_type(&f).unwrap(), "STRUCT(\"a\"\"b\" VARCHAR)");
        assert_eq!(
            ident("x\"; DROP TABLE t; --"),
            "\"x\"\"; DROP TABLE t; --\""
        );
        let (w, p) = where_clause(Some(&Expr::parse("name = 'o''hara' AND n > 3").unwrap()));
        assert_eq!(w, " WHERE (\"name\" = ? AND \"n\" > ?)");
        assert_eq!(p.len(), 2);
    }
}
