//! The hashing kernels: string columns of truncated hashes built straight into Arrow buffers,
//! sample hashes over `*_by_field` structs, and struct (de)construction.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, StringArray, StructArray};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Fields};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::hash::HashAlgorithm;

/// Builds a `Utf8` column of hashes without a per-row allocation.
pub(crate) struct HashColumnBuilder {
    values: Vec<u8>,
    offsets: Vec<i32>,
    /// Validity, kept only from the first NULL on (most columns have none).
    nulls: Option<BooleanBufferBuilder>,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
}

impl HashColumnBuilder {
    pub(crate) fn new(rows: usize, algorithm: HashAlgorithm, truncation: Option<usize>) -> Self {
        let width = truncation.unwrap_or(64).min(64);
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        HashColumnBuilder {
            values: Vec::with_capacity(rows * width),
            offsets,
            nulls: None,
            algorithm,
            truncation,
        }
    }

    /// Appends the hash of `preimage`.
    #[inline]
    pub(crate) fn push_hash(&mut self, preimage: &[u8]) {
        self.algorithm
            .hash_into(preimage, self.truncation, &mut self.values);
        self.offsets.push(self.values.len() as i32);
        if let Some(n) = &mut self.nulls {
            n.append(true);
        }
    }

    /// Appends NULL.
    #[inline]
    pub(crate) fn push_null(&mut self) {
        let valid_before = self.offsets.len() - 1;
        self.offsets.push(self.values.len() as i32);
        self.nulls
            .get_or_insert_with(|| {
                let mut n = BooleanBufferBuilder::new(self.offsets.capacity());
                n.append_n(valid_before, true);
                n
            })
            .append(false);
    }

    pub(crate) fn finish(self) -> Result<StringArray> {
        let nulls = self.nulls.map(|mut n| NullBuffer::new(n.finish()));
        Ok(StringArray::try_new(
            OffsetBuffer::new(self.offsets.into()),
            self.values.into(),
            nulls,
        )?)
    }
}

/// A `Utf8` view of one field of a `*_by_field` struct column, honouring the struct's own
/// nulls (a NULL struct row makes every field NULL).
pub(crate) struct FieldValues {
    values: StringArray,
    struct_nulls: Option<NullBuffer>,
}

impl FieldValues {
    #[inline]
    pub(crate) fn get(&self, row: usize) -> Option<&str> {
        if let Some(n) = &self.struct_nulls
            && n.is_null(row)
        {
            return None;
        }
        if self.values.is_null(row) {
            None
        } else {
            Some(self.values.value(row))
        }
    }
}

/// Downcasts a `*_by_field` column to a struct array, with a message naming the column.
pub(crate) fn as_struct<'a>(
    array: &'a ArrayRef,
    column: &str,
    feature: &str,
) -> Result<&'a StructArray> {
    array.as_any().downcast_ref::<StructArray>().ok_or_else(|| {
        Error::schema(
            feature,
            format!(
                "`{column}` must be a struct with one string per field (e.g. {{\"audio\": \"a1\"}}), \
                 got {}",
                array.data_type()
            ),
        )
    })
}

/// The values of field `key` of a `*_by_field` struct as strings, or `None` if absent.
pub(crate) fn field_values(by_field: &StructArray, key: &str) -> Result<Option<FieldValues>> {
    let Some(child) = by_field.column_by_name(key) else {
        return Ok(None);
    };
    let values = match child.data_type() {
        DataType::Utf8 => child.as_any().downcast_ref::<StringArray>().cloned(),
        _ => None,
    };
    let values = match values {
        Some(v) => v,
        None => {
            let cast = arrow_cast::cast(child, &DataType::Utf8)?;
            cast.as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| Error::InvalidArgument(format!("field `{key}` is not a string")))?
        }
    };
    Ok(Some(FieldValues {
        values,
        struct_nulls: by_field.nulls().cloned(),
    }))
}

/// Builds a `*_by_field` struct column from `(struct key, values)` pairs.
pub(crate) fn build_struct(children: Vec<(String, ArrayRef)>) -> Result<StructArray> {
    let fields: Fields = children
        .iter()
        .map(|(name, a)| Field::new(name, a.data_type().clone(), true))
        .collect();
    let arrays = children.into_iter().map(|(_, a)| a).collect();
    Ok(StructArray::try_new(fields, arrays, None)?)
}

/// Sample hash of a `*_by_field` struct (reference 2.13): the values of `sorted_keys` joined
/// with `|`, hashed and truncated. A NULL value makes the hash NULL.
pub(crate) fn sample_hash(
    by_field: &StructArray,
    sorted_keys: &[String],
    column: &str,
    feature: &str,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
) -> Result<StringArray> {
    let mut columns = Vec::with_capacity(sorted_keys.len());
    for k in sorted_keys {
        match field_values(by_field, k)? {
            Some(v) => columns.push(v),
            None => {
                return Err(Error::schema(
                    feature,
                    format!(
                        "`{column}` has no entry for field `{k}`; every declared field needs a value \
                         (struct fields present: {})",
                        struct_names(by_field).join(", ")
                    ),
                ));
            }
        }
    }
    hash_rows(by_field.len(), algorithm, truncation, |row, buf| {
        for (i, c) in columns.iter().enumerate() {
            match c.get(row) {
                Some(v) => {
                    if i > 0 {
                        buf.push(b'|');
                    }
                    buf.extend_from_slice(v.as_bytes());
                }
                None => return false,
            }
        }
        true
    })
}

/// Rows per parallel chunk of [`hash_rows`]: large enough to amortise scheduling, small
/// enough to balance the two halves of a small machine.
const CHUNK: usize = 64 * 1024;

/// A column of `len` hashes built in parallel chunks (both cores of a small machine, all of a
/// big one). `preimage(row, buf)` appends row `row`'s preimage to the empty `buf` and returns
/// `false` when the row's hash is NULL.
pub(crate) fn hash_rows<F>(
    len: usize,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
    preimage: F,
) -> Result<StringArray>
where
    F: Fn(usize, &mut Vec<u8>) -> bool + Sync,
{
    let chunks: Vec<(usize, usize)> = (0..len)
        .step_by(CHUNK)
        .map(|start| (start, (start + CHUNK).min(len)))
        .collect();
    let mut parts = chunks
        .par_iter()
        .map(|&(start, end)| {
            let mut out = HashColumnBuilder::new(end - start, algorithm, truncation);
            let mut buf = Vec::with_capacity(128);
            for row in start..end {
                buf.clear();
                if preimage(row, &mut buf) {
                    out.push_hash(&buf);
                } else {
                    out.push_null();
                }
            }
            out.finish()
        })
        .collect::<Result<Vec<_>>>()?;
    match parts.len() {
        0 => HashColumnBuilder::new(0, algorithm, truncation).finish(),
        1 => parts
            .pop()
            .ok_or_else(|| Error::InvalidArgument("no hash column was built".into())),
        _ => {
            let refs: Vec<&dyn Array> = parts.iter().map(|p| p as &dyn Array).collect();
            let merged = arrow_select::concat::concat(&refs)?;
            merged
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| Error::InvalidArgument("hash column is not a string array".into()))
        }
    }
}

/// The child names of a struct array.
pub(crate) fn struct_names(s: &StructArray) -> Vec<String> {
    s.fields().iter().map(|f| f.name().to_string()).collect()
}

/// Wraps a string array as an `ArrayRef`.
pub(crate) fn arc(a: StringArray) -> ArrayRef {
    Arc::new(a)
}

/// Hashes every string of `values` (NULL stays NULL), rendered and untruncated as
/// [`HashAlgorithm::hash_str`] renders it: the kernel a backend registers as its SQL hash
/// function so that a pushed-down resolve hashes exactly like the core engine.
pub fn hash_strings(algorithm: HashAlgorithm, values: &StringArray) -> Result<StringArray> {
    let mut out = HashColumnBuilder::new(values.len(), algorithm, None);
    for v in values.iter() {
        match v {
            Some(v) => out.push_hash(v.as_bytes()),
            None => out.push_null(),
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nulls_anywhere_in_a_hash_column_stay_null() {
        let alg = HashAlgorithm::Xxhash64;
        for values in [
            vec![Some("a"), None, Some("b"), None],
            vec![None, Some("a")],
            vec![Some("a"), Some("b")],
        ] {
            let out = hash_strings(alg, &StringArray::from(values.clone())).unwrap();
            let want: Vec<Option<String>> = values
                .iter()
                .map(|v| v.map(|v| alg.hash_str(v, None)))
                .collect();
            let got: Vec<Option<String>> = out.iter().map(|v| v.map(str::to_string)).collect();
            assert_eq!(got, want);
            assert_eq!(out.nulls().is_some(), values.contains(&None));
        }
    }
}
