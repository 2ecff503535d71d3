//! SQL for PostgreSQL: quoting, filter pushdown onto native column types, parameter binding.

use arrow_schema::{DataType, Schema};
use metaxy_core::Expr;
use metaxy_core::filter::{CmpOp, Scalar, SqlDialect, parse_timestamp};
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;

use crate::types::{Storage, storage};

/// Double-quoted identifiers, `$n` parameters.
pub(crate) fn dialect() -> SqlDialect {
    SqlDialect::dollar()
}

/// Quotes an identifier.
pub(crate) fn ident(name: &str) -> String {
    dialect().quote_ident(name)
}

/// Marks SQL text built by this crate as safe to send: it only ever interpolates identifiers
/// quoted by [`ident`] / [`qualified`], type names from [`crate::types`] and `$n`
/// placeholders; every value travels as a bound parameter or through `COPY`.
pub(crate) fn audited(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

/// `"schema"."table"`.
pub(crate) fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", ident(schema), ident(table))
}

/// Binds filter parameters in order.
pub(crate) fn bind_all<'q>(
    mut q: Query<'q, Postgres, PgArguments>,
    params: &[Scalar],
) -> Query<'q, Postgres, PgArguments> {
    for p in params {
        q = match p {
            Scalar::Null => q.bind(Option::<String>::None),
            Scalar::Bool(b) => q.bind(*b),
            Scalar::Int(i) => q.bind(*i),
            Scalar::Float(f) => q.bind(*f),
            Scalar::Str(s) => q.bind(s.clone()),
            Scalar::Timestamp(us) => q.bind(chrono::DateTime::from_timestamp_micros(*us)),
        };
    }
    q
}

/// Splits a filter into what PostgreSQL evaluates (literals converted to the column types)
/// and the rest, evaluated by the core on the Arrow rows.
pub(crate) fn split(filter: &Expr, schema: &Schema) -> (Option<Expr>, Option<Expr>) {
    let mut pushed = Vec::new();
    let mut rest = Vec::new();
    for c in filter.conjuncts() {
        match rewrite(c, schema) {
            Some(r) => pushed.push(r),
            None => rest.push(c.clone()),
        }
    }
    (Expr::conjunction(pushed), Expr::conjunction(rest))
}

fn column_type<'a>(schema: &'a Schema, name: &str) -> Option<&'a DataType> {
    schema.field_with_name(name).ok().map(|f| f.data_type())
}

fn comparable(t: &DataType) -> bool {
    !matches!(storage(t), Storage::Json | Storage::Bytea) && t != &DataType::UInt64
}

fn literal_for(t: &DataType, s: &Scalar) -> Option<Scalar> {
    match (storage(t), s) {
        (_, Scalar::Null) => Some(Scalar::Null),
        (Storage::Micros | Storage::Days, Scalar::Str(text)) => {
            parse_timestamp(text).ok().map(Scalar::Timestamp)
        }
        (Storage::Micros | Storage::Days, Scalar::Timestamp(_)) => Some(s.clone()),
        (Storage::Bool, Scalar::Bool(_)) => Some(s.clone()),
        (Storage::Int | Storage::Float, Scalar::Int(_) | Scalar::Float(_)) => Some(s.clone()),
        (Storage::Text, Scalar::Str(_)) => Some(s.clone()),
        _ => None,
    }
}

fn rewrite(e: &Expr, schema: &Schema) -> Option<Expr> {
    match e {
        Expr::Column(c) => (column_type(schema, c)? == &DataType::Boolean).then(|| e.clone()),
        Expr::Literal(Scalar::Bool(_) | Scalar::Null) => Some(e.clone()),
        Expr::Literal(_) => None,
        Expr::And(a, b) => Some(Expr::And(
            Box::new(rewrite(a, schema)?),
            Box::new(rewrite(b, schema)?),
        )),
        Expr::Or(a, b) => Some(Expr::Or(
            Box::new(rewrite(a, schema)?),
            Box::new(rewrite(b, schema)?),
        )),
        Expr::Not(a) => Some(Expr::Not(Box::new(rewrite(a, schema)?))),
        Expr::IsNull { expr, negated } => match expr.as_ref() {
            Expr::Column(c) => column_type(schema, c).map(|_| Expr::IsNull {
                expr: expr.clone(),
                negated: *negated,
            }),
            _ => None,
        },
        Expr::InList {
            expr,
            list,
            negated,
        } => match expr.as_ref() {
            Expr::Column(c) => {
                let t = column_type(schema, c).filter(|t| comparable(t))?;
                let list = list
                    .iter()
                    .map(|s| literal_for(t, s))
                    .collect::<Option<Vec<_>>>()?;
                Some(Expr::InList {
                    expr: expr.clone(),
                    list,
                    negated: *negated,
                })
            }
            _ => None,
        },
        Expr::Compare { op, left, right } => compare(*op, left, right, schema),
    }
}

fn compare(op: CmpOp, left: &Expr, right: &Expr, schema: &Schema) -> Option<Expr> {
    let make = |l: Expr, r: Expr| Expr::Compare {
        op,
        left: Box::new(l),
        right: Box::new(r),
    };
    match (left, right) {
        (Expr::Column(c), Expr::Literal(s)) => {
            let t = column_type(schema, c).filter(|t| comparable(t))?;
            Some(make(left.clone(), Expr::Literal(literal_for(t, s)?)))
        }
        (Expr::Literal(s), Expr::Column(c)) => {
            let t = column_type(schema, c).filter(|t| comparable(t))?;
            Some(make(Expr::Literal(literal_for(t, s)?), right.clone()))
        }
        (Expr::Column(a), Expr::Column(b)) => {
            let (ta, tb) = (column_type(schema, a)?, column_type(schema, b)?);
            let numeric = |t: &DataType| matches!(storage(t), Storage::Int | Storage::Float);
            let same = storage(ta) == storage(tb) || (numeric(ta) && numeric(tb));
            (comparable(ta) && comparable(tb) && same).then(|| make(left.clone(), right.clone()))
        }
        _ => None,
    }
}
