//! Arrow columns ⇄ SQLite values (see [`crate::types`] for the mapping).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt64Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray, UInt64Array, new_null_array,
};
use arrow_schema::{DataType, TimeUnit};
use metaxy_core::{Error, Result, json_columns};
use rusqlite::types::{Value, ValueRef};

use crate::types::{Storage, storage};

/// One column of a batch, prepared for binding row by row.
pub(crate) enum Bind {
    Int(Int64Array),
    UInt64(UInt64Array),
    Bool(BooleanArray),
    Real(Float64Array),
    Text(StringArray),
    Blob(BinaryArray),
    Json(Vec<Option<String>>),
    Null,
}

impl Bind {
    /// Prepares `array` (of its Arrow type) for binding.
    pub(crate) fn new(array: &ArrayRef) -> Result<Self> {
        let t = array.data_type();
        Ok(match (t, storage(t)) {
            (DataType::Null, _) => Bind::Null,
            (DataType::Boolean, _) => Bind::Bool(array.as_boolean().clone()),
            (DataType::UInt64, _) => Bind::UInt64(array.as_primitive::<UInt64Type>().clone()),
            (_, Storage::Integer) => Bind::Int(
                arrow_cast::cast(array, &DataType::Int64)?
                    .as_primitive::<Int64Type>()
                    .clone(),
            ),
            (_, Storage::Micros) => {
                let us =
                    arrow_cast::cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
                Bind::Int(
                    arrow_cast::cast(&us, &DataType::Int64)?
                        .as_primitive::<Int64Type>()
                        .clone(),
                )
            }
            (_, Storage::Days) => {
                let days = arrow_cast::cast(array, &DataType::Date32)?;
                Bind::Int(
                    arrow_cast::cast(&days, &DataType::Int64)?
                        .as_primitive::<Int64Type>()
                        .clone(),
                )
            }
            (_, Storage::Real) => Bind::Real(
                arrow_cast::cast(array, &DataType::Float64)?
                    .as_primitive::<Float64Type>()
                    .clone(),
            ),
            (_, Storage::Text) => Bind::Text(
                arrow_cast::cast(array, &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone(),
            ),
            (_, Storage::Blob) => Bind::Blob(
                arrow_cast::cast(array, &DataType::Binary)?
                    .as_binary::<i32>()
                    .clone(),
            ),
            (_, Storage::Json) => Bind::Json(json_columns::encode(array)?),
        })
    }

    /// The value of row `i`.
    pub(crate) fn value(&self, i: usize) -> ValueRef<'_> {
        match self {
            Bind::Null => ValueRef::Null,
            Bind::Int(a) => {
                if a.is_null(i) {
                    ValueRef::Null
                } else {
                    ValueRef::Integer(a.value(i))
                }
            }
            Bind::UInt64(a) => {
                if a.is_null(i) {
                    ValueRef::Null
                } else {
                    ValueRef::Integer(a.value(i) as i64)
                }
            }
            Bind::Bool(a) => {
                if a.is_null(i) {
                    ValueRef::Null
                } else {
                    ValueRef::Integer(i64::from(a.value(i)))
                }
            }
            Bind::Real(a) => {
                if a.is_null(i) {
                    ValueRef::Null
                } else {
                    ValueRef::Real(a.value(i))
                }
            }
            Bind::Text(a) => {
                if a.is_null(i) {
                    ValueRef::Null
                } else {
                    ValueRef::Text(a.value(i).as_bytes())
                }
            }
            Bind::Blob(a) => {
                if a.is_null(i) {
                    ValueRef::Null
                } else {
                    ValueRef::Blob(a.value(i))
                }
            }
            Bind::Json(v) => match &v[i] {
                None => ValueRef::Null,
                Some(s) => ValueRef::Text(s.as_bytes()),
            },
        }
    }
}

/// Collects one column's values while rows are read, then builds the Arrow array.
pub(crate) enum Collect {
    Int(Vec<Option<i64>>),
    Real(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    Blob(Vec<Option<Vec<u8>>>),
}

impl Collect {
    pub(crate) fn new(t: &DataType) -> Self {
        match storage(t) {
            Storage::Integer | Storage::Micros | Storage::Days => Collect::Int(Vec::new()),
            Storage::Real => Collect::Real(Vec::new()),
            Storage::Blob => Collect::Blob(Vec::new()),
            Storage::Text | Storage::Json => Collect::Text(Vec::new()),
        }
    }

    /// Appends one value; a value of another storage class than expected is an error.
    pub(crate) fn push(&mut self, v: ValueRef<'_>, column: &str) -> Result<()> {
        let bad = |what: &str| {
            Error::InvalidArgument(format!(
                "column `{column}` holds a {what} where metaxy expects another type"
            ))
        };
        match (self, v) {
            (Collect::Int(c), ValueRef::Null) => c.push(None),
            (Collect::Real(c), ValueRef::Null) => c.push(None),
            (Collect::Text(c), ValueRef::Null) => c.push(None),
            (Collect::Blob(c), ValueRef::Null) => c.push(None),
            (Collect::Int(c), ValueRef::Integer(i)) => c.push(Some(i)),
            (Collect::Real(c), ValueRef::Real(f)) => c.push(Some(f)),
            (Collect::Real(c), ValueRef::Integer(i)) => c.push(Some(i as f64)),
            (Collect::Text(c), ValueRef::Text(t)) => {
                c.push(Some(String::from_utf8_lossy(t).into_owned()))
            }
            (Collect::Blob(c), ValueRef::Blob(b)) => c.push(Some(b.to_vec())),
            (_, ValueRef::Integer(_)) => return Err(bad("integer")),
            (_, ValueRef::Real(_)) => return Err(bad("float")),
            (_, ValueRef::Text(_)) => return Err(bad("text")),
            (_, ValueRef::Blob(_)) => return Err(bad("blob")),
        }
        Ok(())
    }

    /// The Arrow array of type `t`.
    pub(crate) fn finish(self, t: &DataType, column: &str) -> Result<ArrayRef> {
        if t == &DataType::Null {
            let n = match &self {
                Collect::Int(c) => c.len(),
                Collect::Real(c) => c.len(),
                Collect::Text(c) => c.len(),
                Collect::Blob(c) => c.len(),
            };
            return Ok(new_null_array(t, n));
        }
        let array: ArrayRef = match (self, storage(t)) {
            (Collect::Int(c), Storage::Micros) => {
                let tz = match t {
                    DataType::Timestamp(_, tz) => tz.clone(),
                    _ => None,
                };
                let us: ArrayRef =
                    Arc::new(TimestampMicrosecondArray::from(c).with_timezone_opt(tz));
                arrow_cast::cast(&us, t)?
            }
            (Collect::Int(c), Storage::Days) => {
                let days: ArrayRef = Arc::new(Date32Array::from(
                    c.into_iter()
                        .map(|v| v.map(|d| d as i32))
                        .collect::<Vec<_>>(),
                ));
                arrow_cast::cast(&days, t)?
            }
            (Collect::Int(c), _) if t == &DataType::UInt64 => Arc::new(UInt64Array::from(
                c.into_iter()
                    .map(|v| v.map(|i| i as u64))
                    .collect::<Vec<_>>(),
            )),
            (Collect::Int(c), _) => {
                let ints: ArrayRef = Arc::new(Int64Array::from(c));
                arrow_cast::cast(&ints, t)?
            }
            (Collect::Real(c), _) => {
                let f: ArrayRef = Arc::new(Float64Array::from(c));
                arrow_cast::cast(&f, t)?
            }
            (Collect::Blob(c), _) => {
                let b: ArrayRef = Arc::new(BinaryArray::from(
                    c.iter().map(|v| v.as_deref()).collect::<Vec<_>>(),
                ));
                arrow_cast::cast(&b, t)?
            }
            (Collect::Text(c), Storage::Json) => {
                let refs: Vec<Option<&str>> = c.iter().map(|v| v.as_deref()).collect();
                json_columns::decode(&refs, t, column)?
            }
            (Collect::Text(c), _) => {
                let s: ArrayRef = Arc::new(StringArray::from(c));
                arrow_cast::cast(&s, t)?
            }
        };
        Ok(array)
    }
}

/// A filter literal as a SQLite value.
pub(crate) fn param(s: &metaxy_core::filter::Scalar) -> Value {
    use metaxy_core::filter::Scalar;
    match s {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Integer(i64::from(*b)),
        Scalar::Int(i) => Value::Integer(*i),
        Scalar::Float(f) => Value::Real(*f),
        Scalar::Str(s) => Value::Text(s.clone()),
        Scalar::Timestamp(us) => Value::Integer(*us),
    }
}
