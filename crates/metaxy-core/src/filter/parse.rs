//! SQL text → [`Expr`], through `sqlparser`'s generic dialect.

use sqlparser::ast::{self, BinaryOperator, DataType, InTarget, UnaryOperator, Value as SqlValue};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::{CmpOp, Expr, Scalar};
use crate::error::{Error, Result};

pub(super) fn parse(sql: &str) -> Result<Expr> {
    let fail = |message: String| Error::FilterParse {
        filter: sql.to_string(),
        message,
    };
    if sql.trim().is_empty() {
        return Err(fail(
            "the filter is empty; write a condition such as `age >= 18`".into(),
        ));
    }
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| fail(e.to_string()))?;
    let parsed = parser.parse_expr().map_err(|e| fail(e.to_string()))?;
    // Anything after the expression (e.g. `a = 1; DROP TABLE x`) is an error.
    let rest = parser.peek_token();
    if rest.token != sqlparser::tokenizer::Token::EOF {
        return Err(fail(format!(
            "unexpected `{}` after the expression; combine conditions with AND / OR",
            rest.token
        )));
    }
    convert(&parsed).map_err(fail)
}

type Conv<T> = std::result::Result<T, String>;

fn convert(e: &ast::Expr) -> Conv<Expr> {
    use ast::Expr as E;
    match e {
        E::Identifier(id) => Ok(Expr::Column(id.value.clone())),
        E::CompoundIdentifier(parts) => Ok(Expr::Column(
            parts
                .iter()
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
        )),
        E::Nested(inner) => convert(inner),
        E::Value(v) => Ok(Expr::Literal(value(&v.value)?)),
        E::TypedString(ts) => Ok(Expr::Literal(typed_literal(
            &ts.data_type,
            &ts.value.value,
        )?)),
        E::Cast {
            expr, data_type, ..
        } => match expr.as_ref() {
            E::Value(v) => Ok(Expr::Literal(typed_literal(data_type, &v.value)?)),
            _ => Err(
                "CAST is only supported on literals, e.g. CAST('2024-01-05' AS TIMESTAMP)".into(),
            ),
        },
        E::UnaryOp { op, expr } => match op {
            UnaryOperator::Not => Ok(Expr::Not(Box::new(convert(expr)?))),
            UnaryOperator::Minus => match convert(expr)? {
                Expr::Literal(Scalar::Int(i)) => Ok(Expr::Literal(Scalar::Int(-i))),
                Expr::Literal(Scalar::Float(f)) => Ok(Expr::Literal(Scalar::Float(-f))),
                _ => Err("unary minus is only supported on number literals".into()),
            },
            UnaryOperator::Plus => convert(expr),
            other => Err(format!("unsupported operator `{other}`")),
        },
        E::BinaryOp { left, op, right } => binary(left, op, right),
        E::IsNull(inner) => Ok(Expr::IsNull {
            expr: Box::new(convert(inner)?),
            negated: false,
        }),
        E::IsNotNull(inner) => Ok(Expr::IsNull {
            expr: Box::new(convert(inner)?),
            negated: true,
        }),
        E::IsTrue(inner) => Ok(cmp(
            CmpOp::Eq,
            convert(inner)?,
            Expr::Literal(Scalar::Bool(true)),
        )),
        E::IsFalse(inner) => Ok(cmp(
            CmpOp::Eq,
            convert(inner)?,
            Expr::Literal(Scalar::Bool(false)),
        )),
        E::In {
            expr,
            target,
            negated,
            ..
        } => {
            let InTarget::List(items) = target else {
                return Err("IN only supports a list of literals, e.g. `x IN (1, 2)`".into());
            };
            let lhs = convert(expr)?;
            if !matches!(lhs, Expr::Column(_)) {
                return Err("the left side of IN must be a column".into());
            }
            let list = items
                .iter()
                .map(|i| match convert(i)? {
                    Expr::Literal(s) => Ok(s),
                    _ => Err("IN lists may only contain literals".to_string()),
                })
                .collect::<Conv<Vec<_>>>()?;
            Ok(Expr::InList {
                expr: Box::new(lhs),
                list,
                negated: *negated,
            })
        }
        E::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let x = convert(expr)?;
            let both = Expr::And(
                Box::new(cmp(CmpOp::GtEq, x.clone(), convert(low)?)),
                Box::new(cmp(CmpOp::LtEq, x, convert(high)?)),
            );
            Ok(if *negated {
                Expr::Not(Box::new(both))
            } else {
                both
            })
        }
        other => Err(format!(
            "`{other}` is not supported; use comparisons, AND/OR/NOT, IN, IS NULL and literals"
        )),
    }
}

fn cmp(op: CmpOp, left: Expr, right: Expr) -> Expr {
    Expr::Compare {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

fn binary(left: &ast::Expr, op: &BinaryOperator, right: &ast::Expr) -> Conv<Expr> {
    let l = convert(left)?;
    let r = convert(right)?;
    let op = match op {
        BinaryOperator::And => return Ok(Expr::And(Box::new(l), Box::new(r))),
        BinaryOperator::Or => return Ok(Expr::Or(Box::new(l), Box::new(r))),
        BinaryOperator::Eq => CmpOp::Eq,
        BinaryOperator::NotEq => CmpOp::NotEq,
        BinaryOperator::Lt => CmpOp::Lt,
        BinaryOperator::LtEq => CmpOp::LtEq,
        BinaryOperator::Gt => CmpOp::Gt,
        BinaryOperator::GtEq => CmpOp::GtEq,
        other => {
            return Err(format!(
                "operator `{other}` is not supported; use = != <> < <= > >= AND OR"
            ));
        }
    };
    // `col = NULL` / `col != NULL` are null checks in Metaxy.
    match (&l, &r, op) {
        (x, Expr::Literal(Scalar::Null), CmpOp::Eq)
        | (Expr::Literal(Scalar::Null), x, CmpOp::Eq) => Ok(Expr::IsNull {
            expr: Box::new(x.clone()),
            negated: false,
        }),
        (x, Expr::Literal(Scalar::Null), CmpOp::NotEq)
        | (Expr::Literal(Scalar::Null), x, CmpOp::NotEq) => Ok(Expr::IsNull {
            expr: Box::new(x.clone()),
            negated: true,
        }),
        (Expr::Literal(_), Expr::Literal(_), _) => {
            Err("a comparison needs at least one column".into())
        }
        _ => Ok(cmp(op, l, r)),
    }
}

fn value(v: &SqlValue) -> Conv<Scalar> {
    match v {
        SqlValue::Number(n, _) => number(n),
        SqlValue::SingleQuotedString(s) => Ok(Scalar::Str(s.clone())),
        SqlValue::Boolean(b) => Ok(Scalar::Bool(*b)),
        SqlValue::Null => Ok(Scalar::Null),
        SqlValue::DoubleQuotedString(s) => Err(format!(
            "\"{s}\" is a double-quoted string; use single quotes for strings ('{s}')"
        )),
        SqlValue::Placeholder(p) => Err(format!("placeholder `{p}` is not allowed in filters")),
        other => Err(format!("literal `{other}` is not supported")),
    }
}

fn number(n: &str) -> Conv<Scalar> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Scalar::Int(i));
    }
    n.parse::<f64>()
        .map(Scalar::Float)
        .map_err(|_| format!("`{n}` is not a number"))
}

fn typed_literal(ty: &DataType, v: &SqlValue) -> Conv<Scalar> {
    let text = match v {
        SqlValue::SingleQuotedString(s) => s.as_str(),
        other => {
            return Err(format!(
                "expected a quoted string after the type, got `{other}`"
            ));
        }
    };
    match ty {
        DataType::Timestamp(..) | DataType::Datetime(..) | DataType::Date => {
            parse_timestamp(text).map(Scalar::Timestamp)
        }
        DataType::Varchar(_) | DataType::Text | DataType::String(_) => {
            Ok(Scalar::Str(text.to_string()))
        }
        other => Err(format!(
            "typed literal `{other} '{text}'` is not supported; use TIMESTAMP or DATE"
        )),
    }
}

/// Parses a timestamp or date string into microseconds since the epoch (UTC when no zone).
pub(crate) fn parse_timestamp(text: &str) -> Conv<i64> {
    arrow_cast::parse::string_to_datetime(&chrono::Utc, text.trim())
        .map(|dt| dt.timestamp_micros())
        .map_err(|e| format!("`{text}` is not a timestamp: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse(s).unwrap()
    }

    #[test]
    fn parses_the_metaxy_language() {
        assert_eq!(p("years >= 18").to_string(), "\"years\" >= 18");
        assert_eq!(
            p("age >= 25 AND status IS NULL").to_string(),
            "(\"age\" >= 25 AND \"status\" IS NULL)"
        );
        assert_eq!(p("x = NULL"), p("x IS NULL"));
        assert_eq!(p("x <> NULL"), p("x IS NOT NULL"));
        assert_eq!(
            p("NOT is_active"),
            Expr::Not(Box::new(Expr::Column("is_active".into())))
        );
        assert_eq!(
            p("id NOT IN (1, -2, 'a')"),
            Expr::InList {
                expr: Box::new(Expr::Column("id".into())),
                list: vec![Scalar::Int(1), Scalar::Int(-2), Scalar::Str("a".into())],
                negated: true
            }
        );
        assert_eq!(p("a.b = 1.5").columns(), vec!["a.b".to_string()]);
        assert_eq!(
            p("\"Mixed Case\" = TRUE").columns(),
            vec!["Mixed Case".to_string()]
        );
        match p("ts > TIMESTAMP '2024-01-05 00:00:00'") {
            Expr::Compare { right, .. } => {
                assert_eq!(
                    *right,
                    Expr::Literal(Scalar::Timestamp(1_704_412_800_000_000))
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(p("x BETWEEN 1 AND 3"), Expr::And(..)));
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        for bad in [
            "",
            "   ",
            "age >>> 3",
            "a = 1; DROP TABLE t",
            "upper(name) = 'X'",
            "x IN (SELECT 1)",
            "1 = 1",
            "x LIKE 'a%'",
        ] {
            let e = parse(bad);
            assert!(e.is_err(), "{bad:?} should fail, got {e:?}");
            assert!(matches!(e, Err(Error::FilterParse { .. })));
        }
    }
}
