//! # metaxy-datafusion
//!
//! Metaxy filters as DataFusion predicates, for the backends whose storage engine plans
//! DataFusion expressions (Delta Lake through delta-rs, LanceDB through Lance). One
//! translation serves both, so they cannot drift apart.
//!
//! A filter becomes `pruning AND metaxy_filter(columns...)`:
//!
//! * `metaxy_filter` is a DataFusion scalar UDF that evaluates the metaxy [`Expr`] with the
//!   core's own evaluator ([`Expr::evaluate`]). Scans and deletes therefore select exactly
//!   the rows every other backend selects — same coercions, same three-valued logic — with no
//!   second implementation of the filter language to drift.
//! * `pruning` holds the top-level conjuncts that translate to plain DataFusion comparisons
//!   with identical meaning (a column compared to a literal of the same type family,
//!   `IS [NOT] NULL`, `IN` lists). The engines use them to skip files and fragments by their
//!   statistics and to prune row groups or use scalar indexes; they never decide a row alone, the
//!   UDF does.
//!
//! Values never become SQL text: literals are typed [`ScalarValue`]s.

use std::any::Any;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema};
use datafusion_common::{DataFusionError, Result as DfResult, ScalarValue};
use datafusion_expr::{
    ColumnarValue, Expr as DfExpr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility, ident, lit,
};
use metaxy_core::filter::{CmpOp, Expr, Scalar};
use metaxy_core::{Result, batches};

/// The DataFusion predicate for a metaxy filter on a table with `schema`.
///
/// Fails (with the core's message) when the filter names a column the table lacks.
pub fn to_datafusion(filter: &Expr, schema: &Schema) -> Result<DfExpr> {
    let args = argument_columns(filter, schema)?;
    let exact = if args.is_empty() {
        // No column: the filter is a constant; evaluate it once.
        let one_row = RecordBatch::try_new_with_options(
            Arc::new(Schema::empty()),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(1)),
        )?;
        let value = filter.evaluate(&one_row)?;
        lit(ScalarValue::Boolean(
            arrow_array::Array::is_valid(&value, 0).then(|| value.value(0)),
        ))
    } else {
        let udf = ScalarUDF::new_from_impl(FilterUdf {
            filter: filter.clone(),
            columns: args.clone(),
            signature: Signature::any(args.len(), Volatility::Immutable),
        });
        udf.call(args.iter().map(ident).collect())
    };
    let pruning: Vec<DfExpr> = filter
        .conjuncts()
        .into_iter()
        .filter_map(|c| pruning_term(c, schema))
        .collect();
    Ok(pruning.into_iter().fold(exact, |acc, p| p.and(acc)))
}

/// The table columns the UDF needs: each referenced column, or for `a.b` (a field of struct
/// column `a`) the column `a`.
fn argument_columns(filter: &Expr, schema: &Schema) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for name in filter.columns() {
        let column = if schema.column_with_name(&name).is_some() {
            Some(name.clone())
        } else {
            name.split('.')
                .next()
                .filter(|first| *first != name && schema.column_with_name(first).is_some())
                .map(str::to_string)
        };
        match column {
            Some(c) if !out.contains(&c) => out.push(c),
            Some(_) => {}
            None => {
                // Let the core report the missing column exactly as every backend does.
                filter.filter(&RecordBatch::new_empty(Arc::new(schema.clone())))?;
                return Err(metaxy_core::Error::FilterEval {
                    filter: filter.to_string(),
                    message: format!("no column `{name}`"),
                });
            }
        }
    }
    Ok(out)
}

/// A conjunct that DataFusion evaluates with exactly the core's meaning, if there is one.
fn pruning_term(e: &Expr, schema: &Schema) -> Option<DfExpr> {
    match e {
        Expr::Compare { op, left, right } => {
            let (column, literal, op) = match (left.as_ref(), right.as_ref()) {
                (Expr::Column(c), Expr::Literal(s)) => (c, s, *op),
                (Expr::Literal(s), Expr::Column(c)) => (c, s, flip(*op)),
                _ => return None,
            };
            let field = schema.field_with_name(column).ok()?;
            let value = typed_literal(literal, field.data_type())?;
            let col = ident(column);
            Some(match op {
                CmpOp::Eq => col.eq(lit(value)),
                CmpOp::NotEq => col.not_eq(lit(value)),
                CmpOp::Lt => col.lt(lit(value)),
                CmpOp::LtEq => col.lt_eq(lit(value)),
                CmpOp::Gt => col.gt(lit(value)),
                CmpOp::GtEq => col.gt_eq(lit(value)),
            })
        }
        Expr::IsNull { expr, negated } => match expr.as_ref() {
            Expr::Column(c) if schema.column_with_name(c).is_some() => Some(if *negated {
                ident(c).is_not_null()
            } else {
                ident(c).is_null()
            }),
            _ => None,
        },
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let Expr::Column(c) = expr.as_ref() else {
                return None;
            };
            let field = schema.field_with_name(c).ok()?;
            let values = list
                .iter()
                .map(|s| typed_literal(s, field.data_type()).map(lit))
                .collect::<Option<Vec<_>>>()?;
            Some(ident(c).in_list(values, *negated))
        }
        _ => None,
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

/// The literal as a value of the column's type family, when comparing them needs no
/// coercion whose meaning could differ from the core's.
fn typed_literal(s: &Scalar, t: &DataType) -> Option<ScalarValue> {
    use DataType as D;
    match (s, t) {
        (Scalar::Str(v), D::Utf8 | D::LargeUtf8 | D::Utf8View) => {
            Some(ScalarValue::Utf8(Some(v.clone())))
        }
        (Scalar::Int(v), D::Int8 | D::Int16 | D::Int32 | D::Int64) => {
            Some(ScalarValue::Int64(Some(*v)))
        }
        (Scalar::Float(v), D::Float32 | D::Float64) => Some(ScalarValue::Float64(Some(*v))),
        (Scalar::Bool(v), D::Boolean) => Some(ScalarValue::Boolean(Some(*v))),
        (Scalar::Timestamp(v), D::Timestamp(arrow_schema::TimeUnit::Microsecond, Some(tz)))
            if tz.as_ref() == "UTC" =>
        {
            Some(ScalarValue::TimestampMicrosecond(
                Some(*v),
                Some(tz.clone()),
            ))
        }
        _ => None,
    }
}

/// The `metaxy_filter(...)` UDF: the core evaluator over the argument columns.
#[derive(Debug)]
struct FilterUdf {
    filter: Expr,
    columns: Vec<String>,
    signature: Signature,
}

impl PartialEq for FilterUdf {
    fn eq(&self, other: &Self) -> bool {
        self.filter == other.filter && self.columns == other.columns
    }
}

impl Eq for FilterUdf {}

impl Hash for FilterUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.filter.to_string().hash(state);
        self.columns.hash(state);
    }
}

impl ScalarUDFImpl for FilterUdf {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn name(&self) -> &str {
        "metaxy_filter"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays: Vec<ArrayRef> = args
            .args
            .into_iter()
            .map(|a| a.into_array(n))
            .collect::<DfResult<_>>()?;
        let fields: Vec<Field> = self
            .columns
            .iter()
            .zip(&arrays)
            .map(|(name, a)| Field::new(name, a.data_type().clone(), true))
            .collect();
        let evaluate = || -> Result<ArrayRef> {
            let batch = RecordBatch::try_new_with_options(
                Arc::new(Schema::new(fields)),
                arrays,
                &RecordBatchOptions::new().with_row_count(Some(n)),
            )?;
            let batch = batches::normalize_batch(&batch)?;
            Ok(Arc::new(self.filter.evaluate(&batch)?))
        };
        evaluate()
            .map(ColumnarValue::Array)
            .map_err(|e| DataFusionError::External(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow_schema::TimeUnit;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("n", DataType::Int32, true),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new(
                "by_field",
                DataType::Struct(vec![Field::new("audio", DataType::Utf8, true)].into()),
                true,
            ),
        ])
    }

    fn shown(sql: &str) -> String {
        to_datafusion(&Expr::parse(sql).unwrap(), &schema())
            .unwrap()
            .to_string()
    }

    #[test]
    fn same_type_conjuncts_become_pruning_terms_before_the_exact_udf() {
        let s = shown("name = 'a' AND n >= 3 AND ts < TIMESTAMP '2024-01-01' AND n IN (1, 2)");
        for term in [
            "name = Utf8(\"a\")",
            "n >= Int64(3)",
            "ts < TimestampMicrosecond",
            "n IN",
        ] {
            assert!(s.contains(term), "{term} missing in {s}");
        }
        assert!(s.contains("metaxy_filter(name, n, ts)"), "{s}");
    }

    #[test]
    fn coercing_or_nested_conditions_are_left_to_the_udf_alone() {
        // string literal against an integer column, OR, and a struct field: no pruning term
        let s = shown("n = '3' OR by_field.audio = 'x'");
        assert!(s.starts_with("metaxy_filter("), "{s}");
        assert!(s.contains("by_field"), "{s}");
    }

    #[test]
    fn unknown_columns_are_the_cores_error() {
        let e = to_datafusion(&Expr::parse("nope = 1").unwrap(), &schema())
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope"), "{e}");
    }

    #[test]
    fn constant_filters_need_no_columns() {
        assert_eq!(shown("TRUE"), "Boolean(true)");
        assert_eq!(shown("NOT TRUE"), "Boolean(false)");
        assert_eq!(shown("NULL"), "Boolean(NULL)");
    }
}
