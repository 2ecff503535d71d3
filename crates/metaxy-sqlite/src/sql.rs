//! SQL for SQLite: quoting, and rewriting filters onto the stored representation so they can
//! run inside SQLite with bound parameters.

use arrow_schema::{DataType, Schema};
use metaxy_core::Expr;
use metaxy_core::filter::{CmpOp, Scalar, SqlDialect, parse_timestamp};

use crate::types::{Storage, storage};

/// Double-quoted identifiers, `?` parameters.
pub(crate) fn dialect() -> SqlDialect {
    SqlDialect::question()
}

/// Quotes an identifier.
pub(crate) fn ident(name: &str) -> String {
    dialect().quote_ident(name)
}

/// Splits a filter into the part SQLite can evaluate (rewritten onto stored values) and the
/// rest, which the core evaluates on the Arrow rows.
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

/// A column SQLite can compare: not JSON, not blobs, and not UInt64 (its stored bit pattern
/// orders differently above `i64::MAX`).
fn comparable(t: &DataType) -> bool {
    !matches!(storage(t), Storage::Json | Storage::Blob) && t != &DataType::UInt64
}

/// The literal as stored for a column of type `t`, when the comparison means the same.
fn literal_for(t: &DataType, s: &Scalar) -> Option<Scalar> {
    match (storage(t), s) {
        (_, Scalar::Null) => Some(Scalar::Null),
        (Storage::Micros, Scalar::Str(text)) => parse_timestamp(text).ok().map(Scalar::Int),
        (Storage::Micros, Scalar::Timestamp(us)) => Some(Scalar::Int(*us)),
        (Storage::Days, Scalar::Str(text)) => parse_timestamp(text)
            .ok()
            .map(|us| Scalar::Int(us.div_euclid(86_400_000_000))),
        (Storage::Days, Scalar::Timestamp(us)) => Some(Scalar::Int(us.div_euclid(86_400_000_000))),
        (Storage::Integer, Scalar::Bool(b)) if t == &DataType::Boolean => {
            Some(Scalar::Int(i64::from(*b)))
        }
        (Storage::Integer | Storage::Real, Scalar::Int(_) | Scalar::Float(_))
            if t != &DataType::Boolean =>
        {
            Some(s.clone())
        }
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
            let numeric = |t: &DataType| {
                matches!(storage(t), Storage::Integer | Storage::Real) && t != &DataType::Boolean
            };
            let same = storage(ta) == storage(tb) || (numeric(ta) && numeric(tb));
            (comparable(ta) && comparable(tb) && same).then(|| make(left.clone(), right.clone()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{Field, TimeUnit};

    #[test]
    fn pushes_what_sqlite_can_evaluate() {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new(
                "pbf",
                DataType::Struct(vec![Field::new("a", DataType::Utf8, true)].into()),
                true,
            ),
            Field::new("big", DataType::UInt64, true),
        ]);
        let f = Expr::parse("id >= 2 AND ts > '2024-01-05' AND pbf IS NOT NULL AND name = 5 AND big = 1 AND pbf.a = 'x'").unwrap();
        let (pushed, rest) = split(&f, &schema);
        let pushed = pushed.unwrap().to_string();
        assert_eq!(
            pushed,
            "((\"id\" >= 2 AND \"ts\" > 1704412800000000) AND \"pbf\" IS NOT NULL)"
        );
        assert_eq!(rest.unwrap().columns(), vec!["name", "big", "pbf.a"]);
    }
}
