//! The hashing kernels: string columns of truncated hashes built straight into Arrow buffers,
//! sample hashes over `*_by_field` structs, and struct (de)construction.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, StringArray, StructArray};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, OffsetBuffer};
use arrow_schema::{DataType, Field, Fields};
use rayon::prelude::*;

use super::preimage::Preimage;
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

    /// Appends the hash of `preimage`, rendered from `digest` (its
    /// [`HashAlgorithm::digest_u64`], computed beforehand) when there is one.
    #[inline]
    fn push_digest(&mut self, digest: Option<u64>, preimage: &[u8]) {
        let Some(digest) = digest else {
            return self.push_hash(preimage);
        };
        HashAlgorithm::render_u64(digest, self.truncation, &mut self.values);
        self.offsets.push(self.values.len() as i32);
        if let Some(n) = &mut self.nulls {
            n.append(true);
        }
    }

    /// The number of values appended.
    #[inline]
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The value of row `row`, or `None` if it is NULL or not appended yet.
    #[inline]
    fn value(&self, row: usize) -> Option<&[u8]> {
        if row >= self.len() || self.nulls.as_ref().is_some_and(|n| !n.get_bit(row)) {
            return None;
        }
        self.values
            .get(self.offsets[row] as usize..self.offsets[row + 1] as usize)
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
        self.is_valid(row).then(|| self.values.value(row))
    }

    /// Whether `row` has a value (neither the struct row nor the field is NULL).
    #[inline]
    fn is_valid(&self, row: usize) -> bool {
        !self.struct_nulls.as_ref().is_some_and(|n| n.is_null(row)) && !self.values.is_null(row)
    }

    /// Appends the value of `row` to `pre`; `false` (and nothing appended) when it is NULL.
    #[inline]
    pub(crate) fn push_value(&self, row: usize, pre: &mut Preimage) -> bool {
        if !self.is_valid(row) {
            return false;
        }
        let offsets = self.values.value_offsets();
        pre.push_range(
            self.values.value_data(),
            offsets[row] as usize,
            offsets[row + 1] as usize,
        );
        true
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

/// Rows per parallel chunk of [`hash_columns`]: large enough to amortise scheduling, small
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
    F: Fn(usize, &mut Preimage) -> bool + Sync,
{
    let mut columns = hash_columns(len, 1, algorithm, truncation, |row, out| {
        if preimage(row, out.preimage()) {
            out.hash_preimage(0);
        } else {
            out.push_null(0);
        }
    })?;
    columns
        .pop()
        .ok_or_else(|| Error::InvalidArgument("no hash column was built".into()))
}

/// Rows whose hashes are computed together (see [`RowHashes`]): enough independent hashes to
/// keep the CPU busy while one finishes, few enough that their preimages stay in L1.
const BATCH: usize = 32;

/// One value a row closure asked for, in the order it asked.
enum Op {
    /// The hash of `pre[start..end]` of the batch, for column `col`.
    Hash {
        col: usize,
        start: usize,
        end: usize,
    },
    /// NULL for column `col`.
    Null { col: usize },
    /// The hash of the values of columns `parts[from..to]` at `row` of the chunk, joined with
    /// `|`, for column `col`.
    Joined {
        col: usize,
        row: usize,
        from: usize,
        to: usize,
    },
}

/// The work of up to [`BATCH`] rows, recorded by [`RowHashes`] and done by
/// [`Batch::flush`].
struct Batch {
    algorithm: HashAlgorithm,
    /// Every preimage of the batch, back to back.
    pre: Preimage,
    /// Where the preimage being assembled begins in `pre`.
    start: usize,
    ops: Vec<Op>,
    /// The part lists of the `Joined` ops.
    parts: Vec<usize>,
    /// The digests of a stage's preimages (`None` for the hex-rendered algorithms, which hash
    /// as they render).
    digests: Vec<Option<u64>>,
    /// The joined preimages' ranges in `pre` (`None`: a part is NULL).
    joined: Vec<Option<(usize, usize)>>,
}

impl Batch {
    fn new(algorithm: HashAlgorithm) -> Batch {
        Batch {
            algorithm,
            pre: Preimage::default(),
            start: 0,
            ops: Vec::with_capacity(4 * BATCH),
            parts: Vec::new(),
            digests: Vec::with_capacity(4 * BATCH),
            joined: Vec::with_capacity(BATCH),
        }
    }

    /// Computes every value recorded so far and appends them to `columns`, in three stages
    /// that each run over the whole batch: the direct hashes, their rendering (with the NULLs),
    /// then the joined hashes built from the values just rendered.
    fn flush(&mut self, columns: &mut [HashColumnBuilder]) -> Result<()> {
        let pre = self.pre.bytes();
        let direct = self.ops.iter().filter_map(|op| match *op {
            Op::Hash { start, end, .. } => Some((start, end)),
            _ => None,
        });
        digest_ranges(self.algorithm, pre, direct, &mut self.digests);
        let mut digests = self.digests.iter();
        let mut any_joined = false;
        for op in &self.ops {
            match *op {
                Op::Hash { col, start, end } => {
                    columns[col].push_digest(digests.next().copied().flatten(), &pre[start..end]);
                }
                Op::Null { col } => columns[col].push_null(),
                Op::Joined { .. } => any_joined = true,
            }
        }
        if any_joined {
            self.flush_joined(columns)?;
        }
        self.ops.clear();
        self.parts.clear();
        self.pre.clear();
        Ok(())
    }

    /// The `Joined` stage of [`Batch::flush`].
    fn flush_joined(&mut self, columns: &mut [HashColumnBuilder]) -> Result<()> {
        self.pre.clear();
        self.joined.clear();
        for op in &self.ops {
            let Op::Joined { row, from, to, .. } = *op else {
                continue;
            };
            let start = self.pre.len();
            let mut valid = true;
            for (i, &p) in self.parts[from..to].iter().enumerate() {
                let part = columns.get(p).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "internal error: a joined hash names column {p} of {}",
                        columns.len()
                    ))
                })?;
                match part.value(row) {
                    Some(v) => {
                        if i > 0 {
                            self.pre.push(b'|');
                        }
                        self.pre.extend_from_slice(v);
                    }
                    None => {
                        valid = false;
                        break;
                    }
                }
            }
            self.joined.push(valid.then(|| (start, self.pre.len())));
        }
        let pre = self.pre.bytes();
        let valid = self.joined.iter().flatten().copied();
        digest_ranges(self.algorithm, pre, valid, &mut self.digests);
        let mut digests = self.digests.iter();
        let mut joined = self.joined.iter();
        for op in &self.ops {
            let Op::Joined { col, row, .. } = *op else {
                continue;
            };
            let column = &mut columns[col];
            // a joined column takes its values in this stage only, so they stay in row order
            if column.len() != row {
                return Err(Error::InvalidArgument(format!(
                    "internal error: hash column {col} mixes joined and direct values"
                )));
            }
            match joined.next() {
                Some(Some((start, end))) => {
                    column.push_digest(digests.next().copied().flatten(), &pre[*start..*end]);
                }
                _ => column.push_null(),
            }
        }
        Ok(())
    }
}

/// Fills `digests` with the digest of every range of `pre`: independent hashes one after the
/// other, none waiting for a rendering.
fn digest_ranges(
    algorithm: HashAlgorithm,
    pre: &[u8],
    ranges: impl Iterator<Item = (usize, usize)>,
    digests: &mut Vec<Option<u64>>,
) {
    digests.clear();
    digests.extend(ranges.map(|(start, end)| algorithm.digest_u64(&pre[start..end])));
}

/// The values one row asks for. The row closure of [`hash_columns`] assembles a preimage and
/// asks for its hash, a NULL, or the hash of values it asked for before (the sample hash from
/// the field hashes); the work is recorded and done for a batch of rows at once.
pub(crate) struct RowHashes<'a> {
    batch: &'a mut Batch,
    /// The row's index within its chunk.
    row: usize,
}

impl RowHashes<'_> {
    /// A new, empty preimage.
    #[inline]
    pub(crate) fn preimage(&mut self) -> &mut Preimage {
        self.batch.start = self.batch.pre.len();
        &mut self.batch.pre
    }

    /// Appends the hash of the preimage assembled since the last [`RowHashes::preimage`] to
    /// column `col`.
    #[inline]
    pub(crate) fn hash_preimage(&mut self, col: usize) {
        let b = &mut *self.batch;
        b.ops.push(Op::Hash {
            col,
            start: b.start,
            end: b.pre.len(),
        });
    }

    /// Appends NULL to column `col`.
    #[inline]
    pub(crate) fn push_null(&mut self, col: usize) {
        self.batch.ops.push(Op::Null { col });
    }

    /// Appends to column `col` the hash of this row's values of columns `parts`, joined with
    /// `|` (the sample hash of reference 2.13); NULL if any of them is NULL. Column `col` must
    /// take all its values this way.
    #[inline]
    pub(crate) fn hash_joined(&mut self, col: usize, parts: &[usize]) {
        let b = &mut *self.batch;
        let from = b.parts.len();
        b.parts.extend_from_slice(parts);
        b.ops.push(Op::Joined {
            col,
            row: self.row,
            from,
            to: b.parts.len(),
        });
    }
}

/// `columns` columns of `len` hashes each, built in one pass over the rows in parallel chunks.
/// `row(i, out)` appends exactly one value (a hash or NULL) to every column for row `i`.
pub(crate) fn hash_columns<F>(
    len: usize,
    columns: usize,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
    row: F,
) -> Result<Vec<StringArray>>
where
    F: Fn(usize, &mut RowHashes<'_>) + Sync,
{
    let chunks: Vec<(usize, usize)> = (0..len)
        .step_by(CHUNK)
        .map(|start| (start, (start + CHUNK).min(len)))
        .collect();
    let built: Vec<Vec<HashColumnBuilder>> = chunks
        .par_iter()
        .map(|&(start, end)| {
            let mut out: Vec<HashColumnBuilder> = (0..columns)
                .map(|_| HashColumnBuilder::new(end - start, algorithm, truncation))
                .collect();
            let mut batch = Batch::new(algorithm);
            for i in start..end {
                row(
                    i,
                    &mut RowHashes {
                        batch: &mut batch,
                        row: i - start,
                    },
                );
                if (i - start + 1) % BATCH == 0 {
                    batch.flush(&mut out)?;
                }
            }
            batch.flush(&mut out)?;
            Ok(out)
        })
        .collect::<Result<_>>()?;
    // the contract of `row`: one value per column per row, else the columns would misalign
    for (chunk, (start, end)) in built.iter().zip(&chunks) {
        if let Some(b) = chunk.iter().find(|b| b.offsets.len() != end - start + 1) {
            return Err(Error::InvalidArgument(format!(
                "internal error: a hash column got {} values for the {} rows {start}..{end}",
                b.offsets.len() - 1,
                end - start
            )));
        }
    }
    let mut per_column: Vec<Vec<HashColumnBuilder>> = (0..columns)
        .map(|_| Vec::with_capacity(built.len()))
        .collect();
    for chunk in built {
        for (c, b) in chunk.into_iter().enumerate() {
            per_column[c].push(b);
        }
    }
    per_column
        .into_iter()
        .map(|parts| join_chunks(parts, len, algorithm, truncation))
        .collect()
}

/// Joins the chunks of one hash column into a single array: one allocation for the values and
/// one for the offsets, filled on every core (no growth, no second pass).
fn join_chunks(
    mut parts: Vec<HashColumnBuilder>,
    len: usize,
    algorithm: HashAlgorithm,
    truncation: Option<usize>,
) -> Result<StringArray> {
    let total: usize = parts.iter().map(|p| p.values.len()).sum();
    let total_i32 = i32::try_from(total).map_err(|_| {
        Error::InvalidArgument(format!(
            "a hash column of {len} rows would hold {total} bytes, more than one Arrow string \
             column can (2 GiB); resolve fewer samples at a time (filters) or a shorter \
             hash_truncation_length"
        ))
    })?;
    if parts.len() < 2 {
        return parts
            .pop()
            .unwrap_or_else(|| HashColumnBuilder::new(0, algorithm, truncation))
            .finish();
    }
    let mut values = vec![0u8; total];
    let mut offsets = vec![0i32; len + 1];
    offsets[len] = total_i32;
    // every chunk's slice of the values and of the offsets (its rows' starts)
    let mut jobs = Vec::with_capacity(parts.len());
    let (mut rest_values, mut rest_offsets) = (values.as_mut_slice(), offsets.as_mut_slice());
    let mut base = 0usize;
    for p in &parts {
        let (v, vr) = rest_values.split_at_mut(p.values.len());
        let (o, or) = rest_offsets.split_at_mut(p.offsets.len() - 1);
        jobs.push((v, o, p, base as i32));
        base += p.values.len();
        rest_values = vr;
        rest_offsets = or;
    }
    jobs.into_par_iter().for_each(|(v, o, p, base)| {
        v.copy_from_slice(&p.values);
        for (dst, src) in o.iter_mut().zip(&p.offsets) {
            *dst = base + src;
        }
    });
    let nulls = if parts.iter().any(|p| p.nulls.is_some()) {
        let mut all = BooleanBufferBuilder::new(len);
        for p in &parts {
            match &p.nulls {
                Some(n) => all.append_buffer(&n.finish_cloned()),
                None => all.append_n(p.offsets.len() - 1, true),
            }
        }
        Some(NullBuffer::new(all.finish()))
    } else {
        None
    };
    Ok(StringArray::try_new(
        OffsetBuffer::new(offsets.into()),
        values.into(),
        nulls,
    )?)
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

    /// A column that takes joined values for some rows and direct ones for others would get
    /// them out of row order; that is refused, not built.
    #[test]
    fn a_column_mixing_joined_and_direct_values_is_an_error() {
        let err = hash_columns(100, 2, HashAlgorithm::Xxhash64, Some(8), |row, out| {
            out.preimage().extend_from_slice(b"a");
            out.hash_preimage(0);
            if row == 40 {
                out.push_null(1);
            } else {
                out.hash_joined(1, &[0]);
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains("mixes joined and direct"), "{err}");
    }

    /// Three chunks and a short tail, NULLs in places, full and truncated hashes, and a sample
    /// column built from the row's field columns: every value as a one-row-at-a-time
    /// computation gives it.
    #[test]
    fn chunked_columns_match_row_by_row_hashing() {
        let len = 3 * CHUNK + 17;
        let null_at = |row: usize| row % 7919 == 3 || row == CHUNK || row == len - 1;
        for (alg, truncation) in [
            (HashAlgorithm::Xxhash64, Some(8)),
            (HashAlgorithm::Xxhash32, Some(8)),
            (HashAlgorithm::Xxhash64, None),
            (HashAlgorithm::Md5, Some(10)),
        ] {
            let cols = hash_columns(len, 3, alg, truncation, |row, out| {
                out.preimage()
                    .extend_from_slice(format!("a{row}").as_bytes());
                out.hash_preimage(0);
                if null_at(row) {
                    out.push_null(1);
                } else {
                    out.preimage()
                        .extend_from_slice(format!("b{row}").as_bytes());
                    out.hash_preimage(1);
                }
                out.hash_joined(2, &[1, 0]);
            })
            .unwrap();
            assert_eq!(cols.len(), 3);
            for row in (0..len).step_by(331).chain([CHUNK - 1, CHUNK, len - 1]) {
                let a = alg.hash_str(&format!("a{row}"), truncation);
                assert_eq!(cols[0].value(row), a, "{alg} row {row}");
                if null_at(row) {
                    assert!(cols[1].is_null(row) && cols[2].is_null(row), "row {row}");
                } else {
                    let b = alg.hash_str(&format!("b{row}"), truncation);
                    assert_eq!(cols[1].value(row), b, "{alg} row {row}");
                    let sample = alg.hash_str(&format!("{b}|{a}"), truncation);
                    assert_eq!(cols[2].value(row), sample, "{alg} row {row}");
                }
            }
            assert_eq!(
                cols[1].null_count(),
                (0..len).filter(|r| null_at(*r)).count()
            );
            assert_eq!(cols[0].null_count(), 0);
        }
    }
}
