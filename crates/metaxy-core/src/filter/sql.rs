//! Rendering an [`Expr`] as SQL for a backend's dialect.
//!
//! Identifiers are always quoted (embedded quote characters doubled). Literals become bound
//! parameters for dialects with placeholders; only dialects that cannot bind (a Lance filter
//! string) get inline literals, escaped.

use super::{Expr, Scalar};

/// How literals appear in rendered SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholder {
    /// `?` (SQLite, DuckDB).
    Question,
    /// `$1`, `$2`, ... (PostgreSQL); numbering continues from the parameters already collected.
    Dollar,
    /// Inline, escaped literals (for engines that take a filter string, not parameters).
    Inline,
}

/// The few things that differ between SQL dialects when rendering a filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlDialect {
    /// The identifier quote character (`"` for standard SQL, `` ` `` for DataFusion/Lance).
    pub quote: char,
    /// How literals are rendered.
    pub placeholder: Placeholder,
}

impl SqlDialect {
    /// Double-quoted identifiers, `?` placeholders (SQLite, DuckDB).
    pub fn question() -> Self {
        SqlDialect {
            quote: '"',
            placeholder: Placeholder::Question,
        }
    }

    /// Double-quoted identifiers, `$n` placeholders (PostgreSQL).
    pub fn dollar() -> Self {
        SqlDialect {
            quote: '"',
            placeholder: Placeholder::Dollar,
        }
    }

    /// Inline literals with the given identifier quote.
    pub fn inline(quote: char) -> Self {
        SqlDialect {
            quote,
            placeholder: Placeholder::Inline,
        }
    }

    /// The dialect of `Display`: double quotes, inline literals.
    pub fn display() -> Self {
        Self::inline('"')
    }

    /// Quotes an identifier.
    pub fn quote_ident(&self, ident: &str) -> String {
        let q = self.quote;
        let doubled = format!("{q}{q}");
        format!("{q}{}{q}", ident.replace(q, &doubled))
    }
}

impl Expr {
    /// Renders the expression for `dialect`, appending bound values to `params` in order.
    pub fn to_sql(&self, dialect: &SqlDialect, params: &mut Vec<Scalar>) -> String {
        match self {
            Expr::Column(c) => dialect.quote_ident(c),
            Expr::Literal(s) => literal(s, dialect, params),
            Expr::Compare { op, left, right } => format!(
                "{} {} {}",
                left.to_sql(dialect, params),
                op.as_sql(),
                right.to_sql(dialect, params)
            ),
            Expr::And(a, b) => format!(
                "({} AND {})",
                a.to_sql(dialect, params),
                b.to_sql(dialect, params)
            ),
            Expr::Or(a, b) => format!(
                "({} OR {})",
                a.to_sql(dialect, params),
                b.to_sql(dialect, params)
            ),
            Expr::Not(e) => format!("(NOT {})", e.to_sql(dialect, params)),
            Expr::IsNull { expr, negated } => format!(
                "{} IS {}NULL",
                expr.to_sql(dialect, params),
                if *negated { "NOT " } else { "" }
            ),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                if list.is_empty() {
                    // `x IN ()` is not valid SQL: an empty IN is false, NOT IN is true.
                    return if *negated {
                        "TRUE".into()
                    } else {
                        "FALSE".into()
                    };
                }
                let lhs = expr.to_sql(dialect, params);
                let items: Vec<String> = list.iter().map(|s| literal(s, dialect, params)).collect();
                format!(
                    "{lhs} {}IN ({})",
                    if *negated { "NOT " } else { "" },
                    items.join(", ")
                )
            }
        }
    }
}

fn literal(s: &Scalar, dialect: &SqlDialect, params: &mut Vec<Scalar>) -> String {
    match (dialect.placeholder, s) {
        // NULL and booleans carry no user text; render them inline everywhere.
        (_, Scalar::Null) => "NULL".into(),
        (_, Scalar::Bool(b)) => if *b { "TRUE" } else { "FALSE" }.into(),
        (Placeholder::Inline, s) => inline_literal(s),
        (Placeholder::Question, s) => {
            params.push(s.clone());
            "?".into()
        }
        (Placeholder::Dollar, s) => {
            params.push(s.clone());
            format!("${}", params.len())
        }
    }
}

/// An escaped SQL literal: strings single-quoted with quotes doubled, timestamps as
/// `TIMESTAMP '...'` in UTC.
pub(crate) fn inline_literal(s: &Scalar) -> String {
    match s {
        Scalar::Null => "NULL".into(),
        Scalar::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => format!("{f:?}"),
        Scalar::Str(s) => format!("'{}'", s.replace('\'', "''")),
        Scalar::Timestamp(us) => match chrono::DateTime::from_timestamp_micros(*us) {
            Some(dt) => format!("TIMESTAMP '{}'", dt.format("%Y-%m-%d %H:%M:%S%.6f")),
            None => format!("TIMESTAMP '{us}'"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_bound_parameters() {
        let e = Expr::parse("name = 'x'' OR 1=1 --' AND age IN (1, 2) AND ok").unwrap();
        let mut params = Vec::new();
        let sql = e.to_sql(&SqlDialect::dollar(), &mut params);
        assert_eq!(sql, "((\"name\" = $1 AND \"age\" IN ($2, $3)) AND \"ok\")");
        assert_eq!(
            params,
            vec![
                Scalar::Str("x' OR 1=1 --".into()),
                Scalar::Int(1),
                Scalar::Int(2)
            ]
        );
        let mut params = Vec::new();
        assert_eq!(
            e.to_sql(&SqlDialect::question(), &mut params),
            "((\"name\" = ? AND \"age\" IN (?, ?)) AND \"ok\")"
        );
    }

    #[test]
    fn inline_literals_are_escaped_and_identifiers_quoted() {
        let e = Expr::Compare {
            op: super::super::CmpOp::Eq,
            left: Box::new(Expr::Column("we\"ird`col".into())),
            right: Box::new(Expr::Literal(Scalar::Str("it's".into()))),
        };
        assert_eq!(e.to_string(), "\"we\"\"ird`col\" = 'it''s'");
        let mut p = Vec::new();
        assert_eq!(
            e.to_sql(&SqlDialect::inline('`'), &mut p),
            "`we\"ird``col` = 'it''s'"
        );
        assert!(p.is_empty());
        let ts = Expr::parse("t >= TIMESTAMP '2024-01-05T10:00:00Z'").unwrap();
        assert_eq!(
            ts.to_string(),
            "\"t\" >= TIMESTAMP '2024-01-05 10:00:00.000000'"
        );
    }
}
