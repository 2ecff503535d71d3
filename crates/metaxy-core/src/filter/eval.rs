//! Evaluating an [`Expr`] on an Arrow batch with SQL three-valued logic.

use std::sync::Arc;

use arrow_arith::boolean::{and_kleene, is_not_null, is_null, not, or_kleene};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, Scalar as ArrowScalar,
    StringArray, StructArray, TimestampMicrosecondArray, new_null_array,
};
use arrow_cast::{CastOptions, cast_with_options};
use arrow_schema::{DataType, TimeUnit};
use arrow_select::filter::filter_record_batch;

use super::{CmpOp, Expr, Scalar};
use crate::error::{Error, Result};

type Eval<T> = std::result::Result<T, String>;

impl Expr {
    /// Evaluates the expression on every row of `batch` (NULL where SQL says unknown).
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<BooleanArray> {
        eval_bool(self, batch).map_err(|message| Error::FilterEval {
            filter: self.to_string(),
            message,
        })
    }

    /// Keeps the rows of `batch` for which the expression is true.
    ///
    /// On an empty batch only the column references are checked (a column that does not
    /// exist is still an error; types are not, since there is nothing to compare).
    pub fn filter(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if batch.num_rows() == 0 {
            for c in self.columns() {
                column(batch, &c).map_err(|message| Error::FilterEval {
                    filter: self.to_string(),
                    message,
                })?;
            }
            return Ok(batch.clone());
        }
        let mask = self.evaluate(batch)?;
        Ok(filter_record_batch(batch, &mask)?)
    }
}

/// Keeps the rows of `batch` matching `filter`, or all rows when there is no filter.
pub fn apply_filter(batch: RecordBatch, filter: Option<&Expr>) -> Result<RecordBatch> {
    match filter {
        Some(f) => f.filter(&batch),
        None => Ok(batch),
    }
}

enum Operand {
    Array(ArrayRef),
    Scalar(Scalar),
}

fn column(batch: &RecordBatch, name: &str) -> Eval<ArrayRef> {
    if let Some(a) = batch.column_by_name(name) {
        return Ok(a.clone());
    }
    // `a.b` may also address field `b` of a struct column `a`.
    let mut parts = name.split('.');
    if let Some(first) = parts.next()
        && let Some(mut arr) = batch.column_by_name(first).cloned()
    {
        for part in parts {
            let Some(s) = arr.as_any().downcast_ref::<StructArray>() else {
                arr = new_null_array(&DataType::Null, 0);
                break;
            };
            match s.column_by_name(part) {
                Some(child) => arr = child.clone(),
                None => {
                    arr = new_null_array(&DataType::Null, 0);
                    break;
                }
            }
        }
        if arr.len() == batch.num_rows() && arr.data_type() != &DataType::Null {
            return Ok(arr);
        }
    }
    let mut available: Vec<&str> = batch
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    available.sort();
    Err(format!(
        "no column `{name}` (available: {})",
        available.join(", ")
    ))
}

fn operand(e: &Expr, batch: &RecordBatch) -> Eval<Operand> {
    match e {
        Expr::Column(c) => Ok(Operand::Array(plain(column(batch, c)?)?)),
        Expr::Literal(s) => Ok(Operand::Scalar(s.clone())),
        other => Ok(Operand::Array(Arc::new(eval_bool(other, batch)?))),
    }
}

/// Dictionary arrays are compared through their values.
fn plain(a: ArrayRef) -> Eval<ArrayRef> {
    match a.data_type() {
        DataType::Dictionary(_, value) => {
            let value = value.as_ref().clone();
            arrow_cast::cast(&a, &value).map_err(|e| e.to_string())
        }
        _ => Ok(a),
    }
}

fn eval_bool(e: &Expr, batch: &RecordBatch) -> Eval<BooleanArray> {
    let n = batch.num_rows();
    match e {
        Expr::Column(c) => {
            let a = plain(column(batch, c)?)?;
            a.as_any()
                .downcast_ref::<BooleanArray>()
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "column `{c}` is {} and cannot be used as a condition; compare it, e.g. `{c} = ...`",
                        a.data_type()
                    )
                })
        }
        Expr::Literal(Scalar::Bool(b)) => Ok(BooleanArray::from(vec![*b; n])),
        Expr::Literal(Scalar::Null) => Ok(BooleanArray::new_null(n)),
        Expr::Literal(other) => Err(format!("the literal {other} is not a condition")),
        Expr::And(a, b) => {
            and_kleene(&eval_bool(a, batch)?, &eval_bool(b, batch)?).map_err(|e| e.to_string())
        }
        Expr::Or(a, b) => {
            or_kleene(&eval_bool(a, batch)?, &eval_bool(b, batch)?).map_err(|e| e.to_string())
        }
        Expr::Not(a) => not(&eval_bool(a, batch)?).map_err(|e| e.to_string()),
        Expr::IsNull { expr, negated } => match operand(expr, batch)? {
            Operand::Array(a) => if *negated {
                is_not_null(&a)
            } else {
                is_null(&a)
            }
            .map_err(|e| e.to_string()),
            Operand::Scalar(s) => Ok(BooleanArray::from(vec![(s == Scalar::Null) != *negated; n])),
        },
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let mut acc = BooleanArray::from(vec![false; n]);
            for item in list {
                let hit = compare(
                    CmpOp::Eq,
                    operand(expr, batch)?,
                    Operand::Scalar(item.clone()),
                    n,
                )?;
                acc = or_kleene(&acc, &hit).map_err(|e| e.to_string())?;
            }
            if *negated {
                not(&acc).map_err(|e| e.to_string())
            } else {
                Ok(acc)
            }
        }
        Expr::Compare { op, left, right } => {
            compare(*op, operand(left, batch)?, operand(right, batch)?, n)
        }
    }
}

fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::LtEq => CmpOp::GtEq,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::GtEq => CmpOp::LtEq,
        other => other,
    }
}

fn compare(op: CmpOp, l: Operand, r: Operand, n: usize) -> Eval<BooleanArray> {
    match (l, r) {
        (Operand::Array(a), Operand::Scalar(s)) => compare_scalar(op, &a, &s, n),
        (Operand::Scalar(s), Operand::Array(a)) => compare_scalar(flip(op), &a, &s, n),
        (Operand::Array(a), Operand::Array(b)) => {
            let (a, b) = unify(a, b)?;
            kernel(op, &a, &b)
        }
        (Operand::Scalar(_), Operand::Scalar(_)) => {
            Err("a comparison needs at least one column".into())
        }
    }
}

fn kernel(op: CmpOp, a: &dyn arrow_array::Datum, b: &dyn arrow_array::Datum) -> Eval<BooleanArray> {
    use arrow_ord::cmp;
    match op {
        CmpOp::Eq => cmp::eq(a, b),
        CmpOp::NotEq => cmp::neq(a, b),
        CmpOp::Lt => cmp::lt(a, b),
        CmpOp::LtEq => cmp::lt_eq(a, b),
        CmpOp::Gt => cmp::gt(a, b),
        CmpOp::GtEq => cmp::gt_eq(a, b),
    }
    .map_err(|e| e.to_string())
}

fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

fn strict() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        ..Default::default()
    }
}

fn compare_scalar(op: CmpOp, a: &ArrayRef, s: &Scalar, n: usize) -> Eval<BooleanArray> {
    if *s == Scalar::Null {
        return Ok(BooleanArray::new_null(n));
    }
    let dt = a.data_type().clone();
    let mismatch =
        || format!("cannot compare a {dt} column with {s}; use a literal of the column's type");
    // Numbers: compare in the column's type when the literal fits, else as Float64.
    if dt.is_numeric() {
        let lit: ArrayRef = match s {
            Scalar::Int(i) => Arc::new(Int64Array::from(vec![*i])),
            Scalar::Float(f) => Arc::new(Float64Array::from(vec![*f])),
            Scalar::Str(text) => match text.parse::<i64>() {
                Ok(i) => Arc::new(Int64Array::from(vec![i])),
                Err(_) => match text.parse::<f64>() {
                    Ok(f) => Arc::new(Float64Array::from(vec![f])),
                    Err(_) => return Err(mismatch()),
                },
            },
            _ => return Err(mismatch()),
        };
        let float_literal = matches!(lit.data_type(), DataType::Float64);
        if !(float_literal && is_integer(&dt))
            && let Ok(cast) = cast_with_options(&lit, &dt, &strict())
        {
            return kernel(op, a, &ArrowScalar::new(cast));
        }
        let af = arrow_cast::cast(a, &DataType::Float64).map_err(|e| e.to_string())?;
        let lf = arrow_cast::cast(&lit, &DataType::Float64).map_err(|e| e.to_string())?;
        return kernel(op, &af, &ArrowScalar::new(lf));
    }
    let lit: ArrayRef = match (&dt, s) {
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, Scalar::Str(text)) => {
            arrow_cast::cast(
                &(Arc::new(StringArray::from(vec![text.as_str()])) as ArrayRef),
                &dt,
            )
            .map_err(|e| e.to_string())?
        }
        (DataType::Boolean, Scalar::Bool(b)) => Arc::new(BooleanArray::from(vec![*b])),
        (DataType::Timestamp(_, tz), Scalar::Str(_) | Scalar::Timestamp(_)) => {
            let us = match s {
                Scalar::Timestamp(us) => *us,
                Scalar::Str(text) => super::parse::parse_timestamp(text)?,
                _ => return Err(mismatch()),
            };
            let arr = TimestampMicrosecondArray::from(vec![us]).with_timezone_opt(tz.clone());
            arrow_cast::cast(&(Arc::new(arr) as ArrayRef), &dt).map_err(|e| e.to_string())?
        }
        (DataType::Date32 | DataType::Date64, Scalar::Str(_) | Scalar::Timestamp(_)) => {
            let us = match s {
                Scalar::Timestamp(us) => *us,
                Scalar::Str(text) => super::parse::parse_timestamp(text)?,
                _ => return Err(mismatch()),
            };
            let arr: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![us]));
            arrow_cast::cast(&arr, &dt).map_err(|e| e.to_string())?
        }
        _ => return Err(mismatch()),
    };
    kernel(op, a, &ArrowScalar::new(lit))
}

/// Brings two columns to one type for comparison.
fn unify(a: ArrayRef, b: ArrayRef) -> Eval<(ArrayRef, ArrayRef)> {
    if a.data_type() == b.data_type() {
        return Ok((a, b));
    }
    let (ta, tb) = (a.data_type().clone(), b.data_type().clone());
    if ta.is_numeric() && tb.is_numeric() {
        let target = if is_integer(&ta) && is_integer(&tb) {
            DataType::Int64
        } else {
            DataType::Float64
        };
        let ca = arrow_cast::cast(&a, &target).map_err(|e| e.to_string())?;
        let cb = arrow_cast::cast(&b, &target).map_err(|e| e.to_string())?;
        return Ok((ca, cb));
    }
    if let (DataType::Timestamp(_, tz), DataType::Timestamp(..)) = (&ta, &tb) {
        let target = DataType::Timestamp(TimeUnit::Microsecond, tz.clone());
        let ca = arrow_cast::cast(&a, &target).map_err(|e| e.to_string())?;
        let cb = arrow_cast::cast(&b, &target).map_err(|e| e.to_string())?;
        return Ok((ca, cb));
    }
    match arrow_cast::cast(&b, &ta) {
        Ok(cb) => Ok((a, cb)),
        Err(_) => Err(format!("cannot compare a {ta} column with a {tb} column")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, UInt64Array};
    use arrow_schema::{Field, Schema};

    fn batch() -> RecordBatch {
        let ts = TimestampMicrosecondArray::from(vec![
            Some(1_704_067_200_000_000),
            Some(1_704_412_800_000_000 + 1),
            None,
            Some(1_704_499_200_000_000),
        ])
        .with_timezone("UTC");
        let schema = Schema::new(vec![
            Field::new("age", DataType::Int64, true),
            Field::new("uid", DataType::UInt64, false),
            Field::new("status", DataType::Utf8, true),
            Field::new("ok", DataType::Boolean, true),
            Field::new("ts", ts.data_type().clone(), true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(10), Some(30), None, Some(25)])),
                Arc::new(UInt64Array::from(vec![1, 2, 3, 4])),
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    None,
                    Some("c"),
                    Some("it's"),
                ])),
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    Some(true),
                ])),
                Arc::new(ts),
            ],
        )
        .unwrap()
    }

    fn rows(sql: &str) -> Vec<u64> {
        let b = Expr::parse(sql).unwrap().filter(&batch()).unwrap();
        b.column_by_name("uid")
            .unwrap()
            .as_any()
            .downcast_ref::<UInt64Array>()
            .unwrap()
            .values()
            .to_vec()
    }

    #[test]
    fn sql_semantics_on_arrow() {
        assert_eq!(rows("age >= 25"), vec![2, 4]);
        assert_eq!(rows("age >= 25 AND status IS NULL"), vec![2]);
        assert_eq!(rows("status IS NOT NULL"), vec![1, 3, 4]);
        assert_eq!(rows("NOT ok"), vec![2]);
        assert_eq!(rows("ok"), vec![1, 4]);
        assert_eq!(rows("uid IN (1, 3)"), vec![1, 3]);
        // NOT IN with a NULL in the list matches nothing (SQL semantics)
        assert_eq!(rows("uid NOT IN (1, NULL)"), Vec::<u64>::new());
        assert_eq!(rows("uid NOT IN (1, 2)"), vec![3, 4]);
        assert_eq!(rows("uid > -1"), vec![1, 2, 3, 4]);
        assert_eq!(rows("age > 24.5"), vec![2, 4]);
        assert_eq!(rows("status = 'it''s'"), vec![4]);
        assert_eq!(rows("status != 'a'"), vec![3, 4]);
        assert_eq!(rows("ts > '2024-01-05'"), vec![2, 4]);
        assert_eq!(rows("ts > TIMESTAMP '2024-01-05 00:00:00'"), vec![2, 4]);
        assert_eq!(rows("uid >= 2 AND uid < 4 OR uid = 1"), vec![1, 2, 3]);
    }

    #[test]
    fn struct_fields_and_errors() {
        let b = batch();
        let inner = StructArray::from(vec![(
            Arc::new(Field::new("audio", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec!["a1", "a2", "a3", "a4"])) as ArrayRef,
        )]);
        let mut cols = b.columns().to_vec();
        cols.push(Arc::new(inner.clone()));
        let mut fields: Vec<Field> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new("pbf", inner.data_type().clone(), true));
        let b = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
        let out = Expr::parse("pbf.audio = 'a2'").unwrap().filter(&b).unwrap();
        assert_eq!(out.num_rows(), 1);
        let err = Expr::parse("nope = 1")
            .unwrap()
            .evaluate(&b)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no column `nope`"), "{err}");
        let err = Expr::parse("status = 5")
            .unwrap()
            .evaluate(&b)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot compare"), "{err}");
        let err = Expr::parse("age")
            .unwrap()
            .evaluate(&b)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be used as a condition"), "{err}");
    }
}
