//! Filters: one expression AST for every place metaxy filters rows.
//!
//! Dependency `sql_filters`, read filters, `global_filters`, staleness predicates and delete
//! filters are SQL `WHERE`-clause strings (`age >= 25 AND status IS NULL`). They are parsed
//! once with `sqlparser` into an [`Expr`], which the core evaluates on Arrow batches
//! ([`Expr::evaluate`]) and which SQL backends render for their dialect with bound parameters
//! ([`Expr::to_sql`]) — values are never spliced into SQL text.
//!
//! The language (reference section 1.9): comparisons `= != <> < <= > >=` between columns and
//! literals, `AND`, `OR`, `NOT`, parentheses, `IN (...)`, `NOT IN (...)`, `IS [NOT] NULL`,
//! `BETWEEN`, string / integer / float / boolean / `NULL` literals, `TIMESTAMP '...'` and
//! `DATE '...'` literals, unary minus on numbers, and a bare boolean column. `col = NULL` and
//! `col != NULL` mean `IS NULL` / `IS NOT NULL`, as in Metaxy.

mod eval;
mod parse;
mod sql;

use std::fmt;

pub use eval::apply_filter;

/// Parses a timestamp or date literal (`2024-01-05`, `2024-01-05 10:00:00`,
/// `2024-01-05T10:00:00+02:00`) into microseconds since the epoch; no zone means UTC.
pub fn parse_timestamp(text: &str) -> crate::Result<i64> {
    parse::parse_timestamp(text).map_err(|message| crate::Error::FilterParse {
        filter: text.to_string(),
        message,
    })
}
pub use sql::{Placeholder, SqlDialect};

/// A literal value in a filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// `NULL`.
    Null,
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A single-quoted string.
    Str(String),
    /// A `TIMESTAMP '...'` / `DATE '...'` literal: microseconds since the epoch, UTC.
    Timestamp(i64),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=` / `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

impl CmpOp {
    /// The SQL spelling.
    pub fn as_sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }
}

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A column reference (a dotted identifier `a.b` names the column `"a.b"`, or field `b` of
    /// a struct column `a` when no column `"a.b"` exists).
    Column(String),
    /// A literal.
    Literal(Scalar),
    /// `left op right`.
    Compare {
        /// The operator.
        op: CmpOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `a AND b`.
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`.
    Or(Box<Expr>, Box<Expr>),
    /// `NOT a`.
    Not(Box<Expr>),
    /// `a IS [NOT] NULL`.
    IsNull {
        /// The tested expression.
        expr: Box<Expr>,
        /// `IS NOT NULL` when true.
        negated: bool,
    },
    /// `a [NOT] IN (literal, ...)`.
    InList {
        /// The tested expression (a column).
        expr: Box<Expr>,
        /// The literals.
        list: Vec<Scalar>,
        /// `NOT IN` when true.
        negated: bool,
    },
}

impl Expr {
    /// Parses an SQL `WHERE`-clause expression.
    pub fn parse(sql: &str) -> crate::Result<Expr> {
        parse::parse(sql)
    }

    /// Parses several filters and combines them with `AND` (`None` for an empty list).
    pub fn parse_all<S: AsRef<str>>(sqls: &[S]) -> crate::Result<Option<Expr>> {
        let exprs = sqls
            .iter()
            .map(|s| Expr::parse(s.as_ref()))
            .collect::<crate::Result<Vec<_>>>()?;
        Ok(Expr::conjunction(exprs))
    }

    /// `a AND b AND ...`, or `None` for no expressions.
    pub fn conjunction(exprs: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        exprs
            .into_iter()
            .reduce(|a, b| Expr::And(Box::new(a), Box::new(b)))
    }

    /// `a OR b OR ...`, or `None` for no expressions.
    pub fn disjunction(exprs: impl IntoIterator<Item = Expr>) -> Option<Expr> {
        exprs
            .into_iter()
            .reduce(|a, b| Expr::Or(Box::new(a), Box::new(b)))
    }

    /// `column = value`.
    pub fn column_eq(column: impl Into<String>, value: Scalar) -> Expr {
        Expr::Compare {
            op: CmpOp::Eq,
            left: Box::new(Expr::Column(column.into())),
            right: Box::new(Expr::Literal(value)),
        }
    }

    /// The top-level `AND` operands of this expression.
    pub fn conjuncts(&self) -> Vec<&Expr> {
        match self {
            Expr::And(a, b) => {
                let mut out = a.conjuncts();
                out.extend(b.conjuncts());
                out
            }
            other => vec![other],
        }
    }

    /// Every column the expression references, in order of appearance, without duplicates.
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_columns(&mut out);
        out
    }

    fn collect_columns(&self, out: &mut Vec<String>) {
        match self {
            Expr::Column(c) => {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
            Expr::Literal(_) => {}
            Expr::Compare { left, right, .. } => {
                left.collect_columns(out);
                right.collect_columns(out);
            }
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.collect_columns(out);
                b.collect_columns(out);
            }
            Expr::Not(e) | Expr::IsNull { expr: e, .. } | Expr::InList { expr: e, .. } => {
                e.collect_columns(out)
            }
        }
    }

    /// Renames column references (e.g. to apply a dependency's rename map).
    pub fn map_columns(&self, f: &impl Fn(&str) -> String) -> Expr {
        match self {
            Expr::Column(c) => Expr::Column(f(c)),
            Expr::Literal(s) => Expr::Literal(s.clone()),
            Expr::Compare { op, left, right } => Expr::Compare {
                op: *op,
                left: Box::new(left.map_columns(f)),
                right: Box::new(right.map_columns(f)),
            },
            Expr::And(a, b) => Expr::And(Box::new(a.map_columns(f)), Box::new(b.map_columns(f))),
            Expr::Or(a, b) => Expr::Or(Box::new(a.map_columns(f)), Box::new(b.map_columns(f))),
            Expr::Not(e) => Expr::Not(Box::new(e.map_columns(f))),
            Expr::IsNull { expr, negated } => Expr::IsNull {
                expr: Box::new(expr.map_columns(f)),
                negated: *negated,
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: Box::new(expr.map_columns(f)),
                list: list.clone(),
                negated: *negated,
            },
        }
    }
}

/// Renders the expression as generic SQL with inline literals (for messages and logs).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sql(&SqlDialect::display(), &mut Vec::new()))
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&sql::inline_literal(self))
    }
}
